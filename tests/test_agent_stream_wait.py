"""An agent answering a stream's next chunk later, off the connection's thread: whatever goes wrong
meanwhile, the peer gets a clear error at once (not silence until its deadline), the agent lets go of
what the wait held, and it keeps serving."""

import os
import subprocess
import sys

import numpy as np
import pytest

import agent_wire as wire
import vineyard_migrate
from vineyard_servers import Servers, private_token_file, settle, start_agent

PRODUCER = os.path.join(os.path.dirname(__file__), "stream_producer.py")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    token_file = private_token_file(tmp_path_factory.mktemp("token") / "token")
    return token_file, token_file.read_text().strip().encode()


def _agent(servers, stack, token, name, jvm_options=""):
    return start_agent(servers, name, stack.solo.socket, token_file=token[0], jvm_options=jvm_options,
                       extra=["--no-publish"])


def _producer(stack, chunks, delay):
    """A ByteStream on solo written slowly by a process of its own; (process, stream id)."""
    process = subprocess.Popen([sys.executable, PRODUCER, stack.solo.socket, "bytes", str(chunks), str(delay),
                                "finish"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return process, process.stdout.readline().strip()


def _still_serves(agent, token, solo, b):
    assert agent.process.poll() is None, "the agent died"
    value = np.arange(50_000, dtype=np.int64)
    new_id = vineyard_migrate.migrate(solo.put(value), b, source=agent.endpoint, token_file=token[0])
    np.testing.assert_array_equal(b.get(new_id), value)


def test_a_request_sent_while_a_chunk_is_awaited_is_refused(stack, token, solo, b):
    """The wait uses a vineyardd connection that is not thread-safe: a second request pipelined behind
    stream_next must be refused at once, not run beside the wait; the wait itself still ends well."""
    with Servers() as servers:
        agent = _agent(servers, stack, token, "agent-stream-pipelined")
        producer, stream = _producer(stack, 2, 1.0)  # the first chunk is handed over after a second
        try:
            conn = wire.open_authenticated(agent.endpoint, token[1])
            assert wire.request(conn, "stream_open", id=stream)[0] == wire.REPLY
            wire.send_json(conn, wire.REQUEST, {"op": "stream_next", "id": stream})
            wire.send_json(conn, wire.REQUEST, {"op": "stream_next", "id": stream})  # pipelined: not allowed
            kind, refused = wire.recv_frame(conn)
            assert kind == wire.ERROR, refused
            assert "awaits the next chunk of stream " + stream in refused["message"], refused
            kind, answer = wire.recv_frame(conn)  # the wait itself is answered with its chunk
            assert kind == wire.REPLY and answer["chunk"].startswith("o"), answer
            kind, answer = wire.request(conn, "stream_next", id=stream)  # and the connection goes on
            assert kind == wire.REPLY, answer
            conn.close()
        finally:
            producer.wait(30)
        _still_serves(agent, token, solo, b)


def test_an_unexpected_failure_while_a_chunk_is_awaited_is_answered(stack, token, solo, b):
    """A bug in the wait (made here by the test-hooks jar, right after the chunk was granted): the peer
    gets an error naming the request at once, the agent closes the vineyardd connection the wait used,
    and it keeps serving -- this connection too."""
    with Servers() as servers:
        agent = _agent(servers, stack, token, "agent-stream-bug",
                       jvm_options="-Dio.v6d.migrate.test.failAt=stream:chunk-delivered")
        producer, stream = _producer(stack, 2, 0.2)
        try:
            conn = wire.open_authenticated(agent.endpoint, token[1])
            conn.settimeout(20)  # far below the peer's own deadline: the answer must not wait for it
            before = settle(lambda: solo.status.ipc_connections, solo.status.ipc_connections, 1)
            assert wire.request(conn, "stream_open", id=stream)[0] == wire.REPLY
            assert settle(lambda: solo.status.ipc_connections, before + 1, 20) == before + 1  # the stream reader's own
            kind, error = wire.request(conn, "stream_next", id=stream)
            assert kind == wire.ERROR, error
            assert "'stream_next' failed in the agent" in error["message"], error
            assert "test fault at stream:chunk-delivered" in error["message"], error
            assert settle(lambda: solo.status.ipc_connections, before, 20) == before  # the reader's connection let go
            kind, info = wire.request(conn, "info")  # the connection still serves
            assert kind == wire.REPLY and "instance_id" in info, info
            conn.close()
        finally:
            producer.wait(30)
        _still_serves(agent, token, solo, b)
