"""The agent on its TCP port: who it lets in, what it refuses, and that one bad peer does not hurt
the others."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import vineyard

import agent_wire
import vineyard_migrate
from vineyard_servers import private_token_file, start_agent


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, stack):
    """An agent on 127.0.0.1 beside the independent instance, with a token file."""
    from vineyard_servers import Servers

    token_file = private_token_file(tmp_path_factory.mktemp("token") / "token")
    with Servers() as servers:
        agent = start_agent(servers, "agent-solo", stack.solo.socket, token_file=token_file,
                            extra=["--idle-timeout", "3", "--no-publish"])
        yield agent, token_file


def _still_serves(agent, token_file, solo, b):
    """A real migration through the agent still works (into another instance)."""
    value = np.arange(100_000, dtype=np.int64)
    oid = solo.put(value)
    new_id = vineyard_migrate.migrate(oid, b, source=agent.endpoint, token_file=token_file)
    np.testing.assert_array_equal(b.get(new_id), value)


def test_garbage_closes_that_connection_only(guarded, solo, b):
    agent, token_file = guarded
    _still_serves(agent, token_file, solo, b)  # the engine is started: the bystander stays under --idle-timeout
    bystander = agent_wire.connect(agent.endpoint)
    assert agent_wire.authenticate(bystander, token_file.read_text().strip().encode())[0] == agent_wire.AUTH_OK
    conn = agent_wire.connect(agent.endpoint)
    conn.sendall(os.urandom(256))
    assert agent_wire.closed(conn)
    # the bystander is asked first: it may idle only 3 s (--idle-timeout), and a whole migration
    # under a loaded machine can take longer than that
    agent_wire.send_json(bystander, agent_wire.REQUEST, {"op": "info"})
    kind, reply = agent_wire.recv_frame(bystander)
    assert kind == agent_wire.REPLY and reply["instance_id"] == solo.instance_id
    _still_serves(agent, token_file, solo, b)


def test_oversized_lengths_are_refused_before_allocation(guarded, solo, b):
    agent, token_file = guarded
    token = token_file.read_text().strip().encode()
    # before the handshake: a 1 GiB "AUTH"
    conn = agent_wire.connect(agent.endpoint)
    agent_wire.recv_frame(conn)
    conn.sendall(agent_wire.header(agent_wire.AUTH, 1 << 30))
    assert agent_wire.closed(conn)
    # after it: a 3 GiB request, and a 1 GiB DATA frame
    for kind in (agent_wire.REQUEST, agent_wire.DATA):
        conn = agent_wire.connect(agent.endpoint)
        assert agent_wire.authenticate(conn, token)[0] == agent_wire.AUTH_OK
        conn.sendall(agent_wire.header(kind, (3 << 30) if kind == agent_wire.REQUEST else (1 << 30)))
        assert agent_wire.closed(conn)
    _still_serves(agent, token_file, solo, b)


def test_read_of_an_unmapped_blob_is_refused(guarded):
    agent, token_file = guarded
    conn = agent_wire.connect(agent.endpoint)
    agent_wire.authenticate(conn, token_file.read_text().strip().encode())
    conn.sendall(agent_wire.header(agent_wire.READ, 4096, blob_id=-42, offset=0))
    kind, error = agent_wire.recv_frame(conn)
    assert kind == agent_wire.ERROR and "not mapped" in error["message"]
    assert agent_wire.closed(conn)


def test_wrong_token_is_refused(guarded, solo, b, tmp_path, unchanged):
    agent, _ = guarded
    conn = agent_wire.connect(agent.endpoint)
    kind, answer = agent_wire.authenticate(conn, b"not-the-token-at-all-0123456789")
    assert kind == agent_wire.ERROR and answer["message"] == "authentication failed"
    assert agent_wire.closed(conn)
    wrong = private_token_file(tmp_path / "wrong")
    oid = solo.put(np.arange(10))
    with unchanged(b), pytest.raises(vineyard.ConnectionErrorException, match="authentication failed"):
        vineyard_migrate.migrate(oid, b, source=agent.endpoint, token_file=wrong)


def test_silent_peers_are_dropped(guarded):
    agent, token_file = guarded
    conn = agent_wire.connect(agent.endpoint, timeout=20)
    agent_wire.authenticate(conn, token_file.read_text().strip().encode())
    started = time.time()
    assert agent_wire.closed(conn, timeout=20)  # --idle-timeout 3
    assert time.time() - started < 15


def test_refuses_to_listen_beyond_loopback_without_a_token(stack):
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    env = {k: v for k, v in os.environ.items() if k != "VINEYARD_MIGRATE_TOKEN"}
    done = subprocess.run([script, "serve", "--socket", stack.solo.socket, "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "without a token" in done.stderr


def test_java_jar_serve_is_the_same_agent(stack, solo, b, tmp_path):
    """`java -jar` runs the agent without Python: for containers."""
    token_file = private_token_file(tmp_path / "token")
    jar = os.path.join(os.path.dirname(vineyard_migrate.__file__), "_jars", "vineyard-migrate.jar")
    process = subprocess.Popen(
        ["java", "-jar", jar, "serve", "--socket", stack.solo.socket, "--port", "0", "--no-publish",
         "--token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = process.stdout.readline().split()[-1]
        value = np.arange(5000.0)
        oid = solo.put(value)
        new_id = vineyard_migrate.migrate(oid, b, source=endpoint, token_file=token_file)
        np.testing.assert_array_equal(b.get(new_id), value)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def _serve(stack, token_file, timeout=60):
    """Runs `vineyard-migrate serve` with ``token_file`` expecting it to refuse; returns its stderr."""
    script = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    done = subprocess.run([script, "serve", "--socket", stack.solo.socket, "--port", "0", "--no-publish",
                           "--token-file", str(token_file)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode != 0
    return done.stderr


def test_a_token_file_others_can_read_is_refused(stack, solo, b, tmp_path, unchanged):
    token_file = private_token_file(tmp_path / "token")
    os.chmod(token_file, 0o644)
    assert "chmod 600 %s" % token_file in _serve(stack, token_file)
    with unchanged(b), pytest.raises(vineyard.InvalidException, match="accessible by group or others"):
        vineyard_migrate.migrate(solo.put(np.arange(10)), b, source="tcp://127.0.0.1:1", token_file=token_file)


def test_a_group_readable_token_file_only_when_root_owns_it(guarded, stack, solo, b, tmp_path, unchanged):
    """0640 is accepted from root (how Kubernetes mounts a Secret for a non-root container), from no one else."""
    agent, token_file = guarded
    shared = private_token_file(tmp_path / "shared", token_file.read_text().strip())
    os.chmod(shared, 0o640)
    if os.getuid() == 0:
        oid = solo.put(np.arange(1000))
        moved = vineyard_migrate.migrate(oid, b, source=agent.endpoint, token_file=shared, transport="tcp")
        assert (b.get(moved) == np.arange(1000)).all()
        b.delete(moved)
        os.chown(shared, 65534, -1)  # nobody's file, group-readable: refused
    with unchanged(b), pytest.raises(vineyard.InvalidException, match="accessible by group or others"):
        vineyard_migrate.migrate(solo.put(np.arange(10)), b, source=agent.endpoint, token_file=shared)


@pytest.mark.parametrize("weak", ["a" * 64, "0123456789abcdef" * 4, "hunter2-hunter2", "12345678901234567890"])
def test_weak_tokens_are_refused(stack, tmp_path, weak):
    assert "too weak" in _serve(stack, private_token_file(tmp_path / "token", weak))


def test_the_default_token_file_is_private_and_works(stack, solo, b, tmp_path):
    """Without a token the agent creates ~/.vineyard-migrate/token, mode 0600, and clients use it."""
    from vineyard_servers import Servers

    home = tmp_path / "home"
    home.mkdir()
    with Servers() as servers:
        agent = start_agent(servers, "agent-default-token", stack.solo.socket, extra=["--no-publish"],
                            jvm_options="-Duser.home=%s" % home)
        token_file = home / ".vineyard-migrate" / "token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        value = np.arange(1000)
        new_id = vineyard_migrate.migrate(solo.put(value), b, source=agent.endpoint, token_file=token_file)
        np.testing.assert_array_equal(b.get(new_id), value)


def test_authentication_failures_are_throttled_and_logged_at_a_bounded_rate(stack, solo, b, tmp_path):
    """200 wrong tokens: the later failures are delayed, then the address is refused at connect for a
    while, and the log holds a bounded number of lines about them."""
    from vineyard_servers import Servers

    token_file = private_token_file(tmp_path / "token")
    with Servers() as servers:
        agent = start_agent(servers, "agent-throttled", stack.solo.socket, token_file=token_file,
                            extra=["--no-publish"])
        answers, waited = [], []
        for _ in range(200):
            conn = agent_wire.connect(agent.endpoint, timeout=30)
            kind, hello = agent_wire.recv_frame(conn)
            if kind == agent_wire.ERROR:  # locked out: refused before any challenge
                answers.append(hello["message"])
                continue
            started = time.monotonic()
            agent_wire.send_json(conn, agent_wire.AUTH, {"nonce": "AAAA" * 11, "proof": "AAAA"})
            kind, answer = agent_wire.recv_frame(conn)
            waited.append(time.monotonic() - started)
            answers.append(answer["message"])
            conn.close()
        failed = [a for a in answers if a == "authentication failed"]
        locked = [a for a in answers if a.startswith("too many authentication failures from 127.0.0.1")]
        assert len(failed) == 10 and len(locked) == 190, answers[:12]
        # the first three are answered at once; later ones only after the throttle's growing delay
        assert sum(waited[3:]) >= 0.5 * (0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 1.0 + 1.0)
        # even the right token waits out the lockout
        conn = agent_wire.connect(agent.endpoint)
        assert agent_wire.recv_frame(conn)[0] == agent_wire.ERROR
        with open(agent.log) as f:
            lines = [line for line in f if "refused" in line]
        assert 1 <= len(lines) <= 12, lines
        time.sleep(10.5)  # AuthThrottle.LOCKOUT_MILLIS
        value = np.arange(1000)
        new_id = vineyard_migrate.migrate(solo.put(value), b, source=agent.endpoint, token_file=token_file)
        np.testing.assert_array_equal(b.get(new_id), value)
