package io.v6d.migrate.protocol;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual challenge-response on a shared token; the token itself never crosses the wire.
 *
 * <p>The agent sends a random nonce; the client answers with its own nonce and
 * HMAC-SHA256(token, "client" | agent nonce | client nonce); the agent checks it and proves itself
 * with HMAC-SHA256(token, "agent" | client nonce | agent nonce). Distinct labels keep one side's
 * proof from being replayed as the other's.
 */
public final class Handshake {
  public static final int PROTOCOL_VERSION = 1;
  public static final int NONCE_BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private Handshake() {}

  public static byte[] nonce() {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    return nonce;
  }

  public static byte[] clientProof(byte[] token, byte[] agentNonce, byte[] clientNonce) {
    return mac(token, "vineyard-migrate/1 client", agentNonce, clientNonce);
  }

  public static byte[] agentProof(byte[] token, byte[] agentNonce, byte[] clientNonce) {
    return mac(token, "vineyard-migrate/1 agent", clientNonce, agentNonce);
  }

  /** Constant-time comparison, so a wrong proof reveals nothing by its timing. */
  public static boolean matches(byte[] expected, byte[] actual) {
    return actual != null && MessageDigest.isEqual(expected, actual);
  }

  private static byte[] mac(byte[] token, String label, byte[] first, byte[] second) {
    if (first == null || second == null || first.length != NONCE_BYTES || second.length != NONCE_BYTES) {
      throw new MigrateException(ErrorCode.INVALID, "handshake nonce of the wrong size");
    }
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(token, "HmacSHA256"));
      mac.update(label.getBytes(StandardCharsets.US_ASCII));
      mac.update(first);
      mac.update(second);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
    }
  }
}
