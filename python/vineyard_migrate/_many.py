"""``migrate_many`` and ``Session``: many objects as one batch, and connections with a lifetime."""

from . import _calls, _errors, _jvm, _objects


def migrate_many(objs, target, *, source=None, names=None, overwrite_name=False, persist=True, transport="auto",
                 token_file=None, connections=None, timeout=None, progress=None, details=False, compression="none",
                 tls=False, tls_ca=None, tls_cert=None, tls_key=None, copy=False, _pool=None):
    """Migrate several objects to one target as one batch and return their ids there, in order.

    All or nothing: when one object fails, nothing of the batch is left on the target and the
    error (vineyard's exception for its cause) names that object. Objects migrated to this target
    before are returned as they are (unless ``copy=True``). The fixed costs are paid once per
    source instance, not per object: one metadata request, one transfer spread over the
    connections, the metadata of all the objects created together. A target ``"tcp://host:port"``
    (the agent beside it) is pushed to, all or nothing as well.

    The other arguments are those of :func:`vineyard_migrate.migrate`; ``names`` is None or one
    name (or None) per object, and ``overwrite_name`` applies to each of them; with
    ``details=True`` the result is a list of :class:`MigrationResult`.

    >>> ids = vineyard_migrate.migrate_many([w1, w2, w3], "/tmp/b.sock", source="/tmp/a.sock")
    >>> ids = vineyard_migrate.migrate_many(chunks, "tcp://host2:9700", source=a_client, compression="lz4")
    """
    from . import _api, _progress

    refs = [_objects.object_ref(obj) for obj in objs]
    target_endpoint = _objects.endpoint_of(target, "target")
    if names is not None:
        names = list(names)
        if len(names) != len(refs):
            raise ValueError("names gives %d names for %d objects" % (len(names), len(refs)))
        for name in names:
            if name is not None and not isinstance(name, str):
                raise TypeError("names must be str or None, not %s" % type(name).__name__)
    _objects.flag(details, "details")
    if progress is not None:
        _objects.flag(progress, "progress")
    engine, options = _objects.engine_options(
        source=source, persist=persist, overwrite_name=overwrite_name, transport=transport, token_file=token_file,
        connections=connections, timeout=timeout, copy=copy, compression=compression, tls=tls, tls_ca=tls_ca,
        tls_cert=tls_cert, tls_key=tls_key, pool=_pool)
    if not refs:
        return []
    import jpype

    java_names = None if names is None else jpype.JArray(jpype.JString)(names)
    gauge, bar = _progress.listener(progress, "migrate %d objects" % len(refs))
    try:
        with _errors.mapped_errors():
            call = engine.startMigrateMany(jpype.JArray(jpype.JString)(refs), target_endpoint, options, java_names,
                                           gauge)
            results = _calls.result_of(call, None if bar is None else bar.poll)
            if details:
                return [_api.result_of(r) for r in results]
            # one call for all the ids: a thousand calls into Java would cost more than the batch's metadata
            return [_objects.object_id(text) for text in str(engine.targetIds(results)).split()]
    finally:
        if bar is not None:
            bar.close()


class Session:
    """Migrations to one target whose connections live as long as the session, not the process.

    ``s.migrate`` and ``s.migrate_many`` are :func:`vineyard_migrate.migrate` and
    :func:`migrate_many` with the session's target and defaults; the session keeps its own pool of
    connections and closes all of them on exit (or :meth:`close`).

    >>> with vineyard_migrate.Session("/tmp/b.sock", source="/tmp/a.sock") as s:
    ...     ids = [s.migrate(o) for o in chunks]
    ...     more = s.migrate_many(others)
    """

    def __init__(self, target, source=None, transport="auto", **defaults):
        self._target = target
        self._defaults = dict(defaults, source=source, transport=transport)
        self._pool = None

    def _opened(self):
        if self._pool is None:
            self._pool = _jvm.engine().openPool()
        return self._pool

    def migrate(self, obj, **options):
        """:func:`vineyard_migrate.migrate` of ``obj`` to the session's target."""
        from . import _api

        return _api.migrate(obj, self._target, _pool=self._opened(), **dict(self._defaults, **options))

    def migrate_many(self, objs, **options):
        """:func:`vineyard_migrate.migrate_many` of ``objs`` to the session's target."""
        return migrate_many(objs, self._target, _pool=self._opened(), **dict(self._defaults, **options))

    def close(self):
        """Closes every connection the session opened (a no-op the second time)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
