"""migrate_many: ids in order, all or nothing; Session: its connections end with it."""

import time

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from vineyard_servers import settle, snapshot


def test_many_in_order_with_equal_data(a, solo):
    values = [np.arange(n) for n in (1, 1000, 1 << 16, 7)]
    oids = [a.put(v) for v in values]
    new_ids = vineyard_migrate.migrate_many(oids, solo, source=a, names=[None, "many-1", None, None])
    assert len(new_ids) == 4 and len(set(new_ids)) == 4
    for new_id, value in zip(new_ids, values):
        np.testing.assert_array_equal(solo.get(new_id), value)
    assert solo.get_name("many-1") == new_ids[1]
    assert vineyard_migrate.migrate_many(oids, solo, source=a) == new_ids  # migrated before: the same copies
    solo.drop_name("many-1")
    for new_id in new_ids:
        solo.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


def test_many_rolled_back_when_the_target_runs_out_of_memory(a, tiny):
    before = snapshot(tiny)
    oids = [a.put(np.ones(10 << 17)) for _ in range(4)]  # 4 x 10 MiB into 32 MiB: the 4th cannot fit
    with pytest.raises(vineyard.NotEnoughMemoryException) as failure:
        vineyard_migrate.migrate_many(oids, tiny, source=a, copy=True)
    assert "o%016x" % int(oids[3]) in str(failure.value) or "number 4 of 4" in str(failure.value)
    assert snapshot(tiny) == before
    for oid in oids:
        a.delete(oid, deep=True)


def test_command_line_takes_several_objects(a, solo, stack):
    import subprocess
    import sys
    import os

    oids = [a.put(np.arange(5) + i) for i in range(3)]
    cli = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    out = subprocess.run([cli, "migrate", *["o%016x" % int(o) for o in oids], "--from", stack.a.socket,
                          "--to", stack.solo.socket], check=True, capture_output=True, text=True).stdout.split()
    assert len(out) == 3
    for i, text in enumerate(out):
        np.testing.assert_array_equal(solo.get(vineyard.ObjectID(text)), np.arange(5) + i)
        solo.delete(vineyard.ObjectID(text), deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


def _steady(count, reads=5):
    """The count without another process's passing connection: the least of a few reads."""
    seen = []
    for _ in range(reads):
        seen.append(count())
        time.sleep(0.1)
    return min(seen)


def test_session_closes_every_connection_it_opened(a, solo):
    vineyard_migrate.close()  # the process-wide pool holds none now
    connections = lambda: solo.status.ipc_connections  # noqa: E731
    before = _steady(connections)
    oids = [a.put(np.arange(10) * i) for i in range(3)]
    with vineyard_migrate.Session(solo, source=a) as s:
        first = s.migrate(oids[0])
        rest = s.migrate_many(oids[1:])
        # other processes of the suite (agents reclaiming every 60 s) may hold a connection to this
        # instance for a moment, on either side of `before`: wait up to 10 s for the count to settle
        assert settle(connections, before + 1) == before + 1  # one pooled connection to the target, reused
    assert settle(connections, before) == before
    assert vineyard_migrate.pool_stats()["idle"] == 0  # and the process-wide pool was not used
    for new_id, i in zip([first, *rest], range(3)):
        np.testing.assert_array_equal(solo.get(new_id), np.arange(10) * i)
        solo.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


# ---- batches: metadata once per source, pushed batches, rollback, the options of migrate ----

import dataclasses
import json
import os

from vineyard_servers import Servers, private_token_file, start_agent


@dataclasses.dataclass
class Agents:
    token: str
    solo: object  # beside solo, plaintext
    tiny: object  # beside tiny, which it lets run out of memory midway (no capacity check first)
    a_tls: object  # beside a, speaking TLS
    ca: str


@pytest.fixture(scope="module")
def agents(stack):
    from test_agent_link import make_certs

    with Servers() as servers:
        token = str(private_token_file(os.path.join(servers.workdir, "token")))
        certs = make_certs(servers.workdir, ["127.0.0.1"])
        yield Agents(
            token=token,
            solo=start_agent(servers, "agent-solo", stack.solo.socket, token_file=token),
            tiny=start_agent(servers, "agent-tiny", stack.tiny.socket, token_file=token,
                             jvm_options="-Dio.v6d.migrate.test.skipCapacityCheck=true"),
            a_tls=start_agent(servers, "agent-a-tls", stack.a.socket, token_file=token,
                              extra=["--tls-cert", certs.agent_cert, "--tls-key", certs.agent_key]),
            ca=certs.ca,
        )


def _request_counts():
    import jpype

    return json.loads(str(jpype.JClass("io.v6d.migrate.ipc.RequestLog").snapshotJson()))


def _reset_request_counts():
    import jpype

    jpype.JClass("io.v6d.migrate.ipc.RequestLog").reset()


def test_batch_over_two_source_instances_reads_metadata_once_per_source(a, b, c):
    counts = {}
    for n in (4, 20):
        values = [np.arange(100) + i for i in range(n)]
        holders = [a if i % 2 else b for i in range(n)]
        oids = [holder.put(value) for holder, value in zip(holders, values)]
        for holder, oid in zip(holders, oids):
            holder.persist(oid)  # the target's cluster sees persisted metadata only
        warm = vineyard_migrate.migrate(oids[0], c, copy=True)  # connections pooled before counting
        c.delete(warm, deep=True)
        _reset_request_counts()
        new_ids = vineyard_migrate.migrate_many(oids, c, copy=True)
        counts[n] = _request_counts()
        for new_id, value in zip(new_ids, values):
            np.testing.assert_array_equal(c.get(new_id), value)
            assert c.get_meta(new_id).instance_id == c.instance_id
            c.delete(new_id, deep=True)
        for holder, oid in zip(holders, oids):
            holder.delete(oid, deep=True)
    # trees: one request for the batch; blob sizes: one per holder instance; members: one create_datas
    assert counts[20]["get_buffers_request"] == 2, counts
    for kind in ("get_data_request", "get_buffers_request", "create_datas_request"):
        assert counts[4].get(kind, 0) == counts[20].get(kind, 0), (kind, counts)


def test_batch_pushed_round_trip_and_pushed_again_returns_the_same_copies(a, solo, agents):
    values = [np.arange(n) * 3 for n in (3, 1000, 1 << 16)]
    oids = [a.put(value) for value in values]
    push = dict(source=a, token_file=agents.token)
    new_ids = vineyard_migrate.migrate_many(oids, agents.solo.endpoint, names=[None, "pushed-many", None], **push)
    for new_id, value in zip(new_ids, values):
        np.testing.assert_array_equal(solo.get(new_id), value)
    assert solo.get_name("pushed-many") == new_ids[1]
    before = snapshot(solo)
    assert vineyard_migrate.migrate_many(oids, agents.solo.endpoint, **push) == new_ids  # idempotent
    assert vineyard_migrate.migrate(oids[2], agents.solo.endpoint, **push) == new_ids[2]  # one push finds it too
    assert snapshot(solo) == before  # nothing copied again
    fresh = vineyard_migrate.migrate_many(oids, agents.solo.endpoint, copy=True, **push)
    assert not set(fresh) & set(new_ids)
    for new_id, value in zip(fresh, values):
        np.testing.assert_array_equal(solo.get(new_id), value)
    solo.drop_name("pushed-many")
    for new_id in [*new_ids, *fresh]:
        solo.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


def test_pushed_batch_failing_at_its_commit_leaves_the_target_unchanged(a, solo, agents, unchanged):
    oids = [a.put(np.arange(1 << 16) + i) for i in range(3)]
    with unchanged(solo):
        # every blob lands and the first object is created and named before the second name is refused
        with pytest.raises(vineyard.ObjectExistsException) as failure:
            vineyard_migrate.migrate_many(oids, agents.solo.endpoint, source=a, token_file=agents.token, copy=True,
                                          names=["twice", "twice", None])
        assert "nothing of the batch is left" in str(failure.value)
    for oid in oids:
        a.delete(oid, deep=True)


def test_pushed_batch_rolled_back_when_the_target_runs_out_of_memory_midway(a, tiny, agents, unchanged):
    oids = [a.put(np.ones(10 << 17)) for _ in range(4)]  # 4 x 10 MiB into 32 MiB: the 4th cannot fit
    with unchanged(tiny):
        with pytest.raises(vineyard.NotEnoughMemoryException):
            vineyard_migrate.migrate_many(oids, agents.tiny.endpoint, source=a, token_file=agents.token, copy=True)
    for oid in oids:
        a.delete(oid, deep=True)


def test_batch_takes_the_options_of_migrate(a, solo, agents):
    values = [np.arange(1 << 15) % 7 + i for i in range(3)]  # compressible
    oids = [a.put(value) for value in values]
    results = vineyard_migrate.migrate_many(oids, solo, source=agents.a_tls.endpoint, token_file=agents.token,
                                            tls_ca=agents.ca, compression="lz4", connections=2, timeout=20,
                                            details=True, copy=True)
    for result, value, oid in zip(results, values, oids):
        assert result.transport == "tcp" and result.tls and result.compression == "lz4", result
        assert result.source_id == oid and result.bytes_on_wire < result.bytes_copied  # its share, compressed
        np.testing.assert_array_equal(solo.get(result.object_id), value)
        solo.delete(result.object_id, deep=True)
    with pytest.raises(ValueError):
        vineyard_migrate.migrate_many(oids, solo, source=a, compression="brotli")
    for oid in oids:
        a.delete(oid, deep=True)


def test_batch_persisted_together_is_seen_by_the_cluster_and_leaves_no_carrier(a, b):
    """A persisted batch is persisted in one etcd transaction through a carrier object (one persist
    per object would cost one each): every object is persisted and seen from another instance of
    the cluster, the carrier is gone, and the persist requests do not grow with the batch."""
    values = [np.arange(50) * i for i in range(30)]
    oids = [a.put(value) for value in values]
    b.delete(vineyard_migrate.migrate(oids[0], b, source=a, copy=True), deep=True)  # the engine runs
    _reset_request_counts()
    new_ids = vineyard_migrate.migrate_many(oids, b, source=a, copy=True)
    counts = _request_counts()
    assert counts.get("persist_request") == 1, counts
    for new_id, value in zip(new_ids, values):
        seen = a.get_meta(new_id, sync_remote=True)  # only persisted metadata reaches another instance
        assert seen.id == new_id and seen.instance_id == b.instance_id
        np.testing.assert_array_equal(b.get(new_id), value)
    assert b.list_objects("vineyard::migrate::PersistCarrier") == []
    assert a.list_objects("vineyard::migrate::PersistCarrier") == []
    for new_id in new_ids:
        b.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


@pytest.mark.parametrize("transport", ["local", "rpc"])
def test_an_object_of_thousands_of_blobs(stack, a, solo, transport):
    """3,000 blobs: their seals and releases travel without waiting for replies, yet never so many
    at once that vineyardd's unread replies stall the connection (it then stops reading ours)."""
    before = snapshot(solo)
    values = tuple(np.full(16, i, dtype=np.int64) for i in range(3000))
    oid = a.put(values)
    source = "rpc://127.0.0.1:%d" % stack.a.rpc_port if transport == "rpc" else a
    try:
        result = vineyard_migrate.migrate(oid, solo, source=source, transport=transport, persist=False, copy=True,
                                          timeout=60, details=True)
        assert result.transport.startswith(transport), result
        copy = solo.get(result.object_id)
        assert len(copy) == len(values)
        for got, want in zip(copy, values):
            np.testing.assert_array_equal(got, want)
        solo.delete(result.object_id, deep=True)
        assert snapshot(solo) == before
    finally:
        a.delete(oid, deep=True)
