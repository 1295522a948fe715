package io.v6d.migrate.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelHandlerContext;
import io.v6d.migrate.MigrateException;
import io.v6d.migrate.Timeouts;
import io.v6d.migrate.engine.CopyRecords;
import io.v6d.migrate.ipc.FrameCodec;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.journal.CopyRecordFiles;
import io.v6d.migrate.meta.ObjectIds;
import io.v6d.migrate.tcp.ControlFrame;
import io.v6d.migrate.protocol.FrameType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * A pusher's earlier copies ("copies": their tags), found through the copy records of this host
 * ({@link CopyRecords}); for those not found, this connection claims them as a local migration
 * does (in tag order), so that pushes -- and local migrations -- of the same objects from other
 * processes wait for this one, and looks again once it holds them. The wait never blocks the
 * executor this connection shares with others: a claim held elsewhere is tried again on a
 * schedule, and the reply sent when all are held or the pusher's wait ("wait_ms") runs out. The
 * claims are released at the commit (after the copies are recorded), the abort, the next
 * "copies" or the connection's close.
 */
final class PushClaims {
  private final List<CopyRecordFiles.Claim> held = new ArrayList<>();
  /** Bumped by {@link #release}: a scheduled retry of an earlier "copies" stops. */
  private long generation;

  /** Answers {@code request} on {@code ctx}, now or once the claims are held. */
  void answer(ChannelHandlerContext ctx, VineyardClient vineyard, JsonNode request) {
    release();
    List<String> tags = new ArrayList<>();
    request.path("items").forEach(item -> tags.add(item.path("tag").asText()));
    CopyRecords.Found[] found = CopyRecords.findAll(vineyard, tags);
    Deque<String> missing = new ArrayDeque<>();
    if (request.path("claim").asBoolean(false)) {
      TreeSet<String> sorted = new TreeSet<>();
      for (int i = 0; i < tags.size(); i++) {
        if (found[i] == null) {
          sorted.add(tags.get(i));
        }
      }
      missing.addAll(sorted);
    }
    long waitMillis = Math.max(0, Math.min(request.path("wait_ms").asLong(0), Timeouts.MAX_MILLIS));
    claimThenReply(ctx, vineyard, tags, found, missing, System.nanoTime() + waitMillis * 1_000_000L, 1, generation);
  }

  private void claimThenReply(ChannelHandlerContext ctx, VineyardClient vineyard, List<String> tags,
      CopyRecords.Found[] found, Deque<String> missing, long deadline, long pause, long asked) {
    if (asked != generation || !ctx.channel().isActive()) {
      return; // released meanwhile (the connection closed)
    }
    try {
      while (!missing.isEmpty()) {
        CopyRecordFiles.Claim claim = CopyRecordFiles.tryClaim(vineyard.ipcSocket(), vineyard.instanceId(), missing.peek());
        if (claim == null && System.nanoTime() - deadline < 0) {
          ctx.executor().schedule(() -> claimThenReply(ctx, vineyard, tags, found, missing, deadline,
              Math.min(pause * 2, 50), asked), pause, TimeUnit.MILLISECONDS);
          return;
        }
        if (claim != null) {
          held.add(claim);
        }
        missing.pop(); // held, or waited for long enough: copied unclaimed
      }
      List<Integer> again = new ArrayList<>();
      for (int i = 0; i < tags.size(); i++) {
        if (found[i] == null && !held.isEmpty()) {
          again.add(i);
        }
      }
      CopyRecords.Found[] recorded = CopyRecords.findAll(vineyard, again.stream().map(tags::get).toList());
      for (int k = 0; k < again.size(); k++) {
        found[again.get(k)] = recorded[k];
      }
      ObjectNode reply = FrameCodec.mapper().createObjectNode();
      for (CopyRecords.Found copy : found) {
        if (copy == null) {
          reply.withArray("copies").addNull();
        } else {
          reply.withArray("copies").add(ObjectIds.format(copy.id()));
        }
      }
      ctx.writeAndFlush(new ControlFrame(FrameType.REPLY, reply));
    } catch (MigrateException e) {
      release();
      ctx.writeAndFlush(AgentHandler.error(e.code(), e.getMessage()));
    }
  }

  /** Lets other migrations of the claimed objects go on (they find the copies recorded, if committed). */
  void release() {
    generation++;
    held.forEach(CopyRecordFiles.Claim::close);
    held.clear();
  }
}
