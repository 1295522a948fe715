package io.v6d.migrate;

/**
 * The one error type of the engine: a status code and a message that names the problem.
 *
 * <p>Everything that fails below the public API (vineyardd replies, socket errors, bad input) is
 * turned into this type once, where it is detected; callers map it once more at their own boundary
 * (the Python face maps {@link #code()} to vineyard's exception classes).
 */
public class MigrateException extends RuntimeException {
  private final ErrorCode code;

  public MigrateException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public MigrateException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  /** vineyard's numeric status code, for callers that do not want the enum (JPype). */
  public int codeValue() {
    return code.value();
  }

  @Override
  public String toString() {
    return code + ": " + getMessage();
  }
}
