package io.v6d.migrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class TimeoutsTest {
  @Test
  void zeroMeansTheDefault() {
    assertEquals(Timeouts.DEFAULT_MILLIS, Timeouts.orDefault(0));
    assertEquals(1, Timeouts.orDefault(1));
    assertEquals(Timeouts.MAX_MILLIS, Timeouts.orDefault(Timeouts.MAX_MILLIS));
  }

  @ParameterizedTest
  @ValueSource(longs = {-1, Long.MIN_VALUE, Timeouts.MAX_MILLIS + 1, Long.MAX_VALUE})
  void outOfRangeIsRefused(long millis) {
    MigrateException e = assertThrows(MigrateException.class, () -> Timeouts.orDefault(millis));
    assertEquals(ErrorCode.INVALID, e.code());
  }

  @Test
  void largeTimeoutsFitAnInt() {
    assertEquals(Integer.MAX_VALUE, Timeouts.asInt(Long.MAX_VALUE));
    assertEquals((int) Timeouts.MAX_MILLIS, Timeouts.asInt(Timeouts.MAX_MILLIS));
    assertEquals(2500, Timeouts.asInt(2500));
  }
}
