package io.v6d.migrate.meta;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.HexFormat;

/**
 * vineyard object ids: unsigned 64-bit values written as {@code o} and 16 hex digits.
 *
 * <p>Blob ids have the top bit set; the empty blob ({@code o8000000000000000}) exists on every
 * instance and is never copied.
 */
public final class ObjectIds {
  public static final long EMPTY_BLOB = 0x8000000000000000L;
  private static final long BLOB_BIT = 0x8000000000000000L;

  private static final HexFormat HEX = HexFormat.of();

  private ObjectIds() {}

  public static boolean isBlob(long id) {
    return (id & BLOB_BIT) != 0;
  }

  public static boolean isEmptyBlob(long id) {
    return id == EMPTY_BLOB;
  }

  /** {@code o} and the id's 16 hex digits; called for every id a request or a record names, so not {@code String.format}. */
  public static String format(long id) {
    return "o" + HEX.toHexDigits(id);
  }

  /** Parses {@code o0123...}, a bare 16-digit hex string, or a decimal number. */
  public static long parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new MigrateException(ErrorCode.INVALID, "empty object id");
    }
    try {
      if (text.charAt(0) == 'o' && text.length() <= 17) {
        return Long.parseUnsignedLong(text.substring(1), 16);
      }
      if (text.length() == 16) {
        return Long.parseUnsignedLong(text, 16);
      }
      return Long.parseUnsignedLong(text);
    } catch (NumberFormatException e) {
      throw new MigrateException(ErrorCode.INVALID, "not a vineyard object id: '" + text + "'");
    }
  }

  /** True when the text has the form of an object id rather than of a name. */
  public static boolean looksLikeId(String text) {
    if (text == null || text.length() != 17 || text.charAt(0) != 'o') {
      return false;
    }
    for (int i = 1; i < 17; i++) {
      char c = text.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
        return false;
      }
    }
    return true;
  }
}
