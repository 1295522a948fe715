"""Rebalancing a global object over four hosts (see rebalance_bed.py): the plan, the moves the agents
or the caller make, replace, bad input, migrate_to_local, the command line and the requests it costs.
Failures midway are in test_rebalance_failures.py (and test_rebalance_crash.py), TLS and reachability in
test_rebalance_links.py.
"""

import os

import numpy as np
import pandas as pd
import pytest
import vineyard
import vineyard_migrate

from rebalance_bed import (four, _open_pull_sessions, _global_frame, _check_rebalanced, _etcd_counts,
                           _engine_requests, _delta, _agents_requests, _blob_ids)  # noqa: F401 -- four: the test bed (a fixture)
from vineyard_servers import snapshot


@pytest.mark.parametrize("pulled_by", ["agents", "caller"])
def test_twelve_chunks_on_one_host_spread_over_four(four, pulled_by):
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 4000)] * 12)
    plan, _ = _check_rebalanced(four, gid, frames, pulled_by)
    assert len(plan["moves"]) == 9
    assert sorted(plan["bytes_after"].values()) == [3 * plan["chunks"][0]["bytes"]] * 4


def test_skewed_chunks_of_unequal_sizes(four):
    clients = four.clients()
    rows = [3000, 1000, 5000, 2000, 8000, 1000, 4000, 2500, 6000, 500, 7000, 1500]
    hosts = [0] * 8 + [1] * 2 + [2] + [3]
    gid, frames = _global_frame(clients, list(zip(hosts, rows)))
    plan, _ = _check_rebalanced(four, gid, frames)
    assert plan["moves"], "a skewed layout needs moves"
    # chunks in place stay: nothing moves onto the instance it leaves, nothing moves twice
    assert len({m["chunk"] for m in plan["moves"]}) == len(plan["moves"])


def test_plan_only_moves_nothing(four):
    clients = four.clients()
    gid, _ = _global_frame(clients, [(0, 1000)] * 4)
    before = [snapshot(c) for c in clients]
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets, by="count")
    assert len(plan["moves"]) == 3 and all(m["from"] == clients[0].instance_id for m in plan["moves"])
    assert [snapshot(c) for c in clients] == before


def test_a_target_too_small_leaves_every_instance_as_it_was(four):
    """h4 is filled so it cannot take its share: its pull fails, while h2 and h3 may have
    finished theirs; afterwards every instance holds exactly what it held before."""
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 256 * 1024)] * 12)  # 4 MiB chunks
    h4 = clients[3]
    free = h4.status.memory_limit - h4.status.memory_usage
    filler = h4.put(np.zeros((free - 6 * 1024 * 1024) // 8, dtype=np.float64))
    try:
        before = [snapshot(c) for c in clients]
        with pytest.raises(vineyard.NotEnoughMemoryException):
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, transfers_per_target=1,
                                       pulled_by="agents")
        assert [snapshot(c) for c in clients] == before
        assert _open_pull_sessions(four) == [0] * 4
        # the original is intact
        old = clients[0].get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            pd.testing.assert_frame_equal(clients[0].get(old.get_member("partitions_-%d" % k).meta.id), frame)
    finally:
        h4.delete(filler)


def test_replace_deletes_moved_chunks_only_after_the_new_object_exists(four):
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 2000)] * 8)
    old = clients[0].get_meta(gid, sync_remote=True)
    old_chunks = [old.get_member("partitions_-%d" % k).meta.id for k in range(8)]
    new_id = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, replace=True, name="rebalanced")
    new = clients[0].get_meta(new_id, sync_remote=True)
    by_instance = {c.instance_id: c for c in clients}
    kept = set()
    for k, frame in enumerate(frames):
        now = new.get_member("partitions_-%d" % k).meta
        pd.testing.assert_frame_equal(by_instance[now.instance_id].get(now.id), frame)
        kept.add(int(now.id))
    for chunk in old_chunks:
        if int(chunk) not in kept:
            assert not clients[0].exists(chunk)
    assert clients[0].get_name("rebalanced") == new_id
    assert not clients[0].exists(gid)


def test_bad_input_is_refused_before_anything_moves(four):
    clients = four.clients()
    oid = clients[0].put(np.arange(4))
    with pytest.raises(vineyard.InvalidException, match="not a global object"):
        vineyard_migrate.rebalance_plan(oid, four.sockets)
    gid, _ = _global_frame(clients, [(0, 10)] * 2)
    with pytest.raises(ValueError, match="by must be"):
        vineyard_migrate.rebalance(gid, four.sockets, by="rows")
    with pytest.raises(vineyard.InvalidException, match="no instance"):
        vineyard_migrate.rebalance_plan(gid, [four.sockets[0], 12345])
    with pytest.raises(ValueError, match="via="):
        vineyard_migrate.rebalance_plan(gid, [1, 2])


def test_migrate_to_local_balanced_keeps_local_chunks_and_balances_bytes(four):
    clients = four.clients()
    rows = [3000, 1000, 5000, 2000, 8000, 1000, 6000, 500, 7000, 1500]
    hosts = [0] * 6 + [1] * 2 + [2] + [3]
    gid, frames = _global_frame(clients, list(zip(hosts, rows)))
    old = clients[0].get_meta(gid, sync_remote=True)
    originals = [old.get_member("partitions_-%d" % k).meta for k in range(len(frames))]
    seen, loads = [], []
    for rank, client in enumerate(clients):
        ids = vineyard_migrate.migrate_to_local(gid, 4, rank, client, policy="balanced", token_file=four.token)
        load = 0
        for local_id in ids:
            meta = client.get_meta(local_id)
            assert meta.instance_id == client.instance_id
            frame = client.get(local_id)
            k = int(frame["x"].iloc[0])
            pd.testing.assert_frame_equal(frame, frames[k])
            if originals[k].instance_id == client.instance_id:
                assert local_id == originals[k].id  # already here: not copied
            seen.append(k)
            load += rows[k]
        loads.append(load)
    assert sorted(seen) == list(range(len(frames)))
    # balanced by bytes (rows are proportional to bytes here): ideal share plus less than one chunk
    assert max(loads) * 4 <= sum(rows) + 3 * max(rows)
    # the chunks that stay home are the ones the original rule would have moved needlessly
    assert sum(1 for k in seen if originals[k].instance_id == clients[hosts[k]].instance_id) == len(frames)
    with pytest.raises(ValueError, match="policy"):
        vineyard_migrate.migrate_to_local(gid, 4, 0, clients[0], policy="fair")


def test_cli_shows_the_plan_and_rebalances(four):
    import json
    import subprocess
    import sys

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 1000)] * 4)
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    to = [arg for s in four.sockets for arg in ("--to", s)]
    before = [snapshot(c) for c in clients]
    shown = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--by", "count", "--plan", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert len(plan["moves"]) == 3 and set(plan["bytes_before"]) == {str(c.instance_id) for c in clients}
    text = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--plan"], capture_output=True, text=True,
                          timeout=120)
    assert text.returncode == 0 and "3 move(s)" in text.stdout and "before -> after" in text.stdout
    assert [snapshot(c) for c in clients] == before  # --plan moves nothing
    done = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--token-file", four.token, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes_moved"] == plan["bytes_moved"]
    bad = subprocess.run([script, "rebalance", "o%016x" % int(gid), "--to", "12345"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--via" in bad.stderr


def test_request_counts_per_chunk_and_per_blob(four, capsys):
    """The engine's own request log (this process's, and each agent's through its /metrics) and
    etcd's counters over one migration and rebalances pulled by this process and by the agents;
    docs/scaling.md quotes these numbers. Requests per moved chunk must not grow with the number of
    chunks: the rebalance of 12 costs at most 1.5 times the requests per move of the rebalance of 4."""
    import json

    clients = four.clients()
    etcd = four.servers.etcd_endpoint
    measured = {}
    for pulled_by in ("caller", "agents"):
        for n in (4, 12):
            gid, _ = _global_frame(clients, [(0, 4000)] * n)
            vineyard_migrate.rebalance_plan(gid, four.sockets)  # warm: the JVM and the cluster view
            e0, r0, a0 = _etcd_counts(etcd), _engine_requests(), _agents_requests(four)
            result = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, details=True,
                                                pulled_by=pulled_by)
            measured["rebalance-%d-by-%s" % (n, pulled_by)] = {
                "moves": len(result["plan"]["moves"]), "engine": _delta(_engine_requests(), r0),
                "agents": _delta(_agents_requests(four), a0), "etcd": _delta(_etcd_counts(etcd), e0)}
    oid = clients[0].put(pd.DataFrame({"x": np.arange(4000), "y": np.arange(4000.0)}))
    clients[0].persist(oid)
    blobs = sum(1 for _ in _blob_ids(clients[0].get_meta(oid)))
    e0, r0 = _etcd_counts(etcd), _engine_requests()
    vineyard_migrate.migrate(oid, clients[1], token_file=four.token)
    measured["migrate-1-chunk"] = {"blobs": blobs, "engine": _delta(_engine_requests(), r0),
                                   "etcd": _delta(_etcd_counts(etcd), e0)}
    with capsys.disabled():
        print("\nrequest counts: " + json.dumps(measured, sort_keys=True))
    for pulled_by, side in (("caller", "engine"), ("agents", "agents")):
        small, large = measured["rebalance-4-by-" + pulled_by], measured["rebalance-12-by-" + pulled_by]
        per_small = sum(small[side].values()) / small["moves"]
        per_large = sum(large[side].values()) / large["moves"]
        assert per_large <= per_small * 1.5, measured
    # pulled by the agents, this process allocates nothing and its requests do not grow with the moves
    assert not any("create_buffer" in k for k in measured["rebalance-12-by-agents"]["engine"])
