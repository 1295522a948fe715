package io.v6d.migrate.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The copy records and claims of one vineyardd's lock directory, as processes sharing it see them. */
class CopyRecordFilesTest {
  private static final String TAG = "cluster:x o0000000000000001 abc";

  @TempDir
  Path dir;

  private String socket() {
    return dir.resolve("vineyard.sock").toString();
  }

  @Test
  void aRecordIsReadBackForItsInstanceAndTagOnly() {
    CopyRecordFiles.write(socket(), 3, TAG, 42);
    assertEquals(OptionalLong.of(42), CopyRecordFiles.read(socket(), 3, TAG));
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 4, TAG));
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, TAG + "0"));
    assertTrue(Files.isDirectory(dir.resolve("vineyard.sock.migrate").resolve("copies")));
    CopyRecordFiles.write(socket(), 3, TAG, 43); // a newer copy replaces the record
    assertEquals(OptionalLong.of(43), CopyRecordFiles.read(socket(), 3, TAG));
  }

  @Test
  void aRecordWhoseContentNamesAnotherTagIsNotTrusted() throws IOException {
    CopyRecordFiles.write(socket(), 3, TAG, 42);
    Path file = CopyRecordFiles.fileOf(socket(), 3, TAG);
    Files.writeString(file, Files.readString(file).replace(TAG, "another"));
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, TAG));
    Files.writeString(file, "not a record");
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, TAG));
  }

  @Test
  void aRecordIsRemovedOnlyWhileItNamesTheGoneCopy() {
    CopyRecordFiles.write(socket(), 3, TAG, 42);
    CopyRecordFiles.removeIfNames(socket(), 3, TAG, 41);
    assertEquals(OptionalLong.of(42), CopyRecordFiles.read(socket(), 3, TAG));
    CopyRecordFiles.removeIfNames(socket(), 3, TAG, 42);
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, TAG));
  }

  @Test
  void aHeldClaimMakesOthersWaitEvenInTheSameProcess() {
    CopyRecordFiles.Claim first = CopyRecordFiles.tryClaim(socket(), 3, TAG);
    assertNotNull(first);
    assertNull(CopyRecordFiles.tryClaim(socket(), 3, TAG), "held by another open file description");
    CopyRecordFiles.Claim other = CopyRecordFiles.tryClaim(socket(), 4, TAG);
    assertNotNull(other, "another instance's claim is another lock");
    other.close();
    assertSame(CopyRecordFiles.Claim.NONE, CopyRecordFiles.claim(socket(), 3, TAG, 30, () -> {}),
        "a wait that runs out copies unclaimed");
    first.close();
    CopyRecordFiles.Claim next = CopyRecordFiles.claim(socket(), 3, TAG, 30, () -> {});
    assertNotNull(next);
    assertFalse(next == CopyRecordFiles.Claim.NONE);
    next.close();
  }

  @Test
  void aCancelledWaitStops() {
    try (CopyRecordFiles.Claim held = CopyRecordFiles.tryClaim(socket(), 3, TAG)) {
      assertNotNull(held);
      RuntimeException cancelled = new IllegalStateException("cancelled");
      assertSame(cancelled, assertThrows(IllegalStateException.class,
          () -> CopyRecordFiles.claim(socket(), 3, TAG, 60_000, () -> {
            throw cancelled;
          })));
    }
  }

  @Test
  void aRemovedLockDirectoryIsMadeAgainByTheNextClaimAndRecord() throws IOException {
    Path locks = dir.resolve("vineyard.sock.migrate");
    for (int round = 0; round < 2; round++) { // made on first use, then again after an operator removed it
      assertFalse(Files.exists(locks));
      try (CopyRecordFiles.Claim claim = CopyRecordFiles.tryClaim(socket(), 3, TAG)) {
        assertNotNull(claim);
        assertFalse(claim == CopyRecordFiles.Claim.NONE, "claimed, not copying unclaimed");
        assertNull(CopyRecordFiles.tryClaim(socket(), 3, TAG), "the claim is a real lock");
      }
      deleteTree(locks);
      CopyRecordFiles.write(socket(), 3, TAG, 42 + round);
      assertEquals(OptionalLong.of(42 + round), CopyRecordFiles.read(socket(), 3, TAG));
      deleteTree(locks);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (var paths = Files.walk(root)) {
      for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }

  @Test
  void anUnusableDirectoryMeansCopyingUnclaimed() throws IOException {
    Files.writeString(dir.resolve("vineyard.sock.migrate"), "a file, not a directory");
    assertSame(CopyRecordFiles.Claim.NONE, CopyRecordFiles.claim(socket(), 3, TAG, 1000, () -> {}));
    CopyRecordFiles.write(socket(), 3, TAG, 42); // logged, not thrown: the copy is committed already
    assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, TAG));
  }

  @Test
  void aSweepRemovesRecordsOfGoneCopiesAndOldLeftoversOnly() throws IOException {
    CopyRecordFiles.write(socket(), 3, "gone", 1);
    CopyRecordFiles.write(socket(), 3, "alive", 2);
    CopyRecordFiles.write(socket(), 9, "other instance", 1);
    try (CopyRecordFiles.Claim claim = CopyRecordFiles.tryClaim(socket(), 3, "being copied")) {
      Path copies = CopyRecordFiles.dirOf(socket());
      Path oldTemporary = Files.writeString(copies.resolve(".x.1.tmp"), "half");
      Files.setLastModifiedTime(oldTemporary, FileTime.fromMillis(0));
      Path newTemporary = Files.writeString(copies.resolve(".y.2.tmp"), "half");
      Path heldLock = Path.of(CopyRecordFiles.fileOf(socket(), 3, "being copied") + ".lock");
      Files.setLastModifiedTime(heldLock, FileTime.fromMillis(0));
      List<List<Long>> asked = new java.util.ArrayList<>();
      int removed = CopyRecordFiles.sweep(socket(), 3, 100, ids -> {
        asked.add(List.copyOf(ids));
        return Set.of(1L);
      });
      assertEquals(1, removed);
      assertEquals(1, asked.size(), "one request for the chunk");
      assertEquals(OptionalLong.empty(), CopyRecordFiles.read(socket(), 3, "gone"));
      assertEquals(OptionalLong.of(2), CopyRecordFiles.read(socket(), 3, "alive"));
      assertEquals(OptionalLong.of(1), CopyRecordFiles.read(socket(), 9, "other instance"));
      assertFalse(Files.exists(oldTemporary));
      assertTrue(Files.exists(newTemporary), "a writer may still rename it");
      assertTrue(Files.exists(heldLock), "a held claim is never removed");
    }
  }
}
