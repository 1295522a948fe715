package io.v6d.migrate.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetaRewriterTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** A DataFrame-like tree: a column shared twice, blobs, an empty blob, plain fields. */
  private static final String TREE = """
      {"id": "o0000000000000100", "typename": "vineyard::DataFrame", "instance_id": 3,
       "signature": 9999, "__timestamp": 1, "columns_": "[\\"a\\"]", "transient": false,
       "__values_-0": {"id": "o0000000000000200", "typename": "vineyard::Tensor<double>",
                       "instance_id": 3, "signature": 1234, "shape_": "[4]",
                       "buffer_": {"id": "o8000000000000aaa", "typename": "vineyard::Blob",
                                   "instance_id": 3, "length": 32, "nbytes": 32}},
       "__values_-1": {"id": "o0000000000000200", "typename": "vineyard::Tensor<double>",
                       "instance_id": 3, "signature": 1234, "shape_": "[4]",
                       "buffer_": {"id": "o8000000000000aaa", "typename": "vineyard::Blob",
                                   "instance_id": 3, "length": 32, "nbytes": 32}},
       "index_": {"id": "o0000000000000300", "typename": "vineyard::Tensor<int64>", "instance_id": 3,
                  "shape_": "[0]",
                  "buffer_": {"id": "o8000000000000000", "typename": "vineyard::Blob",
                              "instance_id": 3, "length": 0, "nbytes": 0}}}
      """;

  @Test
  void collectsEachNonEmptyBlobOnce() throws Exception {
    Map<Long, BlobRef> blobs = MetaTree.blobs(MAPPER.readTree(TREE));
    assertEquals(List.of(0x8000000000000aaaL), List.copyOf(blobs.keySet()));
    assertEquals(3, blobs.get(0x8000000000000aaaL).instanceId());
  }

  @Test
  void rebuildsTheTreeWithNewBlobIdsAndMembersCreatedFirst() throws Exception {
    List<ObjectNode> created = new ArrayList<>();
    List<Integer> batches = new ArrayList<>();
    MetaRewriter rewriter = new MetaRewriter(Map.of(0x8000000000000aaaL, 0x8000000000000bbbL), 7, member -> false,
        contents -> {
          batches.add(contents.size());
          List<MetaRewriter.Created> ids = new ArrayList<>();
          for (ObjectNode content : contents) {
            created.add(content);
            ids.add(new MetaRewriter.Created(0x500 + created.size(), 4242));
          }
          return ids;
        });
    ObjectNode root = rewriter.rewriteRoot(MAPPER.readTree(TREE));

    // the shared column is created once, the index once: two members before the root, one batch
    assertEquals(2, created.size());
    assertEquals(List.of(2), batches);
    ObjectNode column = created.get(0);
    assertFalse(column.has("id"));
    assertEquals("o8000000000000bbb", column.path("buffer_").path("id").asText());
    assertEquals(7, column.path("buffer_").path("instance_id").asLong());
    assertEquals(32, column.path("buffer_").path("length").asLong());
    assertEquals(1234, column.path("signature").asLong());

    // the root keeps its fields and signature, loses its id and timestamp, moves to instance 7
    assertFalse(root.has("id"));
    assertFalse(root.has("__timestamp"));
    assertEquals(9999, root.path("signature").asLong());
    assertEquals("[\"a\"]", root.path("columns_").asText());
    assertEquals(7, root.path("instance_id").asLong());
    assertTrue(root.path("transient").asBoolean());
    JsonNode first = root.path("__values_-0");
    assertEquals("o0000000000000501", first.path("id").asText());
    assertEquals(1, first.size(), "created members are linked by id alone");
    assertSame(first, root.path("__values_-1"));

    // the empty blob exists everywhere: kept as it is
    assertEquals("o8000000000000000", created.get(1).path("buffer_").path("id").asText());
    assertEquals("o0000000000000502", root.path("index_").path("id").asText());
  }

  @Test
  void membersOnTheTargetAreReferredToAsTheyAre() throws Exception {
    List<ObjectNode> created = new ArrayList<>();
    MetaRewriter rewriter = new MetaRewriter(
        Map.of(0x8000000000000aaaL, 0x8000000000000bbbL), 7,
        member -> member.path("id").asText().equals("o0000000000000300"),
        contents -> {
          created.addAll(contents);
          return contents.stream().map(c -> new MetaRewriter.Created(0x600, 1)).toList();
        });
    ObjectNode root = rewriter.rewriteRoot(MAPPER.readTree(TREE));
    assertEquals(1, created.size()); // only the shared column; the index is kept
    assertEquals("o0000000000000300", root.path("index_").path("id").asText());
    assertEquals(3, root.path("index_").path("instance_id").asLong());
  }

  @Test
  void deeperMembersAreCreatedInEarlierBatches() throws Exception {
    JsonNode tree = MAPPER.readTree("""
        {"id": "o0000000000000001", "typename": "Outer", "instance_id": 1,
         "inner_": {"id": "o0000000000000002", "typename": "Inner", "instance_id": 1,
                    "leaf_": {"id": "o0000000000000003", "typename": "Leaf", "instance_id": 1}},
         "side_": {"id": "o0000000000000004", "typename": "Leaf", "instance_id": 1}}
        """);
    List<List<String>> batches = new ArrayList<>();
    long[] next = {100};
    ObjectNode root = new MetaRewriter(Map.of(), 7, member -> false, contents -> {
      batches.add(contents.stream().map(c -> c.path("typename").asText()).toList());
      return contents.stream().map(c -> new MetaRewriter.Created(next[0]++, 0)).toList();
    }).rewriteRoot(tree);
    assertEquals(List.of(List.of("Leaf", "Leaf"), List.of("Inner")), batches);
    assertEquals(ObjectIds.format(102), root.path("inner_").path("id").asText());
    assertEquals(ObjectIds.format(101), root.path("side_").path("id").asText());
  }

  @Test
  void aBlobWithoutACopyIsAnError() throws Exception {
    MetaRewriter rewriter = new MetaRewriter(Map.of(), 7, member -> false,
        contents -> contents.stream().map(c -> new MetaRewriter.Created(1, 1)).toList());
    MigrateException e = assertThrows(MigrateException.class, () -> rewriter.rewriteRoot(MAPPER.readTree(TREE)));
    assertEquals(ErrorCode.META_TREE_INVALID, e.code());
    assertTrue(e.getMessage().contains("o8000000000000aaa"));
  }
}
