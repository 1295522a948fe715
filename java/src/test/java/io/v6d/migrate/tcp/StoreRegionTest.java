package io.v6d.migrate.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreRegionTest {
  /** A socket that takes at most 64 bytes a write, as a full one does: the region resumes where it stopped. */
  private static final class Trickle implements WritableByteChannel {
    final ByteArrayOutputStream taken = new ByteArrayOutputStream();

    @Override
    public int write(ByteBuffer src) {
      int n = Math.min(64, src.remaining());
      byte[] part = new byte[n];
      src.get(part);
      taken.write(part, 0, n);
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  @Test
  void sendsItsSliceOfTheFileInPiecesAndLeavesTheFileOpen(@TempDir Path dir) throws Exception {
    byte[] store = new byte[1000];
    for (int i = 0; i < store.length; i++) {
      store[i] = (byte) (i * 31 + 7);
    }
    Path path = Files.write(dir.resolve("store"), store);
    try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
      StoreRegion region = new StoreRegion(file, 100, 500);
      Trickle socket = new Trickle();
      int writes = 0;
      while (region.transferred() < region.count()) {
        assertTrue(region.transferTo(socket, region.transferred()) > 0);
        writes++;
      }
      assertTrue(writes > 1, "the test's socket took it all at once");
      assertArrayEquals(Arrays.copyOfRange(store, 100, 600), socket.taken.toByteArray());
      assertEquals(500, region.transferred());
      assertEquals(0, region.transferTo(socket, 500));
      assertTrue(region.release());
      assertTrue(file.isOpen(), "the store file is its mapping's, not the region's");
    }
  }
}
