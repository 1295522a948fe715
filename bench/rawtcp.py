"""The machine's TCP limit on a link: one plain socket copying random bytes from memory to memory.

receive PORT BYTES REPS   (listens on 0.0.0.0:PORT; acknowledges each complete copy with one byte)
send HOST PORT BYTES REPS (prints one JSON line: per-rep seconds from the first byte sent to the ack)
"""

import json
import os
import socket
import sys
import time


def receive(port, size, reps):
    buffer = bytearray(size)
    view = memoryview(buffer)
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(1)
        print("ready", flush=True)
        connection, _ = server.accept()
        with connection:
            for _ in range(reps):
                got = 0
                while got < size:
                    n = connection.recv_into(view[got:], size - got)
                    if n == 0:
                        raise ConnectionError("sender closed early")
                    got += n
                connection.sendall(b"k")  # the whole copy landed


def send(host, port, size, reps):
    data = os.urandom(size)
    times = []
    with socket.create_connection((host, port)) as connection:
        for _ in range(reps):
            started = time.perf_counter()
            connection.sendall(data)
            connection.recv(1)
            times.append(time.perf_counter() - started)
    print(json.dumps({"seconds": times}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
