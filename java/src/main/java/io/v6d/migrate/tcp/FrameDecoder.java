package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.compress.Codec;
import io.v6d.migrate.compress.CodecThreads;
import io.v6d.migrate.faults.FaultInjection;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import io.v6d.migrate.shm.NativeMemory;
import io.v6d.migrate.shm.Prefault;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.zip.CRC32C;

/**
 * Frames in: control frames become {@link ControlFrame}s, READ frames {@link ReadRequest}s, and
 * DATA payloads land in the target blob's mapping.
 *
 * <p>It also plans the socket reads ({@link PlannedReadAllocator}): each read is sized to the rest
 * of the current header or body, and while a DATA payload is expected the read buffer <em>is</em>
 * the target mapping, so the kernel copies the bytes straight into shared memory. Every length is
 * checked against {@link FrameHeader.Limits} before anything is allocated; until the handshake is
 * done the control limit is small and DATA/READ frames are refused.
 */
public final class FrameDecoder extends ChannelInboundHandlerAdapter {
  private static final int MAX_CONTROL_READ = 64 << 10;
  private static final int MAX_DATA_READ = 8 << 20;
  private static final int HANDSHAKE_CONTROL_BYTES = 4096;

  private enum State { HEADER, CONTROL_BODY, DATA_BODY, COMPRESSED_BODY, DECOMPRESSING }

  /** A compressed chunk's body starts with the codec (1 byte) and the uncompressed length (4 bytes). */
  public static final int COMPRESSED_PREFIX = 5;

  private final FrameHeader.Limits limits;
  private final ByteBuf header = Unpooled.buffer(FrameHeader.BYTES, FrameHeader.BYTES);
  private State state = State.HEADER;
  private FrameHeader current;
  private ByteBuf controlBody;
  private ByteBuf compressedBody;
  /** Bytes read from the peer (after TLS), frames and all: what crossed the wire for us. */
  private volatile long received;
  private long dataAddress;
  private int dataDone;
  /**
   * CRC32C of the current DATA chunk's bytes so far, updated as each socket read lands, while those
   * bytes may still be in the cache, rather than over the whole chunk (up to 4 MiB) once it landed.
   * CRC32C was 9-10% of a 1 GiB pull's samples at the client (perf); A/B, client CPU per pull:
   * 1 GiB 0.391-0.412 -> 0.378-0.398 s, 256 MiB over TLS 0.223-0.230 -> 0.208-0.219 s.
   */
  private final CRC32C landing = new CRC32C();
  private boolean authenticated;
  private DataSink sink;
  /**
   * Input not yet decoded: what arrives while a chunk decompresses off the loop waits here (reading
   * pauses meanwhile), so frames are still handled in order -- a request after DATA sees it landed.
   */
  private final ArrayDeque<ByteBuf> input = new ArrayDeque<>();
  private boolean removed;

  public FrameDecoder(FrameHeader.Limits limits) {
    this.limits = limits;
  }

  /** After the handshake: full limits, and DATA/READ frames are accepted. */
  public void authenticated() {
    this.authenticated = true;
  }

  /** Where DATA frames land from now on (null refuses them). */
  public void sink(DataSink sink) {
    this.sink = sink;
  }

  /** The size of the next socket read: exactly what the current frame part still needs. */
  int nextReadSize() {
    return switch (state) {
      case DATA_BODY -> Math.min(current.length() - dataDone, MAX_DATA_READ);
      case CONTROL_BODY -> Math.min(controlBody.writableBytes(), MAX_CONTROL_READ);
      case COMPRESSED_BODY -> Math.min(compressedBody.writableBytes(), MAX_DATA_READ);
      case HEADER, DECOMPRESSING -> header.writableBytes();
    };
  }

  /** The buffer for the next socket read; for a DATA payload, a view of the target mapping. */
  ByteBuf nextReadBuffer(ByteBufAllocator alloc) {
    if (state == State.DATA_BODY) {
      return Unpooled.wrappedBuffer(NativeMemory.view(dataAddress + dataDone, nextReadSize())).clear();
    }
    return alloc.ioBuffer(nextReadSize());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    ByteBuf in = (ByteBuf) msg;
    received += in.readableBytes();
    input.add(in);
    decode(ctx);
  }

  /** Decodes the input in order until it is used up or a chunk is decompressing. */
  private void decode(ChannelHandlerContext ctx) throws Exception {
    try {
      while (!input.isEmpty() && state != State.DECOMPRESSING) {
        ByteBuf in = input.peek();
        while (in.isReadable() && ctx.channel().isActive() && state != State.DECOMPRESSING) {
          switch (state) {
            case HEADER -> readHeader(ctx, in);
            case CONTROL_BODY -> readControlBody(ctx, in);
            case DATA_BODY -> readData(ctx, in);
            case COMPRESSED_BODY -> readCompressed(ctx, in);
            default -> throw new IllegalStateException();
          }
        }
        if (!ctx.channel().isActive()) {
          releaseInput();
        } else if (!in.isReadable()) {
          input.poll().release();
        }
      }
    } catch (Exception | Error e) {
      releaseInput();
      throw e;
    }
  }

  private void releaseInput() {
    input.forEach(ByteBuf::release);
    input.clear();
  }

  private void readHeader(ChannelHandlerContext ctx, ByteBuf in) {
    in.readBytes(header, Math.min(in.readableBytes(), header.writableBytes()));
    if (header.isWritable()) {
      return;
    }
    FrameHeader.Limits now = authenticated ? limits : new FrameHeader.Limits(HANDSHAKE_CONTROL_BYTES, 0);
    current = FrameHeader.readFrom(header, now);
    header.clear();
    switch (current.type()) {
      case READ -> {
        requireAuthenticated();
        ctx.fireChannelRead(new ReadRequest(current.id(), current.offset(), current.length()));
      }
      case DATA -> {
        requireAuthenticated();
        if (sink == null) {
          throw new MigrateException(ErrorCode.IO_ERROR, "DATA frame on a connection that expects none");
        }
        dataAddress = sink.destination(current.id(), current.offset(), current.length());
        Prefault.ahead(dataAddress, current.length(), true); // the socket reads fault-free
        dataDone = 0;
        landing.reset();
        state = State.DATA_BODY;
        if (current.length() == 0) {
          finishData(ctx);
        }
      }
      case DATA_COMPRESSED -> {
        requireAuthenticated();
        if (sink == null) {
          throw new MigrateException(ErrorCode.IO_ERROR, "DATA frame on a connection that expects none");
        }
        if (current.length() < COMPRESSED_PREFIX) {
          throw new MigrateException(ErrorCode.IO_ERROR, "compressed DATA frame of " + current.length() + " bytes: too short");
        }
        compressedBody = ctx.alloc().directBuffer(current.length(), current.length()); // bounded by the limits
        state = State.COMPRESSED_BODY;
      }
      default -> {
        controlBody = ctx.alloc().heapBuffer(current.length(), current.length());
        state = State.CONTROL_BODY;
        if (current.length() == 0) {
          finishControl(ctx);
        }
      }
    }
  }

  private void readControlBody(ChannelHandlerContext ctx, ByteBuf in) throws IOException {
    in.readBytes(controlBody, Math.min(in.readableBytes(), controlBody.writableBytes()));
    if (!controlBody.isWritable()) {
      finishControl(ctx);
    }
  }

  private void finishControl(ChannelHandlerContext ctx) {
    ByteBuf body = controlBody;
    controlBody = null;
    state = State.HEADER;
    try {
      ControlFrame frame = new ControlFrame(current.type(),
          FrameCodec.mapper().readTree(body.array(), body.arrayOffset() + body.readerIndex(), body.readableBytes()));
      ctx.fireChannelRead(frame);
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.IO_ERROR, "malformed JSON in a " + current.type() + " frame");
    } finally {
      body.release();
    }
  }

  private void readData(ChannelHandlerContext ctx, ByteBuf in) {
    int n = Math.min(in.readableBytes(), current.length() - dataDone);
    long target = dataAddress + dataDone;
    boolean inPlace = in.hasMemoryAddress() && in.memoryAddress() + in.readerIndex() == target;
    if (!inPlace) {
      if (in.hasMemoryAddress()) {
        NativeMemory.copy(in.memoryAddress() + in.readerIndex(), target, n);
      } else {
        in.getBytes(in.readerIndex(), NativeMemory.view(target, n));
      }
    }
    in.skipBytes(n);
    if (n > 0) {
      if (dataDone == 0) {
        FaultInjection.installed().chunkArriving(target, n);
      }
      landing.update(NativeMemory.view(target, n));
    }
    dataDone += n;
    if (dataDone == current.length()) {
      finishData(ctx);
    }
  }

  private void finishData(ChannelHandlerContext ctx) {
    landed(current.length(), (int) landing.getValue());
  }

  /** The current chunk's {@code length} bytes have landed, their CRC32C {@code crc}: checked, then handed on. */
  private void landed(int length, int crc) {
    state = State.HEADER;
    if (crc != current.crc()) {
      throw new MigrateException(ErrorCode.IO_ERROR, String.format(
          "CRC32C mismatch in blob o%016x at offset %d (%d bytes): the data was corrupted in transit",
          current.id(), current.offset(), length));
    }
    sink.landed(current.id(), current.offset(), length);
  }

  private void readCompressed(ChannelHandlerContext ctx, ByteBuf in) {
    in.readBytes(compressedBody, Math.min(in.readableBytes(), compressedBody.writableBytes()));
    if (compressedBody.isWritable()) {
      return;
    }
    ByteBuf body = compressedBody;
    compressedBody = null;
    Codec codec;
    int length;
    try {
      FaultInjection.installed().compressedArrived(body.nioBuffer(body.readerIndex() + COMPRESSED_PREFIX, body.readableBytes() - COMPRESSED_PREFIX));
      codec = Codec.of(body.readUnsignedByte());
      long declared = body.readUnsignedInt();
      // the declared size is checked (limits, then the target blob's range) before anything expands
      if (declared > limits.maxChunkBytes()) {
        throw new MigrateException(ErrorCode.IO_ERROR, "compressed DATA declaring " + declared
            + " bytes is over the limit of " + limits.maxChunkBytes());
      }
      length = (int) declared;
      dataAddress = sink.destination(current.id(), current.offset(), length);
    } catch (RuntimeException e) {
      body.release();
      throw e;
    }
    ByteBuf out = ctx.alloc().directBuffer(length, length); // bounded: the checked declared size
    state = State.DECOMPRESSING;
    ctx.channel().config().setAutoRead(false);
    CodecThreads.executor().execute(() -> {
      Throwable failure = null;
      try {
        codec.decompress(body.nioBuffer(), out.nioBuffer(0, length), length);
      } catch (Throwable e) {
        failure = e;
      }
      Throwable failed = failure;
      try {
        ctx.executor().execute(() -> decompressed(ctx, body, out, length, failed));
      } catch (RejectedExecutionException e) { // the loop is gone, and the connection with it
        body.release();
        out.release();
      }
    });
  }

  /** Back on the loop: the decompressed chunk lands (copied into the mapping), and decoding goes on. */
  private void decompressed(ChannelHandlerContext ctx, ByteBuf body, ByteBuf out, int length, Throwable failure) {
    body.release();
    try {
      if (removed || !ctx.channel().isActive()) {
        return;
      }
      if (failure != null) {
        throw failure;
      }
      out.getBytes(0, NativeMemory.view(dataAddress, length));
      if (length > 0) {
        FaultInjection.installed().chunkArriving(dataAddress, length);
      }
      landed(length, Crc.of(dataAddress, length));
      ctx.channel().config().setAutoRead(true);
      decode(ctx);
    } catch (Throwable e) {
      ctx.fireExceptionCaught(e);
    } finally {
      out.release();
    }
  }

  /** Bytes read from the peer so far, frame headers included (after TLS: plaintext bytes). */
  public long received() {
    return received;
  }

  private void requireAuthenticated() {
    if (!authenticated) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "data frames before authentication");
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    removed = true;
    releaseInput();
    if (controlBody != null) {
      controlBody.release();
      controlBody = null;
    }
    if (compressedBody != null) {
      compressedBody.release();
      compressedBody = null;
    }
  }
}
