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


def open_authenticated(endpoint, token):
    """A connection that has passed the handshake with ``token`` (bytes)."""
    conn = connect(endpoint)
    kind, answer = authenticate(conn, token)
    assert kind == AUTH_OK, answer
    return conn


def recv_any(conn):
    """(type, id, offset, payload) of the next frame; JSON bodies are decoded."""
    magic, kind, _, length, blob_id, offset, _, _ = HEADER.unpack(recv_exact(conn, HEADER.size))
    assert magic == MAGIC
    body = recv_exact(conn, length)
    if kind in (HELLO, AUTH, AUTH_OK, REQUEST, REPLY, ERROR):
        body = json.loads(body or b"{}")
    return kind, blob_id, offset, body


def request(conn, op, **args):
    """Sends {"op": op, **args}; returns (type, body) of the answer (REPLY or ERROR)."""
    send_json(conn, REQUEST, {"op": op, **args})
    return recv_frame(conn)


def object_id(oid):
    """The agent's spelling of an object id (vineyard's own: o + 16 hex digits)."""
    return "o%016x" % (int(oid) & (2**64 - 1))


def blobs_of(tree):
    """The ids of the blob members of a metadata tree (its "length" fields may say 0: vineyard's own)."""
    found = []
    if isinstance(tree, dict):
        if tree.get("typename") == "vineyard::Blob":
            if tree["id"] != "o8000000000000000" and tree["id"] not in found:
                found.append(tree["id"])
        else:
            for value in tree.values():
                found += [blob for blob in blobs_of(value) if blob not in found]
    return found


def signed(blob_id):
    """A blob id as the signed 64-bit field of a frame header."""
    value = int(blob_id[1:], 16) if isinstance(blob_id, str) else int(blob_id)
    return value - (1 << 64) if value >= (1 << 63) else value


def crc32c(data):
    """CRC32C (Castagnoli) of ``data``, as DATA frames carry it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def data_frame(blob_id, offset, payload):
    crc = crc32c(payload)
    return header(DATA, len(payload), signed(blob_id), offset, crc - (1 << 32) if crc >= (1 << 31) else crc) + payload
