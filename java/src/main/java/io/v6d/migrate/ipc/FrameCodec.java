package io.v6d.migrate.ipc;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * vineyardd's message framing: an 8-byte length in the host's byte order (little endian on the
 * platforms vineyard ships for), then that many bytes of JSON text.
 *
 * <p>Pure code, no I/O: {@link FramedConnection} moves the bytes.
 */
public final class FrameCodec {
  public static final int HEADER_BYTES = Long.BYTES;
  /** Larger frames are refused before anything is allocated for them. */
  public static final long DEFAULT_MAX_FRAME = 256L << 20;

  /**
   * Field names are not canonicalized: vineyard's JSON keys members and instances by id (an
   * object's members, a cluster's "i..." entries), so most replies bring names never seen before,
   * and for each parser that met one Jackson copied its shared symbol table: a quarter of the bytes
   * a warm migration allocated (JFR's allocation samples over 5,000 warm tiny calls).
   */
  private static final ObjectMapper MAPPER =
      new ObjectMapper(JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build());

  private final long maxFrame;

  public FrameCodec(long maxFrame) {
    this.maxFrame = maxFrame;
  }

  public FrameCodec() {
    this(DEFAULT_MAX_FRAME);
  }

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  public static ObjectNode newMessage(String type) {
    return MAPPER.createObjectNode().put("type", type);
  }

  /** The whole frame, header and body, ready to write. */
  public ByteBuffer encode(JsonNode message) {
    byte[] body;
    try {
      body = MAPPER.writeValueAsBytes(message);
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.INVALID, "cannot encode message: " + e.getMessage(), e);
    }
    ByteBuffer frame = ByteBuffer.allocate(HEADER_BYTES + body.length).order(ByteOrder.LITTLE_ENDIAN);
    frame.putLong(body.length).put(body).flip();
    return frame;
  }

  /** Reads the body length from a full header, refusing lengths out of bounds. */
  public int bodyLength(ByteBuffer header) {
    long length = header.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(header.position());
    if (length < 0 || length > maxFrame) {
      throw new MigrateException(
          ErrorCode.IO_ERROR,
          "frame length " + Long.toUnsignedString(length) + " is out of bounds (max " + maxFrame + ")");
    }
    return (int) length;
  }

  public JsonNode decode(ByteBuffer body) {
    try {
      if (body.hasArray()) {
        return MAPPER.readTree(body.array(), body.arrayOffset() + body.position(), body.remaining());
      }
      byte[] bytes = new byte[body.remaining()];
      body.duplicate().get(bytes);
      return MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw new MigrateException(ErrorCode.IO_ERROR, "malformed JSON frame: " + e.getMessage(), e);
    }
  }
}
