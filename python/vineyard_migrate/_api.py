"""``migrate``: the Python face of the engine."""

import dataclasses

from . import _errors, _jvm, _objects


@dataclasses.dataclass(frozen=True)
class MigrationResult:
    """What one migration did (returned with ``details=True``)."""

    object_id: object  #: the object's id on the target (a vineyard.ObjectID)
    source_id: object  #: the object's id on the source
    blobs_copied: int
    blobs_reused: int
    bytes_copied: int
    seconds: float
    transport: str

    @property
    def already_on_target(self):
        return self.object_id == self.source_id


def migrate(obj, target, *, source=None, name=None, persist=True, details=False):
    """Migrate a vineyard object to another vineyardd instance and return its id there.

    The object's blobs are copied into the target's shared memory and its metadata tree is rebuilt
    there, so jobs attached to the target read it zero-copy as a local object. An object already on
    the target is returned as it is; blobs already on the target are reused. When anything fails
    the target is left as it was.

    Args:
        obj: the object: an ``ObjectID``, a vineyard ``Object`` or ``ObjectMeta``, or a name.
        target: the target instance: a vineyard IPC client or its IPC socket path.
        source: the instance holding the object (client or socket). In a cluster it defaults to
            the holder, found through the target's cluster metadata; for independent instances
            (``--meta local``) it is required.
        name: a name to give the migrated object on the target.
        persist: persist the migrated object on the target (default True).
        details: return a :class:`MigrationResult` instead of the bare id.

    Returns:
        The ``ObjectID`` of the object on the target (or a ``MigrationResult``).

    Raises:
        vineyard.ObjectNotExistsException: no such object id or name.
        vineyard.NotEnoughMemoryException: the target cannot hold the object.
        vineyard.InvalidException: bad arguments.
        JavaNotFoundError: no Java runtime to run the engine.

    Example:

    >>> new_id = vineyard_migrate.migrate(df_id, "/tmp/b.sock", source="/tmp/a.sock", name="df")
    >>> vineyard.connect("/tmp/b.sock").get(new_id)
    """
    ref = _objects.object_ref(obj)
    target_socket = _objects.socket_of(target, "target")
    source_socket = _objects.socket_of(source, "source")
    if name is not None and not isinstance(name, str):
        raise TypeError("name must be a str, not %s" % type(name).__name__)
    engine = _jvm.engine()
    with _errors.mapped_errors():
        result = engine.migrate(ref, target_socket, source_socket, name, bool(persist))
        outcome = MigrationResult(
            object_id=_objects.object_id(result.targetIdString()),
            source_id=_objects.object_id(result.sourceIdString()),
            blobs_copied=int(result.blobsCopied()),
            blobs_reused=int(result.blobsReused()),
            bytes_copied=int(result.bytesCopied()),
            seconds=float(result.seconds()),
            transport=str(result.transport()),
        )
    return outcome if details else outcome.object_id
