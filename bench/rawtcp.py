"""The machine's TCP limit on a link: plain sockets copying random bytes from memory to memory.

receive PORT BYTES REPS [CONNECTIONS]   (listens on 0.0.0.0:PORT; acknowledges each complete part with one byte)
send HOST PORT BYTES REPS [CONNECTIONS] (prints one JSON line: per-rep seconds, see below)

With several connections, BYTES is split evenly over them and every rep starts them together (one
thread each, at a barrier; socket calls release the GIL): a rep's time runs from the start to the
last acknowledgement, so the figure is the aggregate rate of connections that really overlap (not
the time of one part moved alone, which separate sender processes measure when they do not overlap).
"""

import json
import os
import socket
import sys
import threading
import time


def _receive_one(connection, size, reps):
    buffer = bytearray(size)
    view = memoryview(buffer)
    with connection:
        for _ in range(reps):
            got = 0
            while got < size:
                n = connection.recv_into(view[got:], size - got)
                if n == 0:
                    raise ConnectionError("sender closed early")
                got += n
            connection.sendall(b"k")  # the whole part landed


def receive(port, size, reps, connections=1):
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(connections)
        print("ready", flush=True)
        accepted = [server.accept()[0] for _ in range(connections)]
    threads = [threading.Thread(target=_receive_one, args=(c, size // connections, reps)) for c in accepted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def send(host, port, size, reps, connections=1):
    part = size // connections
    data = os.urandom(part)
    sockets = [socket.create_connection((host, port)) for _ in range(connections)]
    start = threading.Barrier(connections + 1)
    done = threading.Barrier(connections + 1)

    def one(connection):
        for _ in range(reps):
            start.wait()
            connection.sendall(data)
            connection.recv(1)
            done.wait()

    threads = [threading.Thread(target=one, args=(s,)) for s in sockets]
    for thread in threads:
        thread.start()
    times = []
    for _ in range(reps):
        start.wait()
        started = time.perf_counter()
        done.wait()
        times.append(time.perf_counter() - started)
    for thread in threads:
        thread.join()
    for s in sockets:
        s.close()
    print(json.dumps({"seconds": times}), flush=True)


def measure(receiver_host, sender_host, size, reps, connections=1, warmup=1):
    """Per-rep seconds of ``size`` bytes over ``connections`` plain connections from ``sender_host`` to
    ``receiver_host`` (hosts as in tests/hosts.py), after ``warmup`` unmeasured copies."""
    import subprocess

    from vineyard_servers import free_port

    port = free_port()
    total = warmup + reps
    receiver = subprocess.Popen([*receiver_host.prefix, sys.executable, __file__, "receive", str(port), str(size),
                                 str(total), str(connections)], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout.readline().strip() == "ready"
    sender = subprocess.run([*sender_host.prefix, sys.executable, __file__, "send", receiver_host.address, str(port),
                             str(size), str(total), str(connections)], check=True, timeout=1800, capture_output=True,
                            text=True)
    receiver.wait(60)
    return json.loads(sender.stdout)["seconds"][warmup:]


if __name__ == "__main__":
    at = 6 if sys.argv[1] == "send" else 5  # the optional CONNECTIONS
    count = int(sys.argv[at]) if len(sys.argv) > at else 1
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), count)
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), count)
