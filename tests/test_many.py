"""migrate_many: ids in order, all or nothing; Session: its connections end with it."""

import time

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from vineyard_servers import snapshot


def test_many_in_order_with_equal_data(a, solo):
    values = [np.arange(n) for n in (1, 1000, 1 << 16, 7)]
    oids = [a.put(v) for v in values]
    new_ids = vineyard_migrate.migrate_many(oids, solo, source=a, names=[None, "many-1", None, None])
    assert len(new_ids) == 4 and len(set(new_ids)) == 4
    for new_id, value in zip(new_ids, values):
        np.testing.assert_array_equal(solo.get(new_id), value)
    assert solo.get_name("many-1") == new_ids[1]
    assert vineyard_migrate.migrate_many(oids, solo, source=a) == new_ids  # migrated before: the same copies
    solo.drop_name("many-1")
    for new_id in new_ids:
        solo.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


def test_many_rolled_back_when_the_target_runs_out_of_memory(a, tiny):
    before = snapshot(tiny)
    oids = [a.put(np.ones(10 << 17)) for _ in range(4)]  # 4 x 10 MiB into 32 MiB: the 4th cannot fit
    with pytest.raises(vineyard.NotEnoughMemoryException) as failure:
        vineyard_migrate.migrate_many(oids, tiny, source=a, copy=True)
    assert "o%016x" % int(oids[3]) in str(failure.value) or "number 4 of 4" in str(failure.value)
    assert snapshot(tiny) == before
    for oid in oids:
        a.delete(oid, deep=True)


def test_command_line_takes_several_objects(a, solo, stack):
    import subprocess
    import sys
    import os

    oids = [a.put(np.arange(5) + i) for i in range(3)]
    cli = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    out = subprocess.run([cli, "migrate", *["o%016x" % int(o) for o in oids], "--from", stack.a.socket,
                          "--to", stack.solo.socket], check=True, capture_output=True, text=True).stdout.split()
    assert len(out) == 3
    for i, text in enumerate(out):
        np.testing.assert_array_equal(solo.get(vineyard.ObjectID(text)), np.arange(5) + i)
        solo.delete(vineyard.ObjectID(text), deep=True)
    for oid in oids:
        a.delete(oid, deep=True)


def test_session_closes_every_connection_it_opened(a, solo):
    vineyard_migrate.close()  # the process-wide pool holds none now
    connections = lambda: solo.status.ipc_connections  # noqa: E731
    before = connections()
    oids = [a.put(np.arange(10) * i) for i in range(3)]
    with vineyard_migrate.Session(solo, source=a) as s:
        first = s.migrate(oids[0])
        rest = s.migrate_many(oids[1:])
        assert connections() == before + 1  # one pooled connection to the target, reused
    # other processes of the suite (agents reclaiming every 60 s) may hold a connection to this
    # instance for a moment: wait up to 10 s for the count to come back, no further
    deadline = time.monotonic() + 10
    while connections() != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert connections() == before
    assert vineyard_migrate.pool_stats()["idle"] == 0  # and the process-wide pool was not used
    for new_id, i in zip([first, *rest], range(3)):
        np.testing.assert_array_equal(solo.get(new_id), np.arange(10) * i)
        solo.delete(new_id, deep=True)
    for oid in oids:
        a.delete(oid, deep=True)
