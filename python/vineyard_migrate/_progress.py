"""Progress of a transfer, shown as a tqdm bar.

The engine never calls into Python for it: its threads (Netty's event loops among them) store the
bytes moved in a Java ``ProgressGauge``, and the Python thread that waits for the call reads it
between its waits (see ``_calls.result_of``) and draws the bar. A callback would need the
interpreter's lock on the thread that moves the bytes, so a busy Python thread could stall the
transfer.
"""

import sys

#: transfers smaller than this show no bar unless asked for
THRESHOLD_BYTES = 64 << 20


def wanted(progress):
    """Whether to show a bar: as asked, else only on a terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


class Bar:
    """A tqdm bar drawn from a gauge; ``poll`` and ``close`` run on the caller's thread."""

    def __init__(self, gauge, label, force):
        self.gauge = gauge
        self.label = label
        self.force = force
        self.bar = None

    def poll(self):
        done, total = (int(n) for n in self.gauge.snapshot())
        if total <= 0:
            return
        if self.bar is None:
            if total < THRESHOLD_BYTES and not self.force:
                return
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=self.label,
                            file=sys.stderr, leave=False)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self):
        self.poll()  # the last report: a transfer shorter than one wait's slice shows too
        if self.bar is not None:
            self.bar.close()


def listener(progress, label):
    """``(java_listener, bar)``: the ProgressListener to give the engine (None: no progress) and the
    :class:`Bar` the waiting thread polls (None: nothing to draw)."""
    if not wanted(progress):
        return None, None
    import jpype

    gauge = jpype.JClass("io.v6d.migrate.transport.ProgressGauge")()
    return gauge, Bar(gauge, label, progress is True)
