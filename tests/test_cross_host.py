"""Migration between two hosts: network namespaces joined by a veth pair, each with a vineyardd and
an agent, in one etcd cluster (etcd on h1). Where namespaces cannot be made, the same tests run over
loopback addresses with distinct ports, and the session's output says so.

Data is put and checked from this process through the instances' IPC sockets (a socket file is
visible from every namespace); the migrations themselves run on h1 or h2.
"""

import dataclasses
import os
import secrets
import signal
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import vineyard

from hosts import TwoHosts
from vineyard_servers import Servers, snapshot, start_agent


@dataclasses.dataclass
class World:
    mode: str
    h1: object
    h2: object
    servers: object
    v1: object  # vineyardd on h1, with an agent
    v1_bare: object  # vineyardd on h1 without an agent, --compression=false
    v2: object  # vineyardd on h2, with an agent
    agent1: object
    agent2: object
    token: str
    wrong_token: str


def _token_file(directory, name):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="module")
def world(request):
    hosts = TwoHosts()
    with hosts as (h1, h2), Servers() as servers:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "cross-host tests: two network namespaces %s (h1) and %s (h2) joined by a veth pair"
            % (h1.address, h2.address)
            if hosts.mode == "netns"
            else "cross-host tests: NETWORK NAMESPACES UNAVAILABLE (%s); running over loopback "
            "(127.0.0.1 and 127.0.0.2) with distinct ports instead" % hosts.why
        )
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("\n" + message)
        token = _token_file(servers.workdir, "token")
        wrong = _token_file(servers.workdir, "wrong-token")
        servers.start_etcd(host=h1.address, prefix=h1.prefix)
        v1 = servers.start_vineyardd("x-h1", "2Gi", cluster="xhost", prefix=h1.prefix, env=h1.env)
        v1_bare = servers.start_vineyardd(
            "x-h1-bare", "1Gi", cluster="xhost", prefix=h1.prefix, env=h1.env, extra=["--compression=false"]
        )
        v2 = servers.start_vineyardd("x-h2", "2Gi", cluster="xhost", prefix=h2.prefix, env=h2.env)
        agent1 = start_agent(servers, "agent-h1", v1.socket, host=h1.address, token_file=token,
                             prefix=h1.prefix, env=h1.env)
        agent2 = start_agent(servers, "agent-h2", v2.socket, host=h2.address, token_file=token,
                             prefix=h2.prefix, env=h2.env)
        yield World(hosts.mode, h1, h2, servers, v1, v1_bare, v2, agent1, agent2, token, wrong)


def _oid(oid):
    return "o%016x" % int(oid)


def _payload(kind):
    rng = np.random.default_rng(42)
    if kind == "ndarray":
        return rng.random(12 << 20)  # 96 MiB: two parallel connections
    if kind == "dataframe":
        n = 50_000
        return pd.DataFrame({"i": np.arange(n), "f": rng.random(n), "s": ["r%d" % i for i in range(n)]})
    return pa.table({"x": pa.array(range(10_000)), "y": pa.array([str(i) for i in range(10_000)])})


def _assert_same(kind, got, want, source_copy):
    if kind == "ndarray":
        np.testing.assert_array_equal(got, want)
    elif kind == "dataframe":
        pd.testing.assert_frame_equal(got, want)
    else:
        assert got.equals(source_copy)


def _put(client, value):
    oid = client.put(value)
    client.persist(oid)
    return oid


@pytest.mark.parametrize("kind", ["ndarray", "dataframe", "table"])
def test_pull_through_the_source_agent(world, kind):
    value = _payload(kind)
    source, target = world.v1.client(), world.v2.client()
    oid = _put(source, value)
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, token_file=world.token)
    assert result.get("transport") == "tcp", result  # auto: another host, an agent is published
    new_id = vineyard.ObjectID(result["object_id"])
    assert new_id != oid
    assert target.get_meta(new_id).instance_id == target.instance_id
    _assert_same(kind, target.get(new_id), value, source.get(oid))


@pytest.mark.parametrize("kind", ["ndarray", "dataframe", "table"])
def test_push_to_the_target_agent(world, kind):
    value = _payload(kind)
    source, target = world.v1.client(), world.v2.client()
    oid = _put(source, value)
    result = world.h1.migrate(obj=_oid(oid), target=world.agent2.endpoint, source=world.v1.socket,
                              token_file=world.token, name="pushed-" + kind)
    assert result.get("transport") == "tcp-push", result
    new_id = vineyard.ObjectID(result["object_id"])
    assert target.get_name("pushed-" + kind) == new_id
    assert target.get_meta(new_id).instance_id == target.instance_id
    _assert_same(kind, target.get(new_id), value, source.get(oid))


def test_rpc_fallback(world):
    value = _payload("ndarray")
    target = world.v2.client()
    oid = _put(world.v1.client(), value)
    forced = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, transport="rpc")
    assert forced.get("transport") == "rpc+zstd", forced  # vineyardd compresses by default
    np.testing.assert_array_equal(target.get(vineyard.ObjectID(forced["object_id"])), value)
    # an instance without an agent, and without compression: auto falls back to plain RPC
    bare = _put(world.v1_bare.client(), value)
    fallback = world.h2.migrate(obj=_oid(bare), target=world.v2.socket, token_file=world.token)
    assert fallback.get("transport") == "rpc", fallback
    np.testing.assert_array_equal(target.get(vineyard.ObjectID(fallback["object_id"])), value)


def test_wrong_token_is_refused(world):
    target = world.v2.client()
    oid = _put(world.v1.client(), np.arange(1000))
    before = snapshot(target)
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, transport="tcp", token_file=world.wrong_token)
    assert result.get("error") == "ConnectionErrorException", result
    assert "authentication failed" in result["message"]
    assert snapshot(target) == before


def test_agent_killed_midway_leaves_nothing_and_retry_succeeds(world):
    value = np.random.default_rng(9).random(32 << 20)  # 256 MiB
    target = world.v2.client()
    oid = _put(world.v1.client(), value)
    stalling = start_agent(
        world.servers, "agent-h1-stalling", world.v1.socket, host=world.h1.address, token_file=world.token,
        prefix=world.h1.prefix, env=world.h1.env, extra=["--no-publish"],
        jvm_options="-Dio.v6d.migrate.test.stallAfterBytes=%d" % (64 << 20),
    )
    before = snapshot(target)
    running = world.h2.start_migrate(obj=_oid(oid), target=world.v2.socket, source=stalling.endpoint,
                                     token_file=world.token)
    deadline = time.time() + 60
    while target.status.memory_usage < before["memory_usage"] + value.nbytes and time.time() < deadline:
        time.sleep(0.1)  # the target blobs are allocated: the transfer is under way
    time.sleep(1.0)
    stalling.stop(signal.SIGKILL)
    result = world.h2.outcome(running)
    assert result.get("error") == "ConnectionErrorException", result
    assert "closed the connection" in result["message"]
    assert snapshot(target) == before

    restarted = start_agent(world.servers, "agent-h1-restarted", world.v1.socket, host=world.h1.address,
                            token_file=world.token, prefix=world.h1.prefix, env=world.h1.env, extra=["--no-publish"])
    retry = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, source=restarted.endpoint, token_file=world.token)
    assert retry.get("transport") == "tcp", retry
    np.testing.assert_array_equal(target.get(vineyard.ObjectID(retry["object_id"])), value)


def test_corrupted_chunk_is_caught_by_the_crc(world):
    value = _payload("ndarray")
    target = world.v2.client()
    oid = _put(world.v1.client(), value)
    before = snapshot(target)
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, transport="tcp", token_file=world.token,
                              env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Dio.v6d.migrate.test.corruptChunk=3"})
    assert result.get("error") == "IOErrorException", result
    assert "CRC32C mismatch" in result["message"]
    assert snapshot(target) == before


def test_agent_stops_cleanly_on_sigterm_and_unpublishes(world):
    client = world.v1_bare.client()
    name = "vineyard-migrate-agent-i%d" % client.instance_id
    agent = start_agent(world.servers, "agent-h1-bare", world.v1_bare.socket, host=world.h1.address,
                        token_file=world.token, prefix=world.h1.prefix, env=world.h1.env)
    assert client.get_name(name)  # published while it runs
    assert agent.stop(signal.SIGTERM) == 0
    with open(agent.log) as f:
        assert "stopped" in f.read()
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_name(name)


def test_pusher_killed_midway_leaves_nothing_on_the_target(world):
    value = np.random.default_rng(10).random(32 << 20)  # 256 MiB
    target = world.v2.client()
    oid = _put(world.v1.client(), value)
    before = snapshot(target)
    pusher = world.h1.start_migrate(
        obj=_oid(oid), target=world.agent2.endpoint, source=world.v1.socket, token_file=world.token,
        env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Dio.v6d.migrate.test.stallAfterBytes=%d" % (64 << 20)})
    deadline = time.time() + 60
    while target.status.memory_usage < before["memory_usage"] + value.nbytes and time.time() < deadline:
        time.sleep(0.1)  # the agent allocated the target blobs: the push is under way
    assert target.status.memory_usage >= before["memory_usage"] + value.nbytes
    time.sleep(1.0)
    pusher.kill()
    pusher.wait()
    deadline = time.time() + 30
    while snapshot(target) != before and time.time() < deadline:
        time.sleep(0.2)  # the agent rolls back when the pusher's connection drops
    assert snapshot(target) == before


def test_stream_forwarded_across_hosts_through_the_agent(world):
    import json
    import subprocess
    import sys

    producer_script = os.path.join(os.path.dirname(__file__), "stream_producer.py")
    producer = subprocess.Popen([sys.executable, producer_script, world.v1.socket, "bytes", "5", "1.0", "finish"],
                                stdout=subprocess.PIPE, text=True)
    stream_id = producer.stdout.readline().strip()
    forwarding = world.h2.start_migrate(obj=stream_id, target=world.v2.socket, token_file=world.token, stream=True)
    started = json.loads(forwarding.stdout.readline())
    target = world.v2.client()
    reader = target.get(vineyard.ObjectID(started["stream_id"])).open_reader(target)
    chunks, first_while_producing = [], None
    while True:
        try:
            chunk = bytes(reader.next())
        except StopIteration:
            break
        if first_while_producing is None:
            first_while_producing = producer.poll() is None
        chunks.append(chunk)
    assert first_while_producing
    assert chunks == [bytes([i]) * (1 << 20) for i in range(5)]
    outcome = world.h2.outcome(forwarding)
    assert outcome == {**outcome, "state": "finished", "chunks": 5, "bytes": 5 << 20}, outcome
    assert producer.wait(30) == 0
