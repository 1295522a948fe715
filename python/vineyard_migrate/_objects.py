"""Turning what users pass (objects, ids, names, clients, sockets) into what the engine takes."""

import os
import re

_ID = re.compile(r"^o[0-9a-fA-F]{16}$")


def object_ref(obj):
    """An engine object reference: ``o`` + 16 hex digits for ids, the name itself otherwise."""
    import vineyard

    if isinstance(obj, (vineyard.Object, vineyard.ObjectMeta)):
        obj = obj.id
    if isinstance(obj, vineyard.ObjectID):
        return "o%016x" % int(obj)
    if isinstance(obj, bool):
        raise TypeError("an object to migrate cannot be a bool")
    if isinstance(obj, int):
        if not 0 <= obj < 1 << 64:
            raise ValueError("object id %d is out of the 64-bit range" % obj)
        return "o%016x" % obj
    if isinstance(obj, vineyard.ObjectName):
        obj = str(obj)
    if isinstance(obj, str):
        if not obj:
            raise ValueError("an empty string is neither an object id nor a name")
        return obj.lower() if _ID.match(obj) else obj
    raise TypeError(
        "migrate() takes an ObjectID, a vineyard Object or ObjectMeta, or an object name, "
        "not %s" % type(obj).__name__
    )


def endpoint_of(instance, role):
    """What the engine takes for an instance: the IPC socket of a vineyard client, or the string
    itself (an IPC socket path, ``tcp://host:port`` of an agent, ``rpc://host:port``)."""
    if instance is None:
        return None
    if isinstance(instance, os.PathLike):
        instance = os.fspath(instance)
    if isinstance(instance, str):
        if not instance:
            raise ValueError("the %s's IPC socket path is empty" % role)
        return instance
    socket = getattr(instance, "ipc_socket", None)
    if not socket:
        raise ValueError(
            "the %s must be a vineyard IPC client or an IPC socket path; %r has no IPC socket"
            % (role, instance)
        )
    return socket


TRANSPORTS = ("auto", "local", "tcp", "rpc")


def transport_of(transport):
    """The transport name, checked."""
    if transport not in TRANSPORTS:
        raise ValueError("transport must be one of %s, not %r" % (", ".join(TRANSPORTS), transport))
    return transport


DEFAULT_TIMEOUT = 30.0  #: seconds; the engine's Timeouts.DEFAULT_MILLIS
_MAX_TIMEOUT = 7 * 24 * 3600.0


def timeout_millis(timeout):
    """``timeout=`` (seconds, None for the default) as milliseconds for the engine, checked."""
    import math

    if timeout is None:
        return 0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds, not %s" % type(timeout).__name__)
    if not (math.isfinite(timeout) and 0 < timeout <= _MAX_TIMEOUT):
        raise ValueError("timeout must be a positive number of seconds, at most %d, not %r" % (_MAX_TIMEOUT, timeout))
    return max(1, int(math.ceil(timeout * 1000)))


def path_or_none(path):
    """A path for the engine (a str, ``~`` expanded), or None."""
    return None if path is None else os.path.expanduser(os.fspath(path))


def connections_of(connections):
    """The engine's connection count: 0 for the default, else 1 to 64."""
    return 0 if connections is None else int_in(connections, "connections", 1, 64)


def int_in(value, option, low, high):
    """An int option from ``low`` to ``high``, checked (a bool is no int here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("%s must be an int from %d to %d, not %r" % (option, low, high, value))
    return value


def flag(value, option):
    """A boolean option, checked: ``persist='no'`` must not mean True."""
    if not isinstance(value, bool):
        raise TypeError("%s must be True or False, not %r" % (option, value))
    return value


def engine_options(*, source=None, name=None, persist=True, overwrite_name=False, transport="auto",
                   token_file=None, connections=None, timeout=None, copy=False, compression="none", tls=False,
                   tls_ca=None, tls_cert=None, tls_key=None, pool=None):
    """``(engine, options)``: the keyword arguments checked (before the JVM starts: bad input never
    costs a JVM), then the engine and its ``MigrateOptions`` holding them; ``pool`` is a Session's."""
    from . import _jvm

    checked = (endpoint_of(source, "source"), name, flag(persist, "persist"), flag(overwrite_name, "overwrite_name"),
               transport_of(transport), path_or_none(token_file), connections_of(connections), timeout_millis(timeout),
               flag(copy, "copy"))
    source, name, persist, overwrite_name, transport, token_file, connections, timeout_ms, copy = checked
    tls, tls_ca, tls_cert, tls_key = tls_of(tls, tls_ca, tls_cert, tls_key)
    if compression not in ("auto", "lz4", "zstd", "none"):
        raise ValueError("compression must be 'auto', 'lz4', 'zstd' or 'none', not %r" % (compression,))
    engine = _jvm.engine()
    options = engine.options().source(source).name(name).persist(persist).overwriteName(overwrite_name)
    options.transport(transport).tokenFile(token_file).connections(connections).timeoutMillis(timeout_ms).copy(copy)
    options.compression(compression).tls(tls).tlsCa(tls_ca).tlsCert(tls_cert).tlsKey(tls_key)
    if pool is not None:
        options.pool(pool)
    return engine, options


def tls_of(tls, tls_ca, tls_cert, tls_key):
    """``(tls, ca, cert, key)`` checked: TLS on when asked or when any file is given; a certificate
    needs its key; every file must exist."""
    flag(tls, "tls")
    files = [path_or_none(f) for f in (tls_ca, tls_cert, tls_key)]
    if (files[1] is None) != (files[2] is None):
        raise ValueError("tls_cert and tls_key go together: give both (mutual TLS) or neither")
    for label, path in zip(("tls_ca", "tls_cert", "tls_key"), files):
        if path is not None and not os.path.isfile(path):
            raise ValueError("%s: no such file %r" % (label, path))
    return (tls or any(f is not None for f in files), *files)


def object_id(text):
    import vineyard

    return vineyard.ObjectID(str(text))
