"""Rebalancing a global object over four hosts: network namespaces joined by a bridge, each with a
vineyardd (512 MiB) and an agent, sharing one etcd. The rebalance runs in this process; the bridge
has an address here, so the engine reaches every host's agent (where namespaces cannot be made, the
hosts are loopback addresses and the session's output says so).
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


@pytest.mark.parametrize("pulled_by", ["agents", "caller"])
def test_twelve_chunks_on_one_host_spread_over_four(four, pulled_by):
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 4000)] * 12)
    plan, _ = _check_rebalanced(four, gid, frames, pulled_by)
    assert len(plan["moves"]) == 9
    assert sorted(plan["bytes_after"].values()) == [3 * plan["chunks"][0]["bytes"]] * 4


def test_skewed_chunks_of_unequal_sizes(four):
    clients = four.clients()
    rows = [3000, 1000, 5000, 2000, 8000, 1000, 4000, 2500, 6000, 500, 7000, 1500]
    hosts = [0] * 8 + [1] * 2 + [2] + [3]
    gid, frames = _global_frame(clients, list(zip(hosts, rows)))
    plan, _ = _check_rebalanced(four, gid, frames)
    assert plan["moves"], "a skewed layout needs moves"
    # chunks in place stay: nothing moves onto the instance it leaves, nothing moves twice
    assert len({m["chunk"] for m in plan["moves"]}) == len(plan["moves"])


def test_plan_only_moves_nothing(four):
    clients = four.clients()
    gid, _ = _global_frame(clients, [(0, 1000)] * 4)
    before = [snapshot(c) for c in clients]
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets, by="count")
    assert len(plan["moves"]) == 3 and all(m["from"] == clients[0].instance_id for m in plan["moves"])
    assert [snapshot(c) for c in clients] == before


def test_a_target_too_small_leaves_every_instance_as_it_was(four):
    """h4 is filled so it cannot take its share: its pull fails, while h2 and h3 may have
    finished theirs; afterwards every instance holds exactly what it held before."""
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 256 * 1024)] * 12)  # 4 MiB chunks
    h4 = clients[3]
    free = h4.status.memory_limit - h4.status.memory_usage
    filler = h4.put(np.zeros((free - 6 * 1024 * 1024) // 8, dtype=np.float64))
    try:
        before = [snapshot(c) for c in clients]
        with pytest.raises(vineyard.NotEnoughMemoryException):
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, transfers_per_target=1,
                                       pulled_by="agents")
        assert [snapshot(c) for c in clients] == before
        assert _open_pull_sessions(four) == [0] * 4
        # the original is intact
        old = clients[0].get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            pd.testing.assert_frame_equal(clients[0].get(old.get_member("partitions_-%d" % k).meta.id), frame)
    finally:
        h4.delete(filler)


def test_replace_deletes_moved_chunks_only_after_the_new_object_exists(four):
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 2000)] * 8)
    old = clients[0].get_meta(gid, sync_remote=True)
    old_chunks = [old.get_member("partitions_-%d" % k).meta.id for k in range(8)]
    new_id = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, replace=True, name="rebalanced")
    new = clients[0].get_meta(new_id, sync_remote=True)
    by_instance = {c.instance_id: c for c in clients}
    kept = set()
    for k, frame in enumerate(frames):
        now = new.get_member("partitions_-%d" % k).meta
        pd.testing.assert_frame_equal(by_instance[now.instance_id].get(now.id), frame)
        kept.add(int(now.id))
    for chunk in old_chunks:
        if int(chunk) not in kept:
            assert not clients[0].exists(chunk)
    assert clients[0].get_name("rebalanced") == new_id
    assert not clients[0].exists(gid)


def test_bad_input_is_refused_before_anything_moves(four):
    clients = four.clients()
    oid = clients[0].put(np.arange(4))
    with pytest.raises(vineyard.InvalidException, match="not a global object"):
        vineyard_migrate.rebalance_plan(oid, four.sockets)
    gid, _ = _global_frame(clients, [(0, 10)] * 2)
    with pytest.raises(ValueError, match="by must be"):
        vineyard_migrate.rebalance(gid, four.sockets, by="rows")
    with pytest.raises(vineyard.InvalidException, match="no instance"):
        vineyard_migrate.rebalance_plan(gid, [four.sockets[0], 12345])
    with pytest.raises(ValueError, match="via="):
        vineyard_migrate.rebalance_plan(gid, [1, 2])


def test_migrate_to_local_balanced_keeps_local_chunks_and_balances_bytes(four):
    clients = four.clients()
    rows = [3000, 1000, 5000, 2000, 8000, 1000, 6000, 500, 7000, 1500]
    hosts = [0] * 6 + [1] * 2 + [2] + [3]
    gid, frames = _global_frame(clients, list(zip(hosts, rows)))
    old = clients[0].get_meta(gid, sync_remote=True)
    originals = [old.get_member("partitions_-%d" % k).meta for k in range(len(frames))]
    seen, loads = [], []
    for rank, client in enumerate(clients):
        ids = vineyard_migrate.migrate_to_local(gid, 4, rank, client, policy="balanced", token_file=four.token)
        load = 0
        for local_id in ids:
            meta = client.get_meta(local_id)
            assert meta.instance_id == client.instance_id
            frame = client.get(local_id)
            k = int(frame["x"].iloc[0])
            pd.testing.assert_frame_equal(frame, frames[k])
            if originals[k].instance_id == client.instance_id:
                assert local_id == originals[k].id  # already here: not copied
            seen.append(k)
            load += rows[k]
        loads.append(load)
    assert sorted(seen) == list(range(len(frames)))
    # balanced by bytes (rows are proportional to bytes here): ideal share plus less than one chunk
    assert max(loads) * 4 <= sum(rows) + 3 * max(rows)
    # the chunks that stay home are the ones the original rule would have moved needlessly
    assert sum(1 for k in seen if originals[k].instance_id == clients[hosts[k]].instance_id) == len(frames)
    with pytest.raises(ValueError, match="policy"):
        vineyard_migrate.migrate_to_local(gid, 4, 0, clients[0], policy="fair")


def test_cli_shows_the_plan_and_rebalances(four):
    import json
    import subprocess
    import sys

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 1000)] * 4)
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    to = [arg for s in four.sockets for arg in ("--to", s)]
    before = [snapshot(c) for c in clients]
    shown = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--by", "count", "--plan", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert len(plan["moves"]) == 3 and set(plan["bytes_before"]) == {str(c.instance_id) for c in clients}
    text = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--plan"], capture_output=True, text=True,
                          timeout=120)
    assert text.returncode == 0 and "3 move(s)" in text.stdout and "before -> after" in text.stdout
    assert [snapshot(c) for c in clients] == before  # --plan moves nothing
    done = subprocess.run([script, "rebalance", "o%016x" % int(gid), *to, "--token-file", four.token, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes_moved"] == plan["bytes_moved"]
    bad = subprocess.run([script, "rebalance", "o%016x" % int(gid), "--to", "12345"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--via" in bad.stderr


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


def test_request_counts_per_chunk_and_per_blob(four, capsys):
    """The engine's own request log (this process's, and each agent's through its /metrics) and
    etcd's counters over one migration and rebalances pulled by this process and by the agents;
    docs/scaling.md quotes these numbers. Requests per moved chunk must not grow with the number of
    chunks: the rebalance of 12 costs at most 1.5 times the requests per move of the rebalance of 4."""
    import json

    clients = four.clients()
    etcd = four.servers.etcd_endpoint
    measured = {}
    for pulled_by in ("caller", "agents"):
        for n in (4, 12):
            gid, _ = _global_frame(clients, [(0, 4000)] * n)
            vineyard_migrate.rebalance_plan(gid, four.sockets)  # warm: the JVM and the cluster view
            e0, r0, a0 = _etcd_counts(etcd), _engine_requests(), _agents_requests(four)
            result = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, details=True,
                                                pulled_by=pulled_by)
            measured["rebalance-%d-by-%s" % (n, pulled_by)] = {
                "moves": len(result["plan"]["moves"]), "engine": _delta(_engine_requests(), r0),
                "agents": _delta(_agents_requests(four), a0), "etcd": _delta(_etcd_counts(etcd), e0)}
    oid = clients[0].put(pd.DataFrame({"x": np.arange(4000), "y": np.arange(4000.0)}))
    clients[0].persist(oid)
    blobs = sum(1 for _ in _blob_ids(clients[0].get_meta(oid)))
    e0, r0 = _etcd_counts(etcd), _engine_requests()
    vineyard_migrate.migrate(oid, clients[1], token_file=four.token)
    measured["migrate-1-chunk"] = {"blobs": blobs, "engine": _delta(_engine_requests(), r0),
                                   "etcd": _delta(_etcd_counts(etcd), e0)}
    with capsys.disabled():
        print("\nrequest counts: " + json.dumps(measured, sort_keys=True))
    for pulled_by, side in (("caller", "engine"), ("agents", "agents")):
        small, large = measured["rebalance-4-by-" + pulled_by], measured["rebalance-12-by-" + pulled_by]
        per_small = sum(small[side].values()) / small["moves"]
        per_large = sum(large[side].values()) / large["moves"]
        assert per_large <= per_small * 1.5, measured
    # pulled by the agents, this process allocates nothing and its requests do not grow with the moves
    assert not any("create_buffer" in k for k in measured["rebalance-12-by-agents"]["engine"])


def _blob_ids(meta):
    if meta.typename == "vineyard::Blob":
        yield meta.id
        return
    for _, value in meta.items():
        if isinstance(value, vineyard.ObjectMeta):
            yield from _blob_ids(value)


def test_a_dead_source_agent_leaves_every_instance_as_it_was(four):
    """h2's agent is killed (-9: its published endpoint stays, connections are refused): the move
    out of h2 fails while those out of h1 may succeed; every copy is deleted, the original intact."""
    import signal

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 3000)] * 8 + [(1, 3000)] * 4)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert any(m["from"] == clients[1].instance_id for m in plan["moves"])
    assert any(m["from"] == clients[0].instance_id for m in plan["moves"])
    before = [snapshot(c) for c in clients]
    four.agents[1].stop(signal.SIGKILL)
    try:
        with pytest.raises((vineyard.ConnectionFailedException, vineyard.ConnectionErrorException)):
            # transport="tcp": with "auto" the engine would fall back to vineyardd's RPC port and succeed
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=10, transport="tcp",
                                       pulled_by="agents")
        assert [snapshot(c) for c in clients] == before
        old = clients[0].get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(clients[[c.instance_id for c in clients].index(meta.instance_id)].get(meta.id),
                                          frame)
    finally:
        _start_agent(four, 1, "agent-rb-h2-restarted")


def _wait_for(what, check, seconds=60):
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "waited %d s for %s" % (seconds, what)
        time.sleep(0.1)


def test_a_source_agent_killed_midway_leaves_every_instance_as_it_was(four):
    """h2's agent is stopped (SIGSTOP) so that the target agents' pulls from it hang while their
    pulls from h1 land; then it is killed (-9) midway: every target agent rolls back its session,
    and every instance holds what it held before."""
    import signal
    import threading

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 6 + [(1, 20000)] * 6)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    targets = sorted({[c.instance_id for c in clients].index(m["to"]) for m in plan["moves"]})
    assert 1 not in targets and {m["from"] for m in plan["moves"]} == {clients[0].instance_id, clients[1].instance_id}
    before = [snapshot(c) for c in clients]
    pulled_before = _pulled(four)
    outcome = {}

    def run():
        try:
            # transport="tcp": with "auto" the agents would fall back to vineyardd's RPC port and succeed
            outcome["result"] = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=60,
                                                           transport="tcp", pulled_by="agents")
        except Exception as e:  # noqa: BLE001 -- checked below
            outcome["error"] = e

    four.agents[1].process.send_signal(signal.SIGSTOP)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        # midway: every target holds a session, and has pulled some of h1's chunks already
        _wait_for("the targets' pulls from h1", lambda: all(
            _agent_metric(four.metrics[i], "vineyard_migrate_agent_pull_sessions") == 1
            and _agent_metric(four.metrics[i], "vineyard_migrate_agent_pulled_bytes_total") > pulled_before[i]
            for i in targets))
        four.agents[1].stop(signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), (vineyard.ConnectionFailedException, vineyard.ConnectionErrorException)), outcome
        assert [snapshot(c) for c in clients] == before
        assert [_agent_metric(four.metrics[i], "vineyard_migrate_agent_pull_sessions") for i in targets] == [0] * len(targets)
        old = clients[0].get_meta(gid, sync_remote=True)
        by_instance = {c.instance_id: c for c in clients}
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(by_instance[meta.instance_id].get(meta.id), frame)
    finally:
        if four.agents[1].process.poll() is None:
            four.agents[1].stop(signal.SIGKILL)
        _start_agent(four, 1, "agent-rb-h2-after-midway")


CALLER = """
import json, sys, vineyard_migrate
args = json.loads(sys.argv[1])
vineyard_migrate.rebalance(args["gid"], args["sockets"], token_file=args["token"], timeout=60,
                           pulled_by=args.get("pulled_by", "agents"), **args.get("extra", {}))
print("done", flush=True)
"""


def test_the_caller_killed_midway_the_target_agents_roll_back(four):
    """The rebalancing process is killed (-9) while the three target agents pull (h1's agent, the
    source, is stopped so that they wait); then h1's agent goes on, so the pulls could finish: each
    target agent sees its peer gone and deletes what its session made."""
    import json
    import signal
    import subprocess
    import sys

    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 20000)] * 12)
    before = [snapshot(c) for c in clients]
    four.agents[0].process.send_signal(signal.SIGSTOP)
    try:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, json.dumps(
            {"gid": int(gid), "sockets": four.sockets, "token": four.token})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for("a session on each target agent", lambda: [
                _agent_metric(url, "vineyard_migrate_agent_pull_sessions") for url in four.metrics[1:]] == [1, 1, 1])
        finally:
            caller.kill()
            out, err = caller.communicate()
        assert caller.returncode == -signal.SIGKILL, (out, err)
    finally:
        four.agents[0].process.send_signal(signal.SIGCONT)
    _wait_for("the target agents to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    assert [snapshot(c) for c in clients] == before
    old = clients[0].get_meta(gid, sync_remote=True)
    for k, frame in enumerate(frames):
        pd.testing.assert_frame_equal(clients[0].get(old.get_member("partitions_-%d" % k).meta.id), frame)


def test_sizes_of_chunks_whose_holders_are_not_on_this_host(four, tmp_path):
    """A caller that sees only h1's IPC socket (the others are hidden by a mount namespace of its
    own): the sizes of the chunks held by h2..h4 come from a plan per chunk, answered by their
    agents, and equal what their sockets say; the rebalance it runs is pulled by the agents."""
    import json
    import shlex
    import subprocess
    import sys

    clients = four.clients()
    rows = [3000, 1000, 5000, 2000, 8000, 1000, 4000, 2500, 6000, 500, 7000, 1500]
    hosts = [0] * 3 + [1] * 5 + [2] * 3 + [3]
    gid, frames = _global_frame(clients, list(zip(hosts, rows)))
    seen_here = vineyard_migrate.rebalance_plan(gid, four.sockets)
    h1 = four.sockets[0]
    hidden = os.path.dirname(h1)
    assert all(os.path.dirname(s) == hidden for s in four.sockets)
    keep = tmp_path / "h1.sock"
    keep.touch()
    script = """
import json, os, sys, vineyard_migrate
args = json.loads(sys.argv[1])
assert os.path.exists(args["h1"]) and not any(os.path.exists(s) for s in args["others"]), "sockets not hidden"
plan = vineyard_migrate.rebalance_plan(args["gid"], [args["h1"]] + args["ids"], via=args["h1"])
done = vineyard_migrate.rebalance(args["gid"], [args["h1"]] + args["ids"], via=args["h1"], details=True)
done["object_id"], done["source_id"] = int(done["object_id"]), int(done["source_id"])
print(json.dumps({"plan": plan, "done": done}), flush=True)
"""
    args = json.dumps({"gid": int(gid), "h1": h1, "others": four.sockets[1:],
                       "ids": [c.instance_id for c in clients[1:]]})
    shell = " && ".join([
        "mount --bind %s %s" % (shlex.quote(h1), shlex.quote(str(keep))),
        "mount -t tmpfs none %s" % shlex.quote(hidden),
        "touch %s" % shlex.quote(h1),
        "mount --bind %s %s" % (shlex.quote(str(keep)), shlex.quote(h1)),
        "exec %s -c %s %s" % (shlex.quote(sys.executable), shlex.quote(script), shlex.quote(args)),
    ])
    token = open(four.token).read().strip()
    ran = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", shell], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "VINEYARD_MIGRATE_TOKEN": token})
    assert ran.returncode == 0, ran.stderr[-3000:]
    out = json.loads([line for line in ran.stdout.splitlines() if line.startswith("{")][-1])
    assert out["plan"]["chunks"] == seen_here["chunks"] and out["plan"]["moves"] == seen_here["moves"]
    done = out["done"]
    assert done["bytes_moved_by_caller"] == 0 and done["bytes_moved"] == seen_here["bytes_moved"]
    by_instance = {c.instance_id: c for c in clients}
    new = clients[0].get_meta(vineyard.ObjectID(done["object_id"]), sync_remote=True)
    for k, frame in enumerate(frames):
        member = new.get_member("partitions_-%d" % k).meta
        pd.testing.assert_frame_equal(by_instance[member.instance_id].get(member.id), frame)


def test_a_peer_gets_only_what_its_pull_session_made(four):
    """An authenticated peer speaking the wire protocol itself: bad orders are refused before
    anything is pulled; a session's copies are deleted by its abort, and no other connection can
    commit or abort them (a peer cannot have the agent delete objects it did not make for it)."""
    import agent_wire as wire

    clients = four.clients()
    h1, h2 = clients[0], clients[1]
    token = open(four.token).read().strip().encode()
    endpoint = four.agents[1].endpoint
    chunk = h1.put(pd.DataFrame({"x": np.arange(5000)}))
    h1.persist(chunk)
    other = h1.put(pd.DataFrame({"x": np.arange(7)}))
    h1.persist(other)
    order = {"per_source": 1, "per_target": 1, "connections": 1, "transport": "tcp"}
    before = [snapshot(c) for c in clients]

    mine, theirs = wire.open_authenticated(endpoint, token), wire.open_authenticated(endpoint, token)
    try:
        blob = next(_blob_ids(h1.get_meta(chunk)))
        for bad, message in (
                ({**order, "chunks": [{"id": wire.object_id(blob), "from": h1.instance_id}]}, "is a blob"),
                ({**order, "chunks": []}, "1 to"),
                ({**order, "per_target": 0, "chunks": [{"id": wire.object_id(chunk), "from": 1}]}, "per_target"),
                ({**order, "chunks": [{"id": wire.object_id(chunk), "from": 1}] * 2}, "named twice"),
                ({**order, "chunks": [{"id": "o7fffffffffff0001", "from": 1}]}, "")):  # no such object
            kind, body = wire.request(mine, "pull", **bad)
            assert kind == wire.ERROR and message in body["message"], body
        assert [snapshot(c) for c in clients] == before

        kind, pulled = wire.request(mine, "pull", **order,
                                    chunks=[{"id": wire.object_id(chunk), "from": h1.instance_id}])
        assert kind == wire.REPLY, pulled
        copy = vineyard.ObjectID(pulled["copies"][wire.object_id(chunk)])
        assert pulled["bytes"] > 0 and h2.exists(copy)
        pd.testing.assert_frame_equal(h2.get(copy), h1.get(chunk))
        kind, body = wire.request(mine, "pull", **order, chunks=[{"id": wire.object_id(other), "from": 1}])
        assert kind == wire.ERROR and "already carries" in body["message"]
        # another connection (the same token) can neither commit nor abort this session
        for op in ("pull_commit", "pull_abort", "pull_persist"):
            kind, body = wire.request(theirs, op, session=pulled["session"])
            assert kind == wire.ERROR and "no pull session" in body["message"], (op, body)
        assert h2.exists(copy)
        kind, body = wire.request(mine, "pull_commit", session="0" * 32)
        assert kind == wire.ERROR and "no pull session" in body["message"]
        kind, body = wire.request(mine, "pull_abort", session=pulled["session"])
        assert kind == wire.REPLY, body
        assert not h2.exists(copy)
        assert [snapshot(c) for c in clients] == before
    finally:
        mine.close()
        theirs.close()
    _wait_for("the agent's sessions to close", lambda: _open_pull_sessions(four) == [0] * 4)


def test_the_caller_killed_while_one_target_is_done_and_another_pulls(four):
    """The caller dies (-9) when one target agent has pulled its whole share (its session waits for
    the commit) and another still pulls from a stopped source: the finished one deletes its copies
    at once, the other when its pull ends; every instance holds what it held before."""
    import json
    import signal
    import subprocess
    import sys
    import time

    clients = four.clients()
    ids = [c.instance_id for c in clients]
    gid, _ = _global_frame(clients, [(0, 20000)] * 6 + [(1, 20000)] * 4 + [(3, 20000)] * 2)
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets, by="count")
    sources = {}
    for m in plan["moves"]:
        sources.setdefault(ids.index(m["to"]), set()).add(ids.index(m["from"]))
    stopped = next(s for s in (0, 1) if any(s in f for f in sources.values()) and
                   any(s not in f for f in sources.values()))
    done = [t for t, f in sources.items() if stopped not in f]
    waiting = [t for t, f in sources.items() if stopped in f]
    incoming = {t: sum(m["bytes"] for m in plan["moves"] if m["to"] == ids[t]) for t in done}
    before = [snapshot(c) for c in clients]
    pulled_before = _pulled(four)
    four.agents[stopped].process.send_signal(signal.SIGSTOP)
    try:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, json.dumps(
            {"gid": int(gid), "sockets": four.sockets, "token": four.token, "extra": {"by": "count"}})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for("the finished targets' whole shares", lambda: all(
                _agent_metric(four.metrics[t], "vineyard_migrate_agent_pulled_bytes_total") - pulled_before[t]
                == incoming[t] for t in done) and all(
                _agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in waiting))
            time.sleep(0.5)  # the finished sessions' replies are out: they wait for the commit
            assert all(_agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in done)
        finally:
            caller.kill()
            out, err = caller.communicate()
        assert caller.returncode == -signal.SIGKILL, (out, err)
        # the finished targets roll back now, while the stopped source still holds the others
        _wait_for("the finished targets to roll back", lambda: all(
            _agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 0 for t in done), 30)
        assert all(_agent_metric(four.metrics[t], "vineyard_migrate_agent_pull_sessions") == 1 for t in waiting)
    finally:
        four.agents[stopped].process.send_signal(signal.SIGCONT)
    _wait_for("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
    assert [snapshot(c) for c in clients] == before


def _plan_to(plan, chunk):
    return next(m["to"] for m in plan["moves"] if m["chunk"] == chunk)


def _member_ids(meta):
    """The ids of ``meta`` and of every member below it, blobs included."""
    yield int(meta.id)
    for _, value in meta.items():
        if isinstance(value, vineyard.ObjectMeta):
            yield from _member_ids(value)


def test_a_rebalance_over_agents_that_all_speak_mutual_tls(four):
    """The Kubernetes deployment's case: every agent speaks TLS and requires client certificates.
    Each target agent pulls from the source agents over TLS, presenting its own certificate, with
    the compression the caller asked for; nothing else is left on any instance."""
    clients = four.clients()
    rows = [6000, 2000, 9000, 4000, 12000, 3000, 7000, 5000]
    gid, frames = _global_frame(clients, list(zip([0] * 6 + [1, 2], rows)))
    with _agents_speaking_tls(four, range(4)) as certs:
        before = [snapshot(c) for c in clients]
        wire_before = [_wire_bytes(url) for url in four.metrics]
        plan, result = _check_rebalanced(four, gid, frames, tls_ca=certs.ca, tls_cert=certs.client_cert,
                                         tls_key=certs.client_key, compression="zstd")
        assert plan["moves"] and sum(result["pulled_by_agents"].values()) == plan["bytes_moved"]
        # every byte the target agents pulled crossed a TLS link, zstd-compressed as asked
        pulled_over = {}
        for url, was in zip(four.metrics, wire_before):
            for key, value in _wire_bytes(url).items():
                if value != was.get(key, 0):
                    pulled_over[key] = pulled_over.get(key, 0) + value - was.get(key, 0)
        assert set(pulled_over) == {("tcp", "zstd", "true")}, pulled_over
        assert 0 < pulled_over[("tcp", "zstd", "true")] < plan["bytes_moved"]  # the frames compress
        # the instances gained the copies (each on its target), their members and the new global
        # object, nothing else; each target's memory grew by at least what it received
        by_instance = dict(zip([c.instance_id for c in clients], clients))
        new_ids = {int(result["object_id"])}
        for chunk, copy in result["copies"].items():
            meta = by_instance[_plan_to(plan, chunk)].get_meta(vineyard.ObjectID(int(copy[1:], 16)))
            new_ids |= set(_member_ids(meta))
        for client, snap in zip(clients, before):
            now = snapshot(client)
            gained = set(now["objects"]) - set(snap["objects"])
            assert set(snap["objects"]) <= set(now["objects"]) and gained <= new_ids, gained - new_ids
            mine = {int(copy[1:], 16) for chunk, copy in result["copies"].items()
                    if _plan_to(plan, chunk) == client.instance_id}
            assert mine <= gained, (mine, gained)
            incoming = sum(m["bytes"] for m in plan["moves"] if m["to"] == client.instance_id)
            assert now["memory_usage"] - snap["memory_usage"] >= incoming
        assert _open_pull_sessions(four) == [0] * 4


def test_a_target_agent_without_tls_settings_fails_and_every_instance_is_as_it_was(four):
    """h1's agent speaks TLS, the others plaintext (no TLS settings of their own): the target that
    must pull from h1 fails with an error naming h1's agent and what to configure (no fallback to
    vineyardd's RPC), the other target's pull is rolled back, and every instance is as it was."""
    clients = four.clients()
    ids = [c.instance_id for c in clients]
    gid, frames = _global_frame(clients, [(0, 3000)] * 3 + [(3, 3000)] * 3 + [(1, 3000), (2, 3000)])
    plan = vineyard_migrate.rebalance_plan(gid, four.sockets)
    assert sorted((m["from"], m["to"]) for m in plan["moves"]) in (
        sorted([(ids[0], ids[1]), (ids[3], ids[2])]), sorted([(ids[0], ids[2]), (ids[3], ids[1])])), plan["moves"]
    with _agents_speaking_tls(four, [0]):
        h1_agent = four.agents[0].endpoint
        before = [snapshot(c) for c in clients]
        pulled_before = _pulled(four)
        with pytest.raises(vineyard.ConnectionFailedException) as failed:
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=60)
        message = str(failed.value)
        assert ("instance %d's agent %s speaks TLS" % (ids[0], h1_agent)) in message, message
        assert "--tls-cert" in message and "--peer-tls-ca" in message, message
        _wait_for("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
        assert [snapshot(c) for c in clients] == before
        assert _pulled(four)[0] == pulled_before[0]
        old = clients[0].get_meta(gid, sync_remote=True)
        for k, frame in enumerate(frames):
            meta = old.get_member("partitions_-%d" % k).meta
            pd.testing.assert_frame_equal(clients[ids.index(meta.instance_id)].get(meta.id), frame)


def test_an_agent_certificate_not_allowed_for_clients_fails_the_pulls_without_a_fallback(four):
    """Mutual TLS between agents whose certificate allows server use only: each source agent refuses
    the target agents' certificate; the rebalance fails saying so (not downgraded to vineyardd's
    plaintext RPC port), and every instance is as it was."""
    clients = four.clients()
    gid, frames = _global_frame(clients, [(0, 3000)] * 8)
    with _agents_speaking_tls(four, range(4), usage="serverAuth") as certs:
        before = [snapshot(c) for c in clients]
        with pytest.raises((vineyard.ConnectionErrorException, vineyard.ConnectionFailedException)) as failed:
            vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, timeout=60, tls_ca=certs.ca,
                                       tls_cert=certs.client_cert, tls_key=certs.client_key)
        assert "TLS" in str(failed.value), str(failed.value)
        _wait_for("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
        assert [snapshot(c) for c in clients] == before
        assert all(not samples for samples in (_wire_bytes(url) for url in four.metrics))


def test_a_rebalance_connects_to_vineyardd_only_through_the_pool(four):
    """Every vineyardd connection a plan and rebalances open in this process (pulled by the agents,
    and by the caller with replace=True, which deletes the moved originals) is the pool's:
    registrations grow exactly as the pool's own count; after close() no connection of this
    process (nor of the agents' work for it) is left on any vineyardd."""
    import time

    clients = four.clients()
    vineyard_migrate.close()

    def connections():
        return [c.status.ipc_connections for c in clients]

    def settled(expected):
        deadline = time.monotonic() + 30
        while connections() != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return connections()

    def rebalances():
        for pulled_by, replace in (("agents", False), ("caller", True)):
            gid, frames = _global_frame(clients, [(0, 3000)] * 8)
            vineyard_migrate.rebalance_plan(gid, four.sockets)
            new_id = vineyard_migrate.rebalance(gid, four.sockets, token_file=four.token, pulled_by=pulled_by,
                                                replace=replace)
            new = clients[0].get_meta(new_id, sync_remote=True)
            assert new.isglobal and int(new["partitions_-size"]) == 8

    # the target agents keep their links to the source agents (their own pools, idle for a while):
    # each source agent holds a vineyardd connection per link; warm them first, then count
    rebalances()
    vineyard_migrate.close()
    baseline = settled(connections())
    before = vineyard_migrate.pool_stats()
    rebalances()
    after = vineyard_migrate.pool_stats()
    assert after["registrations"] - before["registrations"] == after["opened_by_pool"] - before["opened_by_pool"] > 0
    vineyard_migrate.close()
    assert vineyard_migrate.pool_stats()["idle"] == 0
    # none is left of ours; the agents' own idle links may have expired meanwhile (fewer, never more)
    deadline = time.monotonic() + 30
    while any(n > b for n, b in zip(connections(), baseline)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(n <= b for n, b in zip(connections(), baseline)), (connections(), baseline)
