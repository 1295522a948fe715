package io.v6d.migrate.tcp;

import io.v6d.migrate.shm.NativeMemory;
import java.util.zip.CRC32C;

/** CRC32C of mapped memory, through the JDK's intrinsic implementation. */
final class Crc {
  private Crc() {}

  static int of(long address, int length) {
    CRC32C crc = new CRC32C();
    if (length > 0) {
      crc.update(NativeMemory.view(address, length));
    }
    return (int) crc.getValue();
  }
}
