"""``migrate``: the Python face of the engine."""

import dataclasses

from . import _calls, _errors, _objects, _progress

@dataclasses.dataclass(frozen=True)
class MigrationResult:
    """What one migration did (returned with ``details=True``)."""

    object_id: object  #: the object's id on the target (a vineyard.ObjectID)
    source_id: object  #: the object's id on the source
    blobs_copied: int
    blobs_reused: int
    bytes_copied: int
    seconds: float
    transport: str  #: "local", "tcp", "tcp-push", "rpc", "rpc+zstd", or "none"
    bytes_on_wire: int = 0  #: what crossed the agent link (frames, compressed); else bytes_copied
    compression: str = "none"  #: negotiated on the agent link: "auto", "lz4", "zstd" or "none"
    tls: bool = False  #: the agent link spoke TLS

    @property
    def already_on_target(self):
        return self.object_id == self.source_id


def migrate(
    obj,
    target,
    *,
    source=None,
    name=None,
    overwrite_name=False,
    persist=True,
    transport="auto",
    token_file=None,
    connections=None,
    timeout=None,
    progress=None,
    details=False,
    compression="none",
    tls=False,
    tls_ca=None,
    tls_cert=None,
    tls_key=None,
    copy=False,
    _pool=None,
):
    """Migrate a vineyard object to another vineyardd instance and return its id there.

    The object's blobs are copied into the target's shared memory and its metadata tree is rebuilt
    there, so jobs attached to the target read it zero-copy as a local object. An object already on
    the target is returned as it is; blobs already on the target are reused. When anything fails
    the target is left as it was.

    Args:
        obj: the object: an ``ObjectID``, a vineyard ``Object`` or ``ObjectMeta``, or a name.
        target: the target instance: a vineyard IPC client or its IPC socket path; or
            ``"tcp://host:port"``, the agent beside a target on another host (the bytes are pushed).
        source: the instance holding the object: a client, an IPC socket path, ``"tcp://host:port"``
            (its agent) or ``"rpc://host:port"`` (its vineyardd's RPC port). In a cluster it
            defaults to the holder, found through the target's cluster metadata; for independent
            instances (``--meta local``) it is required.
        name: a name to give the migrated object on the target. A name that names another object
            there already is refused (``vineyard.ObjectExistsException``) before anything is copied.
        overwrite_name: move ``name`` to the migrated object even when it names another one.
        persist: persist the migrated object on the target (default True).
        transport: ``"auto"`` (shared memory on one host, else the source's agent, else
            vineyardd's RPC), ``"local"``, ``"tcp"`` or ``"rpc"``.
        token_file: the agents' shared token (default: ``$VINEYARD_MIGRATE_TOKEN``, else
            ``~/.vineyard-migrate/token``).
        connections: at most this many parallel TCP connections (default 4).
        timeout: seconds any peer (a vineyardd, an agent) may stay silent while we wait for it
            (default 30). It bounds silence, not the whole migration: each request must be answered,
            and a transfer must keep moving, within it. When it passes, the migration fails with
            ``vineyard.ConnectionErrorException`` naming the peer and the request, and the target
            is left as it was.
        progress: show a progress bar: None (default) on a terminal for transfers over 64 MiB,
            True always, False never.
        details: return a :class:`MigrationResult` instead of the bare id.
        compression: how blob bytes are compressed on the agent link: ``"none"`` (default),
            ``"lz4"``, ``"zstd"``, or ``"auto"`` (per blob, whichever of zstd and zstd over
            byte-shuffled 8-byte elements shrank its first chunks more, raw when neither shrank
            them well). Each chunk is checked (CRC32C of its uncompressed bytes).
        tls: speak TLS 1.3 to the agents (implied by any ``tls_*`` file). Agents started with
            ``--tls-cert`` require it; the token is still required (TLS encrypts and proves the
            agent's host, the token authorizes).
        tls_ca: the CA (PEM) that signed the agents' certificates (default: the JDK's trust store).
        tls_cert, tls_key: our certificate and its PKCS#8 key (PEM), for agents started with
            ``--tls-ca`` (mutual TLS).
        copy: make a fresh copy even when an earlier migration of the object to this target
            instance left one there. By default that copy is returned again (as vineyard's own
            ``client.migrate`` does), found through a record on the target's host by any process;
            concurrent calls, in one process or several, copy once (see the README).

    Returns:
        The ``ObjectID`` of the object on the target (or a ``MigrationResult``).

    Raises:
        vineyard.ObjectNotExistsException: no such object id or name.
        vineyard.NotEnoughMemoryException: the target cannot hold the object.
        vineyard.InvalidException: bad arguments; ``obj`` is a stream (see :func:`migrate_stream`).
        vineyard.ObjectExistsException: ``name`` names another object on the target.
        TypeError: a boolean option that is not a bool.
        KeyboardInterrupt: Ctrl-C; raised once the target is rolled back.
        vineyard.ConnectionFailedException / ConnectionErrorException: an instance or agent cannot
            be reached, went away midway, or stayed silent past ``timeout``.
        vineyard.IOErrorException: data corrupted in transit (a CRC32C mismatch).
        JavaNotFoundError: no Java runtime to run the engine.

    Example:

    >>> new_id = vineyard_migrate.migrate(df_id, "/tmp/b.sock", source="/tmp/a.sock", name="df")
    >>> vineyard.connect("/tmp/b.sock").get(new_id)
    >>> vineyard_migrate.migrate(df_id, b_client)                  # in a cluster: source found
    >>> vineyard_migrate.migrate(df_id, "tcp://host2:9700", source=a_client)   # push to host2
    >>> vineyard_migrate.migrate(df_id, b_client, source="rpc://host1:9600", timeout=10)
    >>> vineyard_migrate.migrate(df_id, b_client, source="tcp://host1:9700", tls_ca="ca.pem")  # TLS
    """
    ref = _objects.object_ref(obj)
    target_endpoint = _objects.endpoint_of(target, "target")
    if name is not None and not isinstance(name, str):
        raise TypeError("name must be a str, not %s" % type(name).__name__)
    _objects.flag(details, "details")
    if progress is not None:
        _objects.flag(progress, "progress")
    engine, options = _objects.engine_options(
        source=source, name=name, persist=persist, overwrite_name=overwrite_name, transport=transport,
        token_file=token_file, connections=connections, timeout=timeout, copy=copy, compression=compression,
        tls=tls, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key, pool=_pool)
    gauge, bar = _progress.listener(progress, "migrate %s" % ref)
    try:
        with _errors.mapped_errors():
            call = engine.startMigrate(ref, target_endpoint, options, gauge)
            result = _calls.result_of(call, None if bar is None else bar.poll)
            # the bare id is one crossing into Java; the details are ten
            outcome = result_of(result) if details else _objects.object_id(result.targetIdString())
    finally:
        if bar is not None:
            bar.close()
    return outcome


def result_of(result):
    """The engine's MigrationResult as a :class:`MigrationResult`."""
    return MigrationResult(
        object_id=_objects.object_id(result.targetIdString()),
        source_id=_objects.object_id(result.sourceIdString()),
        blobs_copied=int(result.blobsCopied()),
        blobs_reused=int(result.blobsReused()),
        bytes_copied=int(result.bytesCopied()),
        seconds=float(result.seconds()),
        transport=str(result.transport()),
        bytes_on_wire=int(result.bytesOnWire()),
        compression=str(result.compression()),
        tls=bool(result.tls()),
    )


def plan(obj, target, *, source=None, transport="auto", token_file=None, connections=None, timeout=None,
         compression="none", tls=False, tls_ca=None, tls_cert=None, tls_key=None):
    """What :func:`migrate` would do, without doing it: a dict with ``object_id``,
    ``already_on_target``, ``bytes_to_move``, ``transports`` and ``blobs`` (each with ``id``,
    ``size``, ``instance_id``, ``action`` "copy" or "reuse", and ``transport``). ``timeout`` is as
    for :func:`migrate`, and so are the ``tls`` options."""
    import json

    ref = _objects.object_ref(obj)
    engine, options = _objects.engine_options(source=source, transport=transport, token_file=token_file,
                                              connections=connections, timeout=timeout, compression=compression,
                                              tls=tls, tls_ca=tls_ca,
                                              tls_cert=tls_cert, tls_key=tls_key)
    with _errors.mapped_errors():
        result = _calls.result_of(engine.startPlan(ref, _objects.endpoint_of(target, "target"), options))
        return json.loads(str(result.toJson().toString()))
