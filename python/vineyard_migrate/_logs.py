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


_FINE = 500  # the JVM's threshold is never lower: FINER and FINEST stay in the JVM

#: the Python level the JVM's threshold was last set from (None: not set yet)
_followed = [None]


def java_level(level):
    """The lowest java.util.logging level whose records Python's ``level`` would keep (FINE at least)."""
    for threshold, python in reversed(_LEVELS):
        if python >= level:
            return max(_FINE, threshold)
    return _LEVELS[0][0]


def follow_level():
    """Has the JVM make only the records Python's logging keeps at its level now (called before each
    engine call, so a level set later counts from the next call). A record below it would still
    cost the engine a stack walk and a hand-off to the delivery thread, which then takes the GIL to
    drop it: a tenth of a warm tiny migration."""
    level = LOGGER.getEffectiveLevel()
    if level != _followed[0]:
        import jpype

        jpype.JClass("io.v6d.migrate.logging.LogBridge").level(java_level(level))
        _followed[0] = level


def install():
    """Routes the JVM's logging to Python; call once the JVM runs."""
    import jpype

    @jpype.JImplements("io.v6d.migrate.logging.LogBridge$Sink")
    class _Sink:
        @jpype.JOverride
        def log(self, level, logger, message):
            LOGGER.log(python_level(int(level)), "%s: %s", str(logger), str(message))

    bridge = jpype.JClass("io.v6d.migrate.logging.LogBridge")
    # FINE (500) and up, until follow_level narrows it to what Python's own level shows
    bridge.install(_Sink(), _FINE)
    _followed[0] = None
    install.sink = _Sink  # keep the proxy class alive with the module
