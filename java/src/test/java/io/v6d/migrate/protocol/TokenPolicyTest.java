package io.v6d.migrate.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenPolicyTest {
  @TempDir Path dir;

  @Test
  void randomTokensPass() {
    SecureRandom random = new SecureRandom();
    for (int i = 0; i < 1000; i++) {
      byte[] bits = new byte[16];
      random.nextBytes(bits);
      assertNull(TokenStrength.weakness(HexFormat.of().formatHex(bits)));
      assertNull(TokenStrength.weakness(Base64.getUrlEncoder().withoutPadding().encodeToString(bits)));
      byte[] more = new byte[32];
      random.nextBytes(more);
      assertNull(TokenStrength.weakness(HexFormat.of().formatHex(more)));
    }
  }

  @Test
  void weakTokensAreRefused() {
    for (String weak : new String[] {"", "a".repeat(200), "ab".repeat(100), "0123456789".repeat(5),
        "abcdefgh12345678", "0123456789abcdef0123456789abcde", "12345678901234567890123456789012345678",
        "password-".repeat(4)}) {
      assertNotNull(TokenStrength.weakness(weak), weak);
    }
  }

  @Test
  void aTokenFileOthersCanReadIsRefusedWithTheFix() throws Exception {
    Path file = dir.resolve("token");
    Files.writeString(file, HexFormat.of().formatHex(Handshake.nonce()) + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    MigrateException e = assertThrows(MigrateException.class, () -> Token.load(file));
    assertTrue(e.getMessage().contains("chmod 600 " + file), e.getMessage());
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    assertDoesNotThrow(() -> Token.load(file));
  }

  @Test
  void aTokenFileReadBeforeIsReadAgainOnceItChanges() throws Exception {
    Path file = dir.resolve("token");
    String first = HexFormat.of().formatHex(Handshake.nonce());
    Files.writeString(file, first + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    assertArrayEquals(first.getBytes(), Token.load(file));
    // rewritten in place, same size: the new token is the one used
    String second = HexFormat.of().formatHex(Handshake.nonce());
    Files.writeString(file, second + "\n");
    assertArrayEquals(second.getBytes(), Token.load(file));
    // opened to others after it was read: refused, not served from what was read before
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    assertThrows(MigrateException.class, () -> Token.load(file));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    // replaced by another file (a rotated Secret)
    Path next = dir.resolve("token.next");
    String third = HexFormat.of().formatHex(Handshake.nonce());
    Files.writeString(next, third + "\n");
    Files.setPosixFilePermissions(next, PosixFilePermissions.fromString("rw-------"));
    Files.move(next, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    assertArrayEquals(third.getBytes(), Token.load(file));
  }

  @Test
  void aWeakTokenFileIsRefused() throws Exception {
    Path file = dir.resolve("token");
    Files.writeString(file, "x".repeat(64));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    MigrateException e = assertThrows(MigrateException.class, () -> Token.load(file));
    assertTrue(e.getMessage().contains("too weak"), e.getMessage());
  }
}
