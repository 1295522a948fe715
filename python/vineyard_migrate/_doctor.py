"""``vineyard-migrate doctor`` and :func:`vineyard_migrate.doctor`: is this machine ready to migrate?

Each check gives OK, WARN or FAIL, what it found, and the fix. Java is checked before anything
starts it; the agents are probed through the engine (the same handshake a migration does).
"""

import argparse
import dataclasses
import json
import os
import socket
import stat
import sys
import warnings

#: vineyard releases whose IPC protocol the engine speaks
VINEYARD_SUPPORTED = ((0, 24, 2), (0, 25, 0))
#: (package, first bad version, why, fix): releases vineyard 0.24.2's own readers break with
KNOWN_BREAKS = (
    ("pandas", (3,), "vineyard 0.24.2 cannot read a DataFrame with a string column under pandas 3 "
                     "(\"Unable to construct the object using resolver\")", "pip install 'pandas<3'"),
    ("setuptools", (82,), "setuptools 82 removed pkg_resources, which `import vineyard` (0.24.2) needs",
     "pip install 'setuptools<82'"),
)
#: versions the tests run with (requirements-dev.txt) and versions seen to work with vineyard 0.24.2
KNOWN_GOOD = {"numpy": "1.26.4 (tests), 2.4 seen working", "pyarrow": "16.1.0 (tests), 26 seen working"}


@dataclasses.dataclass
class Check:
    """One line of the report."""

    name: str
    status: str  #: "OK", "WARN" or "FAIL"
    detail: str
    fix: str = ""

    def line(self):
        return "%-4s %-28s %s%s" % (self.status, self.name, self.detail, ("  -> " + self.fix) if self.fix else "")


def _version_tuple(text):
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece else ""
        if not piece or not piece[0].isdigit():
            break
        parts.append(int(digits or 0))
        if len(digits) != len(piece):
            break
    return tuple(parts)


def _java():
    from . import _jvm

    try:
        found = _jvm.find_java()
    except _jvm.JavaNotFoundError as e:
        return Check("java", "FAIL", str(e).split(". ")[0], "install a JDK/JRE 17+ and set JAVA_HOME to it")
    return Check("java", "OK", "Java %s at %s (%s)" % (found["version"], found["home"], found["source"]))


def _engine_jar():
    from . import _jvm

    try:
        return Check("engine jar", "OK", _jvm.jar_path())
    except FileNotFoundError as e:
        return Check("engine jar", "FAIL", str(e), "pip install --force-reinstall vineyard-migrate")


def _installed_version(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _import_vineyard():
    """vineyard 0.24.2 warns about pkg_resources on import: the setuptools check reports on that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vineyard

    return vineyard


def _vineyard():
    version = _installed_version("vineyard")
    fix = "pip install 'vineyard>=0.24.2,<0.25'"
    if version is None:
        return Check("vineyard", "FAIL", "not installed", fix)
    low, high = VINEYARD_SUPPORTED
    if not low <= _version_tuple(version) < high:
        return Check("vineyard", "FAIL", "%s; supported: >=0.24.2,<0.25" % version, fix)
    try:
        _import_vineyard()
    except Exception as e:  # noqa: BLE001 - whatever stops the import is the finding
        return Check("vineyard", "FAIL", "%s installed, but `import vineyard` fails: %s" % (version, e),
                     "see the checks below")
    return Check("vineyard", "OK", version)


def _data_libraries():
    checks = []
    breaks = {package: (bad, why, fix) for package, bad, why, fix in KNOWN_BREAKS}
    for package in ("numpy", "pandas", "pyarrow", "setuptools"):
        version = _installed_version(package)
        if version is None:
            checks.append(Check(package, "WARN", "not installed", "pip install vineyard-migrate pulls it in"))
        elif package in breaks and _version_tuple(version) >= breaks[package][0]:
            checks.append(Check(package, "FAIL", "%s: %s" % (version, breaks[package][1]), breaks[package][2]))
        else:
            known = KNOWN_GOOD.get(package)
            checks.append(Check(package, "OK", version + (" (known good: %s)" % known if known else "")))
    return checks


def _socket(path):
    name = "socket " + path
    if not os.path.exists(path):
        return Check(name, "FAIL", "no such file", "start vineyardd with --socket %s, or pass its socket" % path)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        try:
            s.connect(path)
        except OSError as e:
            return Check(name, "FAIL", "not accepting connections: %s" % e, "is vineyardd running?")
    try:
        client = _import_vineyard().connect(path)
    except Exception as e:  # noqa: BLE001
        return Check(name, "FAIL", "vineyard.connect failed: %s" % e, "check vineyardd's log")
    try:
        members = client.meta
        me = members.get(client.instance_id, {})
        clustered = "in a cluster of %d instances" % len(members) if len(members) > 1 else \
            "alone (no other instance shares its etcd prefix)"
        return Check(name, "OK", "instance %d on host %s, %s, rpc %s"
                     % (client.instance_id, me.get("hostname", "?"), clustered, client.rpc_endpoint))
    finally:
        client.close()


def _agent(endpoint, token_file, tls=None):
    name = "agent " + endpoint
    from . import _jvm

    try:
        probe = _jvm.java_class("io.v6d.migrate.tcp.AgentProbe")
        files = _jvm.java_class("io.v6d.migrate.tls.TlsFiles")
        tls = tls or {}
        settings = files.client(bool(tls.get("tls")), tls.get("ca"), tls.get("cert"), tls.get("key"))
        info = json.loads(str(probe.info(endpoint, token_file, settings)))
    except Exception as e:  # noqa: BLE001 - the engine's message says what failed
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        about_token = "authentication" in message.lower() or "token" in message.lower()
        about_tls = "tls" in message.lower()
        fix = ("check the token (the same file on both sides, mode 0600)" if about_token
               else "match the agent's TLS: --tls/--tls-ca (and --tls-cert/--tls-key if it asks for one)"
               if about_tls else "is `vineyard-migrate serve` running there, and the port open?")
        return Check(name, "FAIL", message, fix)
    return Check(name, "OK", "authenticated; serves instance %s (%s), agent %s, %s"
                 % (info.get("instance_id"), info.get("ipc_socket"), info.get("version"),
                    "TLS 1.3" if info.get("tls") else "plain TCP"))


def _token(token_file):
    if token_file is None and os.environ.get("VINEYARD_MIGRATE_TOKEN"):
        return Check("token", "OK", "from VINEYARD_MIGRATE_TOKEN")
    path = token_file or os.path.join(os.path.expanduser("~"), ".vineyard-migrate", "token")
    name = "token file"
    if not os.path.exists(path):
        status = "FAIL" if token_file else "WARN"
        return Check(name, status, "%s does not exist" % path,
                     "create it: `umask 077; openssl rand -hex 32 > %s` (128 bits or more, mode 0600); "
                     "a loopback agent creates the default one" % path)
    info = os.stat(path)
    mode = stat.S_IMODE(info.st_mode)
    # the engine's rule: private (0600), or group-readable only when root owns it (a Kubernetes Secret)
    if mode & 0o077 and not (mode & 0o077 == 0o040 and info.st_uid == 0):
        return Check(name, "FAIL", "%s is mode %04o: others can read the token" % (path, mode), "chmod 600 %s" % path)
    return Check(name, "OK", "%s (mode %04o)" % (path, mode))


def doctor(sockets=(), agents=(), token_file=None, tls=False, tls_ca=None, tls_cert=None, tls_key=None):
    """Checks this machine's set-up for migrating; returns a list of :class:`Check`.

    Java (17+), the engine jar, vineyard's version, the data libraries vineyard's readers break with,
    each vineyardd socket, each agent (reached and authenticated with the token, over TLS with the
    ``tls`` options as for :func:`migrate`; the check says whether the agent speaks TLS), the token file.

    >>> import vineyard_migrate
    >>> for check in vineyard_migrate.doctor(sockets=["/var/run/vineyard.sock"]):
    ...     print(check.status, check.name, check.detail)
    OK java Java 17.0.15 at /usr/lib/jvm/java-17-openjdk-amd64 (JAVA_HOME)
    ...
    """
    if isinstance(sockets, str):
        sockets = [sockets]
    if isinstance(agents, str):
        agents = [agents]
    token_file = os.fspath(token_file) if token_file is not None else None
    java = _java()
    checks = [java, _engine_jar(), _vineyard(), *_data_libraries()]
    checks += [_socket(os.fspath(path)) for path in sockets]
    for endpoint in agents:
        if java.status == "FAIL":
            checks.append(Check("agent " + endpoint, "FAIL", "not probed: no usable Java", java.fix))
        else:
            checks.append(_agent(endpoint, token_file, {"tls": tls, "ca": tls_ca, "cert": tls_cert, "key": tls_key}))
    checks.append(_token(token_file))
    return checks


def main(argv):
    parser = argparse.ArgumentParser(prog="vineyard-migrate doctor", description=(
        "Check Java, vineyard and its data libraries, vineyardd sockets, agents and the token file. "
        "Exit 0 when nothing failed."))
    parser.add_argument("--socket", action="append", default=[], help="a vineyardd IPC socket (repeatable)")
    parser.add_argument("--agent", action="append", default=[], help="an agent, tcp://host:port (repeatable)")
    parser.add_argument("--token-file", default=None, help="the agents' shared token file")
    parser.add_argument("--tls", action="store_true", help="speak TLS to the agents")
    parser.add_argument("--tls-ca", default=None, help="the CA that signed the agents' certificates")
    parser.add_argument("--tls-cert", default=None, help="our certificate, for agents that require one")
    parser.add_argument("--tls-key", default=None, help="the key of --tls-cert")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    checks = doctor(args.socket, args.agent, args.token_file, args.tls, args.tls_ca, args.tls_cert, args.tls_key)
    if args.json:
        print(json.dumps([dataclasses.asdict(check) for check in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    sys.stdout.flush()
    return 1 if any(check.status == "FAIL" for check in checks) else 0
