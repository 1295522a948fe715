"""Runs one migration in this process and prints its outcome as one JSON line (for tests that run
the engine on another "host"). Argument: the keyword arguments of vineyard_migrate.migrate, as JSON
(``"plan": true``: of vineyard_migrate.plan, printing the plan).
"""

import json
import logging
import sys

import vineyard_migrate


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    kwargs = json.loads(sys.argv[1])
    obj = kwargs.pop("obj")
    target = kwargs.pop("target")
    if kwargs.pop("stream", False):
        return forward_stream(obj, target, kwargs)
    if kwargs.pop("plan", False):  # vineyard_migrate.plan instead, its dict as the outcome
        try:
            print(json.dumps(vineyard_migrate.plan(obj, target, **kwargs)))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        return None
    try:
        result = vineyard_migrate.migrate(obj, target, details=True, **kwargs)
        print(json.dumps({
            "object_id": "o%016x" % int(result.object_id),
            "bytes_copied": result.bytes_copied,
            "blobs_copied": result.blobs_copied,
            "blobs_reused": result.blobs_reused,
            "transport": result.transport,
            "seconds": result.seconds,
            "bytes_on_wire": result.bytes_on_wire,
            "compression": result.compression,
            "tls": result.tls,
        }))
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))


def forward_stream(stream, target, kwargs):
    """Prints the target stream id as soon as it exists, then the outcome when forwarding ends."""
    try:
        forwarding = vineyard_migrate.migrate_stream(stream, target, **kwargs)
        print(json.dumps({"stream_id": "o%016x" % int(forwarding.stream_id)}), flush=True)
        forwarding.wait()
        print(json.dumps({"state": forwarding.state, "chunks": forwarding.chunks, "bytes": forwarding.bytes}))
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))


if __name__ == "__main__":
    main()
