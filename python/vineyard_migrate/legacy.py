"""The original tool's command lines, for its users: ``vineyard-migrate --server/--client``,
``vineyard-migrate-stream`` and ``vineyard-migrate-to-local`` take the arguments vineyard-migrate 0.7
took, and run this engine."""

import argparse
import os
import sys

CHUNKS_FILE = "/tmp/vineyard/vineyard.chunks"


def _flag(value):
    return str(value).lower() in ("1", "true", "yes", "")


ORIGINAL_PORT = 9601


def _version():
    from . import __version__

    return "%s %s" % (os.path.basename(sys.argv[0]) or "vineyard-migrate", __version__)


def is_original_command_line(args):
    """``vineyard-migrate --server ...`` or ``--client ...`` (no subcommand): the 0.7 tool's form."""
    return any(arg in ("--server", "--client") or arg.startswith(("--server=", "--client=")) for arg in args)


def original_command_line(args):
    """The engine's arguments for the 0.7 tool's ``--server`` (our agent) or ``--client`` (a pull
    through the agent at --host:--port, printing the new id), or raises SystemExit(2) on bad use."""
    parser = argparse.ArgumentParser(
        prog="vineyard-migrate",
        description="The vineyard-migrate 0.7 command line: --server runs the agent beside the source, "
                    "--client (beside the target) pulls --id through it and prints the new object id.")
    parser.add_argument("--server", nargs="?", const="true", default="false", type=_flag)
    parser.add_argument("--client", nargs="?", const="true", default="false", type=_flag)
    parser.add_argument("--ipc_socket", default="/tmp/vineyard/vineyard.sock", help="the local vineyardd")
    parser.add_argument("--host", default="", help="server: address to listen on (default 127.0.0.1); "
                                                   "client: host of the server")
    parser.add_argument("--port", type=int, default=ORIGINAL_PORT, help="default: %d" % ORIGINAL_PORT)
    parser.add_argument("--id", default="", help="client: the object to migrate")
    parser.add_argument("--rpc_endpoint", default="",
                        help="client: the source vineyardd's RPC endpoint (used only without --host)")
    parser.add_argument("--local_copy", nargs="?", const="true", default="false", type=_flag,
                        help="copy even when an earlier migration left a copy on the target (--copy)")
    parser.add_argument("--token_file", default=None, help="the agents' shared token file (ours; the original had none)")
    args = parser.parse_args(args)
    if args.server == args.client:
        parser.error("exactly one of --server and --client")
    token = ["--token-file", args.token_file] if args.token_file else []
    if args.server:
        return ["serve", "--socket", args.ipc_socket, "--host", args.host or "127.0.0.1",
                "--port", str(args.port), *token]
    if not args.id:
        parser.error("--client needs --id")
    if args.host:
        source = "tcp://%s:%d" % (args.host, args.port)
    elif args.rpc_endpoint:
        source = "rpc://" + args.rpc_endpoint
    else:
        parser.error("--client needs --host (the server's host) or --rpc_endpoint")
    copy = ["--copy"] if args.local_copy else []
    return ["migrate", args.id, "--from", source, "--to", args.ipc_socket, *token, *copy]


def to_local_main(argv=None):
    """``vineyard-migrate-to-local <replica> <rank> <global object>``, on the instance named by
    ``VINEYARD_IPC_SOCKET``: the rank's chunk ids go to /tmp/vineyard/vineyard.chunks (one a line,
    as the original wrote them) and to stdout."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        print(_version())
        return 0
    if len(args) != 3:
        print("Usage: vineyard-migrate-to-local <replica> <rank> <global object>", file=sys.stderr)
        return 2
    socket = os.environ.get("VINEYARD_IPC_SOCKET")
    if not socket:
        print("vineyard-migrate-to-local: set VINEYARD_IPC_SOCKET to this rank's vineyardd socket", file=sys.stderr)
        return 2
    from . import migrate_to_local

    try:
        ids = migrate_to_local(args[2], int(args[0]), int(args[1]), socket)
    except Exception as e:  # noqa: BLE001 - one line on stderr, as for every tool here
        print("vineyard-migrate-to-local: %s" % e, file=sys.stderr)
        return 1
    lines = ["o%016x" % int(i) for i in ids]
    path = os.environ.get("VINEYARD_MIGRATE_CHUNKS_FILE", CHUNKS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    for line in lines:
        print(line)
    return 0


def stream_main(argv=None):
    """``vineyard-migrate-stream --server --ipc_socket S --id STREAM [--host H --port P]``: forward
    the stream into the vineyardd at S, reading it from the agent at H:P (the source's host) or,
    without --host, from wherever the cluster says it is. Prints the new stream id, then waits;
    exits 0 when the source stream ends and 43 (StreamFailed) when it fails."""
    parser = argparse.ArgumentParser(prog="vineyard-migrate-stream", description=stream_main.__doc__)
    parser.add_argument("--server", nargs="?", const="true", default="false", type=_flag,
                        help="run on the receiving side (the target)")
    parser.add_argument("--client", nargs="?", const="true", default="false", type=_flag,
                        help="the original's sending side: not needed, the source's agent sends")
    parser.add_argument("--host", default="", help="host of the agent beside the source")
    parser.add_argument("--port", type=int, default=9601, help="port of that agent (default: 9601)")
    parser.add_argument("--ipc_socket", default="/tmp/vineyard/vineyard.sock", help="the target vineyardd")
    parser.add_argument("--rpc_endpoint", default="", help="the source vineyardd's RPC endpoint (host:port)")
    parser.add_argument("--id", required=True, help="the source stream's id")
    parser.add_argument("--version", action="version", version=_version())
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.server == args.client:
        parser.error("exactly one of --server and --client")
    if args.client:
        print("vineyard-migrate-stream: no sending process is needed: run `vineyard-migrate serve --socket <its "
              "socket>` beside the source, and `vineyard-migrate-stream --server ...` on the target", file=sys.stderr)
        return 2
    if args.host and args.host != "0.0.0.0":
        source = "tcp://%s:%d" % (args.host, args.port)
    elif args.rpc_endpoint:
        source = "rpc://" + args.rpc_endpoint
    else:
        source = None
    import vineyard

    from . import migrate_stream

    try:
        forwarding = migrate_stream(args.id, args.ipc_socket, source=source)
        print("o%016x" % int(forwarding.stream_id), flush=True)
        forwarding.wait()
    except vineyard.StreamFailedException as e:
        print("vineyard-migrate-stream: %s" % e, file=sys.stderr)
        return 43
    except Exception as e:  # noqa: BLE001
        print("vineyard-migrate-stream: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(stream_main())
