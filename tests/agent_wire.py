"""A minimal client of the agent's wire protocol, for tests that must misbehave on purpose
(garbage, oversized lengths, wrong proofs). The real client is the Java engine."""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct

HEADER = struct.Struct(">HBBIqqiI")  # magic, type, flags, length, id, offset, crc32c, reserved
MAGIC = 0x564D
HELLO, AUTH, AUTH_OK, REQUEST, REPLY, ERROR, DATA, READ = range(1, 9)


def connect(endpoint, timeout=10):
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    conn = socket.create_connection((host, int(port)), timeout=timeout)
    return conn


def header(kind, length, blob_id=0, offset=0, crc=0):
    return HEADER.pack(MAGIC, kind, 0, length, blob_id, offset, crc, 0)


def send_json(conn, kind, body):
    data = json.dumps(body).encode()
    conn.sendall(header(kind, len(data)) + data)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def recv_frame(conn):
    """(type, JSON body) of the next control frame."""
    magic, kind, _, length, *_ = HEADER.unpack(recv_exact(conn, HEADER.size))
    assert magic == MAGIC
    return kind, json.loads(recv_exact(conn, length) or b"{}")


def closed(conn, timeout=10):
    """True when the peer closes the connection (after any frames it still sends)."""
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _mac(token, label, first, second):
    return hmac.new(token, label + first + second, hashlib.sha256).digest()


def authenticate(conn, token):
    """Runs the handshake with ``token`` (bytes); returns the agent's answer frame."""
    kind, hello = recv_frame(conn)
    assert kind == HELLO
    agent_nonce = base64.b64decode(hello["nonce"])
    client_nonce = os.urandom(32)
    proof = _mac(token, b"vineyard-migrate/1 client", agent_nonce, client_nonce)
    send_json(conn, AUTH, {"nonce": base64.b64encode(client_nonce).decode(),
                           "proof": base64.b64encode(proof).decode()})
    kind, answer = recv_frame(conn)
    if kind == AUTH_OK:
        expected = _mac(token, b"vineyard-migrate/1 agent", client_nonce, agent_nonce)
        assert base64.b64decode(answer["proof"]) == expected, "the agent's proof is wrong"
    return kind, answer
