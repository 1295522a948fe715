"""Streams forwarded while they are written, and global objects gathered or split by rank."""

import subprocess
import sys
import os

import numpy as np
import pandas as pd
import pytest
import vineyard

import vineyard_migrate

PRODUCER = os.path.join(os.path.dirname(__file__), "stream_producer.py")


def _produce(socket, kind, chunks, delay, end="finish"):
    process = subprocess.Popen([sys.executable, PRODUCER, socket, kind, str(chunks), str(delay), end],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def _read_all(client, stream_id, producer):
    """Reads the target stream to its end; returns the chunks and whether the producer was still
    running when the first chunk arrived."""
    reader = client.get(stream_id).open_reader(client)
    chunks, first_while_producing = [], None
    while True:
        try:
            chunk = reader.next()
        except StopIteration:
            return chunks, first_while_producing
        if first_while_producing is None:
            first_while_producing = producer.poll() is None
        # vineyard frees a chunk when the next one is pulled: keep a copy
        chunks.append(bytes(chunk) if isinstance(chunk, memoryview) else chunk.copy(deep=True))


def test_byte_stream_is_forwarded_as_it_is_written(stack, a, b):
    producer, stream_id = _produce(stack.a.socket, "bytes", 5, 0.4)
    forwarding = vineyard_migrate.migrate_stream(stream_id, b, source=a)
    assert forwarding.stream_id != vineyard.ObjectID(stream_id)
    meta = b.get_meta(forwarding.stream_id)
    assert meta.typename == "vineyard::ByteStream" and meta.instance_id == b.instance_id
    chunks, first_while_producing = _read_all(b, forwarding.stream_id, producer)
    assert first_while_producing, "the first chunk arrived only after the producer finished"
    assert [len(c) for c in chunks] == [1 << 20] * 5
    for i, chunk in enumerate(chunks):  # in order, intact
        assert chunk == bytes([i]) * (1 << 20)
    forwarding.wait(timeout=60)
    assert (forwarding.state, forwarding.chunks, forwarding.bytes) == ("finished", 5, 5 << 20)
    assert producer.wait(30) == 0


def test_record_batch_stream_is_forwarded_as_it_is_written(stack, a, b):
    producer, stream_id = _produce(stack.a.socket, "recordbatch", 5, 0.4)
    forwarding = vineyard_migrate.migrate_stream(stream_id, stack.b.socket)  # source found via the cluster
    assert b.get_meta(forwarding.stream_id).typename == "vineyard::RecordBatchStream"
    chunks, first_while_producing = _read_all(b, forwarding.stream_id, producer)
    assert first_while_producing
    assert len(chunks) == 5
    for i, frame in enumerate(chunks):
        pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": np.full(1000, i, dtype=np.int64)}))
    forwarding.wait(timeout=60)
    assert forwarding.state == "finished"


@pytest.mark.parametrize("kind", ["bytes", "recordbatch"])
def test_a_failed_source_stream_fails_the_target(stack, a, b, kind):
    producer, stream_id = _produce(stack.a.socket, kind, 2, 0.2, end="fail")
    forwarding = vineyard_migrate.migrate_stream(stream_id, b, source=a)
    reader = b.get(forwarding.stream_id).open_reader(b)
    received = 0
    with pytest.raises(vineyard.StreamFailedException):
        while True:
            reader.next()
            received += 1
    assert received <= 2
    with pytest.raises(vineyard.StreamFailedException, match="failed"):
        forwarding.wait(timeout=60)
    assert forwarding.state == "failed"


def test_not_a_stream_is_invalid(a, b):
    oid = a.put(np.arange(3))
    with pytest.raises(vineyard.InvalidException, match="not a stream"):
        vineyard_migrate.migrate_stream(oid, b, source=a)


def _global_frame(clients):
    """A global DataFrame with two chunks on each instance; chunk k holds column x = k."""
    from vineyard.data.dataframe import make_global_dataframe

    chunks, values = [], {}
    for index, client in enumerate(clients):
        for j in range(2):
            k = 2 * index + j
            frame = pd.DataFrame({"x": np.full(100, k, dtype=np.int64), "y": np.arange(100.0) * k})
            oid = client.put(frame)
            client.persist(oid)
            chunks.append(oid)
            values[k] = frame
    meta = make_global_dataframe(clients[0], chunks)
    return meta.id, values


def test_global_dataframe_is_gathered_to_one_instance(a, b, c):
    gid, values = _global_frame([a, b, c])
    result = vineyard_migrate.migrate(gid, b, details=True)
    assert (result.blobs_copied > 0, result.blobs_reused > 0) == (True, True)  # b's chunks stay
    gathered = b.get_meta(result.object_id)
    assert gathered.isglobal
    frames = b.get(result.object_id)  # the resolver returns the local chunks: all of them now
    assert len(frames) == 6
    for frame in frames:
        pd.testing.assert_frame_equal(frame, values[int(frame["x"].iloc[0])])
    assert vineyard_migrate.migrate(result.object_id, b) == result.object_id  # all on b already


def test_migrate_to_local_splits_the_chunks_over_ranks(a, b, c):
    gid, values = _global_frame([a, b, c])
    clients = [a, b, c]
    landed = []
    for rank, client in enumerate(clients):
        ids = vineyard_migrate.migrate_to_local(gid, 3, rank, client)
        assert len(ids) == 2  # 6 chunks over 3 ranks
        for local_id in ids:
            assert client.get_meta(local_id).instance_id == client.instance_id
            frame = client.get(local_id)
            pd.testing.assert_frame_equal(frame, values[int(frame["x"].iloc[0])])
            landed.append(int(frame["x"].iloc[0]))
    assert sorted(landed) == list(range(6))  # every chunk exactly once
    with pytest.raises(ValueError, match="rank"):
        vineyard_migrate.migrate_to_local(gid, 3, 3, a)
    with pytest.raises(vineyard.InvalidException, match="not a global object"):
        vineyard_migrate.migrate_to_local(a.put(np.arange(3)), 1, 0, a)
