package io.v6d.migrate.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.transport.ProgressListener;
import io.v6d.migrate.transport.ThrottledProgress;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LandingSinkTest {
  /** A pull returns once every chunk landed, without waiting for its sink's removal: the sink refuses more. */
  @Test
  void nothingLandsOnceEveryChunkHas() {
    long blob = 0x8000000000000001L;
    LandingSink sink = new LandingSink(Map.of(blob, new Blob(blob, 100, 4096)), 2,
        new ThrottledProgress(ProgressListener.NONE, 100, 1));
    assertEquals(4096, sink.destination(blob, 0, 50));
    sink.landed(blob, 0, 50);
    assertEquals(4096 + 50, sink.destination(blob, 50, 50));
    sink.landed(blob, 50, 50);
    assertTrue(sink.done().isDone());
    MigrateException e = assertThrows(MigrateException.class, () -> sink.destination(blob, 0, 50));
    assertTrue(e.getMessage().contains("after every chunk"), e.getMessage());
  }
}
