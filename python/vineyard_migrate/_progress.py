"""Progress of a transfer: the engine reports bytes through a callback; Python shows a tqdm bar."""

import sys
import threading

#: transfers smaller than this show no bar unless asked for
THRESHOLD_BYTES = 64 << 20


def wanted(progress):
    """Whether to show a bar: as asked, else only on a terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


def listener(progress, label):
    """A Java ProgressListener that drives a tqdm bar, or None for no bar."""
    if not wanted(progress):
        return None, None
    import jpype
    from tqdm.auto import tqdm

    force = progress is True

    @jpype.JImplements("io.v6d.migrate.transport.ProgressListener")
    class _Bar:
        def __init__(self):
            self.bar = None
            self.lock = threading.Lock()

        @jpype.JOverride
        def onProgress(self, done, total):  # noqa: N802 (Java's name)
            with self.lock:
                if self.bar is None:
                    if total < THRESHOLD_BYTES and not force:
                        return
                    self.bar = tqdm(
                        total=int(total), unit="B", unit_scale=True, unit_divisor=1024,
                        desc=label, file=sys.stderr, leave=False,
                    )
                self.bar.update(int(done) - self.bar.n)

        def close(self):
            with self.lock:
                if self.bar is not None:
                    self.bar.close()

    bar = _Bar()
    return bar, bar.close
