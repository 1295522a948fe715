"""Every command line, run as users run it: a subprocess, including its error exits."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

from test_streams import _global_frame, _produce

BIN = os.path.dirname(sys.executable)


def _run(program, *args, env=None, timeout=180):
    return subprocess.run([os.path.join(BIN, program), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _cli(*args, **kwargs):
    return _run("vineyard-migrate", *args, **kwargs)


def _one_line_error(done, *needles):
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _oid(oid):
    return "o%016x" % int(oid)


def test_help_lists_every_subcommand():
    done = _cli("--help")
    assert done.returncode == 0
    for sub in ("migrate", "plan", "stream", "to-local", "serve"):
        assert sub in done.stdout
        assert _cli(sub, "--help").returncode == 0
    assert _cli("--version").stdout.startswith("vineyard-migrate")


def test_migrate_prints_the_new_id_or_json(stack, a, solo):
    oid = a.put(np.arange(9))
    done = _cli("migrate", _oid(oid), "--from", stack.a.socket, "--to", stack.solo.socket, "--name", "cli-nine")
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.strip()
    assert new_id.startswith("o") and new_id != _oid(oid)
    np.testing.assert_array_equal(solo.get(name="cli-nine"), np.arange(9))
    done = _cli("migrate", _oid(oid), "--from", stack.a.socket, "--to", stack.solo.socket, "--json", "--copy")
    result = json.loads(done.stdout)
    assert result["source_id"] == _oid(oid) and result["bytes"] == 72 and result["transport"] == "local"


def test_migrate_errors(stack):
    _one_line_error(_cli("migrate", "o00000000deadbeef", "--from", stack.a.socket, "--to", stack.solo.socket),
                    "OBJECT_NOT_EXISTS", "o00000000deadbeef")
    _one_line_error(_cli("migrate", "o0000000000000001", "--to", "/nonexistent.sock"), "no vineyardd IPC socket")
    _one_line_error(_cli("migrate", "o0000000000000001", "--to", stack.solo.socket, "--transport", "carrier-pigeon"),
                    "unknown transport")
    _one_line_error(_cli("migrate", "o0000000000000001"), "--to")


def test_plan_is_a_dry_run(stack, a, b, solo):
    value = np.arange(1000, dtype=np.int64)
    oid = a.put(value)
    a.persist(oid)
    objects_before = len(solo.list_objects("*", limit=1 << 20))
    done = _cli("plan", _oid(oid), "--from", stack.a.socket, "--to", stack.solo.socket, "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["already_on_target"] is False and plan["bytes_to_move"] == value.nbytes
    assert plan["transports"] == ["local"]
    assert [blob["action"] for blob in plan["blobs"]] == ["copy"]
    assert len(solo.list_objects("*", limit=1 << 20)) == objects_before  # nothing was created
    text = _cli("plan", _oid(oid), "--to", stack.b.socket)  # in the cluster: holder found
    assert text.returncode == 0 and "8000 byte(s) to move by local" in text.stdout
    on_b = b.put(value)
    b.persist(on_b)
    already = json.loads(_cli("plan", _oid(on_b), "--to", stack.b.socket, "--json").stdout)
    assert already["already_on_target"] is True and already["bytes_to_move"] == 0
    _one_line_error(_cli("plan", "no-such-name", "--from", stack.a.socket, "--to", stack.solo.socket),
                    "no object named 'no-such-name'")


def test_stream_prints_the_target_stream_at_once_and_waits(stack, b):
    producer, stream_id = _produce(stack.a.socket, "bytes", 3, 0.5)
    process = subprocess.Popen([os.path.join(BIN, "vineyard-migrate"), "stream", stream_id, "--from", stack.a.socket,
                                "--to", stack.b.socket], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    target_stream = process.stdout.readline().strip()
    assert process.poll() is None  # still forwarding
    reader = b.get(int(target_stream[1:], 16)).open_reader(b)
    chunks = []
    while True:
        try:
            chunks.append(bytes(reader.next()))
        except StopIteration:
            break
    assert chunks == [bytes([i]) * (1 << 20) for i in range(3)]
    assert process.wait(60) == 0
    producer.wait(30)


def test_stream_of_a_failed_source_exits_non_zero(stack):
    producer, stream_id = _produce(stack.a.socket, "recordbatch", 1, 0.1, end="fail")
    done = _cli("stream", stream_id, "--from", stack.a.socket, "--to", stack.b.socket)
    assert done.stdout.strip().startswith("o")
    _one_line_error(done, "STREAM_FAILED")
    _one_line_error(_cli("stream", "o00000000deadbeef", "--from", stack.a.socket, "--to", stack.b.socket),
                    "OBJECT_NOT_EXISTS")
    producer.wait(30)


def test_to_local(stack, a, b, c):
    gid, values = _global_frame([a, b, c])
    done = _cli("to-local", _oid(gid), "--replica", "3", "--rank", "1", "--to", stack.b.socket, "--json")
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)["chunks"]
    assert len(ids) == 2
    for local in ids:
        frame = b.get(int(local[1:], 16))
        pd.testing.assert_frame_equal(frame, values[int(frame["x"].iloc[0])])
    plain = _cli("to-local", _oid(gid), "--replica", "3", "--rank", "1", "--to", stack.b.socket)
    assert plain.stdout.split() == ids  # chunks on b already: the same ids again
    _one_line_error(_cli("to-local", _oid(gid), "--replica", "3", "--rank", "7", "--to", stack.b.socket), "rank")


def test_serve_errors(stack, tmp_path):
    _one_line_error(_cli("serve", "--socket", str(tmp_path / "none.sock"), "--port", "0"), "no vineyardd IPC socket")
    _one_line_error(_cli("serve"), "--socket")


def test_legacy_to_local(stack, a, b, c, tmp_path):
    gid, values = _global_frame([a, b, c])
    chunks_file = tmp_path / "vineyard.chunks"
    done = _run("vineyard-migrate-to-local", "3", "2", _oid(gid),
                env={"VINEYARD_IPC_SOCKET": stack.c.socket, "VINEYARD_MIGRATE_CHUNKS_FILE": str(chunks_file)})
    assert done.returncode == 0, done.stderr
    assert chunks_file.read_text().split("\n") == done.stdout.split()
    assert len(done.stdout.split()) == 2
    usage = _run("vineyard-migrate-to-local", "3")
    assert usage.returncode == 2 and "Usage: vineyard-migrate-to-local <replica> <rank> <global object>" in usage.stderr


def test_legacy_stream(stack, b):
    producer, stream_id = _produce(stack.a.socket, "bytes", 2, 0.1)
    done = _run("vineyard-migrate-stream", "--server", "--ipc_socket", stack.b.socket, "--id", stream_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("o")
    producer.wait(30)
    producer, stream_id = _produce(stack.a.socket, "bytes", 1, 0.1, end="fail")
    failed = _run("vineyard-migrate-stream", "--server=true", "--ipc_socket", stack.b.socket, "--id", stream_id)
    assert failed.returncode == 43, failed.stderr  # StreamFailed, as the original exited
    producer.wait(30)
    client_side = _run("vineyard-migrate-stream", "--client", "--id", stream_id)
    assert client_side.returncode == 2 and "vineyard-migrate serve" in client_side.stderr
