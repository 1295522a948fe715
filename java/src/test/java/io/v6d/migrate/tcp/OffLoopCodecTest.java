package io.v6d.migrate.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.internal.PlatformDependent;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.compress.ChunkCompressor;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** Compression and decompression of DATA chunks run off the event loop, in order, bounded. */
class OffLoopCodecTest {
  private static final int CHUNK = 256 << 10;
  private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

  private static ByteBuffer compressible(int n) {
    ByteBuffer bytes = ByteBuffer.allocateDirect(n);
    for (int i = 0; i < n; i++) {
      bytes.put(i, (byte) ("city-" + (i / 64 % 12)).charAt(i % 6));
    }
    return bytes;
  }

  /** The frames a compressing writer hands over for {@code source}, read as ChunkedWriteHandler would. */
  private static List<ByteBuf> frames(ByteBuffer source, int chunks, boolean[] firstWasNull) throws Exception {
    long address = PlatformDependent.directBufferAddress(source);
    List<ChunkWriter.Chunk> plan = new ArrayList<>();
    for (int i = 0; i < chunks; i++) {
      plan.add(new ChunkWriter.Chunk(7, (long) i * CHUNK, CHUNK, address + (long) i * CHUNK));
    }
    Semaphore resumed = new Semaphore(0);
    ChunkWriter writer = new ChunkWriter(plan, n -> { }).compressing(new ChunkCompressor(Compression.ZSTD), resumed::release);
    List<ByteBuf> frames = new ArrayList<>();
    firstWasNull[0] = true;
    while (!writer.isEndOfInput()) {
      ByteBuf frame = writer.readChunk(ALLOC);
      if (frame == null) {
        assertTrue(resumed.tryAcquire(10, TimeUnit.SECONDS), "the transfer was never resumed");
      } else {
        frames.add(frame);
      }
      if (frames.isEmpty() && frame != null) {
        firstWasNull[0] = false;
      }
    }
    writer.finish().get(10, TimeUnit.SECONDS);
    return frames;
  }

  /** A decoder on an embedded channel whose DATA lands in {@code target}; counts what landed. */
  private static EmbeddedChannel decoding(ByteBuffer target, int[] landed) {
    return decoding(target, landed, new ArrayList<>());
  }

  /** The same, recording in {@code events} when DATA landed and when a request was passed on. */
  private static EmbeddedChannel decoding(ByteBuffer target, int[] landed, List<String> events) {
    FrameDecoder decoder = new FrameDecoder(Pipelines.LIMITS);
    decoder.authenticated();
    long base = PlatformDependent.directBufferAddress(target);
    decoder.sink(new DataSink() {
      @Override
      public long destination(long id, long offset, int length) {
        return base + offset;
      }

      @Override
      public void landed(long id, long offset, int length) {
        landed[0]++;
        events.add("landed");
      }
    });
    return new EmbeddedChannel(decoder, new io.netty.channel.ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
        events.add("request");
        ctx.fireChannelRead(msg);
      }
    });
  }

  private static void await(EmbeddedChannel channel, BooleanSupplier done) throws InterruptedException {
    for (int i = 0; i < 2000 && !done.getAsBoolean(); i++) {
      Thread.sleep(5);
      channel.runPendingTasks();
    }
    assertTrue(done.getAsBoolean(), "the decoder never finished");
  }

  @Test
  void framesArePreparedOffTheCallingThreadInOrderAndLandIntact() throws Exception {
    ByteBuffer source = compressible(4 * CHUNK);
    boolean[] firstWasNull = new boolean[1];
    List<ByteBuf> frames = frames(source, 4, firstWasNull);
    assertTrue(firstWasNull[0], "the first frame was compressed by the caller, not prepared on a codec thread");
    assertEquals(4, frames.size());
    ByteBuffer target = ByteBuffer.allocateDirect(4 * CHUNK);
    int[] landed = new int[1];
    EmbeddedChannel channel = decoding(target, landed);
    for (ByteBuf frame : frames) {
      assertEquals(FrameType.DATA_COMPRESSED.code(), frame.getByte(frame.readerIndex() + 2) & 0xff, "not compressed");
      channel.writeInbound(frame);
    }
    await(channel, () -> landed[0] == 4);
    assertEquals(source.clear(), target.clear());
  }

  @Test
  void aRequestAfterCompressedDataWaitsUntilTheDataLanded() throws Exception {
    ByteBuffer source = compressible(CHUNK);
    List<ByteBuf> frames = frames(source, 1, new boolean[1]);
    ByteBuf control = Unpooled.buffer();
    byte[] body = FrameCodec.mapper().writeValueAsBytes(FrameCodec.mapper().createObjectNode().put("op", "commit"));
    new FrameHeader(FrameType.REQUEST, body.length, 0, 0, 0).writeTo(control);
    control.writeBytes(body);
    ByteBuffer target = ByteBuffer.allocateDirect(CHUNK);
    int[] landed = new int[1];
    List<String> events = new ArrayList<>();
    EmbeddedChannel channel = decoding(target, landed, events);
    channel.writeInbound(Unpooled.wrappedBuffer(frames.get(0), control)); // one read brings both
    await(channel, () -> events.size() == 2);
    assertEquals(List.of("landed", "request"), events, "the request overtook the DATA still decompressing");
    ControlFrame request = channel.readInbound();
    assertEquals("commit", request.body().path("op").asText());
    assertEquals(source.clear(), target.clear());
  }

  @Test
  void aCorruptChunkDecompressedOffTheLoopFailsTheConnection() throws Exception {
    ByteBuffer source = compressible(CHUNK);
    ByteBuf frame = frames(source, 1, new boolean[1]).get(0);
    int at = frame.readerIndex() + FrameHeader.BYTES + FrameDecoder.COMPRESSED_PREFIX + 4;
    frame.setLong(at, ~frame.getLong(at)); // inside zstd's frame header: corrupt, not silently different
    ByteBuffer target = ByteBuffer.allocateDirect(CHUNK);
    int[] landed = new int[1];
    EmbeddedChannel channel = decoding(target, landed);
    try {
      channel.writeInbound(frame);
    } catch (MigrateException e) { // decompressed already, while writeInbound ran the loop's tasks
      assertEquals(0, landed[0]);
      assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
      return;
    }
    Throwable[] caught = new Throwable[1];
    await(channel, () -> {
      try {
        if (caught[0] != null) {
          return true;
        }
        channel.checkException();
        return false;
      } catch (Throwable e) {
        caught[0] = e;
        return true;
      }
    });
    assertEquals(0, landed[0]);
    assertTrue(caught[0].getMessage().contains("corrupt"), caught[0].getMessage());
  }
}
