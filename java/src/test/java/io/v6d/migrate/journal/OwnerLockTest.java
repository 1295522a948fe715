package io.v6d.migrate.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The owner's lock as a reclaimer sees it: held while the owner keeps it, free after, never created by a probe. */
class OwnerLockTest {
  private static final String OWNER = "0123456789abcdef0123456789abcdef";

  @TempDir
  Path dir;

  @Test
  void aHeldLockCannotBeTakenEvenFromTheSameProcess() {
    try (OwnerLock owner = OwnerLock.create(dir.resolve("locks"), OWNER)) {
      assertEquals(dir.resolve("locks").resolve(OWNER + ".lock"), owner.file());
      assertTrue(Files.exists(owner.file()));
      assertNull(OwnerLock.takeIfDead(owner.file()));
    }
    assertFalse(Files.exists(OwnerLock.fileOf(dir.resolve("locks"), OWNER)), "a closed owner removes its file");
  }

  @Test
  void aLockLeftUnlockedIsTakenOnce() {
    OwnerLock owner = OwnerLock.create(dir, OWNER);
    owner.unlockKeepingFile();
    OwnerLock reclaimer = OwnerLock.takeIfDead(owner.file());
    assertNotNull(reclaimer);
    assertNull(OwnerLock.takeIfDead(owner.file()), "a second reclaimer waits for the first");
    reclaimer.close();
    assertFalse(Files.exists(owner.file()));
  }

  @Test
  void aMissingFileIsNeverCreatedByAProbe() {
    Path file = OwnerLock.fileOf(dir, OWNER);
    assertNull(OwnerLock.takeIfDead(file));
    assertFalse(Files.exists(file));
  }

  @Test
  void anUnwritableDirectoryIsAClearError() throws IOException {
    Path notADirectory = Files.writeString(dir.resolve("file"), "x");
    MigrateException e = assertThrows(MigrateException.class, () -> OwnerLock.create(notADirectory.resolve("d"), OWNER));
    assertTrue(e.getMessage().contains(LockDirs.ENV), e.getMessage());
  }

  @Test
  void lockDirectoriesSitBesideTheSocketOrUnderTheConfiguredOne() {
    assertEquals(Path.of("/run/vineyard/vineyard.sock.migrate"), LockDirs.forSocket("/run/vineyard/vineyard.sock"));
    System.setProperty(LockDirs.PROPERTY, "/shared/locks");
    try {
      assertEquals(Path.of("/shared/locks/vineyard.sock.migrate"), LockDirs.forSocket("/run/vineyard/vineyard.sock"));
    } finally {
      System.clearProperty(LockDirs.PROPERTY);
    }
  }
}
