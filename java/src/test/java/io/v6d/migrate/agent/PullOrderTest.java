package io.v6d.migrate.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.compress.Compression;
import io.v6d.migrate.engine.TransportChoice;
import io.v6d.migrate.ipc.FrameCodec;
import org.junit.jupiter.api.Test;

/** A pull order from an authenticated peer is checked whole before the agent pulls anything. */
class PullOrderTest {
  private static ObjectNode order() {
    ObjectNode order = FrameCodec.mapper().createObjectNode().put("per_source", 2).put("per_target", 3)
        .put("connections", 4).put("transport", "tcp").put("timeout_ms", 5000)
        .put("compression", "zstd");
    order.withArray("chunks").addObject().put("id", "o0000000000000010").put("from", 7);
    order.withArray("chunks").addObject().put("id", "o0000000000000011").put("from", 8);
    return order;
  }

  private static String refused(ObjectNode order) {
    MigrateException e = assertThrows(MigrateException.class, () -> PullOrder.parse(order));
    assertEquals(ErrorCode.INVALID, e.code());
    return e.getMessage();
  }

  @Test
  void aGoodOrderIsReadAsSent() {
    PullOrder parsed = PullOrder.parse(order());
    assertEquals(2, parsed.chunks().size());
    assertEquals(new PullOrder.Chunk(0x10, 7), parsed.chunks().get(0));
    assertEquals(2, parsed.perSource());
    assertEquals(3, parsed.perTarget());
    assertEquals(4, parsed.connections());
    assertEquals(TransportChoice.TCP, parsed.transport());
    assertEquals(5000, parsed.timeoutMillis());
    assertEquals(Compression.ZSTD, parsed.compression());
  }

  @Test
  void compressionIsOneOfTheFourOrAbsent() {
    ObjectNode absent = order();
    absent.remove("compression");
    assertEquals(Compression.NONE, PullOrder.parse(absent).compression()); // a peer of an older version
    for (String value : new String[] {"auto", "LZ4", "none"}) {
      ObjectNode ok = order();
      ok.put("compression", value);
      assertEquals(Compression.parse(value), PullOrder.parse(ok).compression());
    }
    for (String value : new String[] {"gzip", "", " ", "zstd;lz4"}) {
      ObjectNode bad = order();
      bad.put("compression", value);
      assertTrue(refused(bad).contains("compression"), value);
    }
    ObjectNode number = order();
    number.put("compression", 3);
    assertTrue(refused(number).contains("compression"));
    ObjectNode object = order();
    object.putObject("compression").put("zstd", true);
    assertTrue(refused(object).contains("compression"));
    ObjectNode nul = order();
    nul.putNull("compression");
    assertTrue(refused(nul).contains("compression"));
  }

  @Test
  void noChunksOrTooManyAreRefused() {
    ObjectNode none = order();
    none.putArray("chunks");
    assertTrue(refused(none).contains("1 to " + PullOrder.MAX_CHUNKS));
    ObjectNode notAList = order();
    notAList.put("chunks", "o0000000000000010");
    assertTrue(refused(notAList).contains("chunks"));
    ObjectNode many = order();
    var list = many.putArray("chunks");
    for (int i = 0; i <= PullOrder.MAX_CHUNKS; i++) {
      list.addObject().put("id", "o" + String.format("%016x", i + 1)).put("from", 1);
    }
    assertTrue(refused(many).contains("not " + (PullOrder.MAX_CHUNKS + 1)));
  }

  @Test
  void blobsDuplicatesAndMissingHoldersAreRefused() {
    ObjectNode blob = order();
    blob.withArray("chunks").addObject().put("id", "o8000000000000001").put("from", 1);
    assertTrue(refused(blob).contains("is a blob"));
    ObjectNode twice = order();
    twice.withArray("chunks").addObject().put("id", "o0000000000000010").put("from", 1);
    assertTrue(refused(twice).contains("named twice"));
    ObjectNode noHolder = order();
    noHolder.withArray("chunks").addObject().put("id", "o0000000000000012");
    assertTrue(refused(noHolder).contains("\"from\""));
    ObjectNode negative = order();
    negative.withArray("chunks").addObject().put("id", "o0000000000000012").put("from", -1);
    assertTrue(refused(negative).contains("\"from\""));
    ObjectNode badId = order();
    badId.withArray("chunks").addObject().put("id", "not-an-id").put("from", 1);
    refused(badId);
  }

  @Test
  void boundsOutOfRangeAreRefused() {
    for (String field : new String[] {"per_source", "per_target", "connections"}) {
      for (long value : new long[] {0, -1, 65, 1L << 31, Long.MAX_VALUE}) {
        ObjectNode bad = order();
        bad.put(field, value);
        assertTrue(refused(bad).contains(field), field + "=" + value);
      }
      ObjectNode missing = order();
      missing.remove(field);
      assertTrue(refused(missing).contains(field));
    }
    ObjectNode timeout = order();
    timeout.put("timeout_ms", -5);
    refused(timeout);
    ObjectNode transport = order();
    transport.put("transport", "carrier-pigeon");
    assertTrue(refused(transport).contains("unknown transport"));
  }
}
