"""The agent's /metrics and /healthz (serve --metrics-port), scraped over HTTP as Prometheus would,
and parsed with Prometheus' own Python parser: counters move by what a real migration moved."""

import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import agent_wire
import vineyard_migrate
from vineyard_servers import Servers, start_agent, write_token


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def _metrics_url(agent):
    line = agent.process.stdout.readline()
    assert line.startswith("metrics on port "), line
    return "http://127.0.0.1:%d" % int(line.split()[-1])


def _scrape(url):
    """{(sample name, labels as a sorted tuple): value} of one scrape of /metrics."""
    status, content_type, text = _get(url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape_once_moved(url, before, name, **labels):
    """A pull is counted when the puller's connection closes, which the agent learns a moment after
    migrate() returns: scrape until that counter moved (or 30 s passed), then return the scrape."""
    deadline = time.monotonic() + 30
    while True:
        samples = _scrape(url)
        if _value(samples, name, **labels) != _value(before, name, **labels) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


@pytest.fixture(scope="module")
def observed(tmp_path_factory, stack):
    """An agent beside the independent instance with its metrics port open, and its token file."""
    token_file = write_token(tmp_path_factory.mktemp("token"))
    with Servers() as servers:
        agent = start_agent(servers, "agent-metrics", stack.solo.socket, token_file=token_file,
                            extra=["--no-publish", "--metrics-port", "0"])
        yield agent, _metrics_url(agent), token_file


def test_counters_move_by_a_real_pull_and_push(observed, stack, a, b, solo):
    agent, url, token_file = observed
    before = _scrape(url)
    pulled = np.arange(300_000, dtype=np.int64)
    new_id = vineyard_migrate.migrate(solo.put(pulled), b, source=agent.endpoint, token_file=token_file)
    np.testing.assert_array_equal(b.get(new_id), pulled)
    pushed = np.arange(70_000, dtype=np.float64)
    result = vineyard_migrate.migrate(a.put(pushed), agent.endpoint, source=a, token_file=token_file, details=True)
    assert result.transport == "tcp-push"
    np.testing.assert_array_equal(solo.get(result.object_id), pushed)
    after = _scrape_once_moved(url, before, "vineyard_migrate_agent_migrations_total", transport="pull", outcome="ok")

    def moved(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("vineyard_migrate_agent_sent_bytes_total") == pulled.nbytes
    assert moved("vineyard_migrate_agent_received_bytes_total") == pushed.nbytes
    assert moved("vineyard_migrate_agent_migrations_total", transport="pull", outcome="ok") == 1
    assert moved("vineyard_migrate_agent_migrations_total", transport="push", outcome="ok") == 1
    assert moved("vineyard_migrate_agent_migrations_total", transport="pull", outcome="failed") == 0
    assert moved("vineyard_migrate_agent_migrations_total", transport="push", outcome="failed") == 0
    for transport in ("pull", "push"):
        assert moved("vineyard_migrate_agent_migration_duration_seconds_count", transport=transport, outcome="ok") == 1
        assert moved("vineyard_migrate_agent_migration_duration_seconds_bucket", transport=transport, outcome="ok",
                     le="+Inf") == 1
    assert _value(after, "vineyard_migrate_agent_push_sessions") == 0
    assert _value(after, "vineyard_migrate_agent_reclaimed_allocations_total") == 0
    assert _value(after, "jvm_memory_used_bytes", area="heap") > 0


def test_connections_and_authentication_failures(observed):
    agent, url, token_file = observed
    before = _scrape(url)
    held = agent_wire.connect(agent.endpoint)
    assert agent_wire.authenticate(held, token_file.read_text().strip().encode())[0] == agent_wire.AUTH_OK
    wrong = agent_wire.connect(agent.endpoint)
    agent_wire.authenticate(wrong, b"not-the-token")
    assert agent_wire.closed(wrong)
    during = _scrape(url)
    assert _value(during, "vineyard_migrate_agent_connections") >= 1
    assert (_value(during, "vineyard_migrate_agent_authentication_failures_total")
            - _value(before, "vineyard_migrate_agent_authentication_failures_total")) == 1
    held.close()


def test_healthz_follows_vineyardd_and_other_paths_are_404(tmp_path):
    with Servers() as servers:
        own = servers.start_vineyardd("health", size="64Mi")
        agent = start_agent(servers, "agent-health", own.socket, extra=["--metrics-port", "0"])
        url = _metrics_url(agent)
        assert _get(url + "/healthz")[0] == 200
        assert _get(url + "/nothing-here")[0] == 404
        own.stop()
        status, _, body = _get(url + "/healthz")
        assert status == 503 and "not ready" in body
        assert _get(url + "/metrics")[0] == 200  # still scrapeable while unhealthy


def test_metrics_port_listens_on_loopback_by_default(observed):
    agent, url, _ = observed
    import subprocess

    listening = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout
    port = url.rsplit(":", 1)[1]
    bound = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(":" + port)]
    # Java reports an IPv4 bind as the v4-mapped address
    assert [address.replace("[::ffff:127.0.0.1]", "127.0.0.1") for address in bound] == ["127.0.0.1:" + port], bound


def test_reclaimed_allocations_are_counted(stack, solo, tmp_path):
    """A migration that died with one blob allocated on the instance (its journal, its unlocked lock
    file): the agent reclaims it when it starts, and /metrics counts that one allocation."""
    import os
    import secrets

    import vineyard

    owner = secrets.token_hex(16)
    lock_dir = stack.solo.socket + ".migrate"
    os.makedirs(lock_dir, exist_ok=True)
    oid = solo.put(np.arange(1 << 16))
    journal = vineyard.ObjectMeta()
    journal.typename = "vineyard::migrate::Journal"
    journal.nbytes = 0
    journal["owner"], journal["host"], journal["pid"], journal["bytes"] = owner, "test", 0, 0
    journal["blobs"] = ["o%016x" % int(solo.get_meta(oid)["buffer_"].id)]
    journal["objects"] = ["o%016x" % int(oid)]
    solo.create_metadata(journal)
    open(os.path.join(lock_dir, owner + ".lock"), "w").close()  # its owner is dead: nobody holds the lock
    with Servers() as servers:
        agent = start_agent(servers, "agent-reclaims", stack.solo.socket, token_file=write_token(tmp_path),
                            extra=["--no-publish", "--metrics-port", "0"])
        url = _metrics_url(agent)
        after = _scrape_once_moved(url, {}, "vineyard_migrate_agent_reclaimed_allocations_total")
    assert _value(after, "vineyard_migrate_agent_reclaimed_allocations_total") == 1
    with pytest.raises(vineyard.ObjectNotExistsException):
        solo.get_meta(oid)
