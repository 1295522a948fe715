"""One benchmark case, run on the host (namespace) where the target vineyardd lives.

Argument: JSON {"method", "object", "target", "source", "reps", "warmup", "token_file", "heap"}, and
"objects" (a list of ids) instead of "object" for ours' ``migrate_many`` of them all.
Methods: "vineyard" (the target vineyardd's own client.migrate), "local", "tcp", "rpc" (ours).
Prints one JSON line: per-repetition seconds, bytes, and for ours the JVM start + first call and
the JVM heap peak.
"""

import json
import sys
import time


def _heap_peak_reset():
    import jpype

    pools = jpype.JClass("java.lang.management.ManagementFactory").getMemoryPoolMXBeans()
    heap = [p for p in pools if str(p.getType()) == "Heap memory"]
    for pool in heap:
        pool.resetPeakUsage()
    return heap


def _delete(target, ids):
    for one in ids if isinstance(ids, list) else [ids]:
        target.delete(one, deep=True)


def main():
    case = json.loads(sys.argv[1])
    import vineyard

    target = vineyard.connect(case["target"])
    oid = vineyard.ObjectID(case["object"]) if "object" in case else None
    result = {"method": case["method"]}

    if case["method"] == "vineyard":
        def once():
            return target.migrate(oid)
    elif "objects" in case:
        started = time.perf_counter()
        import vineyard_migrate

        batch = [vineyard.ObjectID(o) for o in case["objects"]]

        def once():
            return vineyard_migrate.migrate_many(batch, case["target"], source=case.get("source"), copy=True,
                                                 transport=case["method"], token_file=case.get("token_file"),
                                                 persist=case.get("persist", True), progress=False)

        first = once()
        result["jvm_start_and_first_call"] = time.perf_counter() - started
        _delete(target, first)
    else:
        started = time.perf_counter()
        import vineyard_migrate

        def once():
            return vineyard_migrate.migrate(oid, case["target"], source=case.get("source"), transport=case["method"],
                                            token_file=case.get("token_file"), persist=case.get("persist", True),
                                            progress=False)

        first = once()
        result["jvm_start_and_first_call"] = time.perf_counter() - started
        target.delete(first, deep=True)

    for _ in range(case.get("warmup", 1)):
        _delete(target, once())
    times, peaks = [], []
    for _ in range(case["reps"]):
        pools = _heap_peak_reset() if case.get("heap") and case["method"] != "vineyard" else []
        started = time.perf_counter()
        new_id = once()
        times.append(time.perf_counter() - started)
        if pools:
            peaks.append(sum(int(p.getPeakUsage().getUsed()) for p in pools))
        assert new_id != oid
        _delete(target, new_id)
    result["seconds"] = times
    if peaks:
        result["heap_peak_bytes"] = max(peaks)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
