"""Finding Java and starting the engine's JVM, lazily, once per process."""

import atexit
import os
import shlex
import shutil
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


def _java_homes():
    homes = []
    if os.environ.get("JAVA_HOME"):
        homes.append(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if java:
        homes.append(os.path.dirname(os.path.dirname(os.path.realpath(java))))
    return homes


def find_jvm_library():
    """libjvm of the runtime named by ``JAVA_HOME``, else of ``java`` on ``PATH``."""
    homes = _java_homes()
    for home in homes:
        for parts in _LIB_CANDIDATES:
            candidate = os.path.join(home, *parts)
            if os.path.exists(candidate):
                return candidate
    raise _not_found(homes)


def find_java_executable():
    """The ``java`` launcher of the same runtime, for the command line."""
    homes = _java_homes()
    for home in homes:
        candidate = os.path.join(home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    raise _not_found(homes)


def _not_found(homes):
    looked = ", ".join(homes) if homes else "JAVA_HOME is unset and no `java` is on PATH"
    return JavaNotFoundError(
        "vineyard-migrate needs a Java runtime, 17 or newer, and found none (%s). "
        "Set JAVA_HOME to a JDK/JRE 17+ or put its `java` on PATH, for example "
        "`apt-get install openjdk-17-jre-headless`." % looked
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
    return entry


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
    options = shlex.split(os.environ.get("VINEYARD_MIGRATE_JVM_OPTIONS", ""))
    jpype.startJVM(
        find_jvm_library(),
        "-Xrs",
        *options,
        classpath=[jar_path()],
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
        jpype.JClass("io.v6d.migrate.logging.LogBridge").uninstall()


def java_class(name):
    """Another class of the engine, for the command line and tests."""
    engine()
    import jpype

    return jpype.JClass(name)
