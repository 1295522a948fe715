"""Idempotence across processes: a copy is found through the record on the target's host, and
processes migrating the same object at once copy it once (the claim), whatever happens to them.

Every migration here runs in a process of its own (the installed package, as users run it), so
nothing is shared through this process's memory.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from test_crash_safety import _outcome as paused_outcome, _wait_paused
from test_many import agents  # noqa: F401 (a fixture: the agents of solo and tiny)
from vineyard_servers import snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
PAUSED = os.path.join(HERE, "paused_migrate.py")
# warms up, waits for the file argv[1] (a barrier), then migrates as the JSON argv[2] says; prints the id
AT_ONCE = """
import json, os, sys, time
import vineyard_migrate
kwargs = json.loads(sys.argv[2])
obj, target = kwargs.pop("obj"), kwargs.pop("target")
vineyard_migrate.plan(obj, target, **kwargs)  # JVM, classes, pooled connections: the calls race from the barrier on
print("READY", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
print(json.dumps({"object_id": "o%016x" % int(vineyard_migrate.migrate(obj, target, **kwargs))}), flush=True)
"""


def _oid(object_id):
    return "o%016x" % int(object_id)


def _start_paused(obj, target, source, release=None, **kwargs):
    """A migration in a process of its own that pauses at its first progress report until ``release`` exists."""
    args = dict(obj=_oid(obj), target=target, source=source, pause_at="first", release=release, **kwargs)
    return subprocess.Popen([sys.executable, PAUSED, json.dumps(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _outcome(process):
    result = paused_outcome(process)
    assert "error" not in result, result
    return vineyard.ObjectID(result["object_id"])


def _migrate_in_process(obj, target, source, tmp_path, **kwargs):
    """One migration run to completion in a process of its own: the id it returned."""
    released = tmp_path / "released"
    released.touch()
    return _outcome(_start_paused(obj, target, source, release=str(released), **kwargs))


def _records(socket):
    directory = socket + ".migrate/copies"
    if not os.path.isdir(directory):
        return set()
    return {name for name in os.listdir(directory) if not name.endswith((".lock", ".tmp"))}


def test_another_process_returns_the_first_copy(a, solo, tmp_path):
    oid = a.put(np.arange(4 << 10))
    first = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)
    after_first = snapshot(solo)
    again = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)
    assert again == first
    assert snapshot(solo) == after_first  # no second copy: objects and memory as the first left them
    assert vineyard_migrate.migrate(oid, solo, source=a) == first  # and this process finds it too
    solo.delete(first, deep=True)
    a.delete(oid, deep=True)


def test_processes_started_at_once_copy_once(a, solo, tmp_path):
    oid = a.put(np.ones(4 << 20))  # 32 MiB: long enough to copy that the calls overlap
    before = snapshot(solo)
    barrier = tmp_path / "go"
    kwargs = json.dumps(dict(obj=_oid(oid), target=solo.ipc_socket, source=a.ipc_socket))
    processes = [subprocess.Popen([sys.executable, "-c", AT_ONCE, str(barrier), kwargs], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for process in processes:
        assert process.stdout.readline().strip() == "READY", process.stderr.read()
    barrier.touch()
    ids = {_outcome(process) for process in processes}
    assert len(ids) == 1
    copy = ids.pop()
    np.testing.assert_array_equal(solo.get(copy), np.ones(4 << 20))
    assert solo.status.memory_usage - before["memory_usage"] < 2 * (32 << 20)  # one copy of 32 MiB, not three
    solo.delete(copy, deep=True)
    assert snapshot(solo) == before
    a.delete(oid, deep=True)


@pytest.mark.parametrize("how", ["local", "push"])
def test_a_process_waits_for_the_copy_another_is_making(a, solo, agents, tmp_path, how):  # noqa: F811
    """The second process waits while the first copies (it holds the claim), then returns its copy;
    pushing, the agent holds the claim for the pusher."""
    oid = a.put(np.ones(1 << 20))
    release = tmp_path / "release"
    target, kwargs = (solo.ipc_socket, {}) if how == "local" else (agents.solo.endpoint, {"token_file": agents.token})
    first = _start_paused(oid, target, a.ipc_socket, release=str(release), **kwargs)
    try:
        _wait_paused(first, total=8 << 20)  # its blobs are allocated on solo, nothing is committed
        second = _start_paused(oid, target, a.ipc_socket, release=str(release), **kwargs)
        time.sleep(3)  # the second process started its JVM and is waiting for the claim
        assert second.poll() is None
        release.touch()
        copy = _outcome(first)
        assert _outcome(second) == copy
    finally:
        first.kill()
    solo.delete(copy, deep=True)
    a.delete(oid, deep=True)


def test_a_claim_holder_killed_midway_lets_the_waiting_process_copy(a, solo, tmp_path):
    oid = a.put(np.ones(1 << 20))
    before = snapshot(solo)
    holder = _start_paused(oid, solo.ipc_socket, a.ipc_socket)  # paused until killed
    try:
        _wait_paused(holder, total=8 << 20)
        released = tmp_path / "released"
        released.touch()
        waiter = _start_paused(oid, solo.ipc_socket, a.ipc_socket, release=str(released))
        time.sleep(3)
        assert waiter.poll() is None  # waiting for the holder's claim
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    copy = _outcome(waiter)  # the kernel dropped the dead holder's flock: the waiter copied
    np.testing.assert_array_equal(solo.get(copy), np.ones(1 << 20))
    assert vineyard_migrate.migrate(oid, solo, source=a) == copy
    solo.delete(copy, deep=True)
    vineyard_migrate.gc(solo)  # what the killed holder allocated (if the waiter did not reclaim it already)
    assert snapshot(solo) == before
    a.delete(oid, deep=True)


def test_a_deleted_copy_is_copied_again_and_copy_forces_a_fresh_one(a, solo, tmp_path):
    oid = a.put(np.arange(1000))
    first = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)
    fresh = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path, copy=True)
    assert fresh not in (first, oid)
    solo.delete(fresh, deep=True)
    solo.delete(first, deep=True)
    second = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)  # the recorded copy is gone
    assert second not in (first, fresh)
    np.testing.assert_array_equal(solo.get(second), np.arange(1000))
    assert _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path) == second
    solo.delete(second, deep=True)
    a.delete(oid, deep=True)


def test_a_record_naming_another_object_is_not_trusted(a, solo, tmp_path):
    oid = a.put(np.arange(300))
    records = _records(solo.ipc_socket)
    first = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)
    (name,) = _records(solo.ipc_socket) - records
    path = os.path.join(solo.ipc_socket + ".migrate/copies", name)
    other = solo.put(np.arange(300))  # equal data, but not a copy a migration made
    with open(path) as f:
        lines = f.read().split("\n", 1)
    assert lines[0] == _oid(first)
    with open(path, "w") as f:
        f.write(_oid(other) + "\n" + lines[1])
    solo.delete(first, deep=True)
    second = _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path)
    assert second not in (first, other, oid)
    with open(path) as f:
        assert f.read().startswith(_oid(second))  # the record names the new copy
    solo.delete(second, deep=True)
    solo.delete(other, deep=True)
    a.delete(oid, deep=True)


def test_gc_removes_the_records_of_deleted_copies(a, solo):
    oid = a.put(np.arange(10))
    records = _records(solo.ipc_socket)
    copy = vineyard_migrate.migrate(oid, solo, source=a)
    made = _records(solo.ipc_socket) - records
    assert len(made) == 1
    vineyard_migrate.gc(solo)
    assert made <= _records(solo.ipc_socket)  # the copy lives: its record stays
    solo.delete(copy, deep=True)
    vineyard_migrate.gc(solo)
    assert not made & _records(solo.ipc_socket)
    a.delete(oid, deep=True)


@pytest.mark.parametrize("first_by", ["push", "local"])
def test_pushes_from_two_processes_return_the_first_copy(a, solo, agents, tmp_path, first_by):  # noqa: F811
    """A push's record is on the target's host, where the agent and local migrations find it."""
    oid = a.put(np.arange(2000))
    push = dict(token_file=agents.token)
    first = _migrate_in_process(oid, agents.solo.endpoint if first_by == "push" else solo.ipc_socket,
                                a.ipc_socket, tmp_path, **(push if first_by == "push" else {}))
    after_first = snapshot(solo)
    assert _migrate_in_process(oid, agents.solo.endpoint, a.ipc_socket, tmp_path, **push) == first
    assert _migrate_in_process(oid, solo.ipc_socket, a.ipc_socket, tmp_path) == first
    assert snapshot(solo) == after_first
    solo.delete(first, deep=True)
    a.delete(oid, deep=True)
