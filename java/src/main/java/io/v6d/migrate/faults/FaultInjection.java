package io.v6d.migrate.faults;

import java.nio.ByteBuffer;
import java.util.ServiceLoader;
import org.slf4j.LoggerFactory;

/**
 * The points where tests inject faults into the data path. The shipped jar holds only this seam and
 * its no-op; the faults themselves live in the test-hooks jar (built from the test sources), which a
 * JVM loads only when its launcher was given it ({@code VINEYARD_MIGRATE_TEST_HOOKS}) -- so the
 * shipped code alone has no way to corrupt, stall or inflate anything.
 */
public interface FaultInjection {
  /** The injection on the class path (found once, through {@link ServiceLoader}), else the no-op. */
  static FaultInjection installed() {
    return Installed.INJECTION;
  }

  /** True when the sender should stop sending before a DATA chunk of {@code length} bytes. */
  default boolean stallSending(int length) {
    return false;
  }

  /** The uncompressed length a compressed chunk of {@code length} bytes declares on the wire. */
  default int declaredLength(int length) {
    return length;
  }

  /**
   * The first {@code length} bytes of a DATA chunk (one socket read's, or a decompressed chunk's
   * whole) arrived at {@code address}, and are about to be checked against the chunk's CRC.
   */
  default void chunkArriving(long address, int length) {}

  /** A compressed chunk's payload (a view of it) arrived and is about to be decompressed. */
  default void compressedArrived(ByteBuffer payload) {}

  /**
   * The process reached a named point between two steps (a test pauses it there and kills it, to see
   * what a death at that point leaves, or makes it fail there): {@code rebalance:copies-persisted},
   * {@code rebalance:prepared}, {@code rebalance:global-persisted} (the new global object is
   * persisted, its journal entry not yet deleted), {@code rebalance:persisted}; in an agent, {@code pull:persisted}
   * (a pull session's copies are persisted, before it answers) and {@code stream:chunk-delivered} (a
   * stream's next chunk is granted to the peer, before it answers).
   */
  default void reached(String point) {}

  /** True when the engine should skip its up-front capacity check on the target. */
  default boolean skipCapacityCheck() {
    return false;
  }
}

/** Holder of the one injection per JVM (loaded on first use). */
final class Installed {
  static final FaultInjection INJECTION = load();

  private Installed() {}

  private static FaultInjection load() {
    return ServiceLoader.load(FaultInjection.class, FaultInjection.class.getClassLoader()).findFirst()
        .map(found -> {
          LoggerFactory.getLogger(FaultInjection.class).warn("test fault injection installed: {}", found.getClass().getName());
          return found;
        })
        .orElseGet(() -> new FaultInjection() {});
  }
}
