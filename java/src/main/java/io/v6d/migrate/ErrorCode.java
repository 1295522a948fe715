package io.v6d.migrate;

/**
 * Status codes of {@link MigrateException}.
 *
 * <p>The numeric values are vineyard's own ({@code src/common/util/status.h}), so an error that
 * vineyardd reports keeps its code end to end, and the Python face can map it to vineyard's
 * exception class of the same meaning.
 */
public enum ErrorCode {
  INVALID(1),
  KEY_ERROR(2),
  TYPE_ERROR(3),
  IO_ERROR(4),
  END_OF_FILE(5),
  NOT_IMPLEMENTED(6),
  ASSERTION_FAILED(7),
  USER_INPUT_ERROR(8),
  OBJECT_EXISTS(11),
  OBJECT_NOT_EXISTS(12),
  OBJECT_SEALED(13),
  OBJECT_NOT_SEALED(14),
  OBJECT_IS_BLOB(15),
  OBJECT_TYPE_ERROR(16),
  META_TREE_INVALID(21),
  META_TREE_NAME_NOT_EXISTS(25),
  META_TREE_SUBTREE_NOT_EXISTS(27),
  SERVER_NOT_READY(31),
  CONNECTION_FAILED(33),
  CONNECTION_ERROR(34),
  ETCD_ERROR(35),
  /** vineyard's kAlreadyStopped: here, a migration cancelled by its caller (Ctrl-C). */
  ALREADY_STOPPED(36),
  NOT_ENOUGH_MEMORY(41),
  STREAM_DRAINED(42),
  STREAM_FAILED(43),
  UNKNOWN(255);

  private final int value;

  ErrorCode(int value) {
    this.value = value;
  }

  /** vineyard's numeric status code. */
  public int value() {
    return value;
  }

  /** The code for a numeric vineyard status; codes this engine does not know become UNKNOWN. */
  public static ErrorCode of(int value) {
    for (ErrorCode code : values()) {
      if (code.value == value) {
        return code;
      }
    }
    return UNKNOWN;
  }
}
