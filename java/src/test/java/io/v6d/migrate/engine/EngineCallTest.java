package io.v6d.migrate.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class EngineCallTest {
  @Test
  void resultAndFailureComeBackAsTheyWere() throws InterruptedException {
    EngineCall<String> ok = EngineCall.start(() -> "done");
    assertTrue(ok.waitFor(-1));
    assertEquals("done", ok.result());
    EngineCall<String> failed = EngineCall.start(() -> {
      throw new MigrateException(ErrorCode.OBJECT_NOT_EXISTS, "no such object");
    });
    assertTrue(failed.waitFor(10_000));
    MigrateException e = assertThrows(MigrateException.class, failed::result);
    assertEquals(ErrorCode.OBJECT_NOT_EXISTS, e.code());
  }

  @Test
  void cancelInterruptsATransferAndTheRollbackRunsWithAClearInterruptFlag() throws InterruptedException {
    CountDownLatch transferring = new CountDownLatch(1);
    AtomicBoolean flagDuringRollback = new AtomicBoolean(true);
    EngineCall<String> call = EngineCall.start(() -> {
      try {
        EngineCall.interruptibly(() -> {
          transferring.countDown();
          try {
            Thread.sleep(60_000); // a wait on a connection or on copy threads
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("transfer interrupted");
          }
        });
        return "completed";
      } finally {
        flagDuringRollback.set(Thread.currentThread().isInterrupted()); // the rollback's requests
      }
    });
    transferring.await();
    assertFalse(call.waitFor(50));
    call.cancel();
    assertTrue(call.waitFor(10_000));
    MigrateException e = assertThrows(MigrateException.class, call::result);
    assertEquals(ErrorCode.ALREADY_STOPPED, e.code());
    assertFalse(flagDuringRollback.get());
    assertTrue(call.isCancelled());
  }

  @Test
  void cancelOutsideATransferStopsAtTheNextCheckpointWithoutInterrupting() throws InterruptedException {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    EngineCall<String> call = EngineCall.start(() -> {
      started.countDown();
      try {
        cancelled.await(); // a request to vineyardd: must not be cut short
      } catch (InterruptedException e) {
        interrupted.set(true);
      }
      EngineCall.checkpoint();
      return "completed";
    });
    started.await();
    call.cancel();
    cancelled.countDown();
    assertTrue(call.waitFor(10_000));
    assertEquals(ErrorCode.ALREADY_STOPPED, assertThrows(MigrateException.class, call::result).code());
    assertFalse(interrupted.get());
  }

  @Test
  void outsideAnEngineCallCheckpointsDoNothing() {
    EngineCall.checkpoint();
    AtomicBoolean ran = new AtomicBoolean();
    EngineCall.interruptibly(() -> ran.set(true));
    assertTrue(ran.get());
  }
}
