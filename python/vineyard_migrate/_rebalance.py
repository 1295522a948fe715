"""``rebalance`` and ``rebalance_plan``: spread a global object's chunks over instances."""

import json

from . import _calls, _errors, _objects

BY = ("bytes", "count")
PULLED_BY = ("auto", "agents", "caller")


def _instance_specs(instances):
    """Instance ids, ``i<id>`` strings, IPC socket paths or clients, as the engine's strings."""
    if instances is None:
        return None
    if isinstance(instances, (str, bytes, int)) or hasattr(instances, "ipc_socket"):
        instances = [instances]
    specs = []
    for instance in instances:
        if isinstance(instance, bool):
            raise TypeError("an instance must be a client, an IPC socket path or an instance id, not a bool")
        if isinstance(instance, int):
            if instance < 0:
                raise ValueError("an instance id must not be negative, not %d" % instance)
            specs.append(str(instance))
        else:
            specs.append(_objects.endpoint_of(instance, "instance"))
    if not specs:
        raise ValueError("instances is empty: name at least one instance, or pass None for every instance")
    return specs


def _via(via, specs):
    """The instance through which the cluster is seen: ``via``, else the first socket named."""
    if via is not None:
        return _objects.endpoint_of(via, "via")
    for spec in specs or ():
        if not spec.isdigit() and not (spec.startswith("i") and spec[1:].isdigit()):
            return spec
    raise ValueError("pass via= (a client or IPC socket of any instance of the cluster) when instances "
                     "are given as ids or not at all")


def _checked(global_obj, instances, via, by, max_moves):
    if by not in BY:
        raise ValueError("by must be \"bytes\" or \"count\", not %r" % (by,))
    if max_moves is not None and (isinstance(max_moves, bool) or not isinstance(max_moves, int) or max_moves < 0):
        raise ValueError("max_moves must be None or an int >= 0, not %r" % (max_moves,))
    specs = _instance_specs(instances)
    return _objects.object_ref(global_obj), specs, _via(via, specs), -1 if max_moves is None else max_moves


def rebalance_plan(global_obj, instances=None, *, via=None, by="bytes", max_moves=None, timeout=None):
    """What :func:`rebalance` would move, without moving anything.

    Returns a dict: ``moves`` (a list of ``{chunk, bytes, from, to}``, instance ids), ``chunks``
    (every chunk with ``from`` and ``to``), ``bytes_before`` and ``bytes_after`` (bytes per
    instance id, as str keys), ``bytes_moved``, ``optimal`` (the plan is proven to move the fewest
    bytes) and ``complete`` (False when ``max_moves`` cut it).

    >>> plan = vineyard_migrate.rebalance_plan(gdf_id, [c1, c2, c3, c4])
    >>> [(m["chunk"], m["bytes"], m["from"], m["to"]) for m in plan["moves"]]
    """
    ref, specs, via, moves = _checked(global_obj, instances, via, by, max_moves)
    engine, options = _objects.engine_options(timeout=timeout)
    import jpype

    with _errors.mapped_errors():
        rebalancer = jpype.JClass("io.v6d.migrate.cluster.Rebalance")
        text = _calls.result_of(rebalancer.startPlan(ref, via, specs, by, moves, options))
        return json.loads(str(text))


def rebalance(global_obj, instances=None, *, via=None, by="bytes", max_moves=None, persist=True, name=None,
              replace=False, transport="auto", token_file=None, connections=None, timeout=None,
              transfers_per_source=2, transfers_per_target=2, pulled_by="auto", details=False, compression="none",
              tls=False, tls_ca=None, tls_cert=None, tls_key=None):
    """Spread a global object's chunks evenly over ``instances``, moving the fewest bytes.

    No instance ends with more than the ideal share plus less than one chunk (by bytes, or by count
    with ``by="count"``); chunks already where the plan wants them stay. Every target pulls its
    incoming chunks at once (through the source's agent, or shared memory on one host): by default
    each target's own agent pulls them, so no byte passes through this process. At most
    ``transfers_per_source`` transfers out of one instance and ``transfers_per_target`` into one.
    The result is a new global object of the same type whose chunks are in the same order. All or
    nothing: if any move fails, every copy is deleted and the original is as it was; if this process
    or a target's agent is killed, a reclaim (the agent's restart, :func:`gc`, the next migration)
    keeps the copies exactly when the new object was persisted linking them, else deletes them. A
    target agent that dies after it was told the new object's id does not fail the call: the object
    is persisted whole, and that agent's restart keeps its copies.

    Args:
        global_obj: the global object (id, object, metadata or name).
        instances: clients, IPC socket paths or instance ids (default: every instance of the
            cluster with an agent or an IPC socket on this host).
        via: a client or IPC socket of the cluster to work through (default: the first socket in
            ``instances``).
        by: ``"bytes"`` (default) or ``"count"``.
        max_moves: make at most this many moves (the plan then says ``complete: False``).
        persist: persist the new global object (default True; the moved chunks are always persisted).
        name: a name for the new global object (refused if taken, before anything moves).
        replace: once the new object is persisted, delete the original's metadata and the moved
            chunks on their old instances (never before).
        pulled_by: who moves the chunks: ``"agents"`` (each target's agent pulls its incoming chunks
            itself, uncommitted until every target is done), ``"caller"`` (this process copies each
            chunk) or ``"auto"`` (default: the target's agent when it has one, else this process).
        details: return a dict (``object_id``, ``source_id``, ``bytes_moved``, ``bytes_moved_by_caller``,
            ``pulled_by_agents`` -- bytes by target instance id --, ``copies``, ``plan`` and ``seconds``,
            the wall time of each phase: plan, moves, persist, build, commit) instead of the id.
        transport, token_file, connections, timeout: as for :func:`migrate`.
        compression, tls, tls_ca, tls_cert, tls_key: as for :func:`migrate`, for this process's
            connections to the agents. The target agents' own pulls use ``compression`` too, and
            their own TLS settings (``serve --tls-cert/--tls-key/--tls-ca``, or ``--peer-tls-*``).

    Raises:
        vineyard.InvalidException: not a global object, an unknown instance, bad arguments.
        vineyard.ObjectExistsException: ``name`` is taken.
        vineyard.NotEnoughMemoryException / ConnectionErrorException: a move failed (nothing is left).

    Example:

    >>> new_id = vineyard_migrate.rebalance(gdf_id, ["/run/h1.sock", "/run/h2.sock", 3, 4])
    >>> vineyard.connect("/run/h1.sock").get_meta(new_id)  # same type, same chunk order
    """
    ref, specs, via, moves = _checked(global_obj, instances, via, by, max_moves)
    _objects.int_in(transfers_per_source, "transfers_per_source", 1, 64)
    _objects.int_in(transfers_per_target, "transfers_per_target", 1, 64)
    if name is not None and not isinstance(name, str):
        raise TypeError("name must be a str, not %s" % type(name).__name__)
    _objects.flag(replace, "replace")
    _objects.flag(details, "details")
    if pulled_by not in PULLED_BY:
        raise ValueError("pulled_by must be one of %s, not %r" % (", ".join(map(repr, PULLED_BY)), pulled_by))
    engine, options = _objects.engine_options(persist=persist, transport=transport, token_file=token_file,
                                              connections=connections, timeout=timeout, compression=compression,
                                              tls=tls, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key)
    import jpype

    with _errors.mapped_errors():
        rebalancer = jpype.JClass("io.v6d.migrate.cluster.Rebalance")
        text = _calls.result_of(rebalancer.start(ref, via, specs, by, moves, persist, name, replace,
                                                 transfers_per_source, transfers_per_target, pulled_by, options))
        result = json.loads(str(text))
    result["object_id"] = _objects.object_id(result["object_id"])
    result["source_id"] = _objects.object_id(result["source_id"])
    return result if details else result["object_id"]
