package io.v6d.migrate.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.v6d.migrate.ipc.FrameCodec;
import org.junit.jupiter.api.Test;

/** A pull counts once, by its leading connection, and only when that connection served bytes. */
class PullMetricsTest {
  private static double pulls(String outcome) {
    for (var snapshot : AgentMetrics.REGISTRY.scrape()) {
      if (snapshot.getMetadata().getName().equals("vineyard_migrate_agent_migrations")) {
        for (CounterSnapshot.CounterDataPointSnapshot point : ((CounterSnapshot) snapshot).getDataPoints()) {
          if (point.getLabels().get("transport").equals("pull") && point.getLabels().get("outcome").equals(outcome)) {
            return point.getValue();
          }
        }
      }
    }
    return 0;
  }

  private static ObjectNode map(boolean leads) {
    return FrameCodec.mapper().createObjectNode().put("op", "map").put("leads", leads);
  }

  @Test
  void countsOnlyLeadingConnectionsThatServedBytes() {
    double ok = pulls("ok");
    double failed = pulls("failed");

    PullMetrics extra = new PullMetrics();   // a puller's second connection
    extra.request(map(false));
    extra.sent(100);
    extra.closed();
    PullMetrics dryRun = new PullMetrics();  // `plan`: mapped, nothing read
    dryRun.request(map(true));
    dryRun.closed();
    assertEquals(ok, pulls("ok"));

    PullMetrics lead = new PullMetrics();
    lead.request(map(true));
    lead.request(map(true));                 // a stream maps chunk after chunk: still one pull
    lead.sent(10);
    lead.closed();
    lead.closed();
    assertEquals(ok + 1, pulls("ok"));

    PullMetrics broken = new PullMetrics();
    broken.request(map(true));
    broken.sent(10);
    broken.broken();
    broken.closed();
    assertEquals(failed + 1, pulls("failed"));
    assertEquals(ok + 1, pulls("ok"));
  }
}
