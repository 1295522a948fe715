"""Issue 9's cases: warm calls, repeated migrations, many objects, model weights (same host).

Run by run.py after its own cases (``many(servers, reps, quick, log)``); each case runs in one worker
process so that the calls after the first are warm. Reported beside the reference each is judged
by: vineyard's own ``client.put`` (+ ``persist``) for the tiny object, vineyard's own migration for
the model weights.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20

_WORKER = r'''
import json, sys, time
import numpy as np
import vineyard, vineyard_migrate
MiB = 1 << 20

case = json.loads(sys.argv[1])
src, dst = vineyard.connect(case["source"]), vineyard.connect(case["target"])
out = {}

# Every timing is of the call alone: a function that deletes what it made afterwards returns the
# seconds of its call, and the deletion is not timed (as in worker.py's main table). Runs up to the
# one of 2026-12-02 17:06 UTC timed the deletion with the call in the warm cases and model weights.

def timed(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return times

def each_timed(fn, reps):
    """The seconds ``fn`` returns, ``reps`` times (fn times its own call, see seconds_of)."""
    return [fn() for _ in range(reps)]

def seconds_of(call, then):
    """Times ``call()``, then runs ``then(its result)`` untimed; returns the seconds."""
    started = time.perf_counter()
    result = call()
    took = time.perf_counter() - started
    then(result)
    return took

def put_and_drop(client, value, persist):
    def put():
        oid = client.put(value)
        if persist:
            client.persist(oid)
        return oid
    return lambda: seconds_of(put, client.delete)

def ours(oid, persist=True, copy=True):
    return lambda: seconds_of(
        lambda: vineyard_migrate.migrate(oid, case["target"], source=case["source"], persist=persist, copy=copy),
        lambda new_id: dst.delete(new_id, deep=True))

def interleaved(methods, reps):
    """Runs each of ``methods`` (label -> function of the rep's index returning the seconds of its
    call, see seconds_of) once a rep, in turn, so that
    the machine's and vineyardd's drift over the run (seen: `put` 0.38 -> 0.65 ms after some 1,500
    calls) touches every method alike; returns label -> seconds of each rep."""
    times = {label: [] for label in methods}
    for i in range(reps):
        for label, once in methods.items():
            times[label].append(once(i))
    return times

def new_objects(value, count):
    return [src.put(value) for _ in range(count)]

def ours_new(objects, persist):
    """Ours with the default options, as a pipeline calls it: a new object each call (its copy
    record looked up, the copy claimed, made, recorded), the copy deleted after."""
    return lambda i: ours(objects[i], persist, copy=False)()

reps = case["reps"]
tiny = np.arange(8.0)
tiny_oid = src.put(tiny)
# Warm, as a pipeline's process is after a while: the JIT keeps compiling the engine's call path for
# the first thousands of calls. With the engine's JVM options (a fifth of HotSpot's compile
# thresholds for its own methods; see python/vineyard_migrate/_jvm.py), medians of windows of 1,000
# warm tiny calls on new objects: 2.1, 1.5, 0.88, then 0.71-0.82 ms from the 4,000th; without them
# they kept falling until the 11,000th-13,000th. vineyard's put gets the same number of calls.
# Default options, the same object again each time: the record lookup, the claim and the record run
# as in the timed calls.
interleaved({"ours": lambda i: ours(tiny_oid, False, copy=False)(),
             "put": lambda i: put_and_drop(dst, tiny, False)()}, case["warm_calls"])
for persist in (False, True):
    count = case["warm_reps"] if not persist else max(reps, case["warm_reps"] // 5)
    objects = new_objects(tiny, count)
    measured = interleaved({"ours": ours_new(objects, persist),
                            "put": lambda i, persist=persist: put_and_drop(dst, tiny, persist)()}, count)
    out["tiny, persist=%s: ours" % persist] = measured["ours"]
    out["tiny, persist=%s: vineyard put%s" % (persist, " + persist" if persist else "")] = measured["put"]
    for oid in objects:
        src.delete(oid)
mib = src.put(np.ones(MiB // 8))
interleaved({"ours": lambda i: ours(mib, False, copy=False)()}, case["warm_calls"] // 3)
objects = new_objects(np.ones(MiB // 8), case["warm_reps"])
out["1 MiB shared memory, persist=False: ours"] = interleaved({"ours": ours_new(objects, False)},
                                                              len(objects))["ours"]
for oid in objects:
    src.delete(oid)
big = src.put(np.ones(case["again_bytes"] // 8))
first = vineyard_migrate.migrate(big, case["target"], source=case["source"])
out["again (%d MiB): ours" % (case["again_bytes"] // MiB)] = timed(
    lambda: vineyard_migrate.migrate(big, case["target"], source=case["source"]), reps)
dst.delete(first, deep=True)
many = [src.put(np.full(MiB // 8, float(i))) for i in range(case["many"])]
batch_times = []
for _ in range(max(1, reps // 2)):  # the copies' deletion (an etcd write each) is not timed
    started = time.perf_counter()
    ids = vineyard_migrate.migrate_many(many, case["target"], source=case["source"], copy=True)
    batch_times.append(time.perf_counter() - started)
    for i in ids:
        dst.delete(i, deep=True)
out["%d x 1 MiB migrate_many: ours" % case["many"]] = batch_times
rng = np.random.default_rng(0)
sizes = np.exp(rng.uniform(np.log(4096), np.log(16 * MiB), case["weights"])).astype(int) // 8
weights = {"w%d" % i: rng.random(int(n)) for i, n in enumerate(sizes)}
out["weights bytes"] = int(sum(w.nbytes for w in weights.values()))
# vineyard 0.24.2 puts a dict of arrays as one pickled blob, a tuple as one blob per array: both shapes
for shape, value in (("tuple", tuple(weights.values())), ("dict", weights)):
    wid = src.put(value)
    src.persist(wid)  # vineyard's own migrate finds the object through the cluster's metadata
    label = "model weights (%d arrays, %s)" % (case["weights"], shape)
    out[label + ": ours"] = each_timed(ours(wid), max(1, reps // 2))
    def theirs():
        return seconds_of(lambda: dst.migrate(wid), lambda new_id: dst.delete(new_id, deep=True))
    out[label + ": vineyard client.migrate"] = each_timed(theirs, max(1, reps // 2))
    src.delete(wid, deep=True)
print(json.dumps(out), flush=True)
'''


def run_case(case):
    done = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(case)], capture_output=True, text=True,
                          timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError("issue 9 bench worker failed:\n%s" % done.stderr[-3000:])
    return json.loads(lines[-1])


def many(servers, reps, quick, log, summarize):
    """Same host, one cluster: the cases above; returns records for the report."""
    source = servers.start_vineyardd("src-many", "4Gi", cluster="bench-many")
    target = servers.start_vineyardd("dst-many", "4Gi", cluster="bench-many")
    case = {"source": source.socket, "target": target.socket, "reps": max(reps, 5 if quick else 20),
            "warm_calls": 300 if quick else 4000, "warm_reps": 50 if quick else 500,
            "again_bytes": (64 if quick else 1024) * MiB, "many": 100 if quick else 1000,
            "weights": 100 if quick else 1000}
    out = run_case(case)
    weights_bytes = out.pop("weights bytes")
    records = []
    for label, seconds in out.items():
        obj, method = label.split(": ")
        size = 8 * 8 if obj.startswith("tiny") else MiB if obj.startswith("1 MiB") else \
            case["again_bytes"] if obj.startswith("again") else case["many"] * MiB if "migrate_many" in obj else \
            weights_bytes
        records.append(summarize({"link": "same host", "object": obj, "bytes": size, "method": method,
                                  "compression": "-"}, seconds, size))
        log(records[-1])
    source.stop()
    target.stop()
    return records
