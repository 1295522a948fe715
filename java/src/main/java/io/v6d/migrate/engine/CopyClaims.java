package io.v6d.migrate.engine;

import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.CopyRecordFiles;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The copies one migration (of one object or a batch) is making on its target, claimed so that
 * another process -- or thread -- migrating the same object to the same instance waits for it and
 * then returns its copy, rather than copying too ({@link CopyRecordFiles#claim}). Claims are taken
 * only when no copy is found, in the order of their tags (two batches never wait for each other in
 * a cycle), and held until the migration committed and {@link #recordCreated recorded} its copies,
 * or rolled back: closing releases them.
 */
final class CopyClaims implements AutoCloseable {
  private final VineyardClient target;
  private final long waitMillis;
  private final Map<String, CopyRecordFiles.Claim> held = new LinkedHashMap<>();
  private final Map<String, Long> created = new LinkedHashMap<>();

  /** Claims on {@code target}, each waited for up to {@code waitMillis} before copying unclaimed. */
  CopyClaims(VineyardClient target, long waitMillis) {
    this.target = target;
    this.waitMillis = waitMillis;
  }

  /**
   * The earlier copy of each tag (null where there is none), found as {@link CopyRecords#findAll}
   * does; those not found are claimed and looked for again, since the holder of a claim may just
   * have recorded its copy.
   */
  CopyRecords.Found[] find(List<String> tags) {
    CopyRecords.Found[] found = CopyRecords.findAll(target, tags);
    TreeSet<String> missing = new TreeSet<>();
    for (int i = 0; i < tags.size(); i++) {
      if (found[i] == null && !held.containsKey(tags.get(i))) {
        missing.add(tags.get(i));
      }
    }
    if (missing.isEmpty()) {
      return found;
    }
    for (String tag : missing) {
      held.put(tag, CopyRecordFiles.claim(target.ipcSocket(), target.instanceId(), tag, waitMillis,
          EngineCall::checkpoint));
    }
    List<Integer> again = new ArrayList<>();
    for (int i = 0; i < tags.size(); i++) {
      if (found[i] == null) {
        again.add(i);
      }
    }
    CopyRecords.Found[] recorded = CopyRecords.findAll(target, again.stream().map(tags::get).toList());
    for (int k = 0; k < again.size(); k++) {
      found[again.get(k)] = recorded[k];
    }
    return found;
  }

  /** {@code copy} was made for {@code tag}: recorded once the migration commits. */
  void created(String tag, long copy) {
    created.put(tag, copy);
  }

  /** Records the copies made, after the commit (a rolled-back copy is never recorded). */
  void recordCreated() {
    created.forEach((tag, copy) -> CopyRecords.record(target, tag, copy));
    created.clear();
  }

  @Override
  public void close() {
    held.values().forEach(CopyRecordFiles.Claim::close);
    held.clear();
  }
}
