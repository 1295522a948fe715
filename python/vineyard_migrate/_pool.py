"""The connections the engine keeps between migrations, seen from Python.

>>> import vineyard_migrate
>>> vineyard_migrate.migrate(oid, "/var/run/b.sock", source="/var/run/a.sock")   # connects
>>> vineyard_migrate.migrate(oid2, "/var/run/b.sock", source="/var/run/a.sock")  # reuses them
>>> vineyard_migrate.close()   # closes them now (they are closed at exit anyway)
"""

import json

from . import _jvm


def close():
    """Closes the connections kept between migrations; the next migration opens new ones.

    Called at interpreter exit too. A no-op when no migration ran in this process.
    """
    _jvm.close()


def pool_stats():
    """What the engine's pool did so far: ``{"registrations": n, "opened_by_pool": o, "idle": m,
    "agent_connections": k, "idle_agent_links": l}``.

    ``registrations`` counts IPC registrations with any vineyardd since the engine started (a warm
    migration adds none); ``opened_by_pool`` counts the vineyardd connections the pool opened (it
    opens all of the engine's, so this grows as ``registrations`` does); ``idle`` counts the connections the pool holds now (IPC connections and
    agent links); ``agent_connections`` counts the authenticated agent connections opened since the
    engine started (a warm migration through an agent adds none); ``idle_agent_links`` counts the
    agent links among the idle.

    >>> vineyard_migrate.pool_stats()["registrations"]
    4
    """
    return json.loads(str(_jvm.engine().poolStatsJson()))
