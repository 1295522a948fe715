"""Waiting for an engine call so that Ctrl-C works: the call runs on a thread of the engine, and the
main thread waits for it in short slices, between which Python delivers KeyboardInterrupt. The
call is then cancelled, and the interrupt re-raised once the engine has rolled back."""

import logging
import threading
import time

#: how long the main thread waits inside Java at a time; bounds the delay of Ctrl-C
_SLICE_MILLIS = 100

_LOG = logging.getLogger("vineyard_migrate")


def result_of(call, between=None):
    """The result of an ``io.v6d.migrate.engine.EngineCall``, waiting for it; the engine's failure
    is raised as the Java exception (for ``_errors.mapped_errors``). ``between`` (no arguments) runs
    on this thread after each slice of the wait: how a progress bar is drawn without the engine
    ever calling into Python."""
    try:
        wait_for(call.waitFor, None, between)
    except KeyboardInterrupt:
        _cancel(call)
        raise
    return call.result()


def wait_for(wait, timeout, between=None):
    """Calls a Java ``wait(millis)`` (true once done; -1: no limit) until it is done or ``timeout``
    seconds (None: no limit) have passed: in slices on the main thread (only it gets signals) or
    when ``between`` is to run after each slice. True once done."""
    if between is None and threading.current_thread() is not threading.main_thread():
        return bool(wait(-1 if timeout is None else max(0, int(timeout * 1000))))
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = _SLICE_MILLIS if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        if wait(min(left, _SLICE_MILLIS)):
            return True
        if between is not None:
            between()
        if deadline is not None and time.monotonic() >= deadline:
            return False


def _cancel(call):
    """Cancels the call and waits for its rollback; a second Ctrl-C stops waiting."""
    call.cancel()
    try:
        while not call.waitFor(_SLICE_MILLIS):
            pass
    except KeyboardInterrupt:
        _LOG.warning("interrupted again: not waiting for the cancelled migration to roll back")
        return
    _warn_if_completed(call)


def _warn_if_completed(call):
    """A call past its last checkpoint completes though cancelled: say what it left."""
    import jpype

    try:
        result = call.result()
    except jpype.JException:
        return  # cancelled (or failed): rolled back
    target = getattr(result, "targetIdString", None)
    if target is not None:
        _LOG.warning("interrupted after the migration had completed: the object is %s on the target", str(target()))
