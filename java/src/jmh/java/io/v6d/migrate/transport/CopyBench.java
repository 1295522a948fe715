package io.v6d.migrate.transport;

import io.v6d.migrate.shm.NativeMemory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Mapping-to-mapping copy: one thread, and the parallel sliced copy the shared-memory transport uses. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class CopyBench {
  @Param({"4194304", "268435456"})
  int bytes;

  private jnr.ffi.Pointer from;
  private jnr.ffi.Pointer to;

  @Setup
  public void setUp() {
    from = jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), bytes);
    to = jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), bytes);
  }

  @Benchmark
  public void singleThread() {
    NativeMemory.copy(from.address(), to.address(), bytes);
  }

  @Benchmark
  public void parallelSlices() {
    ParallelCopy.copy(from.address(), to.address(), bytes);
  }
}
