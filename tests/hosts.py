"""Two "hosts" on this machine: network namespaces joined by a veth pair, or, where namespaces
cannot be made, two loopback addresses (127.0.0.1 and 127.0.0.2) with distinct ports.

Each host has an address, a command prefix that runs a process on it, and the environment that
makes vineyard see it as its own host (``MY_HOST_NAME``, which vineyardd reports as its host name
and the engine compares with its own).
"""

import dataclasses
import json
import os
import subprocess
import sys
import uuid


@dataclasses.dataclass
class Host:
    name: str
    address: str
    prefix: tuple

    @property
    def env(self):
        return {"MY_HOST_NAME": self.address, "MY_NODE_NAME": self.address}

    def start_migrate(self, env=None, **kwargs):
        """Starts ``vineyard_migrate.migrate(**kwargs)`` on this host; see :meth:`outcome`."""
        helper = os.path.join(os.path.dirname(__file__), "remote_migrate.py")
        return subprocess.Popen(
            [*self.prefix, sys.executable, helper, json.dumps(kwargs)],
            env={**os.environ, **self.env, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def outcome(self, process, timeout=300):
        """The result of a started migration, or its error as ``{"error": type, "message": ...}``."""
        out, err = process.communicate(timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            raise RuntimeError("migration on %s crashed:\n%s\n%s" % (self.name, out, err))
        result = json.loads(lines[-1])
        result["stderr"] = err
        return result

    def migrate(self, env=None, **kwargs):
        """``vineyard_migrate.migrate(**kwargs)`` run on this host, to completion."""
        return self.outcome(self.start_migrate(env=env, **kwargs))


class TwoHosts:
    """``with TwoHosts() as (h1, h2)``; ``.mode`` is "netns" or "loopback"."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces = ["vm%s-h1" % self.tag, "vm%s-h2" % self.tag]
        self.mode = None

    def __enter__(self):
        try:
            if os.environ.get("VINEYARD_MIGRATE_TEST_NO_NETNS"):
                raise OSError("VINEYARD_MIGRATE_TEST_NO_NETNS is set")
            self._make_namespaces()
            self.mode = "netns"
            subnet = "10.231.%d" % (int(self.tag, 16) % 200 + 20)
            return (
                Host("h1", subnet + ".1", ("ip", "netns", "exec", self.namespaces[0])),
                Host("h2", subnet + ".2", ("ip", "netns", "exec", self.namespaces[1])),
            )
        except (OSError, subprocess.CalledProcessError) as e:
            self._remove_namespaces()
            self.mode = "loopback"
            self.why = str(e)
            return Host("h1", "127.0.0.1", ()), Host("h2", "127.0.0.2", ())

    def _make_namespaces(self):
        h1, h2 = self.namespaces
        v1, v2 = "vm%sa" % self.tag, "vm%sb" % self.tag
        subnet = "10.231.%d" % (int(self.tag, 16) % 200 + 20)
        for command in (
            ["ip", "netns", "add", h1],
            ["ip", "netns", "add", h2],
            ["ip", "link", "add", v1, "type", "veth", "peer", "name", v2],
            ["ip", "link", "set", v1, "netns", h1],
            ["ip", "link", "set", v2, "netns", h2],
            ["ip", "-n", h1, "addr", "add", subnet + ".1/24", "dev", v1],
            ["ip", "-n", h2, "addr", "add", subnet + ".2/24", "dev", v2],
            ["ip", "-n", h1, "link", "set", v1, "up"],
            ["ip", "-n", h2, "link", "set", v2, "up"],
            ["ip", "-n", h1, "link", "set", "lo", "up"],
            ["ip", "-n", h2, "link", "set", "lo", "up"],
        ):
            subprocess.run(command, check=True, capture_output=True)

    def _remove_namespaces(self):
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)

    def __exit__(self, *exc):
        if self.mode == "netns":
            self._remove_namespaces()


class ManyHosts:
    """``with ManyHosts(4) as hosts``: ``n`` network namespaces joined by a bridge, which also has
    an address in this namespace (so a test's own process reaches every host's agent); or, where
    namespaces cannot be made, loopback addresses 127.0.0.1 .. 127.0.0.n. ``.mode`` says which."""

    def __init__(self, n):
        if not 2 <= n <= 50:
            raise ValueError("2 to 50 hosts, not %d" % n)
        self.n = n
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces = ["vm%s-n%d" % (self.tag, i + 1) for i in range(n)]
        self.bridge = "vm%sbr" % self.tag
        self.subnet = "10.232.%d" % (int(self.tag, 16) % 200 + 20)
        self.mode = None

    def __enter__(self):
        try:
            if os.environ.get("VINEYARD_MIGRATE_TEST_NO_NETNS"):
                raise OSError("VINEYARD_MIGRATE_TEST_NO_NETNS is set")
            self._make()
            self.mode = "netns"
            return [Host("h%d" % (i + 1), "%s.%d" % (self.subnet, i + 1), ("ip", "netns", "exec", ns))
                    for i, ns in enumerate(self.namespaces)]
        except (OSError, subprocess.CalledProcessError) as e:
            self._remove()
            self.mode = "loopback"
            self.why = str(e)
            return [Host("h%d" % (i + 1), "127.0.0.%d" % (i + 1), ()) for i in range(self.n)]

    def _make(self):
        commands = [
            ["ip", "link", "add", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", self.subnet + ".254/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ]
        for i, ns in enumerate(self.namespaces):
            inside, outside = "vm%si%d" % (self.tag, i + 1), "vm%so%d" % (self.tag, i + 1)
            commands += [
                ["ip", "netns", "add", ns],
                ["ip", "link", "add", inside, "type", "veth", "peer", "name", outside],
                ["ip", "link", "set", inside, "netns", ns],
                ["ip", "link", "set", outside, "master", self.bridge],
                ["ip", "link", "set", outside, "up"],
                ["ip", "-n", ns, "addr", "add", "%s.%d/24" % (self.subnet, i + 1), "dev", inside],
                ["ip", "-n", ns, "link", "set", inside, "up"],
                ["ip", "-n", ns, "link", "set", "lo", "up"],
            ]
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)

    def _remove(self):
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def __exit__(self, *exc):
        if self.mode == "netns":
            self._remove()
