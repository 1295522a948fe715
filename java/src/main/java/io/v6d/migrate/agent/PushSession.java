package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.Channel;
import io.v6d.migrate.ErrorCode;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.engine.TargetBuild;
import io.v6d.migrate.ipc.Blob;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.MetaTree;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.metrics.AgentMetrics;
import io.v6d.migrate.protocol.Handshake;
import io.v6d.migrate.tcp.DataSink;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One pushed migration, on the agent beside the target: blobs allocated at "begin", filled by DATA
 * frames from any of the session's connections, sealed and described at "commit". IPC calls happen
 * on the owning connection's thread only; other connections only land bytes. Until commit
 * succeeds, {@link #abort} frees everything.
 */
final class PushSession implements DataSink {
  private static final long STALL_MILLIS = 120_000;

  private final String id = HexFormat.of().formatHex(Handshake.nonce());
  private final VineyardClient target;
  private final TargetBuild build;
  private final Map<Long, Blob> blobs = new ConcurrentHashMap<>();
  private final Map<Long, Long> bySource = new LinkedHashMap<>();
  private final long totalBytes;
  private final AtomicLong landedBytes = new AtomicLong();
  private final CompletableFuture<Void> allLanded = new CompletableFuture<>();
  private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
  private volatile boolean committed;
  private final long startedNanos = System.nanoTime();

  private PushSession(VineyardClient target, Map<Long, Long> sizes) {
    this.target = target;
    this.totalBytes = sizes.values().stream().mapToLong(Long::longValue).sum();
    TargetBuild.reclaimDeadMigrations(target);
    TargetBuild.checkCapacity(target, totalBytes);
    this.build = new TargetBuild(target);
    try {
      List<Long> sources = new ArrayList<>(sizes.keySet());
      List<Blob> created = build.createBlobs(new ArrayList<>(sizes.values()));
      for (int i = 0; i < sources.size(); i++) {
        blobs.put(created.get(i).id(), created.get(i));
        bySource.put(sources.get(i), created.get(i).id());
      }
    } catch (RuntimeException e) {
      build.close();
      throw e;
    }
    if (totalBytes == 0) {
      allLanded.complete(null);
    }
  }

  /** Allocates target blobs of the given sizes (by source blob id). */
  static PushSession begin(VineyardClient target, Map<Long, Long> sizes) {
    return new PushSession(target, sizes);
  }

  String id() {
    return id;
  }

  /** Target blob id by source blob id. */
  Map<Long, Long> blobIds() {
    return bySource;
  }

  /** The size of this session's target blob {@code targetId}, or -1 when it is not one of them. */
  long sizeOf(long targetId) {
    Blob blob = blobs.get(targetId);
    return blob == null ? -1 : blob.size();
  }

  void attach(Channel channel) {
    channels.add(channel);
  }

  @Override
  public long destination(long blobId, long offset, int length) {
    if (allLanded.isCompletedExceptionally()) {
      throw new MigrateException(ErrorCode.CONNECTION_ERROR, "push session " + id + " has failed");
    }
    return DataSink.addressIn(blobs, blobId, offset, length, "push session " + id);
  }

  @Override
  public void landed(long blobId, long offset, int length) {
    AgentMetrics.received(length);
    if (landedBytes.addAndGet(length) >= totalBytes) {
      allLanded.complete(null);
    }
  }

  /** A connection of the session failed: commit will fail, and the owner rolls back. */
  void fail(String why) {
    allLanded.completeExceptionally(new MigrateException(ErrorCode.CONNECTION_ERROR, why));
  }

  /** Waits for every byte, seals the blobs and rebuilds the object; returns its id. */
  long commit(ObjectNode tree, Map<Long, Long> newBlobIds, boolean persist, String name, boolean overwriteName,
      boolean sameCluster) {
    awaitAllLanded();
    long instance = target.instanceId();
    long id = build.finish(tree, newBlobIds,
        member -> sameCluster && !MetaTree.isGlobal(member) && MetaTree.instanceId(member) == instance, persist, name,
        overwriteName);
    committed = true;
    AgentMetrics.migrationServed("push", true, startedNanos);
    return id;
  }

  /**
   * Waits for every byte, seals the blobs, rebuilds every object of a batch together
   * ({@link TargetBuild#addMany}), runs {@code adopt} (earlier copies persisted and named), and
   * commits once; returns the new ids in order. A failure anywhere leaves the session to abort.
   */
  List<Long> commitMany(List<TargetBuild.Root> roots, boolean sameCluster, Runnable adopt) {
    awaitAllLanded();
    long instance = target.instanceId();
    List<Long> ids = roots.isEmpty() ? List.of() : build.addMany(roots, io.v6d.migrate.engine.CopyRecords.FIELD,
        member -> sameCluster && !MetaTree.isGlobal(member) && MetaTree.instanceId(member) == instance);
    adopt.run();
    build.commit();
    committed = true;
    AgentMetrics.migrationServed("push", true, startedNanos);
    return ids;
  }

  /** The committed session's references to its blobs were dropped (see {@link TargetBuild#pinsNothing()}). */
  boolean pinsNothing() {
    return build.pinsNothing();
  }

  /** Waits while bytes keep arriving; a session that makes no progress for a while has failed. */
  private void awaitAllLanded() {
    long before = landedBytes.get();
    while (true) {
      try {
        allLanded.get(STALL_MILLIS, TimeUnit.MILLISECONDS);
        return;
      } catch (TimeoutException e) {
        long now = landedBytes.get();
        if (now == before) {
          fail("push session " + id + " stalled at " + now + " of " + totalBytes + " bytes");
        }
        before = now;
      } catch (ExecutionException e) {
        throw e.getCause() instanceof MigrateException m ? m
            : new MigrateException(ErrorCode.CONNECTION_ERROR, "push session " + id + " failed: " + e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MigrateException(ErrorCode.CONNECTION_ERROR, "push session " + id + " interrupted");
      }
    }
  }

  /**
   * Stops every other connection of the session from landing bytes (closing them and waiting),
   * then frees what was created. Called on the owner's thread.
   */
  void abort(String why, Channel owner) {
    if (committed) {
      return;
    }
    fail(why);
    AgentMetrics.migrationServed("push", false, startedNanos);
    for (Channel channel : channels) {
      if (channel != owner) {
        channel.close().awaitUninterruptibly();
      }
    }
    build.close();
  }

  static JsonNode describe(PushSession session) {
    ObjectNode reply = io.v6d.migrate.ipc.FrameCodec.mapper().createObjectNode().put("session", session.id());
    ObjectNode ids = reply.putObject("blobs");
    session.blobIds().forEach((from, to) -> ids.put(ObjectIds.format(from), ObjectIds.format(to)));
    return reply;
  }
}
