"""TLS and compression on the agent link, between two hosts (network namespaces, else loopback addresses): agents
started with --tls-cert/--tls-key (h1) and with --tls-ca too (h2: mutual TLS), real vineyardds in one
etcd cluster. Certificates are made here with openssl, for this run only.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import vineyard

from certs import Certs, make_certs, signed
from hosts import TwoHosts
from vineyard_servers import Servers, private_token_file, snapshot, start_agent


@dataclasses.dataclass
class World:
    h1: object
    h2: object
    servers: object
    v1: object  # its agent speaks TLS
    v2: object  # its agent speaks TLS and requires client certificates
    v3: object  # its agent speaks plaintext
    agent1: object
    agent2: object
    agent3: object
    token: str
    certs: Certs


@pytest.fixture(scope="module")
def world():
    with TwoHosts() as (h1, h2), Servers() as servers:
        token = str(private_token_file(os.path.join(servers.workdir, "token")))
        certs = make_certs(servers.workdir, [h1.address, h2.address])
        servers.start_etcd(host=h1.address, prefix=h1.prefix)
        v1 = servers.start_vineyardd("t-h1", "1Gi", cluster="tls", prefix=h1.prefix, env=h1.env)
        v2 = servers.start_vineyardd("t-h2", "1Gi", cluster="tls", prefix=h2.prefix, env=h2.env)
        v3 = servers.start_vineyardd("t-h2-plain", "256Mi", cluster="tls", prefix=h2.prefix, env=h2.env)
        tls = ["--tls-cert", certs.agent_cert, "--tls-key", certs.agent_key]
        agent1 = start_agent(servers, "tls-agent-h1", v1.socket, host=h1.address, token_file=token,
                             prefix=h1.prefix, env=h1.env, extra=tls)
        agent2 = start_agent(servers, "tls-agent-h2", v2.socket, host=h2.address, token_file=token,
                             prefix=h2.prefix, env=h2.env, extra=[*tls, "--tls-ca", certs.ca])
        agent3 = start_agent(servers, "plain-agent-h2", v3.socket, host=h2.address, token_file=token,
                             prefix=h2.prefix, env=h2.env)
        yield World(h1, h2, servers, v1, v2, v3, agent1, agent2, agent3, token, certs)


def _oid(oid):
    return "o%016x" % int(oid)


def _put(client, value):
    oid = client.put(value)
    client.persist(oid)
    return oid


def _frame():
    rng = np.random.default_rng(5)
    n = 200_000
    return pd.DataFrame({"k": np.arange(n), "f": rng.random(n),
                         "s": ["r%d" % (i % 97) for i in range(n)]})


@pytest.mark.parametrize("kind", ["ndarray", "dataframe"])
def test_pull_over_tls(world, kind):
    value = np.random.default_rng(1).random(12 << 20) if kind == "ndarray" else _frame()
    oid = _put(world.v1.client(), value)
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, token_file=world.token, tls_ca=world.certs.ca)
    assert result.get("transport") == "tcp", result  # found through the registry, pulled over TLS
    assert result["tls"] is True and result["compression"] == "none", result
    got = world.v2.client().get(vineyard.ObjectID(result["object_id"]))
    if kind == "ndarray":
        np.testing.assert_array_equal(got, value)
    else:
        pd.testing.assert_frame_equal(got, value)


def test_push_with_a_client_certificate_to_a_mutual_tls_agent(world):
    value = np.random.default_rng(2).random(1 << 20)
    oid = _put(world.v1.client(), value)
    result = world.h1.migrate(obj=_oid(oid), target=world.agent2.endpoint, source=world.v1.socket,
                              token_file=world.token, tls_ca=world.certs.ca, tls_cert=world.certs.client_cert,
                              tls_key=world.certs.client_key)
    assert result.get("transport") == "tcp-push" and result["tls"] is True, result
    np.testing.assert_array_equal(world.v2.client().get(vineyard.ObjectID(result["object_id"])), value)


@pytest.mark.parametrize("who", ["stranger", "none"])
def test_mutual_tls_refuses_a_wrong_or_missing_client_certificate(world, who):
    oid = _put(world.v1.client(), np.arange(1000))
    target = world.v2.client()
    before = snapshot(target)
    mine = ({"tls_cert": world.certs.stranger_cert, "tls_key": world.certs.stranger_key} if who == "stranger"
            else {})
    result = world.h1.migrate(obj=_oid(oid), target=world.agent2.endpoint, source=world.v1.socket,
                              token_file=world.token, tls_ca=world.certs.ca, timeout=60, **mine)
    assert result.get("error") == "ConnectionErrorException", result
    assert "TLS" in result["message"] and "timeout" not in result["message"], result
    assert snapshot(target) == before


def test_a_plaintext_client_of_a_tls_agent_is_told_so(world):
    oid = _put(world.v1.client(), np.arange(1000))
    target = world.v2.client()
    before = snapshot(target)
    # a long timeout: the failure must come from the agent's answer, not from waiting it out
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, source=world.agent1.endpoint,
                              token_file=world.token, timeout=120)
    assert result.get("error") == "ConnectionErrorException", result
    assert "requires TLS" in result["message"], result
    assert snapshot(target) == before


def test_a_tls_client_of_a_plaintext_agent_is_told_so(world):
    oid = _put(world.v3.client(), np.arange(1000))
    target = world.v1.client()
    before = snapshot(target)
    result = world.h1.migrate(obj=_oid(oid), target=world.v1.socket, source=world.agent3.endpoint,
                              token_file=world.token, tls_ca=world.certs.ca, timeout=120)
    assert result.get("error") == "ConnectionErrorException", result
    assert "does not speak TLS" in result["message"], result
    assert snapshot(target) == before


def test_a_tls_caller_is_never_downgraded_to_plaintext_rpc(world):
    """Asked for TLS, ``auto`` never falls back to vineyardd's plaintext RPC port: not when the
    holder's published agent speaks plaintext, and not when the TLS link fails (an untrusted
    certificate). Either is an error naming why, and the target is as it was."""
    plain = _put(world.v3.client(), np.arange(1000))  # its agent speaks plaintext
    tls = _put(world.v1.client(), np.arange(1000))  # its agent speaks TLS
    target, other = world.v2.client(), world.v1.client()
    before, other_before = snapshot(target), snapshot(other)
    result = world.h1.migrate(obj=_oid(plain), target=world.v1.socket, token_file=world.token,
                              tls_ca=world.certs.ca, timeout=60)
    assert result.get("error") == "ConnectionFailedException", result
    assert "speaks plaintext" in result["message"], result
    assert snapshot(other) == other_before
    result = world.h2.migrate(obj=_oid(tls), target=world.v2.socket, token_file=world.token,
                              tls_ca=world.certs.stranger_cert, timeout=60)  # trusts no CA of ours
    assert "error" in result and result.get("transport") is None, result
    assert "TLS" in result["message"] or "certificate" in result["message"], result
    assert snapshot(target) == before


def test_doctor_says_the_agent_speaks_tls(world):
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    done = subprocess.run([*world.h2.prefix, script, "doctor", "--agent", world.agent1.endpoint, "--token-file",
                           world.token, "--tls-ca", world.certs.ca], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **world.h2.env})
    line = [line for line in done.stdout.splitlines() if "agent tcp://" in line]
    assert line and "TLS 1.3" in line[0] and "OK" in line[0], done.stdout + done.stderr


def _compressible():
    """Sorted int64 keys, a low-cardinality string column, small ints: shrinks well."""
    n = 400_000
    return pd.DataFrame({"key": np.arange(n, dtype=np.int64), "city": ["city-%d" % (i % 12) for i in range(n)],
                         "qty": (np.arange(n) % 7).astype(np.int64)})


@pytest.mark.parametrize("compression", ["auto", "lz4", "zstd", "none"])
def test_pull_with_each_compression(world, compression):
    frame, noise = _compressible(), np.random.default_rng(3).random(2 << 20)  # noise: auto sends it raw
    source, target = world.v3.client(), world.v1.client()
    for value in (frame, noise):
        oid = _put(source, value)
        result = world.h1.migrate(obj=_oid(oid), target=world.v1.socket, source=world.agent3.endpoint,
                                  token_file=world.token, compression=compression)
        assert result.get("transport") == "tcp" and result["compression"] == compression, result
        assert result["tls"] is False, result
        # what crossed the wire: the compressible frame shrinks with any codec, noise never grows
        # by more than the frame headers (auto sends it raw after sampling)
        if isinstance(value, pd.DataFrame) and compression != "none":
            assert result["bytes_on_wire"] < result["bytes_copied"] / 2, result
        else:
            assert result["bytes_on_wire"] < result["bytes_copied"] * 1.01 + 65536, result
            assert compression != "none" or result["bytes_on_wire"] >= result["bytes_copied"], result
        got = target.get(vineyard.ObjectID(result["object_id"]))
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        else:
            np.testing.assert_array_equal(got, value)


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_push_compressed_over_mutual_tls(world, compression):
    value = _compressible()
    oid = _put(world.v1.client(), value)
    result = world.h1.migrate(obj=_oid(oid), target=world.agent2.endpoint, source=world.v1.socket,
                              token_file=world.token, compression=compression, tls_ca=world.certs.ca,
                              tls_cert=world.certs.client_cert, tls_key=world.certs.client_key)
    assert result.get("transport") == "tcp-push", result
    assert result["compression"] == compression and result["tls"] is True, result
    assert result["bytes_on_wire"] < result["bytes_copied"] / 2, result
    pd.testing.assert_frame_equal(world.v2.client().get(vineyard.ObjectID(result["object_id"])), value)


@pytest.mark.parametrize("compression", ["lz4", "zstd", "auto"])  # auto: the first chunk is zstd over shuffled bytes
def test_a_corrupted_compressed_chunk_is_caught(world, compression):
    oid = _put(world.v3.client(), _compressible())
    target = world.v1.client()
    before = snapshot(target)
    result = world.h1.migrate(obj=_oid(oid), target=world.v1.socket, source=world.agent3.endpoint,
                              token_file=world.token, compression=compression,
                              env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Dio.v6d.migrate.test.corruptCompressed=1"})
    assert result.get("error") == "IOErrorException", result  # the hook only fires on a compressed chunk
    codec = "ZSTD" if compression == "auto" else compression.upper()
    assert "corrupt " + codec in result["message"] or "CRC32C" in result["message"], result
    assert snapshot(target) == before


def test_a_decompression_bomb_is_refused_and_the_agent_serves_on(world):
    """A pusher whose compressed chunk expands beyond the size it declared: the agent refuses it and
    closes the connection, leaves nothing behind, and serves the next peer."""
    value = _compressible()
    oid = _put(world.v1.client(), value)
    target = world.v3.client()
    before = snapshot(target)
    result = world.h1.migrate(obj=_oid(oid), target=world.agent3.endpoint, source=world.v1.socket,
                              token_file=world.token, compression="zstd", timeout=60,
                              env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Dio.v6d.migrate.test.bombCompressed=1"})
    assert result.get("error") in ("IOErrorException", "ConnectionErrorException"), result
    assert "timeout" not in result["message"], result
    assert snapshot(target) == before
    assert world.agent3.process.poll() is None
    again = world.h1.migrate(obj=_oid(oid), target=world.agent3.endpoint, source=world.v1.socket,
                             token_file=world.token, compression="zstd")
    assert again.get("transport") == "tcp-push", again
    pd.testing.assert_frame_equal(target.get(vineyard.ObjectID(again["object_id"])), value)


def test_an_agent_whose_certificate_names_another_host_is_refused(world, tmp_path):
    """The certificate is signed by the CA the client trusts, but names another host than the one
    dialled: the client refuses the agent (as HTTPS would), naming the host, and nothing is made."""
    elsewhere = signed(str(tmp_path), "elsewhere", (world.certs.ca, os.path.join(world.servers.workdir, "test-ca.key")),
                        "subjectAltName=DNS:elsewhere.invalid,IP:192.0.2.7\nextendedKeyUsage=serverAuth")
    agent = start_agent(world.servers, "tls-agent-elsewhere", world.v1.socket, host=world.h1.address,
                        token_file=world.token, prefix=world.h1.prefix, env=world.h1.env,
                        extra=["--no-publish", "--tls-cert", elsewhere[0], "--tls-key", elsewhere[1]])
    oid = _put(world.v1.client(), np.arange(1000))
    target = world.v2.client()
    before = snapshot(target)
    result = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, source=agent.endpoint, token_file=world.token,
                              tls_ca=world.certs.ca, timeout=120)
    assert result.get("error") == "ConnectionErrorException", result
    assert "TLS" in result["message"] and world.h1.address in result["message"], result
    assert "timeout" not in result["message"], result
    assert snapshot(target) == before
    # the same agent, dialled by a name its certificate does hold, is not what is refused here: the
    # CA, the token and the agent are fine (a migration over the h1 agent, whose name matches, works)
    ok = world.h2.migrate(obj=_oid(oid), target=world.v2.socket, source=world.agent1.endpoint,
                          token_file=world.token, tls_ca=world.certs.ca)
    assert ok.get("transport") == "tcp" and ok["tls"] is True, ok


@pytest.mark.parametrize("source, compression, tls", [("agent1", "zstd", True), ("agent3", "auto", False),
                                                      ("agent3", "lz4", False)])
def test_plan_says_which_compression_and_tls_the_agent_link_will_use(world, source, compression, tls):
    agent, holder = getattr(world, source), (world.v1 if source == "agent1" else world.v3)
    host, target = (world.h2, world.v2) if source == "agent1" else (world.h1, world.v1)
    oid = _put(holder.client(), np.arange(1 << 16))
    before = snapshot(target.client())
    secure = {"tls_ca": world.certs.ca} if tls else {}
    plan = host.migrate(obj=_oid(oid), target=target.socket, source=agent.endpoint, token_file=world.token,
                        compression=compression, plan=True, **secure)
    assert plan.get("transports") == ["tcp"], plan
    assert plan["compression"] == compression and plan["tls"] is tls, plan
    # the same from the command line
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    command = [*host.prefix, script, "plan", "--json", _oid(oid), "--to", target.socket, "--from", agent.endpoint,
               "--token-file", world.token, "--compression", compression]
    if tls:
        command += ["--tls-ca", world.certs.ca]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **host.env})
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["compression"] == compression and printed["tls"] is tls, printed
    assert printed["transports"] == ["tcp"] and printed["bytes_to_move"] == plan["bytes_to_move"], printed
    assert snapshot(target.client()) == before  # a plan makes nothing


def test_plan_without_an_agent_link_says_none(world):
    oid = _put(world.v1.client(), np.arange(1 << 10))
    plan = world.h1.migrate(obj=_oid(oid), target=world.v1.socket, compression="zstd", plan=True)
    assert plan.get("already_on_target") is True, plan
    assert plan["compression"] == "none" and plan["tls"] is False, plan
