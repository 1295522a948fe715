"""vineyardd refuses a step after allocation: the migration must fail with vineyard's own exception
naming the object, and leave the target as it found it (objects and memory usage).

The refusal is real: once every byte has landed and before the engine seals, the test deletes one of
the migration's own unsealed blobs on the target (another client may: vineyardd frees it at once), so
vineyardd answers the seal with ObjectNotExists. The moment is found by the progress callback (every
byte moved) and the blob through the migration's journal beside the target's socket.

Note: with the engine's rollback broken on purpose (no blob dropped or deleted) the target still came
back to its baseline here: vineyardd 0.24.2 apparently frees what the failed migration's connection
held once the pool closes that connection. The rollback itself is guarded by test_errors.py and
test_crash_safety.py."""

import json
import os

import numpy as np
import pytest
import vineyard

import vineyard_migrate
from vineyard_migrate import _progress


def _journaled_blobs(client):
    """The blob ids the journals beside ``client``'s socket list (one lock file per migration)."""
    lock_dir = client.ipc_socket + ".migrate"
    blobs = []
    for name in os.listdir(lock_dir) if os.path.isdir(lock_dir) else []:
        if name.endswith(".lock"):
            with open(os.path.join(lock_dir, name)) as f:
                for line in f:
                    if line.strip():
                        blobs += json.loads(line).get("blobs", [])
    return [int(b[1:], 16) if isinstance(b, str) else int(b) for b in blobs]


def _deleting_a_blob_once_landed(target, deleted):
    """A progress listener that, once every byte moved, deletes one journaled blob on ``target``."""
    import jpype

    @jpype.JImplements("io.v6d.migrate.transport.ProgressListener")
    class DeleteOneBlob:
        @jpype.JOverride
        def onProgress(self, done, total):  # noqa: N802 (Java's name)
            if int(done) == int(total) and not deleted:
                blobs = _journaled_blobs(target)
                assert blobs, "no journaled blob beside the target's socket"
                victim = vineyard.ObjectID(blobs[-1])
                target.delete(victim, force=True, deep=True)
                deleted.append("o%016x" % int(victim))

    return DeleteOneBlob()


def test_a_seal_the_target_refuses_leaves_it_unchanged(a, solo, unchanged, monkeypatch):
    rng = np.random.default_rng(9)
    value = tuple(rng.random(1 << 17) for _ in range(4))  # four blobs of 1 MiB
    oid = a.put(value)
    warm = a.put(np.arange(1))
    solo.delete(vineyard_migrate.migrate(warm, solo, source=a), deep=True)  # the JVM is up before the snapshot
    a.delete(warm)
    deleted = []
    monkeypatch.setattr(_progress, "listener", lambda progress, label: (_deleting_a_blob_once_landed(solo, deleted), None))
    with unchanged(solo), pytest.raises(vineyard.ObjectNotExistsException) as refused:
        vineyard_migrate.migrate(oid, solo, source=a)
    assert deleted, "the listener never ran: nothing was refused"
    message = str(refused.value)
    assert "seal" in message and deleted[0] in message, message  # vineyardd's refusal, naming the blob
    assert "o%016x" % int(oid) in message, message  # ... and the object whose migration it ended
    a.delete(oid, deep=True)
