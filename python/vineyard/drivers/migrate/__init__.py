"""Plugs vineyard-migrate into vineyard.

vineyard imports every ``vineyard.drivers.*`` module on ``import vineyard``; this one adds
``vineyard.migrate(obj, target, ...)`` and a ``.migrate(target, ...)`` method on vineyard
``Object`` and ``ObjectMeta``. It imports nothing heavy: the JVM starts on the first migration.

>>> import vineyard
>>> new_id = vineyard.migrate(oid, "/tmp/b.sock", source="/tmp/a.sock")
>>> obj = client_a.get_object(oid); obj.migrate(client_b, source=client_a)
"""

import functools
import sys

import vineyard_migrate

vineyard = sys.modules["vineyard"]


def _migrate_method(self, target, **kwargs):
    return vineyard_migrate.migrate(self, target, **kwargs)


functools.update_wrapper(_migrate_method, vineyard_migrate.migrate)

vineyard.migrate = vineyard_migrate.migrate
for _cls in (vineyard.Object, vineyard.ObjectMeta):
    if not hasattr(_cls, "migrate"):
        _cls.migrate = _migrate_method
vineyard.default_driver_context.register("vineyard::", "migrate", _migrate_method)
