"""Deadlines on every connection: a stopped vineyardd (SIGSTOP), a stopped agent, or an endpoint that
accepts and never answers makes a migration fail with ``vineyard.ConnectionErrorException`` naming the
peer and the request, after about the timeout, and leaves the target as it was; once the peer runs
again, a retry succeeds.

Every migration that could hang runs in a subprocess waited on with a generous bound (timeout + 30 s),
so a broken deadline fails the test instead of hanging it. Nothing here asserts speed.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from vineyard_servers import Servers, private_token_file, read_byte_stream, snapshot, start_agent, wait_until

HELPER = os.path.join(os.path.dirname(__file__), "remote_migrate.py")
PRODUCER = os.path.join(os.path.dirname(__file__), "stream_producer.py")
SLACK = 30  # seconds beyond the timeout before a test gives up on a hung call


class World:
    """Two independent instances (src, dst), an agent beside src, a token, a silent TCP listener."""


class SilentListener:
    """A TCP port that accepts connections and never sends or reads a byte."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self):
        self.server.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture(scope="module")
def world():
    with Servers() as servers:
        w = World()
        w.servers = servers
        w.src = servers.start_vineyardd("to-src", size="2Gi")
        w.dst = servers.start_vineyardd("to-dst", size="2Gi")
        w.token = str(private_token_file(os.path.join(servers.workdir, "token")))
        w.agent = start_agent(servers, "to-agent", w.src.socket, token_file=w.token, extra=["--no-publish"])
        w.silent = SilentListener()
        yield w
        w.silent.close()


class stopped:
    """``with stopped(process):`` the process is SIGSTOPped inside the block and SIGCONTed after it."""

    def __init__(self, process):
        self.process = process

    def __enter__(self):
        self.process.send_signal(signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGCONT)


def start_migrate(env=None, **kwargs):
    """``vineyard_migrate.migrate(**kwargs)`` in a subprocess (see :func:`outcome`)."""
    return subprocess.Popen([sys.executable, HELPER, json.dumps(kwargs)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(process, timeout):
    """The subprocess's result or error as a dict; fails the test if it is not done within timeout + SLACK."""
    try:
        out, err = process.communicate(timeout=timeout + SLACK)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the migration hung: no outcome %d s after its %s s timeout" % (SLACK, timeout))
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert process.returncode == 0 and lines, "migration crashed:\n%s\n%s" % (out, err)
    return json.loads(lines[-1])


def migrate(timeout, **kwargs):
    return outcome(start_migrate(timeout=timeout, **kwargs), timeout)


def _oid(oid):
    return "o%016x" % int(oid)


def _assert_connection_error(result, *names):
    assert result.get("error") == "ConnectionErrorException", result
    for name in names:
        assert name in result["message"], (name, result["message"])


def test_source_stopped_before_the_call(world):
    source, target = world.src.client(), world.dst.client()
    value = np.random.default_rng(1).random(1 << 20)
    oid = source.put(value)
    before = snapshot(target)
    with stopped(world.src.process):
        result = migrate(2, obj=_oid(oid), target=world.dst.socket, source=world.src.socket)
    _assert_connection_error(result, world.src.socket, "register_request", "did not answer")
    assert snapshot(target) == before
    # running again: the same call succeeds
    new_id = vineyard_migrate.migrate(oid, target, source=world.src.socket, timeout=10)
    np.testing.assert_array_equal(target.get(new_id), value)
    target.delete(new_id, deep=True)


def test_source_stopped_during_the_transfer(world):
    """The source vineyardd stops while its RPC port streams the bytes: silence, not slowness."""
    source, target = world.src.client(), world.dst.client()
    value = np.random.default_rng(2).random(96 << 20)  # 768 MiB of incompressible bytes
    oid = source.put(value)
    before = snapshot(target)
    endpoint = "127.0.0.1:%d" % world.src.rpc_port
    running = start_migrate(timeout=3, obj=_oid(oid), target=world.dst.socket, source="rpc://" + endpoint)
    # the target blobs exist once the transfer request is about to go out
    wait_until("the target to allocate the blob", lambda: target.status.memory_usage >= before["memory_usage"] + value.nbytes)
    with stopped(world.src.process):
        result = outcome(running, 3)
    _assert_connection_error(result, endpoint, "get_remote_buffers_request")
    assert snapshot(target) == before
    retry = migrate(10, obj=_oid(oid), target=world.dst.socket, source="rpc://" + endpoint)
    new_id = vineyard.ObjectID(retry["object_id"])
    np.testing.assert_array_equal(target.get(new_id), value)
    target.delete(new_id, deep=True)
    source.delete(oid, deep=True)


def test_rpc_endpoint_that_never_answers(world, unchanged):
    endpoint = "127.0.0.1:%d" % world.silent.port
    with unchanged(world.dst.client()):
        result = migrate(1, obj="o0000000000000001", target=world.dst.socket, source="rpc://" + endpoint)
    _assert_connection_error(result, endpoint, "register_request")


def test_agent_endpoint_that_never_answers(world, unchanged):
    endpoint = "127.0.0.1:%d" % world.silent.port
    with unchanged(world.dst.client()):
        pulled = migrate(1, obj="o0000000000000001", target=world.dst.socket, source="tcp://" + endpoint,
                         token_file=world.token)
    _assert_connection_error(pulled, endpoint, "authenticating")
    oid = world.src.client().put(np.arange(10))
    pushed = migrate(1, obj=_oid(oid), target="tcp://" + endpoint, source=world.src.socket, token_file=world.token)
    _assert_connection_error(pushed, endpoint, "authenticating")


def test_agent_stopped_during_a_pull(world):
    source, target = world.src.client(), world.dst.client()
    value = np.random.default_rng(3).random(32 << 20)  # 256 MiB
    oid = source.put(value)
    # an agent that stops sending after 64 MiB, so that the pull is surely under way when it is stopped
    stalling = start_agent(world.servers, "to-agent-stalling", world.src.socket, token_file=world.token,
                           extra=["--no-publish"], jvm_options="-Dio.v6d.migrate.test.stallAfterBytes=%d" % (64 << 20))
    before = snapshot(target)
    # one connection: it is authenticated before the target blobs exist, so what stalls is the DATA
    running = start_migrate(timeout=3, obj=_oid(oid), target=world.dst.socket, source=stalling.endpoint,
                            token_file=world.token, connections=1)
    wait_until("the target to allocate the blob", lambda: target.status.memory_usage >= before["memory_usage"] + value.nbytes)
    with stopped(stalling.process):
        result = outcome(running, 3)
    _assert_connection_error(result, stalling.endpoint[len("tcp://"):], "DATA", "no traffic")
    assert snapshot(target) == before
    retry = migrate(10, obj=_oid(oid), target=world.dst.socket, source=world.agent.endpoint, token_file=world.token)
    assert retry.get("transport") == "tcp", retry
    new_id = vineyard.ObjectID(retry["object_id"])
    np.testing.assert_array_equal(target.get(new_id), value)
    target.delete(new_id, deep=True)
    source.delete(oid, deep=True)


def test_agent_gives_up_on_its_stopped_vineyardd(world, unchanged):
    """The agent's own requests to its vineyardd have a deadline (serve --timeout): a peer gets the
    agent's error naming that vineyardd, well before its own, longer timeout."""
    agent = start_agent(world.servers, "to-agent-short", world.src.socket, token_file=world.token,
                        extra=["--no-publish", "--timeout", "2"])
    oid = world.src.client().put(np.arange(10))
    with unchanged(world.dst.client()), stopped(world.src.process):
        result = migrate(60, obj=_oid(oid), target=world.dst.socket, source=agent.endpoint, token_file=world.token)
    _assert_connection_error(result, world.src.socket, "register_request", "did not answer")
    # the agent is still up and serves once its vineyardd runs again
    retry = migrate(10, obj=_oid(oid), target=world.dst.socket, source=agent.endpoint, token_file=world.token)
    assert "object_id" in retry, retry
    world.dst.client().delete(vineyard.ObjectID(retry["object_id"]), deep=True)


def _produce(socket_path, chunks, delay):
    process = subprocess.Popen([sys.executable, PRODUCER, socket_path, "bytes", str(chunks), str(delay), "finish"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def _stream_source(world, through):
    if through == "agent":
        return {"source": world.agent.endpoint, "token_file": world.token}
    return {"source": world.src.socket}


@pytest.mark.parametrize("through", ["ipc", "agent"])
def test_slow_stream_producer_is_not_a_timeout(world, through):
    """A stream's next chunk may take longer than the timeout: the producer sets the pace."""
    producer, stream_id = _produce(world.src.socket, 3, 2.5)
    target = world.dst.client()
    forwarding = vineyard_migrate.migrate_stream(stream_id, target, timeout=1, **_stream_source(world, through))
    assert read_byte_stream(target, forwarding.stream_id) == [bytes([i]) * (1 << 20) for i in range(3)]
    forwarding.wait(timeout=60)
    assert forwarding.state == "finished"
    assert producer.wait(30) == 0


@pytest.mark.parametrize("through", ["ipc", "agent"])
def test_stopped_peer_fails_a_stream_wait(world, through):
    """While waiting for a chunk, the peer holding the stream must still answer once per timeout."""
    producer, stream_id = _produce(world.src.socket, 100, 5.0)
    target = world.dst.client()
    forwarding = vineyard_migrate.migrate_stream(stream_id, target, timeout=1, **_stream_source(world, through))
    peer = world.agent if through == "agent" else world.src
    try:
        with stopped(peer.process), pytest.raises(vineyard.ConnectionErrorException) as failed:
            forwarding.wait(timeout=1 + SLACK)  # TimeoutError (a failure, not a hang) if it waits on
    finally:
        producer.kill()
        producer.wait()
    name = world.agent.endpoint if through == "agent" else world.src.socket
    assert name in str(failed.value) and "stopped answering" in str(failed.value), str(failed.value)
    assert forwarding.state == "failed"


def test_cli_timeout(world, unchanged):
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    endpoint = "127.0.0.1:%d" % world.silent.port
    with unchanged(world.dst.client()):
        done = subprocess.run([script, "migrate", "o0000000000000001", "--to", world.dst.socket,
                               "--from", "rpc://" + endpoint, "--timeout", "1"],
                              capture_output=True, text=True, timeout=1 + SLACK)
    assert done.returncode == 1, done
    assert "CONNECTION_ERROR" in done.stderr and endpoint in done.stderr and "register_request" in done.stderr
    bad = subprocess.run([script, "migrate", "o0000000000000001", "--to", world.dst.socket, "--timeout", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--timeout" in bad.stderr, bad


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (float("nan"), ValueError),
                                        (True, TypeError), ("5", TypeError)])
def test_bad_timeout_is_refused(world, bad, error):
    with pytest.raises(error, match="timeout"):
        vineyard_migrate.migrate("o0000000000000001", world.dst.socket, source=world.src.socket, timeout=bad)


def test_agent_that_stops_taking_a_push(world):
    """Pushing to an agent that stops taking DATA fails after the timeout; the agent, once it runs
    again, rolls the push back."""
    source, target = world.src.client(), world.dst.client()
    value = np.random.default_rng(4).random(32 << 20)  # 256 MiB
    oid = source.put(value)
    agent = start_agent(world.servers, "to-agent-dst", world.dst.socket, token_file=world.token, extra=["--no-publish"])
    before = snapshot(target)
    # the pusher holds after 64 MiB, so the push is surely mid-DATA when the agent is stopped
    running = start_migrate(
        timeout=3, obj=_oid(oid), target=agent.endpoint, source=world.src.socket, token_file=world.token,
        connections=1, env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Dio.v6d.migrate.test.stallAfterBytes=%d" % (64 << 20)})
    wait_until("the target to allocate the blob", lambda: target.status.memory_usage >= before["memory_usage"] + value.nbytes)
    time.sleep(1.0)  # the agent allocated the blobs; its reply and the first 64 MiB are on their way
    with stopped(agent.process):
        result = outcome(running, 3)
    _assert_connection_error(result, agent.endpoint[len("tcp://"):], "DATA")
    wait_until("the agent to roll back", lambda: snapshot(target) == before, 30)  # the agent rolled back
    retry = migrate(10, obj=_oid(oid), target=agent.endpoint, source=world.src.socket, token_file=world.token)
    new_id = vineyard.ObjectID(retry["object_id"])
    np.testing.assert_array_equal(target.get(new_id), value)
    target.delete(new_id, deep=True)
    source.delete(oid, deep=True)
