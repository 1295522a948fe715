"""``vineyard-migrate``: the engine's command line.

It runs the shaded jar carried in this package with the Java runtime the Python API would use,
so ``vineyard-migrate serve ...`` and ``java -jar vineyard-migrate.jar serve ...`` are the same
program (the agent handles SIGTERM itself). Two forms are Python's own: ``vineyard-migrate doctor``
(it checks Java before anything starts it) and the 0.7 tool's ``--server``/``--client`` form,
translated to ``serve``/``migrate`` (see legacy.py).
"""

import os
import sys


def main(argv=None):
    from . import _jvm

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["doctor"]:
        from . import _doctor

        return _doctor.main(args[1:])
    from . import legacy

    if legacy.is_original_command_line(args):
        args = legacy.original_command_line(args)
    try:
        java = _jvm.find_java_executable()
        jar = _jvm.jar_path()
    except (_jvm.JavaNotFoundError, FileNotFoundError) as e:
        print("vineyard-migrate: %s" % e, file=sys.stderr)
        return 2
    options = _jvm.jvm_options()
    hooks = _jvm.test_hooks_classpath()
    if hooks:
        os.execv(java, [java, *options, "-cp", os.pathsep.join([jar, *hooks]), "io.v6d.migrate.cli.Main", *args])
    os.execv(java, [java, *options, "-jar", jar, *args])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
