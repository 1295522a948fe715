package io.v6d.migrate.ipc;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;

/**
 * vineyardd writes ids as unsigned 64-bit JSON numbers; Java's long is signed, so ids with the top
 * bit set (every blob id) are written through BigInteger. Reading needs nothing special: {@code
 * JsonNode.longValue()} keeps the low 64 bits.
 */
final class JsonIds {
  private JsonIds() {}

  static BigInteger unsigned(long id) {
    return new BigInteger(Long.toUnsignedString(id));
  }

  static ObjectNode put(ObjectNode node, String field, long id) {
    return node.put(field, unsigned(id));
  }

  static ArrayNode array(ObjectNode node, String field, Iterable<Long> ids) {
    ArrayNode array = node.putArray(field);
    for (long id : ids) {
      array.add(unsigned(id));
    }
    return array;
  }
}
