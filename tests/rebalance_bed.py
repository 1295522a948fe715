"""The test bed the rebalance tests share (test_rebalance*.py): four hosts -- network namespaces joined by
a bridge, each with a vineyardd (512 MiB) and an agent, sharing one etcd -- as the module-scoped fixture
``four``, and the helpers that build global objects on it, read its agents' /metrics and check a
rebalance's outcome. The rebalance runs in the test's process; the bridge has an address here, so the
engine reaches every host's agent (where namespaces cannot be made, the hosts are loopback addresses
and the session's output says so).
"""

import contextlib
import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
import vineyard
import vineyard_migrate

from certs import make_certs
from hosts import ManyHosts
from vineyard_servers import Servers, snapshot, start_agent, wait_until_listed, write_token


@dataclasses.dataclass
class Cluster:
    hosts: list
    instances: list  # vineyardd per host
    agents: list
    token: str
    servers: object
    metrics: list  # each agent's /metrics URL (served on its host's address)

    def clients(self):
        return [vineyard.connect(v.socket) for v in self.instances]

    @property
    def sockets(self):
        return [v.socket for v in self.instances]


@pytest.fixture(scope="module")
def four(request):
    hosts = ManyHosts(4)
    with hosts as members, Servers() as servers:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        message = ("rebalance tests: four network namespaces joined by bridge %s" % hosts.bridge
                   if hosts.mode == "netns" else
                   "rebalance tests: NETWORK NAMESPACES UNAVAILABLE (%s); four loopback addresses instead" % hosts.why)
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("\n" + message)
        token = str(write_token(servers.workdir))
        servers.start_etcd(host=members[0].address, prefix=members[0].prefix)
        instances = []
        for host in members:
            v = servers.start_vineyardd("rb-" + host.name, "512Mi", cluster="rebal", prefix=host.prefix, env=host.env)
            instances.append(v)
        cluster = Cluster(members, instances, [None] * len(members), token, servers, [None] * len(members))
        for i in range(len(members)):
            _start_agent(cluster, i, "agent-rb-" + members[i].name)
        yield cluster


def _start_agent(cluster, i, name, extra=(), jvm_options=""):
    """(Re)starts host i's agent, with its /metrics on the host's address (reachable from here)."""
    host, v = cluster.hosts[i], cluster.instances[i]
    agent = start_agent(cluster.servers, name, v.socket, host=host.address, token_file=cluster.token,
                        prefix=host.prefix, env=host.env, jvm_options=("-Xmx256m " + jvm_options).strip(),
                        extra=["--metrics-host", host.address, "--metrics-port", "0", *extra])
    line = agent.process.stdout.readline()
    assert line.startswith("metrics on port "), line
    cluster.agents[i] = agent
    cluster.metrics[i] = "http://%s:%d/metrics" % (host.address, int(line.split()[-1]))
    return agent


@contextlib.contextmanager
def _agents_speaking_tls(four, which, usage="serverAuth,clientAuth"):
    """The agents of hosts ``which`` restarted with mutual TLS (certificates made now with openssl,
    one for every host's address, by default valid as a server's and a client's); plaintext agents
    again after."""
    directory = os.path.join(four.servers.workdir, "certs-" + usage.replace(",", "-"))
    os.makedirs(directory, exist_ok=True)
    certs = make_certs(directory, [h.address for h in four.hosts], agent_usage=usage)
    tls = ["--tls-cert", certs.agent_cert, "--tls-key", certs.agent_key, "--tls-ca", certs.ca]
    try:
        for i in which:
            four.agents[i].stop()
            _start_agent(four, i, "agent-rb-%s-tls" % four.hosts[i].name, extra=tls)
        yield certs
    finally:
        for i in which:
            four.agents[i].stop()
            _start_agent(four, i, "agent-rb-%s-plain-again" % four.hosts[i].name)


def _wire_bytes(url):
    """An agent's vineyard_migrate_agent_pulled_wire_bytes_total samples: {(transport, compression, tls): n}."""
    import re
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    pattern = r'^vineyard_migrate_agent_pulled_wire_bytes_total\{(.*)\} (\S+)$'
    samples = {}
    for labels, value in re.findall(pattern, text, re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        samples[(got["transport"], got["compression"], got["tls"])] = float(value)
    return samples


def _agent_metric(url, name):
    """The value of one unlabelled sample of an agent's /metrics (0 when absent)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def _pulled(four):
    return [_agent_metric(url, "vineyard_migrate_agent_pulled_bytes_total") for url in four.metrics]


def _open_pull_sessions(four):
    return [_agent_metric(url, "vineyard_migrate_agent_pull_sessions") for url in four.metrics]


def _global_frame(clients, layout):
    """A global DataFrame; chunk k (on ``clients[layout[k][0]]``, ``layout[k][1]`` rows) has x = k."""
    from vineyard.data.dataframe import make_global_dataframe

    chunks, frames = [], []
    for k, (host, rows) in enumerate(layout):
        frame = pd.DataFrame({"x": np.full(rows, k, dtype=np.int64), "y": np.arange(rows, dtype=np.float64) * k})
        oid = clients[host].put(frame)
        clients[host].persist(oid)
        chunks.append(oid)
        frames.append(frame)
    meta = make_global_dataframe(clients[0], chunks)
    for client in clients:  # every instance lists them before a test takes its "nothing changed" snapshot
        for oid in chunks + [meta.id]:
            wait_until_listed(client, oid)
    return meta.id, frames


def min_bytes_moved(chunks, instances, by="bytes"):
    """The fewest bytes any balanced placement moves, by brute force: every subset of chunks that
    stays home, and every packing of the others (k*load <= W + (k-1)*max weight on every instance)."""
    weight = [c["bytes"] if by == "bytes" else 1 for c in chunks]
    k = len(instances)
    cap = (sum(weight) + (k - 1) * max(weight)) // k
    homed = [i for i, c in enumerate(chunks) if c["from"] in instances]
    best = None
    for mask in range(1 << len(homed)):
        stay = {homed[j] for j in range(len(homed)) if mask >> j & 1}
        load = {i: 0 for i in instances}
        for c in stay:
            load[chunks[c]["from"]] += weight[c]
        if any(v > cap for v in load.values()):
            continue
        moved = sorted((c for c in range(len(chunks)) if c not in stay), key=lambda c: -weight[c])
        cost = sum(chunks[c]["bytes"] for c in moved)
        if best is not None and cost >= best:
            continue
        if _packs(moved, 0, load, chunks, weight, cap):
            best = cost
    return best


def _packs(moved, index, load, chunks, weight, cap):
    if index == len(moved):
        return True
    c = moved[index]
    for instance in load:
        if instance != chunks[c]["from"] and load[instance] + weight[c] <= cap:
            load[instance] += weight[c]
            if _packs(moved, index + 1, load, chunks, weight, cap):
                load[instance] -= weight[c]
                return True
            load[instance] -= weight[c]
    return False


def _check_rebalanced(four, gid, frames, pulled_by="auto", **how):
    clients = four.clients()
    ids = [c.instance_id for c in clients]
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert plan["optimal"] and plan["complete"]
    assert plan["bytes_moved"] == min_bytes_moved(plan["chunks"], ids)
    before = [snapshot(c) for c in clients]
    pulled_before, requests_before = _pulled(four), _engine_requests()
    result = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, details=True, pulled_by=pulled_by,
                                        **how)
    assert result["bytes_moved"] == plan["bytes_moved"] == sum(m["bytes"] for m in plan["moves"])
    incoming = {i: sum(m["bytes"] for m in plan["moves"] if m["to"] == i) for i in ids}
    pulled = [now - was for now, was in zip(_pulled(four), pulled_before)]
    allocated_here = {k: v for k, v in _delta(_engine_requests(), requests_before).items() if "create_buffer" in k}
    if pulled_by == "caller":
        assert result["bytes_moved_by_caller"] == plan["bytes_moved"] and result["pulled_by_agents"] == {}
        assert pulled == [0] * 4 and allocated_here
    else:
        # the bytes did not cross this process: each target's agent pulled exactly its incoming
        # chunks (its own counter), and this process allocated no blob anywhere
        assert result["bytes_moved_by_caller"] == 0 and not allocated_here, allocated_here
        assert result["pulled_by_agents"] == {str(i): b for i, b in incoming.items() if b}
        assert pulled == [incoming[i] for i in ids]
    assert _open_pull_sessions(four) == [0] * 4
    destination = {m["chunk"]: m["to"] for m in plan["moves"]}
    assert result["copies"].keys() == destination.keys()
    by_instance = dict(zip(ids, clients))
    old = clients[0].get_meta(gid, sync_remote=True)
    for k, frame in enumerate(frames):
        was = old.get_member("partitions_-%d" % k).meta
        key = "o%016x" % int(was.id)
        to = destination.get(key, was.instance_id)
        # vineyard resolves a global object's members by signature, preferring the reader's own
        # instance (a copy keeps its chunk's signature: it is a replica): read from the holder
        new = by_instance[to].get_meta(result["object_id"], sync_remote=True)
        assert new.typename == old.typename and new.isglobal
        now = new.get_member("partitions_-%d" % k).meta
        assert now.instance_id == to
        assert "o%016x" % int(now.id) == result["copies"].get(key, key)
        pd.testing.assert_frame_equal(by_instance[to].get(now.id), frame)
    # the original is untouched and still readable
    for k, frame in enumerate(frames):
        was = old.get_member("partitions_-%d" % k).meta
        pd.testing.assert_frame_equal(by_instance[was.instance_id].get(was.id), frame)
    # every target's memory grew at least by what it received, and the loads are balanced
    after = plan["bytes_after"]
    assert max(after.values()) * len(ids) <= sum(after.values()) + (len(ids) - 1) * max(c["bytes"] for c in plan["chunks"])
    for client, snap in zip(clients, before):
        incoming = sum(m["bytes"] for m in plan["moves"] if m["to"] == client.instance_id)
        assert client.status.memory_usage - snap["memory_usage"] >= incoming
    return plan, result


def _etcd_counts(endpoint):
    """etcd's own counters of puts, deletes, ranges and transactions (its /metrics)."""
    import urllib.request

    counts = {}
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            for name in ("etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_range_total",
                         "etcd_mvcc_txn_total"):
                if line.startswith(name + " "):
                    counts[name[len("etcd_mvcc_"):-len("_total")]] = int(float(line.split()[1]))
    return counts


def _engine_requests():
    import jpype

    import json

    return json.loads(str(jpype.JClass("io.v6d.migrate.ipc.RequestLog").snapshotJson()))


def _delta(after, before):
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _agents_requests(four):
    """Every agent's vineyardd requests by type (its /metrics: the agent process's request log), summed."""
    import urllib.request

    total = {}
    for url in four.metrics:
        with urllib.request.urlopen(url, timeout=10) as reply:
            for line in reply.read().decode().splitlines():
                if line.startswith("vineyard_migrate_agent_vineyardd_requests_total{"):
                    kind = line.split('type="', 1)[1].split('"', 1)[0]
                    total[kind] = total.get(kind, 0) + int(float(line.rsplit(" ", 1)[1]))
    return total


def _blob_ids(meta):
    if meta.typename == "vineyard::Blob":
        yield meta.id
        return
    for _, value in meta.items():
        if isinstance(value, vineyard.ObjectMeta):
            yield from _blob_ids(value)


CALLER = """
import json, sys, vineyard_migrate
args = json.loads(sys.argv[1])
vineyard_migrate.rebalance(args["gid"], args["sockets"], token_file=args["token"], timeout=60,
                           pulled_by=args.get("pulled_by", "agents"), **args.get("extra", {}))
print("done", flush=True)
"""


def _plan_to(plan, chunk):
    return next(m["to"] for m in plan["moves"] if m["chunk"] == chunk)


def _member_ids(meta):
    """The ids of ``meta`` and of every member below it, blobs included."""
    yield int(meta.id)
    for _, value in meta.items():
        if isinstance(value, vineyard.ObjectMeta):
            yield from _member_ids(value)
