"""The engine's log records go to Python's logging (logger ``vineyard_migrate.engine``)."""

import logging

LOGGER = logging.getLogger("vineyard_migrate.engine")

# java.util.logging level values -> Python levels
_LEVELS = ((1000, logging.ERROR), (900, logging.WARNING), (800, logging.INFO), (0, logging.DEBUG))


def python_level(java_level):
    for threshold, level in _LEVELS:
        if java_level >= threshold:
            return level
    return logging.DEBUG


def install():
    """Routes the JVM's logging to Python; call once the JVM runs."""
    import jpype

    @jpype.JImplements("io.v6d.migrate.logging.LogBridge$Sink")
    class _Sink:
        @jpype.JOverride
        def log(self, level, logger, message):
            LOGGER.log(python_level(int(level)), "%s: %s", str(logger), str(message))

    bridge = jpype.JClass("io.v6d.migrate.logging.LogBridge")
    # FINE (500) and up: Python's own level decides what is shown
    bridge.install(_Sink(), 500)
    install.sink = _Sink  # keep the proxy class alive with the module
