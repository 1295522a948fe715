"""vineyard-migrate demo: two local vineyardd instances, a DataFrame and a 256 MiB array moved
from one to the other, checked equal, with sizes, times and rates.

Run with ``make demo`` (which sets everything up), or ``python examples/demo.py`` in an
environment where vineyard-migrate is installed.
"""

import os
import sys
import time

import numpy as np
import pandas as pd
import vineyard  # vineyard.migrate comes from the vineyard-migrate plug-in

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from vineyard_servers import Servers  # noqa: E402


def show(label, result, seconds):
    rate = result.bytes_copied / seconds / 1e9 if seconds > 0 else float("inf")
    print(
        "  %-10s %s -> %s  %11d bytes  %7.4f s  %6.2f GB/s"
        % (label, result.source_id, result.object_id, result.bytes_copied, seconds, rate)
    )


def main():
    with Servers() as servers:
        print("starting two vineyardd instances (--meta local, 1Gi each) ...")
        source = servers.start_vineyardd("demo-a", size="1Gi")
        target = servers.start_vineyardd("demo-b", size="1Gi")
        a, b = source.client(), target.client()

        frame = pd.DataFrame(
            {
                "id": np.arange(100_000),
                "value": np.random.default_rng(0).random(100_000),
                "flag": np.arange(100_000) % 3 == 0,
                "label": ["item-%d" % i for i in range(100_000)],
            }
        )
        array = np.random.default_rng(1).random(32 << 20)  # 256 MiB of float64
        frame_id, array_id = a.put(frame), a.put(array)

        print("migrating from %s to %s:" % (source.socket, target.socket))
        started = time.perf_counter()
        vineyard.migrate(a.put(np.arange(1)), b, source=a)  # starts the JVM once
        print("  (engine JVM started, first call: %.2f s)" % (time.perf_counter() - started))
        for label, oid in (("DataFrame", frame_id), ("ndarray", array_id)):
            started = time.perf_counter()
            result = vineyard.migrate(oid, b, source=a, details=True)
            show(label, result, time.perf_counter() - started)
            if label == "DataFrame":
                pd.testing.assert_frame_equal(b.get(result.object_id), frame)
            else:
                np.testing.assert_array_equal(b.get(result.object_id), array)
            assert result.object_id != oid
        print("both objects are equal on the target; stopping the servers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
