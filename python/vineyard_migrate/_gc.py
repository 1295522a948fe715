"""``gc``: reclaim what dead migrations left on an instance."""

import json

from . import _errors, _jvm, _objects


def gc(target):
    """Reclaim what migrations whose process died left on ``target``, and say what that was.

    Every migration records what it allocates on its target in a journal held by the target, and
    holds a lock while its process lives. ``gc`` frees the blobs, metadata objects and name listed
    by the journals of dead owners (killed with ``kill -9``, crashed, or on a host that went away),
    then their journals. Live migrations, and anything no journal lists, are never touched. Agents
    and new migrations into the instance reclaim by themselves; this is the on-demand way.

    Args:
        target: the instance: a vineyard IPC client or its IPC socket path.

    Returns:
        A list with one dict per dead migration reclaimed: ``owner``, ``host``, ``pid``, ``blobs``
        (ids, as ``"o..."`` strings), ``bytes``, ``objects`` and ``names``. Empty when there was
        nothing to reclaim.

    Example:

    >>> client = vineyard.connect("/var/run/vineyard.sock")
    >>> for dead in vineyard_migrate.gc(client):
    ...     print(dead["pid"], dead["bytes"])
    4711 2147483648
    """
    socket = _objects.endpoint_of(target, "target")
    if socket is None or socket.startswith(("tcp://", "rpc://")):
        raise ValueError("gc needs the target's IPC socket (a client or a path), not %r" % (socket,))
    engine = _jvm.engine()
    with _errors.mapped_errors():
        return json.loads(str(engine.reclaimJson(socket)))
