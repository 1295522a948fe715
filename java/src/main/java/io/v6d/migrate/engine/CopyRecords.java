package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.CopyRecordFiles;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What makes migration idempotent, as vineyard's own {@code client.migrate} is: once a copy is
 * committed, a record on the target's host ({@link CopyRecordFiles}, beside its IPC socket) names
 * it under its tag, so that any process that migrates the same object to the same instance later
 * -- the agent of that instance too, for a push -- reads the record and returns the copy. A record
 * only points: the copy's metadata is read (one request) and must be on that instance and carry
 * the tag in its root ({@value #FIELD}); a record whose copy was deleted, or whose id vineyardd
 * reused for something else, is not trusted, and the object is copied again.
 *
 * <p>The tag names the source instance (its cluster, when the target is in it; else its IPC socket
 * and RPC endpoint), the object id and its signature (ids of independent instances may repeat).
 * Copies found are remembered in this process too, which spares reading the record.
 */
public final class CopyRecords {
  public static final String FIELD = "__vineyard_migrate_copy_of";
  private static final int REMEMBERED = 4096;
  private static final int SWEPT = 100_000;
  private static final Map<String, Long> KNOWN = new ConcurrentHashMap<>();

  private CopyRecords() {}

  /** An earlier copy found on the target, with the metadata it was checked by. */
  public record Found(long id, JsonNode meta) {}

  /** The tag of {@code tree} (the source object) coming from {@code sourceKey}. */
  public static String tag(String sourceKey, ObjectNode tree) {
    return sourceKey + " " + ObjectIds.format(MetaTree.id(tree)) + " "
        + Long.toUnsignedString(tree.path("signature").asLong(0), 16);
  }

  /** The copy an earlier migration (of any process) made on {@code target}, if it is still there; else null. */
  static Found find(VineyardClient target, String tag) {
    return findAll(target, List.of(tag))[0];
  }

  /**
   * {@link #find} for many tags: the copies remembered in this process, else recorded on the
   * target's host, checked in one request (a second one only for those whose remembered copy is
   * gone but whose record names another copy). Returns the copy of each, or null.
   */
  public static Found[] findAll(VineyardClient target, List<String> tags) {
    Found[] found = new Found[tags.size()];
    long[] candidates = new long[tags.size()];
    for (int i = 0; i < tags.size(); i++) {
      Long known = KNOWN.get(key(target, tags.get(i)));
      candidates[i] = known != null ? known : recorded(target, tags.get(i));
    }
    List<Integer> retry = check(target, tags, candidates, found, true);
    if (!retry.isEmpty()) {
      long[] again = new long[tags.size()];
      java.util.Arrays.fill(again, -1);
      for (int i : retry) {
        long named = recorded(target, tags.get(i));
        if (named == candidates[i]) { // the record names the copy just found gone: no need to ask again
          CopyRecordFiles.removeIfNames(target.ipcSocket(), target.instanceId(), tags.get(i), named);
        } else {
          again[i] = named;
        }
      }
      check(target, tags, again, found, false);
    }
    return found;
  }

  /**
   * Checks the candidate copies (-1: none) in one request; fills {@code found}. Returns the indexes
   * whose candidate, remembered in this process ({@code fromMemory}), is gone or not the copy.
   */
  private static List<Integer> check(VineyardClient target, List<String> tags, long[] candidates, Found[] found,
      boolean fromMemory) {
    Set<Long> asked = new HashSet<>();
    for (long candidate : candidates) {
      if (candidate != -1) {
        asked.add(candidate);
      }
    }
    List<Integer> retry = new ArrayList<>();
    if (asked.isEmpty()) {
      return retry;
    }
    Map<Long, JsonNode> metas = target.getDatas(asked, false);
    for (int i = 0; i < tags.size(); i++) {
      long candidate = candidates[i];
      if (candidate == -1) {
        continue;
      }
      JsonNode meta = metas.get(candidate);
      if (isCopy(target, meta, tags.get(i))) {
        found[i] = new Found(candidate, meta);
        remember(target, tags.get(i), candidate);
      } else {
        boolean wasKnown = KNOWN.remove(key(target, tags.get(i)), candidate);
        if (wasKnown && fromMemory) {
          retry.add(i);
        } else {
          CopyRecordFiles.removeIfNames(target.ipcSocket(), target.instanceId(), tags.get(i), candidate);
        }
      }
    }
    return retry;
  }

  /** Whether {@code meta} is the root of a copy on {@code target}'s instance of the object {@code tag} names. */
  public static boolean isCopy(VineyardClient target, JsonNode meta, String tag) {
    return MetaTree.isTree(meta) && MetaTree.instanceId(meta) == target.instanceId()
        && tag.equals(meta.path(FIELD).asText(null));
  }

  private static long recorded(VineyardClient target, String tag) {
    OptionalLong copy = CopyRecordFiles.read(target.ipcSocket(), target.instanceId(), tag);
    return copy.isPresent() ? copy.getAsLong() : -1;
  }

  /** Records {@code copy}, committed on {@code target}, as the copy of {@code tag}: on the host, and in this process. */
  public static void record(VineyardClient target, String tag, long copy) {
    CopyRecordFiles.write(target.ipcSocket(), target.instanceId(), tag, copy);
    remember(target, tag, copy);
  }

  /**
   * Removes the records (up to {@value #SWEPT} a call) of {@code target}'s instance whose copy is
   * gone, and leftovers of killed writers; returns how many records it removed.
   */
  public static int sweep(VineyardClient target) {
    return CopyRecordFiles.sweep(target.ipcSocket(), target.instanceId(), SWEPT, ids -> {
      Map<Long, JsonNode> metas = target.getDatas(ids, false);
      Set<Long> gone = new HashSet<>();
      ids.stream().filter(id -> !MetaTree.isTree(metas.get(id))).forEach(gone::add);
      return gone;
    });
  }

  private static void remember(VineyardClient target, String tag, long copy) {
    if (KNOWN.size() >= REMEMBERED) {
      KNOWN.clear(); // a cache: the records on the host are the truth
    }
    KNOWN.put(key(target, tag), copy);
  }

  private static String key(VineyardClient target, String tag) {
    return target.ipcSocket() + "#" + target.instanceId() + "#" + tag;
  }
}
