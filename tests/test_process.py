"""The engine inside a user's Python process: it exits as a Python program does, whatever thread
started the engine; Ctrl-C stops a migration, raises KeyboardInterrupt and leaves the target as it
was; and the process's string conversion and signal handling stay as they were."""

import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import vineyard

from vineyard_servers import Servers, private_token_file, snapshot, start_agent, wait_until


def _sigint_as_from_a_terminal():
    """In the child: SIGINT's default disposition, as a process started from a terminal has it. A
    shell's background job (``make test &``) passes SIGINT on ignored, and Python then installs no
    KeyboardInterrupt handler: the Ctrl-C tests would test the shell, not the engine."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _script(code, *args, timeout=60):
    """Runs ``code`` in a fresh interpreter; returns the finished process (stdout, stderr as text)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_sigint_as_from_a_terminal)


FIRST_MIGRATION_ON_A_THREAD = """
    import sys, threading, concurrent.futures
    import numpy as np, vineyard, vineyard_migrate
    source, target, how = sys.argv[1:]
    oid = vineyard.connect(source).put(np.arange(1000))
    if how == "executor":
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            new_id = pool.submit(vineyard_migrate.migrate, oid, target, source=source).result()
    else:
        result = []
        worker = threading.Thread(target=lambda: result.append(vineyard_migrate.migrate(oid, target, source=source)))
        worker.start()
        worker.join()
        new_id = result[0]
    print("o%016x" % int(new_id), flush=True)
"""


@pytest.mark.parametrize("how", ["executor", "thread"])
def test_process_exits_when_the_first_migration_ran_on_a_worker_thread(stack, solo, how):
    process = _script(FIRST_MIGRATION_ON_A_THREAD, stack.a.socket, stack.solo.socket, how, timeout=30)
    assert process.returncode == 0, process.stderr
    new_id = vineyard.ObjectID(process.stdout.split()[-1])
    np.testing.assert_array_equal(solo.get(new_id), np.arange(1000))
    solo.delete(new_id, deep=True)


STRINGS_AND_SIGNALS = """
    import os, signal, sys, time
    import numpy as np, vineyard, vineyard_migrate
    source, target = sys.argv[1:]
    terms = []
    signal.signal(signal.SIGTERM, lambda *_: terms.append(1))   # the user's own handler
    new_id = vineyard_migrate.migrate(vineyard.connect(source).put(np.arange(10)), target, source=source)
    vineyard.connect(target).delete(new_id, deep=True)

    import jpype
    assert jpype.isJVMStarted()
    version = jpype.JClass("java.lang.System").getProperty("java.version")
    print("string:", type(version).__name__, isinstance(version, str))

    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.5)
    print("sigterm handled by python:", terms == [1], flush=True)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        print("sigint: nothing", flush=True)
    except KeyboardInterrupt:
        print("sigint: KeyboardInterrupt", flush=True)
"""


def test_engine_changes_neither_string_conversion_nor_signal_handling(stack):
    """jpype's string conversion is process-wide: the engine must not turn it on for everyone. Nor
    may the JVM take SIGTERM or SIGINT away from Python (its default handlers would exit at once)."""
    process = _script(STRINGS_AND_SIGNALS, stack.a.socket, stack.solo.socket)
    assert process.returncode == 0, (process.stdout, process.stderr)
    lines = process.stdout.splitlines()
    assert "string: java.lang.String False" in lines, lines  # as jpype gives it by default
    assert "sigterm handled by python: True" in lines, lines
    assert "sigint: KeyboardInterrupt" in lines, lines


USER_STARTED_JVM = """
    import sys
    import jpype, numpy as np, vineyard, vineyard_migrate
    from vineyard_migrate import _jvm
    source, target = sys.argv[1:]
    jpype.startJVM(classpath=[_jvm.jar_path()], convertStrings=True)   # the user's own settings
    client = vineyard.connect(target)
    oid = vineyard.connect(source).put(np.arange(10))
    new_id = vineyard_migrate.migrate(oid, client, source=source, name="user-jvm-%d" % id(client))
    assert (client.get(new_id) == np.arange(10)).all()
    client.drop_name("user-jvm-%d" % id(client))
    client.delete(new_id, deep=True)
    assert vineyard_migrate.plan(oid, target, source=source)["bytes_to_move"] == 80
    try:
        vineyard_migrate.migrate("o0000000000000001", target, source=source)
    except vineyard.ObjectNotExistsException as e:
        print("error:", e)
    print("ok", type(jpype.JClass("java.lang.System").getProperty("java.version")).__name__)
"""


def test_a_jvm_the_user_started_with_our_jar_is_used_as_it_is(stack):
    process = _script(USER_STARTED_JVM, stack.a.socket, stack.solo.socket)
    assert process.returncode == 0, (process.stdout, process.stderr)
    assert "ok str" in process.stdout  # the user's convertStrings=True still holds
    assert "error:" in process.stdout and "o0000000000000001" in process.stdout


INTERRUPTED_MIGRATION = """
    import sys
    import vineyard, vineyard_migrate
    oid, target, source, transport, token_file = sys.argv[1:]
    print("migrating", flush=True)
    vineyard_migrate.migrate(oid, target, source=source, transport=transport, token_file=token_file, progress=True)
    print("completed", flush=True)
"""


@pytest.fixture(scope="module")
def big_pair(tmp_path_factory):
    """A source holding a 1.25 GiB object (40 blobs of 32 MiB: the progress bar moves in steps
    while the copy goes on) and an empty target, each a vineyardd of its own."""
    token_file = private_token_file(tmp_path_factory.mktemp("token") / "token")
    with Servers() as servers:
        source = servers.start_vineyardd("big-source", size="1600Mi")
        target = servers.start_vineyardd("big-target", size="1600Mi")
        agents = {side.name: start_agent(servers, side.name + "-agent", side.socket, token_file=token_file,
                                         extra=["--no-publish"]) for side in (source, target)}
        client = source.client()
        oid = client.put(tuple(np.full(4 << 20, i, dtype=np.float64) for i in range(40)))
        yield source, target, agents, token_file, oid
        client.close()


def _interrupt_midway(process):
    """Waits until the progress bar is drawn (bytes are moving: it appears once some have landed)
    and shows less than half, then sends SIGINT: as early as the bar allows, so that the interrupt
    reaches the engine well before the transfer ends."""
    seen = ""
    while True:
        char = process.stderr.read(1)
        if not char:
            return False
        seen += char
        for percent in re.findall(r"\b(\d{1,3})%", seen[-200:]):
            if int(percent) < 50:
                process.send_signal(signal.SIGINT)
                return True


@pytest.mark.parametrize("transport", ["local", "rpc", "tcp", "tcp-push"])
def test_ctrl_c_mid_migration_raises_keyboard_interrupt_and_leaves_the_target_clean(big_pair, transport):
    source, target, agents, token_file, oid = big_pair
    watcher = target.client()
    before = snapshot(watcher)
    to, source_name = target.socket, source.socket
    if transport == "rpc":
        source_name = "rpc://127.0.0.1:%d" % source.rpc_port
    elif transport == "tcp":
        source_name = agents[source.name].endpoint
    elif transport == "tcp-push":
        to, transport = agents[target.name].endpoint, "tcp"
    # A Ctrl-C reaches the engine up to a wait slice (and, on a loaded machine, a scheduling delay)
    # after the progress bar was drawn; a migration that passed its last checkpoint meanwhile
    # completes, as documented, and says so. Such a race is tried again (its copy deleted); a
    # cancellation that never rolls back fails all three attempts.
    for attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(INTERRUPTED_MIGRATION), "o%016x" % int(oid), to,
             source_name, transport, str(token_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_as_from_a_terminal)
        try:
            interrupted = _interrupt_midway(process)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert interrupted, "no progress shown before the migration ended: %s %s" % (out, err)
        assert "completed" not in out
        assert "KeyboardInterrupt" in err, err
        assert process.returncode == -signal.SIGINT, err  # how Python ends on an uncaught Ctrl-C
        late = re.search(r"interrupted after the migration had completed: the object is (o[0-9a-f]+)", err)
        if late is None:
            break
        copy = vineyard.ObjectID(late.group(1))
        np.testing.assert_array_equal(watcher.get(copy)[39], np.full(4 << 20, 39, dtype=np.float64))
        watcher.delete(copy, deep=True)
        wait_until("the target to be as before the migration", lambda: snapshot(watcher) == before, 10)
    else:
        pytest.fail("three interrupted migrations all completed: cancelling rolls nothing back")
    assert snapshot(watcher) == before
    watcher.close()


def test_ctrl_c_on_the_command_line_rolls_back_before_exiting(big_pair):
    """The command line is a JVM of its own: SIGINT runs its shutdown hooks, one of which cancels
    the migration and waits for the rollback."""
    source, target, _, _, oid = big_pair
    watcher = target.client()
    before = snapshot(watcher)
    cli = os.path.join(os.path.dirname(sys.executable), "vineyard-migrate")
    process = subprocess.Popen(
        [cli, "migrate", "o%016x" % int(oid), "--from", "rpc://127.0.0.1:%d" % source.rpc_port, "--to", target.socket],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_as_from_a_terminal)
    try:
        # the target blobs are allocated before the bytes move: then the transfer is under way
        while process.poll() is None and watcher.status.memory_usage == before["memory_usage"]:
            pass
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert out == "", "the migration completed before the interrupt: %s" % out
    assert process.returncode == 130, err  # 128 + SIGINT, as the JVM exits on it
    assert snapshot(watcher) == before
    watcher.close()


JVM_ARGUMENTS = """
    import sys
    import jpype, numpy as np, vineyard, vineyard_migrate
    source, target = sys.argv[1:]
    oid = vineyard.connect(source).put(np.arange(10))
    vineyard.connect(target).delete(vineyard_migrate.migrate(oid, target, source=source), deep=True)
    for argument in jpype.JClass("java.lang.management.ManagementFactory").getRuntimeMXBean().getInputArguments():
        print("argument", argument)
"""

SCALING = "-XX:CompileCommand=CompileThresholdScaling,io/v6d/migrate/*.*,0.2"


@pytest.mark.parametrize("user_options", ["", "-XX:CompileCommand=CompileThresholdScaling,io/v6d/migrate/*.*,1.0"])
def test_the_engine_jvm_compiles_its_call_path_early_unless_the_user_says_otherwise(stack, user_options):
    """A pipeline's warm calls settle after thousands of migrations rather than tens of thousands:
    the engine's JVM starts with a fifth of HotSpot's compile thresholds for the engine's methods,
    and an option the user gives in VINEYARD_MIGRATE_JVM_OPTIONS comes after ours (HotSpot takes
    the last of two such commands)."""
    env = {**os.environ, "VINEYARD_MIGRATE_JVM_OPTIONS": user_options}
    process = subprocess.run([sys.executable, "-c", textwrap.dedent(JVM_ARGUMENTS), stack.a.socket,
                              stack.solo.socket], capture_output=True, text=True, timeout=60, env=env)
    assert process.returncode == 0, (process.stdout, process.stderr)
    arguments = [line[len("argument "):] for line in process.stdout.splitlines() if line.startswith("argument ")]
    assert SCALING in arguments, arguments
    assert not any(line.startswith("CompileCommand") for line in process.stdout.splitlines()), process.stdout
    if user_options:
        assert arguments.index(user_options) > arguments.index(SCALING), arguments


def test_jvm_options_are_the_defaults_then_the_users(monkeypatch):
    """What both the in-process JVM and the command line's ``java`` (the agent's) start with:
    the defaults, then the user's options, split as a shell would."""
    from vineyard_migrate import _jvm

    monkeypatch.setenv("VINEYARD_MIGRATE_JVM_OPTIONS", "-Xmx1g '-Dname=a b'")
    assert _jvm.jvm_options() == [*_jvm.DEFAULT_JVM_OPTIONS, "-Xmx1g", "-Dname=a b"]
    assert SCALING in _jvm.DEFAULT_JVM_OPTIONS
