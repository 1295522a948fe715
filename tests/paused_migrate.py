"""Runs one migration that pauses at a chosen point of its transfer, so that a test can kill it (or
another process of the migration) there. Argument: JSON with the keyword arguments of
vineyard_migrate.migrate plus ``pause_at``: "first" (the first progress report: the target blobs
are allocated and journaled, little has moved), "half" (half of the bytes moved) or "landed" (every
byte moved, nothing sealed or committed yet); and ``release``: a file whose creation ends the
pause (without it, the pause lasts until the process is killed); and ``first``: the keyword
arguments of a migration (with ``obj``) to run to its end before, in the same process.

Prints ``FIRST <id>`` when the first migration ended, ``PAUSED <done> <total>`` when paused, then
the outcome as one JSON line. The pause is made by the progress callback, which the engine calls on
the thread that moves the bytes; no hook of the engine's jar is involved.
"""

import json
import os
import sys
import threading
import time

import vineyard_migrate
from vineyard_migrate import _progress


def pausing_listener(pause_at, release):
    import jpype

    @jpype.JImplements("io.v6d.migrate.transport.ProgressListener")
    class Pause:
        def __init__(self):
            self.paused = False
            self.lock = threading.Lock()

        @jpype.JOverride
        def onProgress(self, done, total):  # noqa: N802 (Java's name)
            done, total = int(done), int(total)
            due = {"first": done > 0, "half": 2 * done >= total, "landed": done == total}[pause_at]
            with self.lock:
                if not due or self.paused:
                    return
                self.paused = True
            print("PAUSED %d %d" % (done, total), flush=True)
            while release is None or not os.path.exists(release):
                time.sleep(0.05)

    return Pause()


def main():
    kwargs = json.loads(sys.argv[1])
    obj, target = kwargs.pop("obj"), kwargs.pop("target")
    pause_at, release = kwargs.pop("pause_at"), kwargs.pop("release", None)
    first = kwargs.pop("first", None)
    if first is not None:
        first_obj = first.pop("obj")
        print("FIRST o%016x" % int(vineyard_migrate.migrate(first_obj, target, **first)), flush=True)
    # called by migrate() once the engine's JVM runs
    _progress.listener = lambda progress, label: (pausing_listener(pause_at, release), None)
    try:
        result = vineyard_migrate.migrate(obj, target, details=True, **kwargs)
        print(json.dumps({"object_id": "o%016x" % int(result.object_id), "transport": result.transport}), flush=True)
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        print(json.dumps({"error": type(e).__name__, "message": str(e)}), flush=True)


if __name__ == "__main__":
    main()
