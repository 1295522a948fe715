"""Progress bars and the engine's log records, as a Python user sees them."""

import numpy as np
import vineyard

import vineyard_migrate
from hosts import Host


def test_progress_bar_when_asked(a, solo, capfd):
    value = np.random.default_rng(0).random(10 << 20)  # 80 MiB
    oid = a.put(value)
    new_id = vineyard_migrate.migrate(oid, solo, source=a, progress=True)
    assert "B/s" in capfd.readouterr().err
    np.testing.assert_array_equal(solo.get(new_id), value)


def test_progress_bar_is_drawn_by_the_calling_thread_not_the_engines(a, solo, monkeypatch):
    """No Python runs on the engine's threads (a Netty event loop moves TCP bytes): the engine only
    stores the bytes moved, and the thread that called migrate draws the bar from them. Every
    draw is on this thread, and the bar reaches the whole size."""
    import threading

    import tqdm.auto

    draws = []

    class Recording(tqdm.auto.tqdm):
        def update(self, n=1):
            draws.append((threading.get_ident(), int(n)))
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    value = np.random.default_rng(2).random(16 << 20)  # 128 MiB: several slices of the wait
    oid = a.put(value)
    new_id = vineyard_migrate.migrate(oid, solo, source=a, progress=True)
    assert draws, "no progress was drawn"
    assert {thread for thread, _ in draws} == {threading.get_ident()}
    assert sum(n for _, n in draws) == value.nbytes
    np.testing.assert_array_equal(solo.get(new_id), value)


def test_no_progress_bar_when_off_or_not_on_a_terminal(a, solo, capfd):
    value = np.random.default_rng(1).random(10 << 20)
    oid = a.put(value)
    vineyard_migrate.migrate(oid, solo, source=a, progress=False)
    vineyard_migrate.migrate(oid, solo, source=a)  # stderr is captured here: not a terminal
    assert "B/s" not in capfd.readouterr().err


def test_engine_warnings_reach_python_logging_and_auto_falls_back(stack, a, b):
    """From "another host" (MY_HOST_NAME differs), with a published agent that does not answer,
    auto falls back to vineyardd's RPC and says so through Python's logging."""
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::migrate::AgentEndpoint"
    meta["host"] = "127.0.0.1"
    meta["port"] = 9  # nothing listens on the discard port here
    meta["nbytes"] = 0
    record = a.create_metadata(meta)
    a.persist(record.id)
    name = "vineyard-migrate-agent-i%d" % a.instance_id
    a.put_name(record.id, name)
    try:
        oid = a.put(np.arange(1000.0))
        a.persist(oid)
        elsewhere = Host("elsewhere", "127.0.0.1", ())
        result = elsewhere.migrate(obj="o%016x" % int(oid), target=stack.b.socket,
                                   env={"MY_HOST_NAME": "another-host"})
        assert result.get("transport", "").startswith("rpc"), result
        assert "WARNING vineyard_migrate.engine" in result["stderr"]
        assert "falling back to vineyardd's RPC" in result["stderr"]
        np.testing.assert_array_equal(b.get(vineyard.ObjectID(result["object_id"])), np.arange(1000.0))
    finally:
        a.drop_name(name)
        a.delete(record.id)


def test_engine_makes_only_the_records_pythons_level_keeps_and_follows_a_later_level(a, solo):
    """A record below Python's level is not even made in the JVM (each would cost a warm call a
    stack walk and a hand-off), and a level set after the engine started counts from the next call:
    DEBUG set later brings the engine's debug records."""
    import logging
    import time

    import jpype

    logger = logging.getLogger("vineyard_migrate.engine")
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append((record.levelno, record.getMessage()))

    handler = Keep(logging.DEBUG)
    before = logger.level
    logger.addHandler(handler)
    oid = a.put(np.arange(10.0))
    try:
        logger.setLevel(logging.WARNING)
        solo.delete(vineyard_migrate.migrate(oid, solo, source=a, progress=False), deep=True)
        jul = jpype.JClass("java.util.logging.Logger").getLogger("io.v6d.migrate")
        assert not jul.isLoggable(jpype.JClass("java.util.logging.Level").FINE)
        logger.setLevel(logging.DEBUG)
        new_id = vineyard_migrate.migrate(oid, solo, source=a, progress=False)
        deadline = time.monotonic() + 10
        while not any(level == logging.DEBUG and "migrated" in m for level, m in seen) and time.monotonic() < deadline:
            time.sleep(0.05)  # records are delivered by a thread of their own
        assert any(level == logging.DEBUG and "migrated" in m for level, m in seen), seen
        solo.delete(new_id, deep=True)
    finally:
        logger.setLevel(before)
        logger.removeHandler(handler)
        a.delete(oid)
