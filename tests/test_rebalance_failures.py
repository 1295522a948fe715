"""Rebalancing over four hosts (see rebalance_bed.py) when a part fails midway: a dead or stopped source
agent, the caller killed while the agents pull, a peer misusing its pull session. Every instance must be
left as it was.
"""

import numpy as np
import pandas as pd
import pytest
import vineyard
import vineyard_migrate

from rebalance_bed import (four, _start_agent, _agent_metric, _pulled, _open_pull_sessions, _global_frame,
                           _blob_ids,  CALLER)  # noqa: F401 -- four: the test bed (a fixture)
from vineyard_servers import snapshot, wait_until


def test_a_dead_source_agent_leaves_every_instance_as_it_was(four):
    """h2's agent is killed (-9: its published endpoint stays, connections are refused): the move
    out of h2 fails while those out of h1 may succeed; every copy is deleted, the original intact."""
    import signal

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 3000)] * 8 + [(1, 3000)] * 4)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert any(m["from"] == clients[1].instance_id for m in plan["moves"])
    assert any(m["from"] == clients[0].instance_id for m in plan["moves"])
    before = [snapshot(c) for c in clients]
    four.agents[1].stop(signal.SIGKILL)
    try:
        with pytest.raises((vineyard.ConnectionFailedException, vineyard.ConnectionErrorException)):
            # transport="tcp": with "auto" the engine would fall back to vineyardd's RPC port and succeed
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=10, transport="tcp",
                                       pulled_by="agents")
        assert [snapshot(c) for c in clients] == before
        old = clients[0].get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(clients[[c.instance_id for c in clients].index(meta.instance_id)].get(meta.id),
                                          frame)
    finally:
        _start_agent(four, 1, "agent-rb-h2-restarted")


def test_a_source_agent_killed_midway_leaves_every_instance_as_it_was(four):
    """h2's agent is stopped (SIGSTOP) so that the target agents' pulls from it hang while their
    pulls from h1 land; then it is killed (-9) midway: every target agent rolls back its session,
    and every instance holds what it held before."""
    import signal
    import threading

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 6 + [(1, 20000)] * 6)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    targets = sorted({[c.instance_id for c in clients].index(m["to"]) for m in plan["moves"]})
    assert 1 not in targets and {m["from"] for m in plan["moves"]} == {clients[0].instance_id, clients[1].instance_id}
    before = [snapshot(c) for c in clients]
    pulled_before = _pulled(four)
    outcome = {}

    def run():
        try:
            # transport="tcp": with "auto" the agents would fall back to vineyardd's RPC port and succeed
            outcome["result"] = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=60,
                                                           transport="tcp", pulled_by="agents")
        except Exception as e:  # noqa: BLE001 -- checked below
            outcome["error"] = e

    four.agents[1].process.send_signal(signal.SIGSTOP)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        # midway: every target holds a session, and has pulled some of h1's chunks already
        wait_until("the targets' pulls from h1", lambda: all(
            _agent_metric(four.metrics[i], "vineyard_migrate_agent_pull_sessions") == 1
            and _agent_metric(four.metrics[i], "vineyard_migrate_agent_pulled_bytes_total") > pulled_before[i]
            for i in targets))
        four.agents[1].stop(signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), (vineyard.ConnectionFailedException, vineyard.ConnectionErrorException)), outcome
        assert [snapshot(c) for c in clients] == before
        assert [_agent_metric(four.metrics[i], "vineyard_migrate_agent_pull_sessions") for i in targets] == [0] * len(targets)
        old = clients[0].get_meta(gid, sync_remote=True)
        by_instance = {c.instance_id: c for c in clients}
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(by_instance[meta.instance_id].get(meta.id), frame)
    finally:
        if four.agents[1].process.poll() is None:
            four.agents[1].stop(signal.SIGKILL)
        _start_agent(four, 1, "agent-rb-h2-after-midway")


def test_the_caller_killed_midway_the_target_agents_roll_back(four):
    """The rebalancing process is killed (-9) while the three target agents pull (h1's agent, the
    source, is stopped so that they wait); then h1's agent goes on, so the pulls could finish: each
    target agent sees its peer gone and deletes what its session made."""
    import json
    import signal
    import subprocess
    import sys

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    before = [snapshot(c) for c in clients]
    four.agents[0].process.send_signal(signal.SIGSTOP)
    try:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, json.dumps(
            {"gid": int(gid), "sockets": four.sockets, "token": four.token})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until("a session on each target agent", lambda: [
                _agent_metric(url, "vineyard_migrate_agent_pull_sessions") for url in four.metrics[1:]] == [1, 1, 1])
        finally:
            caller.kill()
            out, err = caller.communicate()
        assert caller.returncode == -signal.SIGKILL, (out, err)
    finally:
        four.agents[0].process.send_signal(signal.SIGCONT)
    wait_until("the target agents to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    assert [snapshot(c) for c in clients] == before
    old = clients[0].get_meta(gid, sync_remote=True)
    for k, frame in enumerate(frames):
        pd.testing.assert_frame_equal(clients[0].get(old.get_member("partitions_-%d" % k).meta.id), frame)


def test_a_peer_gets_only_what_its_pull_session_made(four):
    """An authenticated peer speaking the wire protocol itself: bad orders are refused before
    anything is pulled; a session's copies are deleted by its abort, and no other connection can
    commit or abort them (a peer cannot have the agent delete objects it did not make for it)."""
    import agent_wire as wire

    clients = four.clients()
    h1, h2 = clients[0], clients[1]
    token = open(four.token).read().strip().encode()
    endpoint = four.agents[1].endpoint
    chunk = h1.put(pd.DataFrame({"x": np.arange(5000)}))
    h1.persist(chunk)
    other = h1.put(pd.DataFrame({"x": np.arange(7)}))
    h1.persist(other)
    order = {"per_source": 1, "per_target": 1, "connections": 1, "transport": "tcp"}
    before = [snapshot(c) for c in clients]

    mine, theirs = wire.open_authenticated(endpoint, token), wire.open_authenticated(endpoint, token)
    try:
        blob = next(_blob_ids(h1.get_meta(chunk)))
        for bad, message in (
                ({**order, "chunks": [{"id": wire.object_id(blob), "from": h1.instance_id}]}, "is a blob"),
                ({**order, "chunks": []}, "1 to"),
                ({**order, "per_target": 0, "chunks": [{"id": wire.object_id(chunk), "from": 1}]}, "per_target"),
                ({**order, "chunks": [{"id": wire.object_id(chunk), "from": 1}] * 2}, "named twice"),
                ({**order, "chunks": [{"id": "o7fffffffffff0001", "from": 1}]}, "")):  # no such object
            kind, body = wire.request(mine, "pull", **bad)
            assert kind == wire.ERROR and message in body["message"], body
        assert [snapshot(c) for c in clients] == before

        kind, pulled = wire.request(mine, "pull", **order,
                                    chunks=[{"id": wire.object_id(chunk), "from": h1.instance_id}])
        assert kind == wire.REPLY, pulled
        copy = vineyard.ObjectID(pulled["copies"][wire.object_id(chunk)])
        assert pulled["bytes"] > 0 and h2.exists(copy)
        pd.testing.assert_frame_equal(h2.get(copy), h1.get(chunk))
        kind, body = wire.request(mine, "pull", **order, chunks=[{"id": wire.object_id(other), "from": 1}])
        assert kind == wire.ERROR and "already carries" in body["message"]
        # another connection (the same token) can neither commit nor abort this session
        for op in ("pull_commit", "pull_abort", "pull_persist"):
            kind, body = wire.request(theirs, op, session=pulled["session"])
            assert kind == wire.ERROR and "no pull session" in body["message"], (op, body)
        assert h2.exists(copy)
        kind, body = wire.request(mine, "pull_commit", session="0" * 32)
        assert kind == wire.ERROR and "no pull session" in body["message"]
        kind, body = wire.request(mine, "pull_abort", session=pulled["session"])
        assert kind == wire.REPLY, body
        assert not h2.exists(copy)
        assert [snapshot(c) for c in clients] == before
    finally:
        mine.close()
        theirs.close()
    wait_until("the agent's sessions to close", lambda: _open_pull_sessions(four) == [0] * 4)


def test_the_caller_killed_while_one_target_is_done_and_another_pulls(four):
    """The caller dies (-9) when one target agent has pulled its whole share (its session waits for
    the commit) and another still pulls from a stopped source: the finished one deletes its copies
    at once, the other when its pull ends; every instance holds what it held before."""
    import json
    import signal
    import subprocess
    import sys
    import time

    clients = four.clients()
    ids = [c.instance_id for c in clients]
    gid, _ = _global_frame(clients, [(0, 20000)] * 6 + [(1, 20000)] * 4 + [(3, 20000)] * 2)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets, by="count")
    sources = {}
    for m in plan["moves"]:
        sources.setdefault(ids.index(m["to"]), set()).add(ids.index(m["from"]))
    stopped = next(s for s in (0, 1) if any(s in f for f in sources.values()) and
                   any(s not in f for f in sources.values()))
    done = [t for t, f in sources.items() if stopped not in f]
    waiting = [t for t, f in sources.items() if stopped in f]
    incoming = {t: sum(m["bytes"] for m in plan["moves"] if m["to"] == ids[t]) for t in done}
    before = [snapshot(c) for c in clients]
    pulled_before = _pulled(four)
    four.agents[stopped].process.send_signal(signal.SIGSTOP)
    try:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, json.dumps(
            {"gid": int(gid), "sockets": four.sockets, "token": four.token, "extra": {"by": "count"}})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until("the finished targets' whole shares", lambda: all(
                _agent_metric(four.metrics[t], "vineyard_migrate_agent_pulled_bytes_total") - pulled_before[t]
                == incoming[t] for t in done) and all(
                _agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in waiting))
            time.sleep(0.5)  # the finished sessions' replies are out: they wait for the commit
            assert all(_agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in done)
        finally:
            caller.kill()
            out, err = caller.communicate()
        assert caller.returncode == -signal.SIGKILL, (out, err)
        # the finished targets roll back now, while the stopped source still holds the others
        wait_until("the finished targets to roll back", lambda: all(
            _agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 0 for t in done), 30)
        assert all(_agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in waiting)
    finally:
        four.agents[stopped].process.send_signal(signal.SIGCONT)
    wait_until("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    assert [snapshot(c) for c in clients] == before
