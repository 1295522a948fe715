"""``vineyard-migrate doctor`` / ``vineyard_migrate.doctor()`` against real vineyardd and agents, and
Java discovery refusing a runtime older than 17."""

import json
import os
import secrets
import subprocess
import sys

import pytest

import vineyard_migrate
from vineyard_migrate import _jvm
from vineyard_servers import Servers, start_agent, write_token

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def agent_and_token(tmp_path_factory, stack):
    token_file = write_token(tmp_path_factory.mktemp("token"))
    with Servers() as servers:
        yield start_agent(servers, "agent-doctor", stack.solo.socket, token_file=token_file,
                          extra=["--no-publish"]), token_file


def _by_name(checks):
    return {check.name: check for check in checks}


def test_doctor_reports_sockets_agents_and_token(stack, solo, a, agent_and_token):
    agent, token_file = agent_and_token
    checks = _by_name(vineyard_migrate.doctor(sockets=[stack.a.socket, stack.solo.socket], agents=[agent.endpoint],
                                              token_file=token_file))
    for name in ("java", "engine jar", "vineyard", "numpy", "pandas", "pyarrow", "setuptools", "token file"):
        assert checks[name].status == "OK", checks[name]
    assert checks["java"].detail.startswith("Java 17") or checks["java"].detail.startswith("Java 2")
    clustered = checks["socket " + stack.a.socket]
    assert clustered.status == "OK" and "instance %d" % a.instance_id in clustered.detail
    assert "in a cluster of 3 instances" in clustered.detail
    alone = checks["socket " + stack.solo.socket]
    assert alone.status == "OK" and "alone" in alone.detail
    probed = checks["agent " + agent.endpoint]
    assert probed.status == "OK" and "serves instance %d" % solo.instance_id in probed.detail
    assert vineyard_migrate.__version__ in probed.detail


def test_doctor_fails_with_the_fix(stack, agent_and_token, tmp_path):
    agent, _ = agent_and_token
    wrong = tmp_path / "wrong"
    wrong.write_text(secrets.token_hex(32) + "\n")
    wrong.chmod(0o644)
    checks = _by_name(vineyard_migrate.doctor(sockets=[str(tmp_path / "none.sock")], agents=[agent.endpoint],
                                              token_file=wrong))
    assert checks["socket %s" % (tmp_path / "none.sock")].status == "FAIL"
    refused = checks["agent " + agent.endpoint]
    assert refused.status == "FAIL" and "token" in refused.fix
    permissions = checks["token file"]
    assert permissions.status == "FAIL" and permissions.fix == "chmod 600 %s" % wrong
    unreachable = _by_name(vineyard_migrate.doctor(agents=["tcp://127.0.0.1:1"]))["agent tcp://127.0.0.1:1"]
    assert unreachable.status == "FAIL" and "serve" in unreachable.fix


def test_doctor_command_line_and_exit_code(stack, agent_and_token, tmp_path):
    agent, token_file = agent_and_token
    command = [os.path.join(BIN, "vineyard-migrate"), "doctor", "--socket", stack.b.socket, "--agent", agent.endpoint,
               "--token-file", str(token_file)]
    done = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = json.loads(done.stdout)
    assert {check["status"] for check in checks} <= {"OK", "WARN"}
    assert {"name", "status", "detail", "fix"} <= set(checks[0])
    text = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and len(text.stdout.splitlines()) == len(checks)
    assert all(line.split()[0] in ("OK", "WARN") for line in text.stdout.splitlines())
    failing = subprocess.run(command + ["--socket", str(tmp_path / "none.sock")], capture_output=True, text=True,
                             timeout=120)
    assert failing.returncode == 1
    assert any(line.startswith("FAIL") and "none.sock" in line for line in failing.stdout.splitlines())


def test_java_older_than_17_is_refused_naming_its_version(tmp_path):
    """A Java home whose release file says 11 (the layout of a real JDK 11: release, lib/server/libjvm.so)."""
    home = tmp_path / "jdk-11"
    (home / "lib" / "server").mkdir(parents=True)
    (home / "lib" / "server" / "libjvm.so").write_bytes(b"")
    (home / "release").write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="11.0.22"\n')
    env = {**os.environ, "JAVA_HOME": str(home), "PATH": BIN}
    done = subprocess.run([os.path.join(BIN, "vineyard-migrate"), "--version"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 2
    assert "needs Java 17 or newer" in done.stderr and "Java 11.0.22 at %s (JAVA_HOME)" % home in done.stderr
    doctor = subprocess.run([os.path.join(BIN, "vineyard-migrate"), "doctor"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert doctor.returncode == 1 and doctor.stdout.startswith("FAIL java")


def test_java_version_strings():
    assert _jvm._parse_major("17.0.15") == 17
    assert _jvm._parse_major('"21-ea"') == 21
    assert _jvm._parse_major("1.8.0_392") == 8
    assert _jvm._parse_major("11") == 11
    assert _jvm._parse_major("garbage") is None


def test_jpype_default_jvm_is_one_of_the_places_looked(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    found = _jvm.find_java()
    assert found["source"] == "jpype.getDefaultJVMPath()"
    assert int(found["version"].split(".")[0]) >= 17
