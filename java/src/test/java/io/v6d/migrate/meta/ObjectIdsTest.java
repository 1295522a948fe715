package io.v6d.migrate.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.v6d.migrate.MigrateException;
import org.junit.jupiter.api.Test;

class ObjectIdsTest {
  @Test
  void formatsAndParsesSixteenHexDigits() {
    assertEquals("o8000000000000000", ObjectIds.format(ObjectIds.EMPTY_BLOB));
    assertEquals("o000000000000002a", ObjectIds.format(42));
    assertEquals(0xe88ab19446c00076L, ObjectIds.parse("oe88ab19446c00076"));
    assertEquals(42, ObjectIds.parse("42"));
  }

  @Test
  void blobIdsHaveTheTopBit() {
    assertTrue(ObjectIds.isBlob(ObjectIds.parse("oe88ab19446c00076")));
    assertFalse(ObjectIds.isBlob(ObjectIds.parse("o688ab19446c00078")));
    assertTrue(ObjectIds.isEmptyBlob(ObjectIds.parse("o8000000000000000")));
  }

  @Test
  void rejectsWhatIsNotAnId() {
    assertThrows(MigrateException.class, () -> ObjectIds.parse("ozz"));
    assertThrows(MigrateException.class, () -> ObjectIds.parse(""));
    assertFalse(ObjectIds.looksLikeId("my-dataframe"));
    assertTrue(ObjectIds.looksLikeId("o688ab19446c00078"));
    assertTrue(ObjectIds.looksLikeId("o688AB19446C00078"));
    assertFalse(ObjectIds.looksLikeId("o688ab19446c0007"), "15 digits");
    assertFalse(ObjectIds.looksLikeId("o688ab19446c000780"), "17 digits");
    assertFalse(ObjectIds.looksLikeId("x688ab19446c00078"));
    assertFalse(ObjectIds.looksLikeId("o688ab19446c0007g"));
    assertFalse(ObjectIds.looksLikeId("o688ab19446c0007\u0663"), "a non-ASCII digit");
    assertFalse(ObjectIds.looksLikeId(null));
  }

  @Test
  void formatsSixteenLowercaseDigits() {
    assertEquals("o0000000000000000", ObjectIds.format(0));
    assertEquals("o000000000000002a", ObjectIds.format(42));
    assertEquals("off00000000000001", ObjectIds.format(0xff00000000000001L));
    assertEquals("o8000000000000000", ObjectIds.format(ObjectIds.EMPTY_BLOB));
    assertEquals("offffffffffffffff", ObjectIds.format(-1));
    for (long id : new long[] {1, Long.MAX_VALUE, Long.MIN_VALUE, 0x0123456789abcdefL}) {
      assertEquals(String.format("o%016x", id), ObjectIds.format(id));
      assertEquals(id, ObjectIds.parse(ObjectIds.format(id)));
    }
  }
}
