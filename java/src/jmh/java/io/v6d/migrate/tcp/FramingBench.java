package io.v6d.migrate.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.protocol.FrameHeader;
import io.v6d.migrate.protocol.FrameType;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/** Framing: the agent's 32-byte DATA header, and vineyardd's length-prefixed JSON. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FramingBench {
  private final ByteBuf header = Unpooled.directBuffer(FrameHeader.BYTES);
  private final FrameHeader.Limits limits = Pipelines.LIMITS;
  private final FrameCodec codec = new FrameCodec();
  private final ByteBuffer createBuffer = codec.encode(FrameCodec.newMessage("create_buffer_request").put("size", 4096));

  @Benchmark
  public FrameHeader dataHeaderRoundTrip() {
    header.clear();
    new FrameHeader(FrameType.DATA, 4 << 20, 0x8000000000001234L, 1L << 30, 0x1234567).writeTo(header);
    return FrameHeader.readFrom(header, limits);
  }

  @Benchmark
  public Object vineyardJsonFrameRoundTrip() {
    ByteBuffer frame = codec.encode(FrameCodec.newMessage("create_buffer_request").put("size", 4096));
    int length = codec.bodyLength(frame.slice(0, FrameCodec.HEADER_BYTES));
    return codec.decode(createBuffer.slice(FrameCodec.HEADER_BYTES, length));
  }
}
