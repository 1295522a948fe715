package io.v6d.migrate.protocol;

import java.util.HashSet;
import java.util.Set;

/**
 * Judges whether a token can carry 128 bits of entropy. Pure code.
 *
 * <p>The rule: the token's characters are taken as drawn at random from the smallest usual
 * alphabet that holds them all -- digits (10), hex digits (16), lower- or upper-case letters and
 * digits (36), letters and digits (62), base64 (64), printable ASCII (95), or anything else (256
 * per byte) -- and its length times log2 of that alphabet's size must reach 128 bits. Tokens
 * with fewer than 8 distinct characters, and tokens that repeat a shorter piece (abcabc...), are
 * refused whatever their length: they are not random. A random hex token of 32 characters, or a
 * base64 one of 22, passes; {@code openssl rand -hex 32} is what we suggest.
 */
public final class TokenStrength {
  public static final int MIN_BITS = 128;
  static final int MIN_DISTINCT = 8;

  private TokenStrength() {}

  /** Why {@code token} is too weak, or null when it is not. */
  public static String weakness(String token) {
    if (token.isEmpty()) {
      return "it is empty";
    }
    Set<Integer> distinct = new HashSet<>();
    token.codePoints().forEach(distinct::add);
    if (distinct.size() < MIN_DISTINCT) {
      return "it has only " + distinct.size() + " distinct characters";
    }
    int period = period(token);
    if (period < token.length()) {
      return "it repeats a piece of " + period + " characters";
    }
    double bits = token.length() * (Math.log(alphabet(token)) / Math.log(2));
    if (bits < MIN_BITS) {
      return String.format("%d characters of this kind carry about %.0f bits", token.length(), bits);
    }
    return null;
  }

  /** The size of the smallest usual alphabet holding every character of {@code token}. */
  static int alphabet(String token) {
    if (token.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return 10;
    }
    if (token.chars().allMatch(c -> Character.digit(c, 16) >= 0 && c < 128)) {
      return 16;
    }
    if (token.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
        || token.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
      return 36;
    }
    if (token.chars().allMatch(TokenStrength::alphanumeric)) {
      return 62;
    }
    if (token.chars().allMatch(c -> alphanumeric(c) || c == '+' || c == '/' || c == '-' || c == '_' || c == '=')) {
      return 64;
    }
    if (token.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
      return 95;
    }
    return 256;
  }

  private static boolean alphanumeric(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /** The length of the shortest piece that {@code s} is whole repetitions of (its own length if none). */
  static int period(String s) {
    int n = s.length();
    for (int p = 1; p <= n / 2; p++) {
      if (n % p == 0 && s.substring(p).equals(s.substring(0, n - p))) {
        return p;
      }
    }
    return n;
  }
}
