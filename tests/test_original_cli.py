"""The vineyard-migrate 0.7 command line, as its scripts run it: ``--server`` beside the source,
``--client`` beside the target printing the new id; subprocesses against real vineyardd."""

import os
import subprocess
import sys

import numpy as np
import vineyard

from vineyard_servers import free_port

BIN = os.path.dirname(sys.executable)
SCRIPT = os.path.join(BIN, "vineyard-migrate")


def _oid(oid):
    return "o%016x" % int(oid)


def _server(*args):
    process = subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("listening on "), line + process.stderr.read()
    return process, line.split()[-1]


def _client(*args):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=180)


def test_server_and_client_move_an_object_between_independent_instances(stack, solo, tiny, unchanged):
    port = free_port()
    server, endpoint = _server("--server", "--ipc_socket", stack.solo.socket, "--port", str(port))
    try:
        assert endpoint == "tcp://127.0.0.1:%d" % port  # ours binds loopback unless --host says otherwise
        value = np.arange(50_000, dtype=np.int32)
        oid = solo.put(value)
        done = _client("--client", "--ipc_socket", stack.tiny.socket, "--host", "127.0.0.1", "--port", str(port),
                       "--id", _oid(oid), "--rpc_endpoint", "127.0.0.1:1")
        assert done.returncode == 0, done.stderr
        new_id = done.stdout.strip()
        assert new_id.startswith("o") and new_id != _oid(oid)
        np.testing.assert_array_equal(tiny.get(int(new_id[1:], 16)), value)
        tiny.delete(vineyard.ObjectID(new_id))
        # gflags spellings and --local_copy are accepted
        again = _client("--client=true", "--ipc_socket=" + stack.tiny.socket, "--host=127.0.0.1", "--port=%d" % port,
                        "--id=" + _oid(oid), "--local_copy")
        assert again.returncode == 0, again.stderr
        np.testing.assert_array_equal(tiny.get(int(again.stdout.strip()[1:], 16)), value)
        tiny.delete(vineyard.ObjectID(again.stdout.strip()))
        # a missing object: one line, non-zero, the target unchanged
        with unchanged(tiny):
            missing = _client("--client", "--ipc_socket", stack.tiny.socket, "--host", "127.0.0.1",
                              "--port", str(port), "--id", "o00000000deadbeef")
        assert missing.returncode != 0 and "OBJECT_NOT_EXISTS" in missing.stderr
    finally:
        server.terminate()
        assert server.wait(30) == 0


def test_original_usage_errors():
    neither = _client("--ipc_socket", "/tmp/x.sock", "--server=false", "--client=false")
    assert neither.returncode == 2 and "exactly one of --server and --client" in neither.stderr
    no_id = _client("--client", "--host", "127.0.0.1")
    assert no_id.returncode == 2 and "--id" in no_id.stderr
    no_token_wide = _client("--server", "--ipc_socket", "/nonexistent.sock", "--host", "0.0.0.0", "--port", "0")
    assert no_token_wide.returncode != 0
