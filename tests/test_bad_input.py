"""Bad input through every face (Python, command line, push through an agent): each a clear error
that names the problem, with nothing left behind on the target."""

import os
import subprocess
import sys

import numpy as np
import pytest
import vineyard
from vineyard.io.byte import ByteStream

import vineyard_migrate
from vineyard_servers import Servers, private_token_file, start_agent, wait_until_listed

CLI = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")


def _cli(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home folder holding a token file, and an agent beside the independent instance that was
    given it as ``--token-file=~/token`` (no shell expands ``~`` there)."""
    folder = tmp_path_factory.mktemp("home")
    private_token_file(folder / "token")
    yield folder


@pytest.fixture(scope="module")
def solo_agent(stack, home):
    with Servers() as servers:
        yield start_agent(servers, "solo-agent", stack.solo.socket, jvm_options="-Duser.home=%s" % home,
                          extra=["--token-file=~/token", "--no-publish"])


@pytest.fixture
def stream(a, b):
    """A byte stream on instance a (persisted, so the cluster sees it)."""
    created = ByteStream.new(a, {"origin": "test_bad_input"})
    a.persist(created.id)
    wait_until_listed(b, created.id)
    yield created.id
    a.delete(created.id)


def test_migrate_of_a_stream_refuses_and_points_to_migrate_stream(stack, a, b, solo, stream, solo_agent, home,
                                                                  unchanged):
    for target, source in ((b, a), (b, None), (solo, a)):
        with unchanged(target), pytest.raises(vineyard.InvalidException, match="stream.*migrate_stream"):
            vineyard_migrate.migrate(stream, target, source=source)
    with unchanged(b), pytest.raises(vineyard.InvalidException, match="migrate_stream"):
        vineyard_migrate.plan(stream, b, source=a)
    with unchanged(solo), pytest.raises(vineyard.InvalidException, match="migrate_stream"):  # pushed
        vineyard_migrate.migrate(stream, solo_agent.endpoint, source=a, token_file=home / "token")
    with unchanged(solo):
        done = _cli("migrate", "o%016x" % int(stream), "--from", stack.a.socket, "--to", stack.solo.socket)
    assert done.returncode == 1 and "migrate_stream" in done.stderr, done.stderr


def test_a_name_taken_on_the_target_is_refused_unless_overwrite_name(stack, a, solo, solo_agent, home, unchanged):
    holder = solo.put(np.arange(3))
    solo.persist(holder)
    solo.put_name(holder, "taken-on-solo")
    oid = a.put(np.arange(5))
    try:
        with unchanged(solo), pytest.raises(vineyard.ObjectExistsException, match="'taken-on-solo'.*overwrite_name"):
            vineyard_migrate.migrate(oid, solo, source=a, name="taken-on-solo")
        with unchanged(solo), pytest.raises(vineyard.ObjectExistsException, match="taken-on-solo"):  # pushed
            vineyard_migrate.migrate(oid, solo_agent.endpoint, source=a, name="taken-on-solo",
                                     token_file=home / "token")
        with unchanged(solo):
            done = _cli("migrate", "o%016x" % int(oid), "--from", stack.a.socket, "--to", stack.solo.socket,
                        "--name", "taken-on-solo")
        assert done.returncode == 1 and "--overwrite-name" in done.stderr, done.stderr
        assert solo.get_name("taken-on-solo") == holder

        new_id = vineyard_migrate.migrate(oid, solo, source=a, name="taken-on-solo", overwrite_name=True)
        assert solo.get_name("taken-on-solo") == new_id
        pushed = vineyard_migrate.migrate(oid, solo_agent.endpoint, source=a, name="taken-on-solo",
                                          overwrite_name=True, token_file=home / "token")
        assert solo.get_name("taken-on-solo") == pushed
        done = _cli("migrate", "o%016x" % int(oid), "--from", stack.a.socket, "--to", stack.solo.socket,
                    "--name", "taken-on-solo", "--overwrite-name")
        assert done.returncode == 0, done.stderr
        assert solo.get_name("taken-on-solo") == vineyard.ObjectID(done.stdout.strip())
        for copy in (new_id, pushed, vineyard.ObjectID(done.stdout.strip())):
            solo.delete(copy, deep=True)
    finally:
        solo.drop_name("taken-on-solo")
        solo.delete(holder, deep=True)


def test_in_a_cluster_the_originals_name_is_not_taken_over(a, b, unchanged):
    """Names are cluster-wide: naming the copy after its original would silently move the name."""
    oid = a.put(np.arange(7))
    a.persist(oid)
    a.put_name(oid, "original-name")
    wait_until_listed(b, oid)
    try:
        with unchanged(b), pytest.raises(vineyard.ObjectExistsException, match="original-name"):
            vineyard_migrate.migrate(oid, b, name="original-name")
        assert a.get_name("original-name") == oid
    finally:
        a.drop_name("original-name")


@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_serve_refuses_an_idle_timeout_that_is_not_positive(stack, seconds):
    done = _cli("serve", "--socket", stack.solo.socket, "--port", "0", "--idle-timeout=" + seconds)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--idle-timeout must be a positive number of seconds, not " + seconds in done.stderr


def test_tilde_in_a_token_file_is_the_home_folder(stack, solo, b, solo_agent, home, monkeypatch):
    """The README's own example: ``token_file="~/token"`` (the agent got ``--token-file=~/token``)."""
    monkeypatch.setenv("HOME", str(home))
    oid = solo.put(np.arange(11))
    new_id = vineyard_migrate.migrate(oid, b, source=solo_agent.endpoint, token_file="~/token")
    np.testing.assert_array_equal(b.get(new_id), np.arange(11))
    b.delete(new_id, deep=True)
    done = _cli("migrate", "o%016x" % int(oid), "--from", solo_agent.endpoint, "--to", stack.b.socket,
                "--token-file=~/token", env={"VINEYARD_MIGRATE_JVM_OPTIONS": "-Duser.home=%s" % home})
    assert done.returncode == 0, done.stderr
    b.delete(vineyard.ObjectID(done.stdout.strip()), deep=True)
    solo.delete(oid, deep=True)


@pytest.mark.parametrize("option, value", [
    ("persist", "no"), ("persist", 0), ("persist", None), ("overwrite_name", "yes"), ("details", 1),
    ("progress", "no"),
])
def test_boolean_options_take_only_booleans(a, solo, option, value, unchanged):
    oid = a.put(np.arange(4))
    with unchanged(solo), pytest.raises(TypeError, match="%s must be True or False, not %r" % (option, value)):
        vineyard_migrate.migrate(oid, solo, source=a, **{option: value})


@pytest.mark.parametrize("call", ["migrate", "plan", "migrate_stream"])
@pytest.mark.parametrize("connections", [True, 0, 65, "4"])
def test_connections_is_an_int_from_1_to_64_everywhere(a, solo, call, connections, unchanged):
    with unchanged(solo), pytest.raises(ValueError, match="connections must be an int from 1 to 64"):
        getattr(vineyard_migrate, call)("o0000000000000001", solo, source=a, connections=connections)


def test_max_in_flight_is_a_positive_int(a, b, stream, unchanged):
    with unchanged(b), pytest.raises(ValueError, match="max_in_flight"):
        vineyard_migrate.migrate_stream(stream, b, source=a, max_in_flight=True)
