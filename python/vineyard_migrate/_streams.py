"""Streams and global objects: ``migrate_stream`` and ``migrate_to_local``."""

from . import _calls, _errors, _objects


class StreamMigration:
    """A stream being forwarded in the background (returned by :func:`migrate_stream`).

    >>> forwarding = vineyard_migrate.migrate_stream(stream_id, b, source=a)
    >>> reader = b.get(forwarding.stream_id).open_reader(b)   # readable at once
    >>> forwarding.wait()                                     # raises if forwarding failed
    >>> forwarding.chunks, forwarding.bytes
    """

    def __init__(self, handle):
        self._handle = handle
        self.stream_id = _objects.object_id(handle.targetStreamIdString())  #: the target stream
        self.source_stream_id = _objects.object_id(handle.sourceStreamIdString())

    @property
    def chunks(self):
        """Chunks forwarded so far."""
        return int(self._handle.chunks())

    @property
    def bytes(self):
        """Bytes forwarded so far."""
        return int(self._handle.bytes())

    @property
    def state(self):
        """``"running"``, ``"finished"`` or ``"failed"``."""
        return str(self._handle.state())

    @property
    def done(self):
        return bool(self._handle.isDone())

    @property
    def error(self):
        """The failure as vineyard's exception (e.g. ``StreamFailedException``), or None."""
        error = self._handle.error()
        return None if error is None else _errors.exception_for(error.codeValue(), str(error.getMessage()))

    def wait(self, timeout=None):
        """Waits until forwarding ends; raises its error if it failed, TimeoutError if still running."""
        if not _calls.wait_for(self._handle.await_, timeout):
            raise TimeoutError("stream migration to %s still running after %ss" % (self.stream_id, timeout))
        if self.error is not None:
            raise self.error
        return self

    def cancel(self):
        """Stops forwarding; the target stream is marked failed."""
        self._handle.cancel()

    def __repr__(self):
        return "StreamMigration(%s -> %s, %s, %d chunks, %d bytes)" % (
            self.source_stream_id, self.stream_id, self.state, self.chunks, self.bytes)


def migrate_stream(stream, target, *, source=None, transport="auto", token_file=None, connections=None,
                   max_in_flight=256 << 20, timeout=None, **link):
    """Forward a vineyard stream to another instance as it is written; returns at once.

    A stream of the same type and parameters (ByteStream, RecordBatchStream, DataframeStream) is
    created on the target; each chunk is forwarded as soon as the source produces it, over shared
    memory on one host, or through the source's agent from another host (run this on the target's
    host). The end of the source stream ends the target stream; a failed source stream, or a failure
    in transit, marks the target stream failed, so its readers get ``StreamFailedException``.

    Args:
        stream: the source stream: an ``ObjectID`` or a name.
        target, source, transport, token_file, connections: as for :func:`migrate`.
        link: ``compression``, ``tls``, ``tls_ca``, ``tls_cert``, ``tls_key``, as for :func:`migrate`.
        max_in_flight: bytes of forwarded chunks not yet read on the target, at most (one chunk
            always passes); beyond it, forwarding waits for the target's readers.
        timeout: as for :func:`migrate`, with one difference: waiting for the source's next chunk is
            not bounded by it, since a producer may legitimately be slow; instead the peer holding the
            stream (its vineyardd, or its agent) must answer a request once per ``timeout`` while we
            wait, so a stopped peer fails the forwarding (``ConnectionErrorException``) and a slow
            producer does not.

    Returns:
        A :class:`StreamMigration`: ``.stream_id`` is the target stream, ``.wait()`` waits for the
        end, ``.chunks`` / ``.bytes`` / ``.state`` tell the progress.
    """
    ref = _objects.object_ref(stream)
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight <= 0:
        raise ValueError("max_in_flight must be a positive number of bytes")
    engine, options = _objects.engine_options(source=source, transport=transport, token_file=token_file,
                                              connections=connections, timeout=timeout, **_link(link))
    with _errors.mapped_errors():
        handle = engine.migrateStream(ref, _objects.endpoint_of(target, "target"), options, max_in_flight)
        return StreamMigration(handle)


def _link(options):
    """The agent-link keyword arguments (compression and TLS); anything else is a TypeError."""
    unknown = set(options) - {"compression", "tls", "tls_ca", "tls_cert", "tls_key"}
    if unknown:
        raise TypeError("unexpected keyword argument(s): %s" % ", ".join(sorted(unknown)))
    return options


def migrate_to_local(global_obj, replica, rank, client, *, policy="original", transport="auto", token_file=None,
                     timeout=None, **link):
    """Gather rank ``rank``'s share of a global object onto ``client``'s instance.

    The share follows the original ``vineyard-migrate-to-local``: the global object's chunks are
    sorted by the node name of the instance holding them, then by id, and cut into ``replica``
    contiguous parts (each of ``n / replica`` chunks, plus one when ``replica`` does not divide
    ``n``, as the original computed it). Chunks already on the instance are not copied.

    ``policy="balanced"`` gives each rank a share balanced by bytes (no rank more than its ideal
    share plus less than one chunk) that keeps chunks where they are when they are already on the
    rank's instance, moving the fewest bytes; rank ``r``'s instance is taken to be the ``r``-th of
    the instances holding chunks, sorted by node name then instance id (the order the original rule
    sorts chunks by), so every rank computes the same shares alone.

    >>> ids = vineyard_migrate.migrate_to_local(gdf_id, replica=3, rank=1, client=client)
    >>> frames = [client.get(i) for i in ids]

    ``timeout`` is as for :func:`migrate`, and so are the agent-link options ``compression``,
    ``tls``, ``tls_ca``, ``tls_cert`` and ``tls_key``.

    Returns:
        The local ``ObjectID`` of each chunk of the share, in order.
    """
    if isinstance(replica, bool) or not isinstance(replica, int) or replica < 1:
        raise ValueError("replica must be a positive int, not %r" % (replica,))
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < replica:
        raise ValueError("rank must be an int in [0, %d), not %r" % (replica, rank))
    if policy not in ("original", "balanced"):
        raise ValueError("policy must be \"original\" or \"balanced\", not %r" % (policy,))
    ref = _objects.object_ref(global_obj)
    engine, options = _objects.engine_options(transport=transport, token_file=token_file, timeout=timeout,
                                              **_link(link))
    with _errors.mapped_errors():
        ids = _calls.result_of(engine.startMigrateToLocal(
            ref, replica, rank, _objects.endpoint_of(client, "client"), policy, options))
        return [_objects.object_id(i) for i in ids]
