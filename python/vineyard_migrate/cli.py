"""``vineyard-migrate``: the engine's command line, run in this process."""

import sys


def main(argv=None):
    from . import _jvm

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        main_class = _jvm.java_class("io.v6d.migrate.cli.Main")
    except (_jvm.JavaNotFoundError, FileNotFoundError) as e:
        print("vineyard-migrate: %s" % e, file=sys.stderr)
        return 2
    return int(main_class.run(args))


if __name__ == "__main__":
    sys.exit(main())
