package io.v6d.migrate.engine;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.v6d.migrate.ipc.VineyardClient;
import io.v6d.migrate.meta.ObjectIds;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Persists many objects in three requests instead of one each. vineyardd 0.24.2 takes one id per
 * persist request and writes each to etcd in a transaction of its own (about 2–3 ms each in an etcd
 * cluster, serialized even when pipelined); but persisting an object persists its members in the
 * same transaction. So the objects become members of one carrier object, which is persisted, then
 * deleted alone (not deep), leaving its members persisted. Measured: 100 objects 287 ms one by one,
 * 19 ms through a carrier.
 *
 * <p>The carrier is handed to {@code created} before anything else happens to it, so a failed
 * migration's rollback (or a later reclaim, through the journal) deletes it with the rest.
 */
final class PersistCarrier {
  static final String TYPENAME = "vineyard::migrate::PersistCarrier";

  private PersistCarrier() {}

  static void persistAll(VineyardClient target, List<Long> ids, LongConsumer created) {
    if (ids.size() < 2) {
      target.persist(ids);
      return;
    }
    ObjectNode carrier = JsonNodeFactory.instance.objectNode();
    carrier.put("typename", TYPENAME);
    carrier.put("nbytes", 0);
    carrier.put("instance_id", target.instanceId());
    carrier.put("transient", true);
    for (int i = 0; i < ids.size(); i++) {
      carrier.set("m" + i, JsonNodeFactory.instance.objectNode().put("id", ObjectIds.format(ids.get(i))));
    }
    long id = target.createData(carrier).id();
    created.accept(id);
    target.persist(id);
    target.delete(List.of(id), false, false); // the carrier alone: its members stay, persisted
  }
}
