"""A slow stream producer, run as its own process by the stream tests.

Usage: stream_producer.py SOCKET bytes|recordbatch CHUNKS DELAY finish|fail
Prints the stream id, then writes CHUNKS chunks, DELAY seconds apart: chunk i of a ByteStream is
1 MiB of the byte i, chunk i of a RecordBatchStream a DataFrame with column a = [i] * 1000.
"""

import sys
import time

import numpy as np
import pandas as pd
import vineyard
from vineyard.io.byte import ByteStream
from vineyard.io.recordbatch import RecordBatchStream


def main():
    socket, kind, chunks, delay, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    client = vineyard.connect(socket)
    if kind == "bytes":
        stream = ByteStream.new(client, {"origin": "stream_producer"})
    else:
        stream = RecordBatchStream.new(client, {"origin": "stream_producer"})
    client.persist(stream.id)
    print("o%016x" % int(stream.id), flush=True)
    writer = stream.open_writer(client)
    for i in range(chunks):
        if kind == "bytes":
            buffer = writer.next(1 << 20)  # hands the previous chunk to readers
            np.frombuffer(buffer, dtype=np.uint8)[:] = i
        else:
            writer.append(client.put(pd.DataFrame({"a": np.full(1000, i, dtype=np.int64)})))
        time.sleep(delay)
    if end == "fail":
        writer.fail()
    else:
        writer.finish()
    print("done", flush=True)


if __name__ == "__main__":
    main()
