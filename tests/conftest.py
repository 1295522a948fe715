"""Fixtures: real etcd and vineyardd instances, started once for the whole session.

- ``cluster``: three instances, ``a``, ``b`` and ``c``, sharing one etcd (they see each other's
  metadata);
- ``solo``: an independent instance (``--meta local``);
- ``tiny``: an independent instance too small for the larger test objects.
"""

import dataclasses
import glob
import os

import pytest

from vineyard_servers import Servers, settled_snapshot, snapshot

# The fault injection some tests turn on (corrupt, stall, bomb: see SystemPropertyFaults) is in the
# test-hooks jar Maven builds beside the shipped one; every JVM the tests start (in-process, agents,
# CLI) puts it on its class path through this variable. Set here, before any JVM starts.
_HOOKS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target",
                                       "vineyard-migrate-*-testhooks.jar")))
if _HOOKS:
    os.environ.setdefault("VINEYARD_MIGRATE_TEST_HOOKS", _HOOKS[-1])


@dataclasses.dataclass
class Stack:
    a: object
    b: object
    c: object
    solo: object
    tiny: object


@pytest.fixture(scope="session")
def stack():
    with Servers() as servers:
        servers.start_etcd()
        yield Stack(
            a=servers.start_vineyardd("a", size="1Gi", cluster="migrate-test"),
            b=servers.start_vineyardd("b", size="1Gi", cluster="migrate-test"),
            c=servers.start_vineyardd("c", size="512Mi", cluster="migrate-test"),
            solo=servers.start_vineyardd("solo", size="1Gi"),
            tiny=servers.start_vineyardd("tiny", size="32Mi"),
        )


def _client_of(instance_name):
    """A fixture giving a fresh vineyard client of one instance of the stack, closed afterwards."""

    @pytest.fixture(name=instance_name)
    def client(stack):
        connection = getattr(stack, instance_name).client()
        yield connection
        connection.close()

    return client


a = _client_of("a")
b = _client_of("b")
c = _client_of("c")
solo = _client_of("solo")
tiny = _client_of("tiny")


@pytest.fixture
def unchanged():
    """``with unchanged(client): ...`` asserts the block left the instance as it found it."""
    import contextlib

    @contextlib.contextmanager
    def check(client):
        before = settled_snapshot(client)
        yield
        after = snapshot(client)
        assert after == before, "the target changed: %s -> %s" % (before, after)

    return check
