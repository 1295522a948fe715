"""Rebalancing over four hosts (see rebalance_bed.py) through the links between them: a caller that
reaches only one host's socket, agents speaking mutual TLS (and misconfigured for it), and the
connections to vineyardd the caller opens.
"""

import os

import pandas as pd
import pytest
import vineyard
import vineyard_migrate

from rebalance_bed import (four, _agents_speaking_tls, _wire_bytes, _pulled, _open_pull_sessions,
                           _global_frame, _check_rebalanced,  _plan_to, _member_ids)  # noqa: F401 -- four: the test bed (a fixture)
from vineyard_servers import snapshot, wait_until


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
        wait_until("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
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
        wait_until("every target agent to roll back", lambda: _open_pull_sessions(four) == [0] * 4)
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
