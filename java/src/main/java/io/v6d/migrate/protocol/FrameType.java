package io.v6d.migrate.protocol;

/**
 * The kinds of frame on an agent connection. Control frames carry a JSON body; DATA carries blob
 * bytes; READ asks for them and has no body.
 */
public enum FrameType {
  /** Agent to client, first frame: protocol version and the agent's challenge nonce. */
  HELLO(1, true),
  /** Client to agent: the client's nonce and its proof of the token. */
  AUTH(2, true),
  /** Agent to client: the agent's proof of the token; the connection is authenticated. */
  AUTH_OK(3, true),
  /** A JSON request {"op": ...}. */
  REQUEST(4, true),
  /** The JSON reply to the oldest unanswered request. */
  REPLY(5, true),
  /** A JSON error {"code": vineyard status, "message": ...}; answers a request or ends the connection. */
  ERROR(6, true),
  /** {@code length} bytes of blob {@code id} at {@code offset}, with their CRC32C. */
  DATA(7, false),
  /** Asks for {@code length} bytes of blob {@code id} at {@code offset}; answered by a DATA frame. */
  READ(8, false),
  /**
   * DATA compressed: the body is the codec (1 byte), the uncompressed length (4 bytes, big-endian)
   * and the compressed bytes; the CRC32C covers the uncompressed bytes.
   */
  DATA_COMPRESSED(9, false);

  private final int code;
  private final boolean json;

  FrameType(int code, boolean json) {
    this.code = code;
    this.json = json;
  }

  public int code() {
    return code;
  }

  /** Whether a JSON body of {@code length} bytes follows the header. */
  public boolean hasJsonBody() {
    return json;
  }

  public static FrameType of(int code) {
    for (FrameType type : values()) {
      if (type.code == code) {
        return type;
      }
    }
    return null;
  }
}
