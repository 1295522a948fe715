"""Shaped links: the namespaces' veth pair unshaped, and shaped by `tc tbf` to 10 Gbit/s and 1 Gbit/s.

On each link, side by side, pulling the same data from h1 into h2:
  ours over the agent link (compression none/lz4/zstd/auto; plaintext and TLS 1.3),
  vineyard's own client.migrate (vineyardd --compression on and off),
  raw TCP (the better of one and four plain connections started together, memory to memory),
  Arrow Flight (pyarrow.flight do_get of the same table, plaintext and TLS).
Data: "compressible", a DataFrame of sorted int64 keys, a low-cardinality string column (12 city
names) and small int64s (0..6); and "random", float64 noise of the same size. 256 MiB each by
default (--size-mib 1024 for the 1 GiB frame: about 4x the time), 64 MiB in --quick. Rates are GB/s
of the original bytes.

Steady state, the same warm-up for every method on a link: each freshly started agent first moves
the data 10 times unmeasured (a real agent beside vineyardd is long-running, its JIT done); every
measurement starts a JVM (ours) or a process (vineyard's, Flight's, raw TCP's), runs WARMUP
unmeasured runs (unshaped 15, 10 Gbit/s 3, 1 Gbit/s 1; --warmup N for all), then times REPS runs
(unshaped 7, 10 Gbit/s 3, 1 Gbit/s 1; --reps N for all) and reports their median.

    python bench/cases_links.py [--quick] [--reps N] [--warmup N] [--size-mib N]    (bench/run.py calls run())
As a helper on a host: `cases_links.py ours|vineyard|flight-serve|flight-get JSON`.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import rawtcp  # noqa: E402

MiB = 1 << 20
# Unmeasured runs before each measurement, the same for every method on a link. Unshaped, the CPU
# is the limit and a fresh JVM's JIT takes part of it: a fresh client's 256 MiB TLS pull through a
# warm agent used 0.21-0.25 CPU-s in its first 10 runs, 0.17 in the next 10, then 0.14 (2 cores,
# loaded); on a shaped link the wire is the limit, and fewer runs suffice.
WARMUP = {"unshaped": 15, "10 Gbit/s": 3, "1 Gbit/s": 1}
# Timed runs per measurement when --reps is not given. Unshaped, a 256 MiB run takes 0.1-0.6 s and
# one run's spread on this shared 2-core machine is larger than the 5% that `auto` against `none`
# and TLS against plaintext are judged by, so those medians take several runs; at 1 Gbit/s a run
# is 2-9 s and the link, not contention, sets it.
REPS = {"unshaped": 7, "10 Gbit/s": 3, "1 Gbit/s": 1}
AGENT_WARMUP = 10  # transfers through each freshly started agent before anything is measured
LINKS = [("unshaped", None), ("10 Gbit/s", "10gbit"), ("1 Gbit/s", "1gbit")]


def data(kind, nbytes):
    """The benchmark's data, made the same way on every host."""
    import numpy as np
    import pandas as pd

    if kind == "random":
        return np.random.default_rng(7).random(nbytes // 8)
    rows = nbytes // 24  # three 8-byte columns (the strings are dictionary-like in vineyard's Arrow form)
    cities = np.array(["city-%02d" % i for i in range(12)], dtype=object)
    return pd.DataFrame({"key": np.arange(rows, dtype=np.int64), "city": cities[np.arange(rows) % 12],
                         "qty": (np.arange(rows) % 7).astype(np.int64)})


def _table(kind, nbytes):
    import pyarrow as pa

    value = data(kind, nbytes)
    if kind == "random":
        return pa.table({"x": value})
    return pa.Table.from_pandas(value, preserve_index=False)


def shape(hosts, rate):
    """tbf on both ends of the veth pair (rate None: remove the shaping)."""
    for namespace, device in zip(hosts.namespaces, ("vm%sa" % hosts.tag, "vm%sb" % hosts.tag)):
        subprocess.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", device, "root"],
                       capture_output=True)
        if rate:
            subprocess.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", "tbf",
                            "rate", rate, "burst", "4mb", "latency", "50ms"], check=True, capture_output=True)


def _helper(host, mode, case, wait=True):
    command = [*host.prefix, sys.executable, os.path.abspath(__file__), mode, json.dumps(case)]
    if not wait:
        return subprocess.Popen(command, env={**os.environ, **host.env}, stdout=subprocess.PIPE, text=True)
    done = subprocess.run(command, env={**os.environ, **host.env}, capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError("%s failed: %s\n%s" % (mode, case, done.stderr[-3000:]))
    return json.loads(lines[-1])


def _timed(once, reps, warmup=1):
    for _ in range(max(1, warmup)):  # warm-up (the first also starts the JVM)
        once()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    return times


def helper_ours(case):
    if case.get("jvm_options"):  # a profile of this client (the JVM starts at the first migrate)
        os.environ["VINEYARD_MIGRATE_JVM_OPTIONS"] = case["jvm_options"]
    import vineyard
    import vineyard_migrate

    target = vineyard.connect(case["target"])
    oid = vineyard.ObjectID(case["object"])
    wire, cpu, agent_cpu = [], [], []

    def once():
        started, agent_started = os.times(), _cpu_seconds(case["agent_pid"])
        result = vineyard_migrate.migrate(oid, case["target"], source=case["source"], transport="tcp",
                                          token_file=case["token_file"], compression=case["compression"],
                                          tls_ca=case.get("tls_ca"), progress=False, details=True)
        cpu.append(sum(os.times()[:2]) - sum(started[:2]))  # this process: the JVM runs in it
        agent_cpu.append(_cpu_seconds(case["agent_pid"]) - agent_started)  # (the same pid namespace)
        wire.append(result.bytes_on_wire)
        target.delete(result.object_id, deep=True)

    seconds = _timed(once, case["reps"], case.get("warmup", 1))
    if "StartFlightRecording" in case.get("jvm_options", ""):
        import jpype

        for recording in jpype.JClass("jdk.jfr.FlightRecorder").getFlightRecorder().getRecordings():
            recording.stop()  # writes it now: the dump at the JVM's exit races the process's end
    def median(values):
        timed = sorted(values[-case["reps"]:])
        return timed[len(timed) // 2]

    return {"seconds": seconds, "bytes_on_wire": wire[-1], "cpu_seconds": median(cpu), "agent_cpu_seconds": median(agent_cpu)}


def _cpu_seconds(pid):
    """User and system CPU seconds process ``pid`` has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def helper_vineyard(case):
    import vineyard

    target = vineyard.connect(case["target"])
    oid = vineyard.ObjectID(case["object"])
    return {"seconds": _timed(lambda: target.delete(target.migrate(oid), deep=True), case["reps"], case.get("warmup", 1))}


def helper_flight_serve(case):
    import pyarrow.flight as flight

    table = _table(case["kind"], case["bytes"])

    class Server(flight.FlightServerBase):
        def do_get(self, context, ticket):
            return flight.RecordBatchStream(table)

    tls = []
    if case.get("cert"):
        with open(case["cert"], "rb") as c, open(case["key"], "rb") as k:
            tls = [flight.CertKeyPair(c.read(), k.read())]
    scheme = "grpc+tls" if tls else "grpc+tcp"
    server = Server("%s://%s:%d" % (scheme, case["host"], case["port"]), tls_certificates=tls)
    print("ready", flush=True)
    server.serve()


def helper_flight_get(case):
    import pyarrow.flight as flight

    scheme = "grpc+tls" if case.get("ca") else "grpc+tcp"
    options = {}
    if case.get("ca"):
        with open(case["ca"], "rb") as f:
            options["tls_root_certs"] = f.read()
    client = flight.FlightClient("%s://%s:%d" % (scheme, case["host"], case["port"]), **options)
    return {"seconds": _timed(lambda: client.do_get(flight.Ticket(b"t")).read_all(), case["reps"], case.get("warmup", 1))}


def _persisted(client, value):
    oid = client.put(value)
    client.persist(oid)  # vineyard's own migrate reads the metadata through the cluster
    return oid


def _recording(jfr, name):
    """JVM options recording a JFR profile into ``jfr``/``name``.jfr (jfr None: none), and those of
    $BENCH_JVM_OPTIONS (e.g. -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit, for perf)."""
    extra = os.environ.get("BENCH_JVM_OPTIONS", "")
    if not jfr:
        return extra
    name = "".join(c if c.isalnum() else "-" for c in name)
    # (the startup message would go to stdout, where the agent announces its address)
    return "%s -Xlog:jfr+startup=off -XX:StartFlightRecording=filename=%s,settings=profile,dumponexit=true" % (
        extra, os.path.join(jfr, name + ".jfr"))


def _warm_agent(h2, agent, case):
    """A warm-up pass through a freshly started agent: a real one beside vineyardd runs for days,
    its JIT long done; unmeasured transfers of the random object, in a client of their own."""
    _helper(h2, "ours", {**case, "source": agent.endpoint, "agent_pid": agent.process.pid, "reps": 1,
                         "warmup": AGENT_WARMUP, "compression": "none", "jvm_options": ""})


def run(quick=False, reps=None, log=print, size_mib=256, links=None, kinds=None, methods=None, jfr=None, warmup=None):
    """Every method on every link; returns the records (one per link, data and method).

    ``links``/``kinds``/``methods``: only the links, data kinds and methods named ("vineyard
    migrate" names both of its methods), e.g. a single case while profiling; ``jfr``: a folder for
    JFR recordings of the agents and of each of our clients; ``warmup``: unmeasured runs before
    each measurement (None: WARMUP's per link); ``reps``: timed runs (None: REPS's per link). Our
    runs also record the CPU seconds the client and the agent used per run (medians): unlike the
    time, contention does not change them much."""
    def wanted(method):
        return not methods or any(method == m or method.startswith(m + ",") for m in methods)

    from hosts import TwoHosts
    from vineyard_servers import Servers, free_port, private_token_file, start_agent
    import test_agent_link  # the tests' certificate maker: a CA and an agent certificate for the hosts

    size = 64 * MiB if quick else size_mib * MiB
    reps_given = 1 if quick else reps
    records = []
    hosts = TwoHosts()
    with hosts as (h1, h2), Servers() as servers:
        if hosts.mode != "netns":
            log("shaped links need network namespaces (%s): skipped" % hosts.why)
            return records
        token = str(private_token_file(os.path.join(servers.workdir, "token")))
        certs = test_agent_link.make_certs(servers.workdir, [h1.address, h2.address])
        servers.start_etcd(host=h1.address, prefix=h1.prefix)
        pairs = {}
        for vineyard_compression in ("on", "off"):
            extra = ["--compression=%s" % ("true" if vineyard_compression == "on" else "false")]
            src = servers.start_vineyardd("links-src-" + vineyard_compression, "4Gi", cluster="links-" + vineyard_compression,
                                          extra=extra, prefix=h1.prefix, env=h1.env)
            dst = servers.start_vineyardd("links-dst-" + vineyard_compression, "4Gi", cluster="links-" + vineyard_compression,
                                          extra=extra, prefix=h2.prefix, env=h2.env)
            pairs[vineyard_compression] = (src, dst)
        src, dst = pairs["on"]
        plain = start_agent(servers, "links-plain", src.socket, host=h1.address, token_file=token, prefix=h1.prefix,
                            env=h1.env, jvm_options=_recording(jfr, "agent-plain"))
        tls = start_agent(servers, "links-tls", src.socket, host=h1.address, token_file=token, prefix=h1.prefix,
                          env=h1.env, extra=["--no-publish", "--tls-cert", certs.agent_cert, "--tls-key", certs.agent_key],
                          jvm_options=_recording(jfr, "agent-tls"))
        objects = {kind: {c: _persisted(pair[0].client(), data(kind, size)) for c, pair in pairs.items()}
                   for kind in ("compressible", "random") if not kinds or kind in kinds}
        warm = {"object": "o%016x" % int(next(iter(objects.values()))["on"]), "target": dst.socket, "token_file": token}
        for agent, ca in ((plain, None), (tls, certs.ca)):
            if any(wanted("ours %s%s" % (c, " TLS" if ca else "")) for c in ("none", "lz4", "zstd", "auto")):
                _warm_agent(h2, agent, {**warm, "tls_ca": ca})
        flights = {}
        for kind in objects if any(wanted(m) for m in ("Arrow Flight", "Arrow Flight TLS")) else ():
            for secure in (False, True):
                port = free_port()
                case = {"kind": kind, "bytes": size, "host": h1.address, "port": port}
                if secure:
                    case.update(cert=certs.agent_cert, key=certs.agent_key)
                server = _helper(h1, "flight-serve", case, wait=False)
                assert server.stdout.readline().strip() == "ready"
                servers.callback(server.kill)
                flights[kind, secure] = port
        try:
            for link, rate in LINKS:
                if links and link not in links:
                    continue
                shape(hosts, rate)
                warm_runs = WARMUP[link] if warmup is None else warmup
                reps = REPS[link] if reps_given is None else reps_given
                for kind, oids in objects.items():
                    def record(method, seconds, **more):
                        if seconds is None:
                            return
                        median = sorted(seconds)[len(seconds) // 2]
                        rec = {"link": link, "object": kind, "bytes": size, "method": method, "median_s": median,
                               "gbps_median": size / median / 1e9, "gbps_best": size / min(seconds) / 1e9, "reps": len(seconds),
                               **more}
                        records.append(rec)
                        log(rec)

                    oid = "o%016x" % int(oids["on"])
                    for secure in (False, True):
                        for compression in ("none", "lz4", "zstd", "auto"):
                            method = "ours %s%s" % (compression, " TLS" if secure else "")
                            if not wanted(method):
                                continue
                            case = {"jvm_options": _recording(jfr, "client %s %s %s" % (link, kind, method)),"object": oid, "target": dst.socket, "token_file": token, "reps": reps, "warmup": warm_runs,
                                    "compression": compression,
                                    "source": (tls if secure else plain).endpoint}
                            if secure:
                                case["tls_ca"] = certs.ca
                            case["agent_pid"] = (tls if secure else plain).process.pid
                            out = _helper(h2, "ours", case)
                            # CPU per run: what contention on a shared machine does not change
                            record(method, out["seconds"], bytes_on_wire=out["bytes_on_wire"],
                                   client_cpu_s=out["cpu_seconds"], agent_cpu_s=out["agent_cpu_seconds"])
                    for vineyard_compression, (_, target) in pairs.items():
                        if not wanted("vineyard migrate, compression " + vineyard_compression):
                            continue
                        out = _helper(h2, "vineyard", {"object": "o%016x" % int(oids[vineyard_compression]),
                                                       "target": target.socket, "reps": reps, "warmup": warm_runs})
                        record("vineyard migrate, compression %s" % vineyard_compression, out["seconds"])
                    if wanted("raw TCP"):
                        one, four = (rawtcp.measure(h2, h1, size, reps, n, warm_runs) for n in (1, 4))
                        record("raw TCP (best of 1 and 4 connections)", min(one, four, key=lambda s: sorted(s)[len(s) // 2]))
                    for secure in (False, True) if flights else ():
                        if not wanted("Arrow Flight" + (" TLS" if secure else "")):
                            continue
                        case = {"host": h1.address, "port": flights[kind, secure], "reps": reps, "warmup": warm_runs}
                        if secure:
                            case["ca"] = certs.ca
                        record("Arrow Flight%s" % (" TLS" if secure else ""), _helper(h2, "flight-get", case)["seconds"])
        finally:
            shape(hosts, None)
    return records


def main():
    import argparse

    if len(sys.argv) == 3 and sys.argv[1] in ("ours", "vineyard", "flight-serve", "flight-get"):
        out = globals()["helper_" + sys.argv[1].replace("-", "_")](json.loads(sys.argv[2]))
        if out is not None:
            print(json.dumps(out), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, help="timed runs per measurement (default: per link)")
    parser.add_argument("--warmup", type=int, help="unmeasured runs before each measurement (default: per link)")
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--link", action="append", help="only this link (repeatable): unshaped, '10 Gbit/s', '1 Gbit/s'")
    parser.add_argument("--kind", action="append", help="only this data (repeatable): compressible, random")
    parser.add_argument("--method", action="append",
                        help="only this method (repeatable): e.g. 'ours none', 'ours auto TLS', 'vineyard migrate', 'raw TCP'")
    parser.add_argument("--jfr", help="record JFR profiles of the agents and our clients into this folder")
    args = parser.parse_args()
    if args.jfr:
        os.makedirs(args.jfr, exist_ok=True)
    records = run(args.quick, args.reps, size_mib=args.size_mib, links=args.link, kinds=args.kind, methods=args.method,
                  jfr=args.jfr and os.path.abspath(args.jfr), warmup=args.warmup, log=lambda r: print(
        "  %-10s %-12s %-40s %8.3f GB/s%s" % (r["link"], r["object"], r["method"], r["gbps_median"], (
            "  cpu s: client %.2f agent %.2f" % (r["client_cpu_s"], r["agent_cpu_s"]) if "agent_cpu_s" in r else ""))
        if isinstance(r, dict) else r, flush=True))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "links%s.json" % ("-quick" if args.quick else "")), "w") as f:
        json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
