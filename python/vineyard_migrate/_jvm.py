"""Finding Java and starting the engine's JVM, lazily, once per process."""

import atexit
import os
import re
import shlex
import shutil
import subprocess
import threading

_JAR_NAME = "vineyard-migrate.jar"
_LIB_CANDIDATES = (
    ("lib", "server", "libjvm.so"),
    ("jre", "lib", "amd64", "server", "libjvm.so"),
    ("lib", "server", "libjvm.dylib"),
)
_lock = threading.Lock()
_engine_ready = False  # the log bridge and the exit hook are installed (once per process)


class JavaNotFoundError(RuntimeError):
    """No Java runtime could be found to run the migration engine."""


def jar_path():
    """The shaded engine jar carried inside this package."""
    path = os.path.join(os.path.dirname(__file__), "_jars", _JAR_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(
            "the vineyard-migrate engine jar is missing at %s; reinstall the package "
            "(building from source runs Maven to make it)" % path
        )
    return path


MIN_JAVA = 17

#: Options every engine JVM starts with (in-process and the command line's), before those of
#: ``VINEYARD_MIGRATE_JVM_OPTIONS``, which override them (of two settings the last wins).
#: HotSpot compiles a method with its optimizing compiler (C2) after some 5,000 calls, and a
#: migration runs many of the engine's methods about once each: a process's warm calls kept getting
#: faster for 11,000-13,000 migrations, the compiler thread taking a tenth of a core meanwhile
#: (warm tiny calls 0.95 ms after 3,000, 0.73-0.79 after 13,000). With the engine's own methods
#: (``io.v6d.migrate``, the shaded libraries included) at a fifth of the thresholds, they settle
#: after about 4,000 (0.71-0.82 ms). The price is paid early: the first call 0.76-0.83 -> 0.87-0.90 s
#: (JVM start included), the 100 after it 4.2 -> 5.5 ms each. ``quiet``: the command is not echoed
#: on stdout, where the agent announces its port.
DEFAULT_JVM_OPTIONS = (
    "-XX:CompileCommand=quiet",
    "-XX:CompileCommand=CompileThresholdScaling,io/v6d/migrate/*.*,0.2",
)


def jvm_options():
    """The engine JVM's options: :data:`DEFAULT_JVM_OPTIONS`, then ``VINEYARD_MIGRATE_JVM_OPTIONS``."""
    return [*DEFAULT_JVM_OPTIONS, *shlex.split(os.environ.get("VINEYARD_MIGRATE_JVM_OPTIONS", ""))]


class JavaVersionError(JavaNotFoundError):
    """Java was found, but older than the engine needs (17)."""


def _java_homes():
    """(home, where it came from): JAVA_HOME, ``java`` on PATH, then JPype's default JVM."""
    homes = []
    if os.environ.get("JAVA_HOME"):
        homes.append((os.environ["JAVA_HOME"], "JAVA_HOME"))
    java = shutil.which("java")
    if java:
        homes.append((os.path.dirname(os.path.dirname(os.path.realpath(java))), "java on PATH"))
    try:
        import jpype

        libjvm = os.path.realpath(jpype.getDefaultJVMPath())
    except Exception:  # noqa: BLE001 - JPype raises its own JVMNotFoundException (and others) when it finds none
        libjvm = None
    if libjvm:
        for parts in _LIB_CANDIDATES:
            suffix = os.path.join("", *parts)
            if libjvm.endswith(os.sep + suffix):
                homes.append((libjvm[: -len(suffix) - 1], "jpype.getDefaultJVMPath()"))
                break
    seen, unique = set(), []
    for home, source in homes:
        key = os.path.realpath(home)
        if key not in seen:
            seen.add(key)
            unique.append((home, source))
    return unique


def _parse_major(text):
    """17 from "17.0.15", "17" or "17-ea"; 8 from "1.8.0_392"."""
    match = re.match(r"(\d+)(?:\.(\d+))?", text.strip().strip('"'))
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_version(home):
    """The version string of the Java at ``home``: its ``release`` file, else ``java -version``."""
    release = os.path.join(home, "release")
    if os.path.exists(release):
        with open(release, errors="replace") as f:
            for line in f:
                if line.startswith("JAVA_VERSION="):
                    return line.split("=", 1)[1].strip().strip('"')
    java = os.path.join(home, "bin", "java")
    if os.access(java, os.X_OK):
        try:
            done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r'version "([^"]+)"', done.stderr + done.stdout)
        if match:
            return match.group(1)
    return None


def find_java():
    """The first Java runtime 17+ among JAVA_HOME, ``java`` on PATH and JPype's default JVM, as a dict
    (home, source, version, libjvm, java); raises JavaNotFoundError, or JavaVersionError naming the
    versions found when all are older than 17."""
    homes = _java_homes()
    too_old = []
    for home, source in homes:
        libjvm = next((os.path.join(home, *parts) for parts in _LIB_CANDIDATES
                       if os.path.exists(os.path.join(home, *parts))), None)
        java = os.path.join(home, "bin", "java")
        if libjvm is None and not os.access(java, os.X_OK):
            continue
        version = java_version(home)
        major = _parse_major(version) if version else None
        if major is not None and major < MIN_JAVA:
            too_old.append("Java %s at %s (%s)" % (version, home, source))
            continue
        return {"home": home, "source": source, "version": version or "unknown", "libjvm": libjvm,
                "java": java if os.access(java, os.X_OK) else None}
    if too_old:
        raise JavaVersionError(
            "vineyard-migrate needs Java %d or newer, and found only %s. Install a JDK/JRE %d+ (for example "
            "`apt-get install openjdk-17-jre-headless`) and set JAVA_HOME to it." % (MIN_JAVA, "; ".join(too_old), MIN_JAVA)
        )
    raise _not_found([home for home, _ in homes])


def find_jvm_library():
    """libjvm of the first Java 17+ of JAVA_HOME, ``java`` on PATH, JPype's default JVM."""
    found = find_java()
    if found["libjvm"] is None:
        raise _not_found([found["home"]])
    return found["libjvm"]


def find_java_executable():
    """The ``java`` launcher of the same runtime, for the command line."""
    found = find_java()
    if found["java"] is None:
        raise _not_found([found["home"]])
    return found["java"]


def _not_found(homes):
    looked = ", ".join(homes) if homes else "JAVA_HOME is unset, no `java` is on PATH, JPype finds no JVM"
    return JavaNotFoundError(
        "vineyard-migrate needs a Java runtime, %d or newer, and found none (%s). "
        "Set JAVA_HOME to a JDK/JRE %d+ or put its `java` on PATH, for example "
        "`apt-get install openjdk-17-jre-headless`." % (MIN_JAVA, looked, MIN_JAVA)
    )


def started():
    """True once the engine's JVM runs in this process."""
    import jpype  # noqa: WPS433 (imported lazily: importing vineyard must stay cheap)

    return jpype.isJVMStarted()


def engine():
    """The engine's entry class ``io.v6d.migrate.Migrate``; starts the JVM on first use.

    A JVM someone else started in this process is used as it is, when it has the engine's jar on
    its class path."""
    import jpype

    global _engine_ready
    with _lock:
        if not jpype.isJVMStarted():
            _start_jvm(jpype)
        try:
            entry = jpype.JClass("io.v6d.migrate.Migrate")
        except TypeError as e:  # a JVM started by someone else, without our jar
            raise RuntimeError(
                "a JVM was already started in this process without the vineyard-migrate jar; "
                "add %s to its class path" % jar_path()
            ) from e
        if not _engine_ready:
            _engine_ready = True
            from . import _logs

            _logs.install()
            atexit.register(_stop_engine)  # after jpype's own hook, so it runs before it
    from . import _logs

    _logs.follow_level()
    return entry


def test_hooks_classpath():
    """The test-hooks jar named by ``VINEYARD_MIGRATE_TEST_HOOKS`` (the project's tests set it), else
    nothing: the fault injection tests rely on is not in the shipped jar, and is loaded only then."""
    hooks = os.environ.get("VINEYARD_MIGRATE_TEST_HOOKS")
    return [hooks] if hooks else []


def _start_jvm(jpype):
    """Starts the JVM so that it changes nothing for the rest of the process:

    - ``convertStrings=False`` (jpype's default; the setting is process-wide): the engine's face
      converts the strings it gets with ``str()``;
    - ``-Xrs`` and ``interrupt=True``: neither the JVM nor jpype installs handlers for SIGINT,
      SIGTERM, SIGHUP or SIGQUIT, which stay Python's (Ctrl-C raises KeyboardInterrupt, a
      Python SIGTERM handler still runs);
    - the thread that starts the JVM is attached to it as a daemon, like every other Python
      thread jpype attaches. Left as the JVM's non-daemon "main" thread, a worker thread that
      started it would make the JVM's shutdown at exit wait for it forever once it has ended.
    """
    options = jvm_options()
    jpype.startJVM(
        find_jvm_library(),
        "-Xrs",
        *options,
        classpath=[jar_path(), *test_hooks_classpath()],
        convertStrings=False,
        interrupt=True,
    )
    if threading.current_thread() is not threading.main_thread():
        jpype.java.lang.Thread.detach()
        jpype.java.lang.Thread.attachAsDaemon()


def _stop_engine():
    """At exit, before jpype shuts the JVM down: no more log records are handed to Python."""
    import jpype

    if jpype.isJVMStarted():
        jpype.JClass("io.v6d.migrate.Migrate").close()  # the pooled connections
        jpype.JClass("io.v6d.migrate.logging.LogBridge").uninstall()


def close():
    """Closes the connections the engine keeps between migrations (a no-op before the first one)."""
    import jpype

    with _lock:
        if _engine_ready and jpype.isJVMStarted():
            jpype.JClass("io.v6d.migrate.Migrate").close()


def java_class(name):
    """Another class of the engine, for the command line and tests."""
    engine()
    import jpype

    return jpype.JClass(name)
