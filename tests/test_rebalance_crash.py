"""Rebalancing over the four hosts of ``rebalance_bed`` when a process dies between two steps of
the commit: the caller (in a process of its own) or a target's agent is paused at a named point (a
test hook of the engine, ``io.v6d.migrate.test.pauseAt``) and killed (-9) there. Either the new
global object is whole and readable, or nothing new is left anywhere; the original is untouched.
"""

import os

import pandas as pd
import pytest
import vineyard
import vineyard_migrate

from rebalance_bed import (CALLER, _blob_ids, _global_frame, _member_ids, _open_pull_sessions, _start_agent,
                            four)  # noqa: F401 -- four: the module's test bed (a fixture)
from vineyard_servers import snapshot, wait_until


def _start_caller(four, gid, point, pulled_by="agents", resume=None, options=""):
    """Starts the rebalance in a process of its own that pauses at ``point`` (a test hook of the
    engine: it prints ``PAUSED point``); returns it paused there. With ``resume`` (a path), it goes
    on once that file exists."""
    import json
    import subprocess
    import sys

    options += " -Dio.v6d.migrate.test.pauseAt=" + point
    if resume:
        options += " -Dio.v6d.migrate.test.resumeFile=" + resume
    caller = subprocess.Popen([sys.executable, "-c", CALLER, json.dumps(
        {"gid": int(gid), "sockets": four.sockets, "token": four.token, "pulled_by": pulled_by})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "VINEYARD_MIGRATE_JVM_OPTIONS": options})
    line = caller.stdout.readline()
    if line.strip() != "PAUSED " + point:
        caller.kill()
        _, err = caller.communicate()
        raise AssertionError((line, err))
    return caller


def _run_caller_until(four, gid, point, pulled_by="agents"):
    """The rebalance in a process of its own, killed (-9) at ``point``."""
    import signal

    caller = _start_caller(four, gid, point, pulled_by)
    caller.kill()
    caller.communicate()
    assert caller.returncode == -signal.SIGKILL


@pytest.mark.parametrize("pulled_by", ["agents", "caller"])
@pytest.mark.parametrize("point", ["rebalance:copies-persisted", "rebalance:prepared"])
def test_the_caller_killed_before_the_new_global_object_is_persisted_leaves_nothing(four, point, pulled_by):
    """The caller dies (-9) after every agent persisted its copies, before the new global object is
    persisted -- before its metadata is made, or once made and announced to the agents: each agent
    finds no persisted object linking its copies and deletes them; the new object's unpersisted
    metadata, journaled on the caller's instance, is reclaimed (here by ``gc``; else by the next
    migration or the agent there). Every instance is as it was. Moved by the caller itself, each copy
    is journaled on its target (uncommitted) and reclaimed likewise."""
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    before = [snapshot(c) for c in clients]
    _run_caller_until(four, gid, point, pulled_by)
    wait_until("the target agents to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    for socket in four.sockets:
        vineyard_migrate.gc(socket)
    assert [snapshot(c) for c in clients] == before
    old = clients[0].get_meta(gid, sync_remote=True)
    for k, frame in enumerate(frames):
        pd.testing.assert_frame_equal(clients[0].get(old.get_member("partitions_-%d" % k).meta.id), frame)


@pytest.mark.parametrize("pulled_by", ["agents", "caller"])
@pytest.mark.parametrize("point", ["rebalance:global-persisted", "rebalance:persisted"])
def test_the_caller_killed_after_persisting_the_new_global_object_leaves_it_whole(four, point, pulled_by):
    """The caller dies (-9) once the new global object is persisted, before any agent got its
    commit -- even before the object's own journal entry is deleted (``global-persisted``): each
    agent sees its peer gone, finds the announced object persisted linking its copies, and keeps
    them; a reclaim (``gc``) of the caller's journal finds the object persisted with all its members
    and keeps it too, and so does one of the caller's own moves' journals. The new object is
    complete and readable chunk by chunk from where the plan put each chunk; nothing else is left
    anywhere (no journal, no stray copy)."""
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    before = [snapshot(c) for c in clients]
    _run_caller_until(four, gid, point, pulled_by)
    wait_until("the target agents to settle", lambda: _open_pull_sessions(four) == [0] * 4)
    for socket in four.sockets:
        vineyard_migrate.gc(socket)  # nothing of a finished rebalance may be reclaimed
    _assert_whole(four, clients, before, plan, gid, frames)


def test_a_peer_cannot_keep_its_copies_by_naming_an_unrelated_object(four):
    """An authenticated peer pulls a chunk, persists the copy and announces as "the new global
    object" an object that does not link the copy, then leaves without committing: the agent
    deletes the copy. An object persisted already (here the original global one, whose member
    vineyardd resolves to the copy) is refused when announced; so are a blob and a prepare before
    the persist. An id that never becomes a persisted object linking the copy rolls it back."""
    import agent_wire as wire

    clients = four.clients()
    h1, h2 = clients[0], clients[1]
    token = open(four.token).read().strip().encode()
    gid, _ = _global_frame(clients, [(0, 5000)] * 2)
    chunk = h1.get_meta(gid).get_member("partitions_-0").meta.id
    before = [snapshot(c) for c in clients]
    conn = wire.open_authenticated(four.agents[1].endpoint, token)
    try:
        kind, pulled = wire.request(conn, "pull", per_source=1, per_target=1, connections=1, transport="tcp",
                                    chunks=[{"id": wire.object_id(chunk), "from": h1.instance_id}])
        assert kind == wire.REPLY, pulled
        session = pulled["session"]
        copy = vineyard.ObjectID(pulled["copies"][wire.object_id(chunk)])
        kind, body = wire.request(conn, "pull_prepare", session=session, **{"global": "o7fffffffffff0001"})
        assert kind == wire.ERROR and "cannot prepare now" in body["message"], body
        assert wire.request(conn, "pull_persist", session=session)[0] == wire.REPLY
        blob = next(_blob_ids(h1.get_meta(chunk)))
        for named, message in ((blob, "is a blob"), (gid, "persisted already")):
            kind, body = wire.request(conn, "pull_prepare", session=session, **{"global": wire.object_id(named)})
            assert kind == wire.ERROR and message in body["message"], body
        kind, body = wire.request(conn, "pull_prepare", session=session, **{"global": "o7fffffffffff0001"})
        assert kind == wire.REPLY, body
        assert h2.exists(copy)
    finally:
        conn.close()
    wait_until("the agent to roll the copy back", lambda: _open_pull_sessions(four) == [0] * 4)
    assert not h2.exists(copy)
    assert [snapshot(c) for c in clients] == before
    assert h1.exists(gid) and h1.exists(chunk)


def test_a_target_agent_killed_after_persisting_its_copies_leaves_the_original_whole(four):
    """h2's agent is killed (-9) once its session's copies are persisted (a test hook pauses it
    there): the rebalance fails, the other agents delete their persisted copies, and h2's agent,
    restarted, reclaims its own. A persisted copy keeps its chunk's signature, and vineyardd resolves
    the original global object's member to it on h2: deleting it must not take the original with it.
    Every instance is as it was, the original readable chunk by chunk."""
    import signal
    import threading

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    before = [snapshot(c) for c in clients]
    endpoints = {o for o in before[0]["objects"]
                 if clients[0].get_meta(vineyard.ObjectID(o)).typename == "vineyard::migrate::AgentEndpoint"}
    four.agents[1].stop()
    paused = _start_agent(four, 1, "agent-rb-h2-paused", jvm_options="-Dio.v6d.migrate.test.pauseAt=pull:persisted")
    outcome = {}

    def run():
        try:
            outcome["result"] = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=60,
                                                           pulled_by="agents")
        except Exception as e:  # noqa: BLE001 -- checked below
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert paused.process.stdout.readline().strip() == "PAUSED pull:persisted"
    finally:
        paused.stop(signal.SIGKILL)
        thread.join(120)
    assert not thread.is_alive() and "error" in outcome, outcome
    _start_agent(four, 1, "agent-rb-h2-after-persist")  # reclaims what the killed one left, first thing
    wait_until("every agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    for client, was in zip(clients, before):
        now = snapshot(client)
        # the restarted agent published its endpoint anew: that object aside, nothing changed
        gone = {o for o in set(was["objects"]) - set(now["objects"])}
        new = {o for o in set(now["objects"]) - set(was["objects"])}
        kinds = {client.get_meta(vineyard.ObjectID(o)).typename for o in new}
        assert not gone - endpoints and kinds <= {"vineyard::migrate::AgentEndpoint"}, (gone - endpoints, kinds)
        assert now["memory_usage"] == was["memory_usage"]
    by_instance = {c.instance_id: c for c in clients}
    for client in clients:
        old = client.get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(by_instance[meta.instance_id].get(meta.id), frame)


def _kill_h2_agent_while_the_caller_waits(four, gid, tmp_path, meanwhile, options=""):
    """Runs the rebalance in a process of its own, paused once every target agent answered
    ``pull_prepare``; kills h2's agent (-9), calls ``meanwhile``, then lets the caller go on to its
    end. Returns its exit code, output and errors."""
    import signal

    resume = str(tmp_path / "resume")
    caller = _start_caller(four, gid, "rebalance:prepared", resume=resume, options=options)
    try:
        assert four.agents[1].stop(signal.SIGKILL) == -signal.SIGKILL
        meanwhile()
        open(resume, "w").close()
        out, err = caller.communicate(timeout=180)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.communicate()
    return caller.returncode, out, err


def _endpoints(clients):
    """Ids of the agents' published endpoint objects (a restarted agent publishes its own anew)."""
    return {int(o.id) for c in clients for o in c.list_objects("vineyard::migrate::AgentEndpoint", limit=1 << 10)}


def _objects_but_endpoints(client, endpoints):
    return set(snapshot(client)["objects"]) - endpoints


@pytest.mark.parametrize("in_time", [True, False], ids=["caller-in-time", "caller-too-late"])
def test_a_target_agent_killed_after_it_was_told_the_new_global_object(four, tmp_path, in_time):
    """h2's agent is killed (-9) once it answered ``pull_prepare``: the caller pauses just after
    every agent did, h2's agent is killed, then the caller goes on. In time (within 5 s of
    announcing the new object), the caller persists the new global object and succeeds -- the object
    is whole: the killed agent missed only the commit, and its restart's reclaim finds its copies'
    journal prepared for that object, persisted linking them, and keeps them. A caller that goes on
    too late fails with an error saying so and rolls back everything; the restarted agent's
    reclaim leaves h2's copies until the window has passed, then deletes them: nothing new is left
    anywhere. Either way the original is untouched and readable chunk by chunk."""
    import time

    clients = four.clients()
    ids = [c.instance_id for c in clients]
    by_instance = dict(zip(ids, clients))
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert any(m["to"] == ids[1] for m in plan["moves"])
    before = [snapshot(c) for c in clients]
    # past the 5 s within which the caller must persist, when too late
    returncode, out, err = _kill_h2_agent_while_the_caller_waits(four, gid, tmp_path, lambda: in_time or time.sleep(6))
    if in_time:
        assert returncode == 0 and out.strip() == "done", err
    else:
        assert returncode != 0 and "within which it must be persisted" in err, err
    _start_agent(four, 1, "agent-rb-h2-after-prepare-" + ("in-time" if in_time else "late"))  # reclaims first
    wait_until("every agent to settle", lambda: _open_pull_sessions(four) == [0] * 4)
    endpoints = _endpoints(clients)
    if in_time:
        vineyard_migrate.gc(four.sockets[1])  # once more: the copies stay, they are the new object's
        _assert_whole(four, clients, before, plan, gid, frames)
    else:
        def as_before():
            vineyard_migrate.gc(four.sockets[1])  # decides h2's journal once its window has passed
            return all(_objects_but_endpoints(c, endpoints) == set(s["objects"]) - endpoints
                       and c.status.memory_usage == s["memory_usage"] for c, s in zip(clients, before))

        wait_until("h2's copies to be reclaimed", as_before)
    old = clients[0].get_meta(gid, sync_remote=True)
    for k, frame in enumerate(frames):
        meta = old.get_member("partitions_-%d" % k).meta
        pd.testing.assert_frame_equal(by_instance[meta.instance_id].get(meta.id), frame)


def _assert_whole(four, clients, before, plan, gid, frames):
    """The rebalance's new global object is whole: each chunk readable (equal) where the plan put
    it; what every instance gained is that object and the moved chunks' copies, nothing else (the
    agents' endpoint objects aside); each target's memory grew at least by what it received."""
    ids = [c.instance_id for c in clients]
    by_instance = dict(zip(ids, clients))
    endpoints = _endpoints(clients)
    gained = [_objects_but_endpoints(c, endpoints) - set(s["objects"]) for c, s in zip(clients, before)]
    made = [o for o in gained[0] if clients[0].get_meta(vineyard.ObjectID(o)).typename == "vineyard::GlobalDataFrame"]
    assert len(made) == 1, gained[0]
    new = clients[0].get_meta(vineyard.ObjectID(made[0]), sync_remote=True)
    assert new.isglobal and new.typename == clients[0].get_meta(gid).typename
    destination = {m["chunk"]: m["to"] for m in plan["moves"]}
    old = clients[0].get_meta(gid, sync_remote=True)
    expected = {made[0]}
    for k, frame in enumerate(frames):
        was = old.get_member("partitions_-%d" % k).meta
        to = destination.get("o%016x" % int(was.id), was.instance_id)
        # members resolve by signature, preferring the reader's instance: read from the holder
        now = by_instance[to].get_meta(vineyard.ObjectID(made[0]), sync_remote=True).get_member("partitions_-%d" % k)
        assert now.meta.instance_id == to
        pd.testing.assert_frame_equal(by_instance[to].get(now.meta.id), frame)
        if to != was.instance_id:
            expected |= set(_member_ids(now.meta))
    assert set().union(*gained) == expected
    for client, snap in zip(clients, before):
        incoming = sum(m["bytes"] for m in plan["moves"] if m["to"] == client.instance_id)
        assert client.status.memory_usage - snap["memory_usage"] >= incoming


def test_a_target_agent_killed_after_prepare_and_restarted_before_the_caller_persists(four, tmp_path):
    """As above, but h2's agent is restarted (its reclaim runs first thing) before the caller goes
    on: the new object is not persisted yet, and the killed agent's window (here 60 s + 10 s: it
    was started with ``persistWithinMillis=60000``, and so is the caller) has not passed, so the
    reclaim leaves h2's copies journaled. The caller then persists in time and succeeds; the next
    reclaim finds the object persisted linking the copies and keeps them: the object is whole."""
    window = "-Dio.v6d.migrate.persistWithinMillis=60000"
    clients = four.clients()
    ids = [c.instance_id for c in clients]
    four.agents[1].stop()
    _start_agent(four, 1, "agent-rb-h2-long-window", jvm_options=window)
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert any(m["to"] == ids[1] for m in plan["moves"])
    before = [snapshot(c) for c in clients]
    # restarted: its reclaim runs before it serves
    returncode, out, err = _kill_h2_agent_while_the_caller_waits(
        four, gid, tmp_path, lambda: _start_agent(four, 1, "agent-rb-h2-restarted-before-persist"), options=window)
    assert returncode == 0 and out.strip() == "done", err
    wait_until("every agent to settle", lambda: _open_pull_sessions(four) == [0] * 4)
    vineyard_migrate.gc(four.sockets[1])
    _assert_whole(four, clients, before, plan, gid, frames)
