"""Warm calls through agents: authenticated agent links are pooled, pin nothing on either side,
survive an agent restart once, and end with the Session that opened them."""

import signal

import numpy as np
import pytest

import vineyard_migrate
from test_metrics import _metrics_url, _scrape, _value
from vineyard_servers import Servers, settle, snapshot, start_agent, write_token


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A vineyardd of its own with an agent beside it (metrics on), and the agents' token file."""
    token_file = write_token(tmp_path_factory.mktemp("token"))
    with Servers() as servers:
        instance = servers.start_vineyardd("pool-src", size="256Mi")
        agent = start_agent(servers, "agent-pool", instance.socket, token_file=token_file,
                            extra=["--no-publish", "--metrics-port", "0"])
        url = _metrics_url(agent)
        client = instance.client()
        yield servers, instance, client, agent, url, token_file
        client.close()


def _stats():
    return vineyard_migrate.pool_stats()


def _agent_connections(url):
    return _value(_scrape(url), "vineyard_migrate_agent_connections")


def test_warm_pulls_through_an_agent_open_no_connection(source, solo):
    servers, instance, client, agent, url, token_file = source
    value = np.arange(1000)
    oid = client.put(value)
    how = dict(source=agent.endpoint, transport="tcp", token_file=token_file, persist=False)
    vineyard_migrate.close()
    solo.delete(vineyard_migrate.migrate(oid, solo, **how), deep=True)  # warms the pool
    opened, registrations = _stats()["agent_connections"], _stats()["registrations"]
    agent_side = _agent_connections(url)
    agents_vineyardd = client.status.ipc_connections  # the agent's own IPC connection for the link
    for _ in range(100):
        new_id = vineyard_migrate.migrate(oid, solo, **how)
        np.testing.assert_array_equal(solo.get(new_id), value)
        solo.delete(new_id, deep=True)
    assert _stats()["agent_connections"] == opened  # no TCP connect, no handshake
    assert _stats()["registrations"] == registrations
    assert _stats()["idle_agent_links"] == 1
    assert _agent_connections(url) == agent_side == 1  # the agent saw one connection, kept open
    assert client.status.ipc_connections == agents_vineyardd  # it registered with its vineyardd once
    client.delete(oid, deep=True)


def test_pooled_agent_links_pin_no_memory(source, solo):
    """Deleting the migrated object frees the target's memory, and deleting the source object the
    source's, while the pooled link (and the agent's IPC connection behind it) stays open."""
    servers, instance, client, agent, url, token_file = source
    target_before = snapshot(solo)
    oid = client.put(np.ones(1 << 20))
    source_before = client.status.memory_usage
    new_id = vineyard_migrate.migrate(oid, solo, source=agent.endpoint, transport="tcp", token_file=token_file)
    assert _stats()["idle_agent_links"] >= 1
    assert solo.status.memory_usage >= target_before["memory_usage"] + (8 << 20)
    solo.delete(new_id, deep=True)
    assert snapshot(solo) == target_before
    client.delete(oid, deep=True)
    assert client.status.memory_usage <= source_before - (8 << 20)


def test_a_pull_maps_with_the_tree_and_unmaps_everything(source, solo):
    """The agent maps an object's blobs with its tree (one round trip): each call leaves nothing
    mapped on the pooled link, also one that then copies nothing (its earlier copy is returned)."""
    servers, instance, client, agent, url, token_file = source
    value = np.arange(1 << 17, dtype=np.float64)
    oid = client.put(value)
    how = dict(source=agent.endpoint, transport="tcp", token_file=token_file)

    def mapped():
        return _value(_scrape(url), "vineyard_migrate_agent_mapped_blobs")

    first = vineyard_migrate.migrate(oid, solo, **how)
    np.testing.assert_array_equal(solo.get(first), value)
    assert settle(mapped, 0) == 0
    assert vineyard_migrate.migrate(oid, solo, **how) == first  # maps with the tree, copies nothing
    assert settle(mapped, 0) == 0
    assert _stats()["idle_agent_links"] >= 1  # the link stays open: the unmaps, not a close, released them
    solo.delete(first, deep=True)
    client.delete(oid, deep=True)


def test_a_batch_pulled_through_the_agent_leaves_nothing_mapped(source, solo):
    """A batch of 300 single-blob objects (more than two windows of the agent's pipelined releases):
    the copies are equal, and afterwards the agent has none of the batch's blobs mapped. (Whether it
    also gave their references back to vineyardd, the source's memory cannot show: with vineyardd
    0.24.2 deleting the sources returned their memory even from an agent broken to release none.)"""
    servers, instance, client, agent, url, token_file = source
    values = [np.full(1 << 14, i, dtype=np.float64) for i in range(300)]  # 128 KiB each
    oids = [client.put(v) for v in values]
    ids = vineyard_migrate.migrate_many(oids, solo, source=agent.endpoint, transport="tcp", token_file=token_file,
                                        persist=False, copy=True)
    for new_id, want in zip(ids[::37], values[::37]):
        np.testing.assert_array_equal(solo.get(new_id), want)
    assert settle(lambda: _value(_scrape(url), "vineyard_migrate_agent_mapped_blobs"), 0) == 0
    for new_id in ids:
        solo.delete(new_id, deep=True)
    client.delete(oids, deep=True)


def test_pushes_reuse_the_link_and_pin_no_target_memory(source, a):
    """Pushed to the agent: the target's memory comes back once the object is deleted."""
    servers, instance, client, agent, url, token_file = source
    target_before = snapshot(client)
    oid = a.put(np.ones(1 << 20))
    how = dict(source=a, token_file=token_file, persist=False)
    first = vineyard_migrate.migrate(oid, agent.endpoint, **how)
    client.delete(first, deep=True)
    opened = _stats()["agent_connections"]
    for _ in range(5):
        new_id = vineyard_migrate.migrate(oid, agent.endpoint, **how)
        np.testing.assert_array_equal(client.get(new_id), np.ones(1 << 20))
        assert client.status.memory_usage >= target_before["memory_usage"] + (8 << 20)
        client.delete(new_id, deep=True)
        assert snapshot(client) == target_before
    assert _stats()["agent_connections"] == opened
    source_before = a.status.memory_usage
    a.delete(oid, deep=True)  # the pooled source connection pushed from it holds nothing either
    assert a.status.memory_usage <= source_before - (8 << 20)


@pytest.mark.parametrize("how_stopped", ["terminate", "kill -9"])
def test_restarted_agent_is_reconnected_transparently_once(source, solo, how_stopped):
    servers, instance, client, agent, url, token_file = source
    oid = client.put(np.arange(100))
    restarted = start_agent(servers, "agent-restarted", instance.socket, token_file=token_file,
                            extra=["--no-publish"])
    how = dict(source=restarted.endpoint, transport="tcp", token_file=token_file, persist=False)
    solo.delete(vineyard_migrate.migrate(oid, solo, **how), deep=True)
    assert _stats()["idle_agent_links"] >= 1
    restarted.stop(signal.SIGKILL if how_stopped == "kill -9" else None)
    port = int(restarted.endpoint.rsplit(":", 1)[1])
    restarted = start_agent(servers, "agent-restarted", instance.socket, token_file=token_file,
                            extra=["--no-publish"], port=port)
    opened = _stats()["agent_connections"]
    new_id = vineyard_migrate.migrate(oid, solo, **how)
    assert _stats()["agent_connections"] == opened + 1  # the dead link replaced, once
    np.testing.assert_array_equal(solo.get(new_id), np.arange(100))
    solo.delete(new_id, deep=True)
    restarted.stop()
    with pytest.raises(Exception):  # a second failure (nothing listens) surfaces
        vineyard_migrate.migrate(oid, solo, **how)
    client.delete(oid, deep=True)


def test_session_closes_its_agent_links(source, solo):
    servers, instance, client, agent, url, token_file = source
    vineyard_migrate.close()
    assert settle(lambda: _agent_connections(url), 0) == 0
    oid = client.put(np.arange(10))
    with vineyard_migrate.Session(solo, source=agent.endpoint, transport="tcp", token_file=token_file) as s:
        ids = [s.migrate(oid, persist=False, copy=True) for _ in range(3)]
        assert _agent_connections(url) == 1  # one link, reused by the session's calls
    assert settle(lambda: _agent_connections(url), 0) == 0
    assert _stats()["idle_agent_links"] == 0  # and the process-wide pool was not used
    for new_id in ids:
        solo.delete(new_id, deep=True)
    client.delete(oid, deep=True)


def test_an_agent_published_anew_on_another_port_is_found_again(stack, tmp_path, a, b):
    """The pool remembers agents' published endpoints; one that restarted on another port (and
    published that) is looked up again at once, not after the memory expires."""
    token_file = write_token(tmp_path)
    oid = b.put(np.arange(256))
    b.persist(oid)  # seen through the cluster
    how = dict(transport="tcp", token_file=token_file, persist=False)  # no source: found through the cluster
    with Servers() as servers:
        first = start_agent(servers, "agent-published", stack.b.socket, token_file=token_file)
        a.delete(vineyard_migrate.migrate(oid, a, **how), deep=True)
        first.stop()  # unpublishes
        second = start_agent(servers, "agent-published-again", stack.b.socket, token_file=token_file)
        assert second.endpoint != first.endpoint
        new_id = vineyard_migrate.migrate(oid, a, **how)
        np.testing.assert_array_equal(a.get(new_id), np.arange(256))
        a.delete(new_id, deep=True)
        second.stop()
    b.delete(oid, deep=True)


def test_idle_links_are_closed_after_the_idle_time_unasked(source, solo):
    """A link nobody asks for again is still closed once idle for the idle time (here 1 s)."""
    import jpype

    servers, instance, client, agent, url, token_file = source
    oid = client.put(np.arange(10))
    vineyard_migrate.close()
    system = jpype.JClass("java.lang.System")
    system.setProperty("io.v6d.migrate.pool.idleSeconds", "1")  # read by the next pool
    try:
        new_id = vineyard_migrate.migrate(oid, solo, source=agent.endpoint, transport="tcp", token_file=token_file,
                                          persist=False)
        assert _stats()["idle_agent_links"] == 1
        assert settle(lambda: _stats()["idle_agent_links"], 0) == 0
        assert settle(lambda: _agent_connections(url), 0) == 0
    finally:
        system.clearProperty("io.v6d.migrate.pool.idleSeconds")
        vineyard_migrate.close()
    solo.delete(new_id, deep=True)
    client.delete(oid, deep=True)
