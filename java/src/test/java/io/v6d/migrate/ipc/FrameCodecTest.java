package io.v6d.migrate.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameCodecTest {
  private final FrameCodec codec = new FrameCodec(1024);

  @Test
  void encodesALittleEndianLengthThenTheJsonText() {
    ByteBuffer frame = codec.encode(FrameCodec.newMessage("seal_request").put("object_id", 7));
    byte[] json = "{\"type\":\"seal_request\",\"object_id\":7}".getBytes(StandardCharsets.UTF_8);
    assertEquals(8 + json.length, frame.remaining());
    assertEquals(json.length, frame.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong());
    byte[] body = new byte[json.length];
    frame.position(8);
    frame.get(body);
    assertEquals(new String(json, StandardCharsets.UTF_8), new String(body, StandardCharsets.UTF_8));
  }

  @Test
  void roundTrips() {
    ByteBuffer frame = codec.encode(FrameCodec.newMessage("get_data_reply").put("n", 3));
    int length = codec.bodyLength(frame.slice(0, 8));
    JsonNode decoded = codec.decode(frame.slice(8, length));
    assertEquals("get_data_reply", decoded.path("type").asText());
    assertEquals(3, decoded.path("n").asInt());
  }

  @Test
  void refusesLengthsBeyondTheBoundBeforeAllocating() {
    MigrateException tooLong = assertThrows(MigrateException.class, () -> codec.bodyLength(header(1025)));
    assertEquals(ErrorCode.IO_ERROR, tooLong.code());
    // 2^63 and above read as negative longs: refused, never cast to a small int
    assertThrows(MigrateException.class, () -> codec.bodyLength(header(-1L)));
    assertThrows(MigrateException.class, () -> codec.bodyLength(header(1L << 32)));
    assertEquals(1024, codec.bodyLength(header(1024)));
  }

  @Test
  void malformedJsonIsAnIoError() {
    ByteBuffer body = ByteBuffer.wrap("{not json".getBytes(StandardCharsets.UTF_8));
    assertEquals(ErrorCode.IO_ERROR, assertThrows(MigrateException.class, () -> codec.decode(body)).code());
  }

  @Test
  void unsignedIdsAreWrittenAsUnsignedNumbers() {
    var message = FrameCodec.newMessage("seal_request");
    JsonIds.put(message, "object_id", 0x8000000000000001L);
    assertEquals("{\"type\":\"seal_request\",\"object_id\":9223372036854775809}", message.toString());
    assertEquals(0x8000000000000001L, message.path("object_id").longValue());
  }

  private static ByteBuffer header(long length) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
  }
}
