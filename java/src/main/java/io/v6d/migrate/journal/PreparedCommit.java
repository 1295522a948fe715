package io.v6d.migrate.journal;

import com.fasterxml.jackson.databind.JsonNode;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The commit rule of a rebalance, for every journal that holds part of one: what a journal lists
 * is committed once the new global object it names ({@link Journal#recordPrepared}) is persisted
 * in the cluster, links the journal's copies as members, and every member of it exists. A reclaim
 * then keeps what the journal lists and drops the journal; otherwise it undoes it, as any dead
 * migration's.
 *
 * <p>The process that persists the global object (the rebalancing caller) may outlive the owner of
 * a journal (a target's agent killed after it was told the id). So the caller persists only within
 * {@link #PERSIST_WITHIN_MILLIS} of announcing the id ({@link #checkInTime}), and a journal written
 * for another process's persist is not undone before that window and {@link #SETTLE_MILLIS} more
 * (for a persist still on its way through vineyardd and etcd) have passed since it was written.
 */
public final class PreparedCommit {
  /** The longest a caller takes between announcing the new global object's id and persisting it. */
  public static final long PERSIST_WITHIN_MILLIS = Long.getLong("io.v6d.migrate.persistWithinMillis", 5_000);
  /** How long a persist sent may take to be seen persisted through another instance. */
  public static final long SETTLE_MILLIS = Long.getLong("io.v6d.migrate.pullSettleMillis", 10_000);

  private PreparedCommit() {}

  /** When a journal prepared now for another process's persist may be decided (wall clock, ms). */
  public static long decideAfterForPeer() {
    return System.currentTimeMillis() + PERSIST_WITHIN_MILLIS + SETTLE_MILLIS;
  }

  /**
   * Throws unless the new global object may still be persisted: {@code announcedNanos} is when its
   * id was first sent ({@link System#nanoTime}). Past the window an agent that died meanwhile may
   * have deleted its copies, so the object could be persisted naming deleted chunks.
   */
  public static void checkInTime(long announcedNanos) {
    long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - announcedNanos);
    if (took > PERSIST_WITHIN_MILLIS) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "the new global object was announced to the agents " + took
          + " ms ago, more than the " + PERSIST_WITHIN_MILLIS + " ms within which it must be persisted: rolled back");
    }
  }

  /**
   * True when {@code global} is a persisted object that links every one of {@code members}, and
   * every member of it exists (synced from etcd: the persister's instance may be another). vineyardd
   * shows a global object's member as this instance's object of the same signature when it holds
   * one (a chunk's copy keeps the chunk's signature): a member is linked when it is there by its id
   * or by its signature.
   */
  public static boolean committed(VineyardClient vineyard, long global, Collection<Long> members) {
    JsonNode tree = persistedTree(vineyard, global);
    if (tree == null) {
      return false;
    }
    Set<Long> linked = new LinkedHashSet<>();
    Set<String> signatures = new HashSet<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = tree.fields(); it.hasNext(); ) {
      JsonNode value = it.next().getValue();
      if (MetaTree.isMember(value)) {
        linked.add(MetaTree.id(value));
        signatures.add(value.path("signature").asText(""));
      }
    }
    Set<Long> asked = new LinkedHashSet<>(linked);
    asked.addAll(members);
    Map<Long, JsonNode> found = vineyard.getDatas(asked, true);
    if (!found.keySet().containsAll(asked)) {
      return false;
    }
    for (long member : members) {
      String signature = found.get(member).path("signature").asText("");
      if (!linked.contains(member) && (signature.isEmpty() || !signatures.contains(signature))) {
        return false;
      }
    }
    return true;
  }

  /** The tree of {@code global} when it is a persisted object of the cluster, else null. */
  public static JsonNode persistedTree(VineyardClient vineyard, long global) {
    JsonNode tree;
    try {
      tree = vineyard.getData(global, true);
    } catch (MigrateException e) {
      if (e.code() == ErrorCode.OBJECT_NOT_EXISTS) {
        return null;
      }
      throw e;
    }
    // unpersisted: visible here only when the persister uses this very vineyardd
    return tree.path("transient").asBoolean(true) ? null : tree;
  }

  /** What a reclaim does with a dead owner's journal that names a global object. */
  enum Decision { KEEP, WAIT, UNDO }

  /** The decision for {@code prepared}, the journal's last entry naming a global object. */
  static Decision decide(VineyardClient target, JournalEntry prepared) {
    if (committed(target, prepared.preparedGlobal(), prepared.preparedMembers())) {
      return Decision.KEEP;
    }
    return System.currentTimeMillis() < prepared.decideAfterMillis() ? Decision.WAIT : Decision.UNDO;
  }

  static String describe(JournalEntry prepared) {
    return ObjectIds.format(prepared.preparedGlobal());
  }
}
