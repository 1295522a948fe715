package io.v6d.migrate.tcp;

import io.v6d.migrate.shm.NativeMemory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** CRC32C of one DATA chunk in native memory, as every chunk sent and received pays it. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ChecksumBench {
  @Param({"65536", "4194304"})
  int bytes;

  private long address;

  private jnr.ffi.Pointer memory;

  @Setup
  public void setUp() {
    memory = jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), bytes);
    byte[] random = new byte[bytes];
    ThreadLocalRandom.current().nextBytes(random);
    memory.put(0, random, 0, bytes);
    address = memory.address();
  }

  @Benchmark
  public int crc32c() {
    return Crc.of(address, bytes);
  }

  @Benchmark
  public byte touchOnly() {
    return NativeMemory.getByte(address + bytes - 1); // the floor: reaching the memory at all
  }
}
