"""Bench case: a 12-chunk global object on host 1 rebalanced over four hosts (network namespaces on
a bridge, or loopback addresses), total time against the time of the largest single host's share
(its 3 chunks) moved alone, with the same per-target bound (2 transfers at once). The rebalance runs
as the library does by default (each target's agent pulls its own chunks) and, for comparison,
with every chunk copied by this process (``pulled_by="caller"``); the phases of the agent-run one
(plan, moves, persist, build, commit) say where its time goes.

    python bench/cases_rebalance.py [--quick] [--reps N] [--out bench/results]

bench/run.py runs it last (``cases_rebalance.run``) and writes results_rebalance.json.
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from hosts import ManyHosts  # noqa: E402
from vineyard_servers import Servers, start_agent, write_token  # noqa: E402

MiB = 1 << 20


def _global(client, chunk_bytes, n=12):
    from vineyard.data.dataframe import make_global_dataframe

    rng = np.random.default_rng(12)
    chunks = []
    for _ in range(n):
        import pandas as pd

        oid = client.put(pd.DataFrame({"x": rng.random(chunk_bytes // 8)}))
        client.persist(oid)
        chunks.append(oid)
    return make_global_dataframe(client, chunks).id, chunks


def run(quick=False, reps=None, log=print):
    """The case's records: one per measure, each with the seconds of every rep."""
    import vineyard
    import vineyard_migrate

    reps = reps or (2 if quick else 3)
    chunk = (4 if quick else 32) * MiB
    hosts = ManyHosts(4)
    with hosts as members, Servers() as servers:
        token = str(write_token(servers.workdir))
        servers.start_etcd(host=members[0].address, prefix=members[0].prefix)
        sizes = ["%dMi" % (12 * chunk // MiB + 128)] + ["%dMi" % (3 * chunk // MiB * 2 + 128)] * 3
        instances = [servers.start_vineyardd("bench-rb-" + h.name, size, cluster="benchrb", prefix=h.prefix, env=h.env)
                     for h, size in zip(members, sizes)]
        for h, v in zip(members, instances):
            start_agent(servers, "bench-agent-" + h.name, v.socket, host=h.address, token_file=token, prefix=h.prefix,
                        env=h.env, jvm_options="-Xmx256m")
        clients = [vineyard.connect(v.socket) for v in instances]
        sockets = [v.socket for v in instances]
        gid, chunks = _global(clients[0], chunk)
        vineyard_migrate.rebalance_plan(gid, sockets)  # warm the JVM
        together, by_caller, alone, phases = [], [], [], []
        by_id = {c.instance_id: c for c in clients}

        def rebalanced(pulled_by):
            started = time.perf_counter()
            result = vineyard_migrate.rebalance(gid, sockets, token_file=token, details=True, pulled_by=pulled_by)
            took = time.perf_counter() - started
            clients[0].delete(result["object_id"], deep=False)  # deep would follow members to the originals
            for move in result["plan"]["moves"]:
                by_id[move["to"]].delete(vineyard.ObjectID(result["copies"][move["chunk"]]), deep=True)
            return took, result

        rebalanced("agents")  # warm the agents' JVMs (their first pull loads the engine)
        for _ in range(reps):
            took, result = rebalanced("agents")
            assert result["bytes_moved_by_caller"] == 0
            together.append(took)
            phases.append(result["seconds"])
            by_caller.append(rebalanced("caller")[0])
            shares = {}
            for move in result["plan"]["moves"]:
                shares.setdefault(move["to"], []).append(move["chunk"])
            largest_to, largest = max(shares.items(), key=lambda item: len(item[1]))
            target = by_id[largest_to]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(2) as pool:  # the same per-target bound
                copies = list(pool.map(lambda c: vineyard_migrate.migrate(vineyard.ObjectID(c), target, token_file=token), largest))
            alone.append(time.perf_counter() - started)
            for copy in copies:
                target.delete(copy, deep=True)
        moved = result["bytes_moved"]
        share = sum(m["bytes"] for m in result["plan"]["moves"] if m["to"] == largest_to)
        link = "namespaces" if hosts.mode == "netns" else "loopback"
    record = {"case": "rebalance 12 chunks over 4 hosts", "link": link, "chunk_bytes": chunk, "reps": reps,
              "bytes_moved": moved, "largest_share_bytes": share,
              "rebalance_s": together, "largest_share_alone_s": alone, "rebalance_by_caller_s": by_caller,
              "rebalance_median_s": statistics.median(together), "alone_median_s": statistics.median(alone),
              "by_caller_median_s": statistics.median(by_caller),
              "phases_median_s": {k: statistics.median(p[k] for p in phases) for k in phases[0]}}
    record["ratio"] = record["rebalance_median_s"] / record["alone_median_s"]
    log("  %-10s rebalance of %d MiB (9 moves, 3 targets) pulled by the agents: median %.3f s (phases %s); "
        "by this process: %.3f s; largest share (%d MiB) alone: %.3f s; ratio %.2f"
        % (link, moved // MiB, record["rebalance_median_s"],
           ", ".join("%s %.3f" % kv for kv in record["phases_median_s"].items()), record["by_caller_median_s"],
           share // MiB, record["alone_median_s"], record["ratio"]))
    return [record]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    records = run(args.quick, args.reps)
    with open(os.path.join(args.out, "results_rebalance.json"), "w") as f:
        json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
