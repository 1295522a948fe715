package io.v6d.migrate.rebalance;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.rebalance.RebalancePlanner.Chunk;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each chunk of a global object goes.
 *
 * @param chunks the chunks, in the global object's order
 * @param instances the instances spread over
 * @param placement the instance of each chunk after the plan, in the chunks' order
 * @param moves the chunks that change instance
 * @param bytesMoved the bytes of {@code moves}
 * @param optimal the plan is proven to move the fewest bytes (see {@link RebalancePlanner})
 * @param complete every move of the balanced plan is here ({@code false} when cut by max moves)
 */
public record RebalancePlan(List<Chunk> chunks, List<Long> instances, List<Long> placement, List<Move> moves,
    long bytesMoved, boolean optimal, boolean complete) {
  /** One chunk changing instance. */
  public record Move(long chunk, long bytes, long from, long to) {}

  static RebalancePlan of(List<Chunk> chunks, long[] instances, int[] placementIndex, boolean optimal, int maxMoves) {
    List<Move> moves = new ArrayList<>();
    Map<Long, Long> before = bytesPer(chunks, instances, null);
    for (int c = 0; c < chunks.size(); c++) {
      Chunk chunk = chunks.get(c);
      long to = instances[placementIndex[c]];
      if (to != chunk.instance()) {
        moves.add(new Move(chunk.id(), chunk.bytes(), chunk.instance(), to));
      }
    }
    boolean complete = maxMoves < 0 || moves.size() <= maxMoves;
    if (!complete) {
      // keep the moves that must happen (off instances outside the set), then those off the most
      // loaded instances, biggest first: each later run continues from a better-balanced state
      java.util.Set<Long> inSet = new java.util.HashSet<>();
      for (long instance : instances) {
        inSet.add(instance);
      }
      moves.sort(Comparator.<Move>comparingInt(m -> inSet.contains(m.from()) ? 1 : 0)
          .thenComparing(Comparator.<Move>comparingLong(m -> before.getOrDefault(m.from(), 0L)).reversed())
          .thenComparing(Comparator.comparingLong(Move::bytes).reversed()));
      moves = new ArrayList<>(moves.subList(0, maxMoves));
    }
    Map<Long, Long> destination = new LinkedHashMap<>();
    moves.forEach(m -> destination.put(m.chunk(), m.to()));
    List<Long> placement = chunks.stream().map(ch -> destination.getOrDefault(ch.id(), ch.instance())).toList();
    List<Long> ordered = new ArrayList<>();
    for (long instance : instances) {
      ordered.add(instance);
    }
    moves.sort(Comparator.comparingInt(m -> indexOf(chunks, m.chunk())));
    long moved = 0;
    for (Move m : moves) {
      moved = RebalancePlanner.addExact(moved, m.bytes());
    }
    return new RebalancePlan(List.copyOf(chunks), List.copyOf(ordered), placement, List.copyOf(moves), moved,
        optimal && complete, complete);
  }

  private static int indexOf(List<Chunk> chunks, long id) {
    for (int i = 0; i < chunks.size(); i++) {
      if (chunks.get(i).id() == id) {
        return i;
      }
    }
    return -1;
  }

  /** Bytes held per instance: every instance of the set (even empty) and every current holder. */
  private static Map<Long, Long> bytesPer(List<Chunk> chunks, long[] instances, List<Long> placement) {
    Map<Long, Long> bytes = new LinkedHashMap<>();
    for (long instance : instances) {
      bytes.put(instance, 0L);
    }
    for (int c = 0; c < chunks.size(); c++) {
      long where = placement == null ? chunks.get(c).instance() : placement.get(c);
      bytes.merge(where, chunks.get(c).bytes(), RebalancePlanner::addExact);
    }
    return bytes;
  }

  /** Bytes per instance before the plan (the set's instances and the current holders). */
  public Map<Long, Long> bytesBefore() {
    return bytesPer(chunks, instances.stream().mapToLong(Long::longValue).toArray(), null);
  }

  /** Bytes per instance after the plan. */
  public Map<Long, Long> bytesAfter() {
    return bytesPer(chunks, instances.stream().mapToLong(Long::longValue).toArray(), placement);
  }

  /** The plan as JSON: what {@code rebalance --plan --json} prints and {@code rebalance_plan} returns. */
  public ObjectNode toJson() {
    ObjectNode out = FrameCodec.mapper().createObjectNode()
        .put("bytes_moved", bytesMoved)
        .put("optimal", optimal)
        .put("complete", complete);
    ArrayNode list = out.putArray("moves");
    for (Move m : moves) {
      list.addObject().put("chunk", ObjectIds.format(m.chunk())).put("bytes", m.bytes())
          .put("from", m.from()).put("to", m.to());
    }
    ArrayNode chunkList = out.putArray("chunks");
    for (int c = 0; c < chunks.size(); c++) {
      chunkList.addObject().put("chunk", ObjectIds.format(chunks.get(c).id())).put("bytes", chunks.get(c).bytes())
          .put("from", chunks.get(c).instance()).put("to", placement.get(c));
    }
    ObjectNode before = out.putObject("bytes_before");
    bytesBefore().forEach((i, b) -> before.put(Long.toString(i), b));
    ObjectNode after = out.putObject("bytes_after");
    bytesAfter().forEach((i, b) -> after.put(Long.toString(i), b));
    return out;
  }
}
