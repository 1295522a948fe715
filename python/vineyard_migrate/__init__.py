"""vineyard-migrate: copy vineyard objects between vineyardd instances.

The bytes are moved by a Java engine that runs in this process (through JPype); the JVM starts on
the first migration, never on import.

>>> import numpy as np, vineyard
>>> a = vineyard.connect("/var/run/vineyard-a.sock")
>>> b = vineyard.connect("/var/run/vineyard-b.sock")
>>> oid = a.put(np.arange(10))
>>> new_id = vineyard.migrate(oid, b, source=a)   # or vineyard_migrate.migrate(...)
>>> b.get(new_id)
array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
"""

from ._api import MigrationResult, migrate, plan
from ._doctor import Check, doctor
from ._errors import MigrationError
from ._gc import gc
from ._jvm import JavaNotFoundError, JavaVersionError
from ._many import Session, migrate_many
from ._pool import close, pool_stats
from ._rebalance import rebalance, rebalance_plan
from ._streams import StreamMigration, migrate_stream, migrate_to_local

try:
    from ._version import version as __version__  # written by the build, from pom.xml
except ImportError:  # a source checkout that was never built
    from importlib.metadata import version as _installed_version

    __version__ = _installed_version("vineyard-migrate")

__all__ = [
    "migrate",
    "migrate_many",
    "Session",
    "migrate_stream",
    "migrate_to_local",
    "plan",
    "rebalance",
    "rebalance_plan",
    "gc",
    "MigrationResult",
    "StreamMigration",
    "MigrationError",
    "JavaNotFoundError",
    "JavaVersionError",
    "doctor",
    "close",
    "pool_stats",
    "Check",
    "__version__",
]
