"""Crash safety: whatever a migration allocates on its target is reclaimed after the caller, an agent
or the pushing peer dies (kill -9) at any point of a 2 GiB migration.

A source vineyardd with an agent on h1 and a target vineyardd (3 GiB) with an agent on h2 (network
namespaces, see hosts.py), both ``--meta local``. The object is 2 GiB in 8 blobs. The migrating
process pauses at a chosen point of the transfer (paused_migrate.py: its progress callback waits),
then the test kills one process of the migration and checks the target's object list and memory
usage against the baseline taken before: after ``gc``, or after the automatic reclaims (the next
migration into the instance, the agent's start, the agent's periodic reclaim).
"""

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from hosts import TwoHosts
from vineyard_servers import Servers, lock_files, private_token_file, snapshot, start_agent

BLOBS = 8
BLOB_BYTES = 256 << 20  # 8 x 256 MiB = 2 GiB
POINTS = ["first", "half", "landed"]
JOURNAL = "vineyard::migrate::Journal"  # the typename of journals older versions kept in vineyardd


@dataclasses.dataclass
class World:
    h1: object
    h2: object
    servers: object
    source: object  # vineyardd on h1
    target: object  # vineyardd on h2
    agent1: object
    agent2: object
    token: str
    oid: str  # the 2 GiB object, on the source
    started: list = dataclasses.field(default_factory=list)  # migrating processes, killed after each test


def _token_file(directory):
    return str(private_token_file(os.path.join(directory, "token")))


def _agent(world, name, instance, host, jvm_options="-Dio.v6d.migrate.reclaimSeconds=3600"):
    return start_agent(world.servers, name, instance.socket, host=host.address, token_file=world.token,
                       prefix=host.prefix, env=host.env, jvm_options=jvm_options, extra=["--no-publish"])


@pytest.fixture(scope="module")
def world():
    with TwoHosts() as (h1, h2), Servers() as servers:
        source = servers.start_vineyardd("crash-src", "2560Mi", prefix=h1.prefix, env=h1.env)
        target = servers.start_vineyardd("crash-tgt", "3Gi", prefix=h2.prefix, env=h2.env)
        client = source.client()
        oid = client.put(tuple(np.full(BLOB_BYTES, i + 1, dtype=np.uint8) for i in range(BLOBS)))
        client.close()
        w = World(h1, h2, servers, source, target, None, None, _token_file(servers.workdir), "o%016x" % int(oid))
        w.agent1 = _agent(w, "crash-agent-h1", source, h1)
        w.agent2 = _agent(w, "crash-agent-h2", target, h2)
        yield w


@pytest.fixture
def target(world):
    client = world.target.client()
    yield client
    client.close()
    for process in world.started:  # a failed test leaves no paused migration behind
        if process.poll() is None:
            _kill(process)
    world.started.clear()


def _start(world, how, pause_at, release=None, obj=None):
    """Starts a paused migration of the 2 GiB object: "local" (shared memory, this host), "pull" (on h2,
    from the source's agent) or "push" (on h1, to the target's agent)."""
    kwargs = {"obj": obj or world.oid, "pause_at": pause_at, "release": release}
    prefix, env = (), {}
    if how == "local":
        kwargs.update(source=world.source.socket, target=world.target.socket, transport="local")
    elif how == "pull":
        kwargs.update(source=world.agent1.endpoint, target=world.target.socket, transport="tcp",
                      token_file=world.token)
        prefix, env = world.h2.prefix, world.h2.env
    else:
        kwargs.update(source=world.source.socket, target=world.agent2.endpoint, token_file=world.token)
        prefix, env = world.h1.prefix, world.h1.env
    script = os.path.join(os.path.dirname(__file__), "paused_migrate.py")
    process = subprocess.Popen([*prefix, sys.executable, script, json.dumps(kwargs)], env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    world.started.append(process)
    return process


def _paused(world, how, point, resumable=False, obj=None, total=BLOBS * BLOB_BYTES):
    """A migration started and paused at ``point``; with ``resumable``, also the file that resumes it."""
    release = os.path.join(world.servers.workdir, "release-%s" % secrets.token_hex(4)) if resumable else None
    process = _start(world, how, point, release=release, obj=obj)
    _wait_paused(process, total)
    return process, release


def _wait_paused(process, total=BLOBS * BLOB_BYTES):
    for line in process.stdout:
        if line.startswith("PAUSED"):
            done, moving = map(int, line.split()[1:])
            assert moving == total
            return done
    process.wait()
    raise AssertionError("the migration ended before pausing:\n%s" % process.stderr.read()[-3000:])


def _outcome(process):
    out, err = process.communicate(timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, "no outcome:\n%s\n%s" % (out, err[-3000:])
    return json.loads(lines[-1])


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait()


def _journal_entries(client):
    """The entries of the journals in the target's lock directory (each owner's lock file: a header
    line, then one JSON line per entry), by owner."""
    # an empty journal is a lock its live owner keeps between migrations
    return {name[:-len(".lock")]: lines[1:] for name, lines in lock_files(client).items()
            if lines and lines[0].get("journal") == 1 and lines[1:]}


def _leaked(client, before):
    """The target holds what the killed migration allocated (so the reclaim has work to do)."""
    now = snapshot(client)
    assert now["memory_usage"] >= before["memory_usage"] + BLOBS * BLOB_BYTES, (before, now)
    assert any(_journal_entries(client).values()), "no journal beside the target's socket"


def _eventually_at(client, before, seconds=60):
    deadline = time.time() + seconds
    while snapshot(client) != before and time.time() < deadline:
        time.sleep(0.2)
    assert snapshot(client) == before


def _gc_cli(socket):
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    done = subprocess.run([script, "gc", "--socket", socket, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_reclaimed_all(reclaimed):
    assert len(reclaimed) == 1, reclaimed
    assert len(reclaimed[0]["blobs"]) == BLOBS
    assert reclaimed[0]["bytes"] == BLOBS * BLOB_BYTES


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("how", ["local", "pull"])
def test_killed_caller_is_reclaimed_by_gc(world, target, how, point):
    before = snapshot(target)
    migration, _ = _paused(world, how, point)
    _kill(migration)
    _leaked(target, before)
    if how == "local":
        reclaimed = _gc_cli(world.target.socket)
    else:
        reclaimed = vineyard_migrate.gc(target)
    _assert_reclaimed_all(reclaimed)
    assert snapshot(target) == before
    assert vineyard_migrate.gc(world.target.socket) == []  # nothing left to do


@pytest.mark.parametrize("point", POINTS)
def test_killed_target_agent_is_reclaimed_when_it_restarts(world, target, point):
    before = snapshot(target)
    pusher, release = _paused(world, "push", point, resumable=True)
    world.agent2.stop(signal.SIGKILL)
    try:
        _leaked(target, before)
    finally:
        world.agent2 = _agent(world, "crash-agent-h2-%s" % point, world.target, world.h2)  # reclaims as it starts
    assert snapshot(target) == before
    open(release, "w").close()
    outcome = _outcome(pusher)  # the pusher fails: its agent is gone (a connection it opens later is refused)
    assert outcome.get("error") in ("ConnectionErrorException", "ConnectionFailedException"), outcome


@pytest.mark.parametrize("point", POINTS)
def test_killed_pushing_peer_is_rolled_back_by_the_agent(world, target, point):
    before = snapshot(target)
    pusher, _ = _paused(world, "push", point)
    _kill(pusher)
    _eventually_at(target, before)  # the live agent rolls back when the pusher's connections drop
    assert vineyard_migrate.gc(target) == []


@pytest.mark.parametrize("point", ["first", "half"])
def test_killed_source_agent_is_rolled_back_by_the_caller(world, target, point):
    before = snapshot(target)
    puller, release = _paused(world, "pull", point, resumable=True)
    world.agent1.stop(signal.SIGKILL)
    try:
        open(release, "w").close()
        outcome = _outcome(puller)  # it loses its connections, or cannot open one it opens later
        assert outcome.get("error") in ("ConnectionErrorException", "ConnectionFailedException"), outcome
        assert snapshot(target) == before  # the caller, alive, rolled back itself
        assert vineyard_migrate.gc(target) == []
    finally:
        world.agent1 = _agent(world, "crash-agent-h1-%s" % point, world.source, world.h1)


def test_a_journal_that_cannot_be_written_fails_the_migration_and_leaves_the_target_as_it_was(world, target,
                                                                                              tmp_path):
    """The journal's lock file is made in the background while the migration reads its source: a
    lock directory that cannot be made still fails the migration, with an error naming it, before
    the copy is reported, and the target keeps nothing of it."""
    import jpype

    from vineyard_migrate import _jvm

    _jvm.engine()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    source = world.source.client()
    small = source.put(np.arange(1000))
    before = snapshot(target)
    system = jpype.JClass("java.lang.System")
    system.setProperty("io.v6d.migrate.lockDir", str(blocker / "locks"))
    try:
        with pytest.raises(vineyard.IOErrorException, match="cannot create a migration lock in"):
            vineyard_migrate.migrate(small, target, source=source, copy=True)
    finally:
        system.clearProperty("io.v6d.migrate.lockDir")
    assert snapshot(target) == before
    source.delete(small, deep=True)
    source.close()


def test_next_migration_into_the_instance_reclaims_first(world, target):
    before = snapshot(target)
    migration, _ = _paused(world, "local", "half")
    _kill(migration)
    _leaked(target, before)
    source = world.source.client()
    small = source.put(np.arange(1000))
    new_id = vineyard_migrate.migrate(small, target, source=source)
    np.testing.assert_array_equal(target.get(new_id), np.arange(1000))
    assert not _journal_entries(target)
    target.delete(new_id, deep=True)
    source.delete(small, deep=True)
    source.close()
    assert snapshot(target) == before


def test_agent_reclaims_periodically(world, target):
    periodic = _agent(world, "crash-agent-h2-periodic", world.target, world.h2,
                      jvm_options="-Dio.v6d.migrate.reclaimSeconds=1")
    try:
        before = snapshot(target)
        migration, _ = _paused(world, "local", "first")
        _kill(migration)
        _leaked(target, before)
        _eventually_at(target, before, seconds=30)
    finally:
        periodic.stop()
    with open(periodic.log) as f:
        assert "reclaimed" in f.read()


def test_live_migration_is_never_reclaimed(world, target):
    before = snapshot(target)
    migration, release = _paused(world, "local", "half", resumable=True)
    assert _gc_cli(world.target.socket) == []
    assert vineyard_migrate.gc(target) == []
    _leaked(target, before)
    open(release, "w").close()
    outcome = _outcome(migration)
    new_id = vineyard.ObjectID(outcome["object_id"])
    assert not _journal_entries(target)
    copy = target.get(new_id)
    assert [int(part[0]) for part in copy] == list(range(1, BLOBS + 1))
    assert [int(part[-1]) for part in copy] == list(range(1, BLOBS + 1))
    target.delete(new_id, deep=True)
    assert snapshot(target) == before


def test_live_migration_in_another_pid_namespace_is_never_reclaimed(world, target):
    if subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a pid namespace here")
    before = snapshot(target)
    kwargs = {"obj": world.oid, "pause_at": "half", "source": world.source.socket,
              "target": world.target.socket, "transport": "local"}
    script = os.path.join(os.path.dirname(__file__), "paused_migrate.py")
    namespaced = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", sys.executable, script,
                                   json.dumps(kwargs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    world.started.append(namespaced)
    _wait_paused(namespaced)
    assert vineyard_migrate.gc(target) == []  # its pid means nothing here; its lock is held
    _leaked(target, before)
    _kill(namespaced)  # unshare dies, and --kill-child has the kernel kill the migration too
    deadline = time.time() + 30
    reclaimed = vineyard_migrate.gc(target)
    while not reclaimed and time.time() < deadline:  # until that process is gone, its lock is held
        time.sleep(0.2)
        reclaimed = vineyard_migrate.gc(target)
    _assert_reclaimed_all(reclaimed)
    assert snapshot(target) == before


def test_many_blobs_in_several_journal_entries(world, target):
    source = world.source.client()
    parts = 600  # more than one journal entry's worth (256)
    oid = source.put(tuple(np.full(64 << 10, i % 251, dtype=np.uint8) for i in range(parts)))
    try:
        before = snapshot(target)
        migration, _ = _paused(world, "local", "half", obj="o%016x" % int(oid), total=parts * (64 << 10))
        _kill(migration)
        assert [len(entries) >= 3 for entries in _journal_entries(target).values()] == [True]
        reclaimed = vineyard_migrate.gc(target)
        assert len(reclaimed) == 1 and len(reclaimed[0]["blobs"]) == parts
        assert snapshot(target) == before
    finally:
        source.delete(oid, deep=True)
        source.close()


def test_reclaim_touches_only_what_dead_owners_journaled(world, target):
    """Journals written here as a dead, a live and an unseen owner of an older version would have left
    them (metadata on the target, an empty lock file): only the dead owner's blobs, objects and (still
    pointing to its object) name go; never the shared empty blob."""
    import fcntl

    lock_dir = world.target.socket + ".migrate"
    os.makedirs(lock_dir, exist_ok=True)
    dead, live, unseen = (secrets.token_hex(16) for _ in range(3))
    before = snapshot(target)
    ours, other = target.put(np.arange(1 << 20)), target.put(np.full(1 << 20, 7))
    renamed, empty = target.put(np.arange(10)), target.put(np.zeros(0))
    for named in (ours, other, renamed):
        target.persist(named)  # vineyardd names persisted objects only
    target.put_name(ours, "crash-ours")
    target.put_name(other, "crash-other")
    target.put_name(renamed, "crash-renamed")
    blob = {oid: target.get_meta(oid)["buffer_"].id for oid in (ours, other, empty)}

    def journal(owner, blobs=(), objects=(), name=None, root=None):
        meta = vineyard.ObjectMeta()
        meta.typename = JOURNAL
        meta.nbytes = 0
        meta["owner"], meta["host"], meta["pid"], meta["bytes"] = owner, "test", 0, 0
        meta["blobs"] = ["o%016x" % int(b) for b in blobs]
        meta["objects"] = ["o%016x" % int(o) for o in objects]
        if name:
            meta["migrate_name"], meta["migrate_root"] = name, "o%016x" % int(root)
        return target.create_metadata(meta).id

    journal(dead, blobs=[blob[ours], blob[empty]], objects=[ours], name="crash-ours", root=ours)
    journal(dead, name="crash-renamed", root=ours)  # that name has been given to another object since
    journal(live, blobs=[blob[other]], objects=[other])
    unseen_entry = journal(unseen, blobs=[blob[other]], objects=[other])  # its lock file is not here
    open(os.path.join(lock_dir, dead + ".lock"), "w").close()  # left unlocked by its dead owner
    with open(os.path.join(lock_dir, live + ".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # alive: this process holds its lock

        reclaimed = vineyard_migrate.gc(target)
        assert [r["owner"] for r in reclaimed] == [dead]
        assert reclaimed[0]["blobs"] == ["o%016x" % int(blob[ours])]
        assert reclaimed[0]["names"] == ["crash-ours"]
        with pytest.raises(vineyard.ObjectNotExistsException):
            target.get_meta(ours)
        with pytest.raises(vineyard.ObjectNotExistsException):
            target.get_name("crash-ours")
        assert target.get_name("crash-renamed") == renamed
        assert target.get_name("crash-other") == other
        np.testing.assert_array_equal(target.get(other), np.full(1 << 20, 7))
        assert target.get(empty).shape == (0,)
        assert {target.get_meta(j.id)["owner"] for j in target.list_objects(JOURNAL)} == {live, unseen}
        assert not os.path.exists(os.path.join(lock_dir, dead + ".lock"))
    # its owner gone, the live one's journal is reclaimed next; the unseen one's stays
    assert [r["owner"] for r in vineyard_migrate.gc(target)] == [live]
    with pytest.raises(vineyard.ObjectNotExistsException):
        target.get_meta(other)
    assert [j.id for j in target.list_objects(JOURNAL)] == [unseen_entry]
    target.delete([unseen_entry, renamed, empty])
    target.drop_name("crash-other")
    target.drop_name("crash-renamed")
    assert snapshot(target) == before


def test_journal_of_an_earlier_vineyardd_is_dropped_not_undone(world, target):
    """A dead owner's journal written before vineyardd restarted (its header names another socket
    file): the ids it lists may name new blobs now, so the reclaim removes the journal and deletes
    nothing."""
    lock_dir = world.target.socket + ".migrate"
    os.makedirs(lock_dir, exist_ok=True)
    owner = secrets.token_hex(16)
    kept = target.put(np.arange(1 << 16))
    blob = target.get_meta(kept)["buffer_"].id
    before = snapshot(target)
    with open(os.path.join(lock_dir, owner + ".lock"), "w") as f:
        f.write(json.dumps({"journal": 1, "host": "test", "pid": 0, "instance_id": int(target.instance_id),
                            "store": "(dev=0,ino=0)@1970-01-01T00:00:00Z"}) + "\n")
        f.write(json.dumps({"bytes": 1 << 19, "blobs": ["o%016x" % int(blob)], "objects": ["o%016x" % int(kept)]})
                + "\n")
    assert vineyard_migrate.gc(target) == []
    assert not os.path.exists(os.path.join(lock_dir, owner + ".lock"))
    np.testing.assert_array_equal(target.get(kept), np.arange(1 << 16))
    assert snapshot(target) == before
    target.delete(kept)
