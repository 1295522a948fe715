package io.v6d.migrate.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.ipc.SocketIdentity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal as a lock file holds it: written by its owner, read back by a reclaimer. */
class JournalFileTest {
  private static final String OWNER = "0123456789abcdef0123456789abcdef";
  private static final long BLOB = 0x8000000000000010L;
  private static final long OBJECT = 0x0000000000000020L;

  @TempDir
  Path dir;

  @Test
  void entriesAppendedToTheLockFileAreReadBack() throws IOException {
    String store = SocketIdentity.of(Files.createFile(dir.resolve("vineyard.sock")).toString());
    try (OwnerLock lock = OwnerLock.create(dir.resolve("locks"), OWNER, JournalFile.header(7, store))) {
      lock.append(JournalFile.entry(List.of(BLOB), 4096, List.of(), null, 0));
      lock.append(JournalFile.entry(List.of(), 0, List.of(OBJECT), "n", OBJECT));
      JournalFile journal = JournalFile.read(lock.file(), OWNER).orElseThrow();
      assertEquals(ProcessHandle.current().pid(), journal.pid());
      assertEquals(2, journal.entries().size());
      assertEquals(List.of(BLOB), journal.entries().get(0).blobs());
      assertEquals(4096, journal.entries().get(0).bytes());
      assertEquals(List.of(OBJECT), journal.entries().get(1).objects());
      assertEquals("n", journal.entries().get(1).name());
      assertEquals(OBJECT, journal.entries().get(1).root());
      assertTrue(journal.sameInstance(7, store));
      assertFalse(journal.sameInstance(8, store), "another instance id");
    }
  }

  @Test
  void aPreparedEntryNamesTheGlobalObjectItsMembersAndWhenToDecide() throws IOException {
    String store = SocketIdentity.of(Files.createFile(dir.resolve("vineyard.sock")).toString());
    long global = 0x0000000000000040L;
    try (OwnerLock lock = OwnerLock.create(dir.resolve("locks"), OWNER, JournalFile.header(7, store))) {
      lock.append(JournalFile.entry(List.of(), 0, List.of(OBJECT), null, 0));
      lock.append(JournalFile.prepared(global, List.of(OBJECT), Long.MAX_VALUE));
      List<JournalEntry> entries = JournalFile.read(lock.file(), OWNER).orElseThrow().entries();
      assertEquals(0, entries.get(0).preparedGlobal(), "an ordinary entry names no global object");
      JournalEntry prepared = entries.get(1);
      assertEquals(global, prepared.preparedGlobal());
      assertEquals(List.of(OBJECT), prepared.preparedMembers());
      assertEquals(Long.MAX_VALUE, prepared.decideAfterMillis());
      assertTrue(prepared.objects().isEmpty() && prepared.blobs().isEmpty(), "it lists nothing to undo");
    }
  }

  @Test
  void aRecreatedSocketIsAnotherInstance() throws IOException, InterruptedException {
    Path socket = Files.createFile(dir.resolve("vineyard.sock"));
    Path file = dir.resolve(OWNER + ".lock");
    Files.write(file, JournalFile.header(7, SocketIdentity.of(socket.toString())));
    Files.delete(socket);
    Thread.sleep(20);
    Files.createFile(socket);
    assertFalse(JournalFile.read(file, OWNER).orElseThrow().sameInstance(7, SocketIdentity.of(socket.toString())));
  }

  @Test
  void aLineCutShortEndsTheJournal() throws IOException {
    Path file = dir.resolve(OWNER + ".lock");
    Files.write(file, JournalFile.header(7, SocketIdentity.of(dir.resolve("absent.sock").toString())));
    Files.write(file, JournalFile.entry(List.of(BLOB), 1, List.of(), null, 0), StandardOpenOption.APPEND);
    Files.write(file, "{\"blobs\":[\"o80".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
    assertEquals(1, JournalFile.read(file, OWNER).orElseThrow().entries().size());
  }

  @Test
  void aLockFileWithoutHeaderIsAnOlderVersionsOwner() throws IOException {
    Path file = Files.createFile(dir.resolve(OWNER + ".lock"));
    assertTrue(JournalFile.read(file, OWNER).isEmpty());
    Files.writeString(file, "not json\n");
    assertTrue(JournalFile.read(file, OWNER).isEmpty());
  }

  @Test
  void anOwnerWithoutAHeaderFileNeverAppearsHalfWritten() {
    try (OwnerLock lock = OwnerLock.create(dir, OWNER, JournalFile.header(1, SocketIdentity.of("/nonexistent.sock")))) {
      assertNull(OwnerLock.takeIfDead(lock.file()));
    }
  }
}
