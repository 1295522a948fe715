"""Journals' locks kept between migrations: a process journals its migrations into one instance in
one lock file, held between them and empty, removed when the process exits; a process killed in a
migration leaves only that migration to reclaim, never one it committed before in the same lock."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import vineyard

import vineyard_migrate
from test_cli import _cli
from test_process import _script
from vineyard_servers import lock_files, snapshot


def test_sequential_migrations_journal_in_one_lock_that_ends_empty(a, solo):
    vineyard_migrate.close()
    before = snapshot(solo)
    assert lock_files(solo) == {}, "another process holds a lock on the instance"
    value = np.arange(1 << 16)
    oid = a.put(value)
    seen = set()
    for _ in range(20):
        new_id = vineyard_migrate.migrate(oid, solo, source=a, persist=False, copy=True)
        np.testing.assert_array_equal(solo.get(new_id), value)
        files = lock_files(solo)
        assert len(files) == 1, files
        (name, lines), = files.items()
        assert lines[0]["journal"] == 1 and lines[0]["pid"] == os.getpid()
        assert lines[1:] == [], "a committed migration left entries in the kept journal"
        seen.add(name)
        solo.delete(new_id, deep=True)
    assert len(seen) == 1, seen
    vineyard_migrate.close()
    assert lock_files(solo) == {}
    assert snapshot(solo) == before
    a.delete(oid, deep=True)


def test_a_process_removes_its_kept_locks_at_exit(a, solo):
    vineyard_migrate.close()
    oid = a.put(np.arange(100))
    code = ("import json, os, sys, vineyard_migrate\n"
            "new = vineyard_migrate.migrate(int(sys.argv[1]), sys.argv[2], source=sys.argv[3], persist=False)\n"
            "print(json.dumps(os.listdir(sys.argv[2] + '.migrate')))\n"
            "print('o%016x' % int(new))\n")
    done = _script(code, str(int(oid)), solo.ipc_socket, a.ipc_socket, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert any(name.endswith(".lock") for name in json.loads(out[0])), out  # its lock, kept while it lives
    assert lock_files(solo) == {}, "the exited process left its kept lock"
    done = _cli("migrate", "o%016x" % int(oid), "--from", a.ipc_socket, "--to", solo.ipc_socket, "--json", "--copy")
    assert done.returncode == 0, done.stderr
    assert lock_files(solo) == {}, "the command line left its kept lock"
    for line in (out[1], json.loads(done.stdout)["object_id"]):
        solo.delete(vineyard.ObjectID(line), deep=True)
    a.delete(oid, deep=True)


def test_killed_process_leaves_only_its_uncommitted_migration(a, solo):
    vineyard_migrate.close()
    before = snapshot(solo)
    small, big = a.put(np.arange(1000)), a.put(tuple(np.full(1 << 20, i, dtype=np.uint8) for i in range(8)))
    kwargs = {"obj": "o%016x" % int(big), "target": solo.ipc_socket, "source": a.ipc_socket, "transport": "local",
              "pause_at": "first", "persist": False,
              "first": {"obj": "o%016x" % int(small), "source": a.ipc_socket, "name": "kept-lock-first"}}
    script = os.path.join(os.path.dirname(__file__), "paused_migrate.py")
    process = subprocess.Popen([sys.executable, script, json.dumps(kwargs)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        first = None
        for line in process.stdout:
            if line.startswith("FIRST"):
                first = vineyard.ObjectID(line.split()[1])
            if line.startswith("PAUSED"):
                break
        else:
            raise AssertionError("the migration ended before pausing:\n%s" % process.stderr.read()[-3000:])
        files = lock_files(solo)
        assert len(files) == 1, "the paused migration did not journal in the first one's kept lock: %s" % files
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    reclaimed = vineyard_migrate.gc(solo)
    assert len(reclaimed) == 1, reclaimed
    assert len(reclaimed[0]["blobs"]) == 8 and reclaimed[0]["bytes"] == 8 << 20, reclaimed
    assert reclaimed[0]["names"] == []
    assert lock_files(solo) == {}
    np.testing.assert_array_equal(solo.get(first), np.arange(1000))  # the committed copy stays, named
    assert solo.get_name("kept-lock-first") == first
    solo.drop_name("kept-lock-first")
    solo.delete(first, deep=True)
    assert snapshot(solo) == before
    a.delete([small, big], deep=True)
