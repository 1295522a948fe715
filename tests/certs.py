"""Certificates for the agent link's TLS tests, made with openssl in a test's own directory, for
that run only (never committed)."""

import dataclasses
import os
import subprocess


@dataclasses.dataclass
class Certs:
    ca: str
    agent_cert: str
    agent_key: str
    client_cert: str
    client_key: str
    stranger_cert: str  # signed by another CA
    stranger_key: str


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _key_and_csr(directory, name, subject):
    key, csr = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".csr")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
             "-keyout", key, "-out", csr)
    return key, csr


def _ca(directory, name):
    key, cert = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
             "-subj", "/CN=" + name, "-keyout", key, "-out", cert)
    return cert, key


def signed(directory, name, ca, extensions):
    key, csr = _key_and_csr(directory, name, "/CN=" + name)
    ext, cert = os.path.join(directory, name + ".ext"), os.path.join(directory, name + ".pem")
    with open(ext, "w") as f:
        f.write(extensions + "\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-days", "1",
             "-extfile", ext, "-out", cert)
    return cert, key


def make_certs(directory, addresses, agent_usage="serverAuth"):
    """A CA; the agents' certificate (for ``addresses``, with extendedKeyUsage ``agent_usage``) and a
    client's, signed by it; a stranger's client certificate signed by another CA. Agents that pull
    from each other over mutual TLS present their own certificate as a client's:
    ``agent_usage="serverAuth,clientAuth"``."""
    ca, other = _ca(directory, "test-ca"), _ca(directory, "other-ca")
    sans = ",".join("IP:" + address for address in addresses)
    agent = signed(directory, "agent", ca, "subjectAltName=%s\nextendedKeyUsage=%s" % (sans, agent_usage))
    client = signed(directory, "client", ca, "extendedKeyUsage=clientAuth")
    stranger = signed(directory, "stranger", other, "extendedKeyUsage=clientAuth")
    return Certs(ca[0], *agent, *client, *stranger)
