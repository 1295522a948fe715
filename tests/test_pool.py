"""Warm calls: connections kept between migrations are reused, pin nothing, and survive restarts."""

import numpy as np
import pandas as pd
import pytest

import vineyard_migrate
from vineyard_servers import Servers, snapshot


def _registrations():
    return vineyard_migrate.pool_stats()["registrations"]


def test_warm_calls_register_no_new_connection(a, solo):
    value = np.arange(1000)
    oid = a.put(value)
    vineyard_migrate.close()
    first = vineyard_migrate.migrate(oid, solo, source=a, persist=False)  # warms the pool
    solo.delete(first, deep=True)
    before = _registrations()
    for _ in range(100):
        new_id = vineyard_migrate.migrate(oid, solo, source=a, persist=False)
        np.testing.assert_array_equal(solo.get(new_id), value)
        solo.delete(new_id, deep=True)
    assert _registrations() == before
    assert vineyard_migrate.pool_stats()["idle"] == 2  # one call at a time: one connection per instance
    a.delete(oid, deep=True)


def test_pooled_connections_pin_no_memory(a, solo):
    """Deleting the migrated object frees its memory on the target at once, the pool still open."""
    before = snapshot(solo)
    oid = a.put(np.ones(1 << 20))
    a_before = a.status.memory_usage
    new_id = vineyard_migrate.migrate(oid, solo, source=a)
    assert vineyard_migrate.pool_stats()["idle"] > 0
    assert solo.status.memory_usage >= before["memory_usage"] + (8 << 20)
    solo.delete(new_id, deep=True)
    assert snapshot(solo) == before
    a.delete(oid, deep=True)  # and the source's copy, read through a pooled connection, is freed too
    assert a.status.memory_usage <= a_before - (8 << 20)


def test_close_closes_every_pooled_connection(a, solo):
    oid = a.put(np.arange(10))
    vineyard_migrate.migrate(oid, solo, source=a, persist=False)
    assert vineyard_migrate.pool_stats()["idle"] > 0
    vineyard_migrate.close()
    assert vineyard_migrate.pool_stats()["idle"] == 0
    before = _registrations()
    new_id = vineyard_migrate.migrate(oid, solo, source=a, persist=False)  # connects anew
    assert _registrations() == before + 2
    solo.delete(new_id, deep=True)
    a.delete(oid, deep=True)


def test_restarted_vineyardd_is_reconnected_transparently(a):
    with Servers() as servers:
        target = servers.start_vineyardd("restarted", size="256Mi")
        oid = a.put(np.arange(100))
        client = target.client()
        vineyard_migrate.migrate(oid, target.socket, source=a)
        client.close()
        target.stop()
        target = servers.start_vineyardd("restarted", size="256Mi")  # the same socket path
        before = _registrations()
        new_id = vineyard_migrate.migrate(oid, target.socket, source=a)
        assert _registrations() == before + 1  # the stale target connection replaced, once
        client = target.client()
        np.testing.assert_array_equal(client.get(new_id), np.arange(100))
        client.close()
        target.stop()
        with pytest.raises(Exception):  # a second failure (nothing listens) surfaces as before
            vineyard_migrate.migrate(oid, target.socket, source=a)
    a.delete(oid, deep=True)


def test_migrating_again_returns_the_first_copy_until_it_is_deleted(a, solo):
    oid = a.put(np.arange(50))
    first = vineyard_migrate.migrate(oid, solo, source=a)
    again = vineyard_migrate.migrate(oid, solo, source=a, details=True)
    assert again.object_id == first and again.bytes_copied == 0
    fresh = vineyard_migrate.migrate(oid, solo, source=a, copy=True)
    assert fresh not in (first, oid)
    solo.delete(first, deep=True)
    solo.delete(fresh, deep=True)
    third = vineyard_migrate.migrate(oid, solo, source=a)  # the copies are gone: copied again
    assert third not in (first, fresh)
    np.testing.assert_array_equal(solo.get(third), np.arange(50))
    solo.delete(third, deep=True)
    a.delete(oid, deep=True)


def test_single_flight_copies_once_for_eight_threads(a, solo):
    from concurrent.futures import ThreadPoolExecutor

    oid = a.put(np.ones(4 << 20))
    before = solo.status.memory_usage
    with ThreadPoolExecutor(8) as threads:
        ids = list(threads.map(lambda _: vineyard_migrate.migrate(oid, solo, source=a), range(8)))
    assert len(set(ids)) == 1
    assert solo.status.memory_usage - before < 2 * (32 << 20)  # one copy of 32 MiB, not eight
    solo.delete(ids[0], deep=True)
    a.delete(oid, deep=True)


def _opened():
    stats = vineyard_migrate.pool_stats()
    return stats["registrations"], stats["opened_by_pool"]


def _ipc_connections(clients):
    return [c.status.ipc_connections for c in clients]


def _settled(clients, expected, seconds=30):
    """vineyardd counts a closed connection out asynchronously: wait for the count to settle."""
    import time

    deadline = time.monotonic() + seconds
    while _ipc_connections(clients) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return _ipc_connections(clients)


def test_to_local_and_stream_forwarding_connect_only_through_the_pool(stack, a, b, c):
    """Every vineyardd connection that migrate_to_local (both policies) and a stream forward open
    is the pool's: registrations grow exactly as the pool's own count. Once the forward ended and
    close() ran, no connection of this process is left on any vineyardd."""
    from test_streams import _global_frame, _produce, _read_all

    clients = [a, b, c]
    gid, values = _global_frame(clients)
    vineyard_migrate.close()
    baseline = _settled(clients, _ipc_connections(clients))
    registrations, opened = _opened()
    for policy in ("original", "balanced"):
        for rank, client in enumerate(clients):
            for local_id in vineyard_migrate.migrate_to_local(gid, 3, rank, client, policy=policy):
                frame = client.get(local_id)
                pd.testing.assert_frame_equal(frame, values[int(frame["x"].iloc[0])])
    producer, stream_id = _produce(stack.a.socket, "bytes", 3, 0.1)
    forwarding = vineyard_migrate.migrate_stream(stream_id, b, source=a)
    chunks, _ = _read_all(b, forwarding.stream_id, producer)
    forwarding.wait(timeout=60)
    assert len(chunks) == 3 and producer.wait(30) == 0
    now_registrations, now_opened = _opened()
    assert now_registrations - registrations == now_opened - opened > 0
    vineyard_migrate.close()
    assert vineyard_migrate.pool_stats()["idle"] == 0
    assert _settled(clients, baseline) == baseline
