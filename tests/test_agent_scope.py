"""An authenticated peer that misbehaves: overflowing, negative, truncated and out-of-scope frames.
Each is refused with a clear error (or the connection closed), the instance is left as it was, and
the agent still serves a real migration afterwards."""

import contextlib
import secrets
import time

import numpy as np
import pytest
import vineyard

import agent_wire as wire
import vineyard_migrate
from vineyard_servers import private_token_file, snapshot, start_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory, stack):
    """An agent beside the independent instance ``solo``; yields (agent, token file, token bytes)."""
    from vineyard_servers import Servers

    token_file = private_token_file(tmp_path_factory.mktemp("token") / "token")
    with Servers() as servers:
        agent = start_agent(servers, "agent-scope", stack.solo.socket, token_file=token_file,
                            extra=["--no-publish"])
        yield agent, token_file, token_file.read_text().strip().encode()


@contextlib.contextmanager
def _rolled_back(client):
    """Like the ``unchanged`` fixture, allowing the agent a moment to roll back after a connection closes."""
    before = snapshot(client)
    yield
    deadline = time.monotonic() + 20
    while snapshot(client) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert snapshot(client) == before


def _still_serves(agent, token_file, solo, b):
    assert agent.process.poll() is None, "the agent died"
    value = np.arange(50_000, dtype=np.int64)
    new_id = vineyard_migrate.migrate(solo.put(value), b, source=agent.endpoint, token_file=token_file)
    np.testing.assert_array_equal(b.get(new_id), value)


def _named(conn, oid):
    """Names object ``oid`` and maps its blobs on ``conn``; returns {blob id: size}."""
    kind, meta = wire.request(conn, "meta", id=wire.object_id(oid), sync_remote=False)
    assert kind == wire.REPLY, meta
    blobs = wire.blobs_of(meta["tree"])
    kind, mapped = wire.request(conn, "map", object=wire.object_id(oid), ids=blobs)
    assert kind == wire.REPLY, mapped
    assert list(mapped["sizes"]) == blobs
    return mapped["sizes"]


def _refused(conn, op, match, **args):
    kind, error = wire.request(conn, op, **args)
    assert kind == wire.ERROR, error
    assert match in error["message"], error["message"]
    assert "authenticat" not in error["message"]  # a refusal after the handshake is not about it
    return error


def test_read_at_an_overflowing_offset_is_refused(agent, solo, b):
    """offset + length wraps past 2^63: the range check must not (it crashed the JVM once)."""
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    oid = solo.put(np.arange(4096, dtype=np.int64))
    for offset, length in [((1 << 63) - 16, 4096), ((1 << 63) - 1, 1), (1 << 62, 1 << 20), (32768, 1)]:
        conn = wire.open_authenticated(endpoint, token)
        blob, size = next(iter(_named(conn, oid).items()))
        assert size == 32768
        conn.sendall(wire.header(wire.READ, length, wire.signed(blob), offset))
        kind, error = wire.recv_frame(conn)
        assert kind == wire.ERROR and "not mapped" in error["message"], error
        assert wire.closed(conn)
    # the last byte is served
    conn = wire.open_authenticated(endpoint, token)
    blob, _ = next(iter(_named(conn, oid).items()))
    conn.sendall(wire.header(wire.READ, 8, wire.signed(blob), 32768 - 8))
    kind, _, offset, payload = wire.recv_any(conn)
    assert kind == wire.DATA and offset == 32768 - 8 and payload == np.int64(4095).tobytes()
    _still_serves(agent[0], token_file, solo, b)


def test_negative_and_truncated_frames_close_only_that_connection(agent, solo, b):
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    oid = solo.put(np.arange(1000))
    conn = wire.open_authenticated(endpoint, token)
    blob, _ = next(iter(_named(conn, oid).items()))
    conn.sendall(wire.header(wire.READ, 16, wire.signed(blob), -1))
    assert wire.closed(conn)
    for partial in (wire.header(wire.REQUEST, 100)[:20], wire.header(wire.REQUEST, 100) + b'{"op": "in',
                    wire.header(wire.DATA, 4096, 1, 0)):
        conn = wire.open_authenticated(endpoint, token)
        conn.sendall(partial)
        conn.close()
    _still_serves(agent[0], token_file, solo, b)


def test_only_blobs_of_named_objects_are_served(agent, solo, b):
    """A blob id picked out of the air -- even a real one -- is neither mapped nor READ."""
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    named = solo.put(np.arange(1000))
    other = solo.put(np.arange(2000))  # another client's object, unpersisted
    conn = wire.open_authenticated(endpoint, token)
    _, meta = wire.request(conn, "meta", id=wire.object_id(other), sync_remote=False)
    foreign = wire.blobs_of(meta["tree"])
    _refused(conn, "map", "not part of an object", ids=foreign)
    _refused(conn, "map", "not part of an object", object=wire.object_id(named), ids=foreign)
    _refused(conn, "map", "is a blob", object=foreign[0], ids=foreign)
    conn.sendall(wire.header(wire.READ, 8, wire.signed(foreign[0]), 0))
    kind, error = wire.recv_frame(conn)
    assert kind == wire.ERROR and "not mapped" in error["message"]
    # a second connection joins only with the grant id the first one was given
    conn = wire.open_authenticated(endpoint, token)
    _named(conn, named)
    _, grant = wire.request(conn, "grant")
    joined = wire.open_authenticated(endpoint, token)
    _refused(joined, "join", "no grant", grant=secrets.token_hex(32))
    assert wire.request(joined, "join", grant=grant["grant"])[0] == wire.REPLY
    _refused(joined, "map", "not part of an object", ids=foreign)
    _refused(joined, "stream_next", "not opened by this client", id=wire.object_id(other))
    _still_serves(agent[0], token_file, solo, b)


def _begin(conn, size):
    kind, session = wire.request(conn, "begin", blobs=[["o8000000000000010", size]])
    assert kind == wire.REPLY, session
    return session["session"], session["blobs"]["o8000000000000010"]


def test_data_lands_only_in_the_senders_own_session(agent, solo, b):
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    with _rolled_back(solo):
        owner = wire.open_authenticated(endpoint, token)
        _, theirs = _begin(owner, 4096)
        stranger = wire.open_authenticated(endpoint, token)  # no session at all
        stranger.sendall(wire.data_frame(theirs, 0, b"x" * 16))
        assert wire.closed(stranger)
        other = wire.open_authenticated(endpoint, token)  # a session of its own
        _begin(other, 4096)
        other.sendall(wire.data_frame(theirs, 0, b"x" * 16))
        assert wire.closed(other)
        owner.sendall(wire.data_frame(theirs, 4096 - 8, b"y" * 16))  # past its own blob's end
        assert wire.closed(owner)
        for offset in ((1 << 63) - 8, (1 << 63) - 1):  # offset + length wraps around
            conn = wire.open_authenticated(endpoint, token)
            _, own = _begin(conn, 4096)
            conn.sendall(wire.data_frame(own, offset, b"z" * 16))
            kind, error = wire.recv_frame(conn)
            assert kind == wire.ERROR and "is not part of push session" in error["message"], error
            assert wire.closed(conn)
    _still_serves(agent[0], token_file, solo, b)


def test_a_second_begin_on_one_connection_is_refused(agent, solo, b):
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    with _rolled_back(solo):
        conn = wire.open_authenticated(endpoint, token)
        session, _ = _begin(conn, 8 << 20)
        _refused(conn, "begin", "already carries push session " + session, blobs=[["o8000000000000011", 8 << 20]])
        _refused(conn, "attach", "already carries", session=session)
        assert wire.request(conn, "abort", session=session)[0] == wire.REPLY
        _refused(conn, "begin", "negative size", blobs=[["o8000000000000012", -1]])
        _refused(conn, "begin", "add up to more than", blobs=[["o8000000000000012", (1 << 63) - 1],
                                                               ["o8000000000000013", 2]])
    _still_serves(agent[0], token_file, solo, b)


def test_a_commit_may_not_reach_foreign_blobs_or_objects(agent, solo, b):
    """A pushed tree that names another client's blob or (unpersisted) object is refused."""
    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    victim = solo.put(np.arange(512, dtype=np.int64))
    conn = wire.open_authenticated(endpoint, token)
    _, meta = wire.request(conn, "meta", id=wire.object_id(victim), sync_remote=False)
    victim_tree = meta["tree"]
    victim_blob = wire.blobs_of(victim_tree)[0]
    with _rolled_back(solo):
        session, own = _begin(conn, 4096)
        conn.sendall(wire.data_frame(own, 0, bytes(4096)))
        tree = {"typename": "vineyard::Tensor<int64>", "id": "o0000000000000001", "instance_id": 1,
                "buffer_": {"typename": "vineyard::Blob", "id": victim_blob, "length": 4096,
                            "instance_id": solo.instance_id}}
        for blobs, same, match in [({victim_blob: victim_blob}, True, "reuses blob"),
                                   ({victim_blob: own}, True, "not a blob of push session"),
                                   ({"o8000000000000010": victim_blob}, False, "not a blob of push session")]:
            _refused(conn, "commit", match, session=session, tree=tree, blobs=blobs, persist=False,
                     same_cluster=same)
        kept = {**tree, "buffer_": {**victim_tree, "instance_id": solo.instance_id}}
        _refused(conn, "commit", "not a persisted object", session=session, tree=kept,
                 blobs={"o8000000000000010": own}, persist=False, same_cluster=True)
        lying = {**tree, "buffer_": {**tree["buffer_"], "id": "o8000000000000010", "length": 1 << 40}}
        _refused(conn, "commit", "its copy", session=session, tree=lying, blobs={"o8000000000000010": own},
                 persist=False, same_cluster=False)
        assert wire.request(conn, "abort", session=session)[0] == wire.REPLY
    _still_serves(agent[0], token_file, solo, b)


def test_errors_after_authentication_do_not_blame_it(agent, solo, b, unchanged):
    _, token_file, _ = agent
    with unchanged(b), pytest.raises(vineyard.ObjectNotExistsException) as raised:
        vineyard_migrate.migrate("o00000000000000aa", b, source=agent[0].endpoint, token_file=token_file)
    assert "authenticat" not in str(raised.value)


def test_stream_chunks_are_readable_only_by_the_client_the_stream_gave_them_to(agent, stack, solo, b):
    import os
    import subprocess
    import sys

    endpoint, token_file, token = agent[0].endpoint, agent[1], agent[2]
    producer = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "stream_producer.py"),
                                 stack.solo.socket, "bytes", "2", "0.1", "finish"], stdout=subprocess.PIPE, text=True)
    stream = producer.stdout.readline().strip()
    reader = wire.open_authenticated(endpoint, token)
    _, grant = wire.request(reader, "grant")
    assert wire.request(reader, "stream_open", id=stream)[0] == wire.REPLY
    kind, next_chunk = wire.request(reader, "stream_next", id=stream)
    assert kind == wire.REPLY, next_chunk
    chunk = next_chunk["chunk"]
    outsider = wire.open_authenticated(endpoint, token)  # another client: no stream gave it this chunk
    _refused(outsider, "map", "is a blob", object=chunk, ids=[chunk])
    _refused(outsider, "stream_next", "not opened by this client", id=stream)
    joined = wire.open_authenticated(endpoint, token)  # the reader's own second connection
    assert wire.request(joined, "join", grant=grant["grant"])[0] == wire.REPLY
    kind, mapped = wire.request(joined, "map", object=chunk, ids=[chunk])
    assert kind == wire.REPLY and mapped["sizes"] == {chunk: 1 << 20}, mapped
    assert wire.request(joined, "unmap", ids=[chunk])[0] == wire.REPLY
    _refused(joined, "map", "is a blob", object=chunk, ids=[chunk])  # released: no longer readable
    for conn in (reader, outsider, joined):
        conn.close()
    producer.wait(30)  # its finish may fail: the reader is gone
    _still_serves(agent[0], token_file, solo, b)
