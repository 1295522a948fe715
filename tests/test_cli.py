"""The ``vineyard-migrate`` command, run as users run it: a subprocess."""

import os
import subprocess
import sys

import numpy as np


def _cli(*args):
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_migrate_prints_the_new_id(stack, a, solo):
    oid = a.put(np.arange(9))
    done = _cli("migrate", "o%016x" % int(oid), "--from", stack.a.socket, "--to", stack.solo.socket)
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.strip()
    assert new_id.startswith("o") and new_id != "o%016x" % int(oid)
    np.testing.assert_array_equal(solo.get(int(new_id[1:], 16)), np.arange(9))


def test_failure_exits_non_zero_with_one_line(stack):
    done = _cli("migrate", "o00000000deadbeef", "--from", stack.a.socket, "--to", stack.solo.socket)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "OBJECT_NOT_EXISTS" in done.stderr and "o00000000deadbeef" in done.stderr


def test_help(stack):
    done = _cli("migrate", "--help")
    assert done.returncode == 0 and "--to" in done.stdout
