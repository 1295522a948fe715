"""What a migration promises besides equal data: new ids, persistence, names, reuse, idempotence."""

import numpy as np
import pytest
import vineyard

import vineyard_migrate


def test_new_object_has_new_id_and_source_keeps_its_own(a, solo):
    value = np.arange(100)
    oid = a.put(value)
    new_id = vineyard_migrate.migrate(oid, solo, source=a)
    assert new_id != oid
    np.testing.assert_array_equal(a.get(oid), value)  # the source is untouched


def test_persist_by_default_and_on_request(a, b):
    oid = a.put(np.arange(10))
    a.persist(oid)
    persisted = vineyard_migrate.migrate(oid, b)
    transient = vineyard_migrate.migrate(oid, b, persist=False, copy=True)
    assert b.get_object(persisted).ispersist
    assert not b.get_object(transient).ispersist


def test_object_on_target_is_returned_as_it_is(a, b, solo):
    oid = b.put(np.arange(10))
    b.persist(oid)
    result = vineyard_migrate.migrate(oid, b, details=True)
    assert result.object_id == oid and result.already_on_target and result.bytes_copied == 0
    # independent instances: migrating an object of the target to itself
    local = solo.put(np.arange(3))
    assert vineyard_migrate.migrate(local, solo, source=solo) == local


def test_migrating_back_to_the_holder_returns_the_original(a, b):
    oid = a.put(np.arange(10))
    a.persist(oid)
    assert vineyard_migrate.migrate(oid, a, source=b) == oid


def test_migrated_by_name_and_named_on_target(a, b, solo):
    value = np.arange(30).reshape(5, 6)
    oid = a.put(value)
    a.persist(oid)
    a.put_name(oid, "migrate-test-matrix")
    # independent target: the name is resolved on the source
    new_id = vineyard_migrate.migrate("migrate-test-matrix", solo, source=a, name="copied-matrix")
    assert solo.get_name("copied-matrix") == new_id
    np.testing.assert_array_equal(solo.get(name="copied-matrix"), value)
    # cluster: names are cluster-wide, so no source is needed
    in_cluster = vineyard_migrate.migrate("migrate-test-matrix", b)
    np.testing.assert_array_equal(b.get(in_cluster), value)
    assert b.get_meta(in_cluster).instance_id == b.instance_id


def test_chunks_already_on_target_are_reused(a, b):
    """A global object whose chunks live on a and on b: gathered to b, only a's chunk moves."""
    on_b = np.arange(1000, dtype=np.int64)
    on_a = np.arange(500, dtype=np.float64)
    b_id = b.put(on_b)
    b.persist(b_id)
    a_id = a.put(on_a)
    a.persist(a_id)
    meta = vineyard.ObjectMeta()
    meta["typename"] = "vineyard::Sequence"
    meta["size_"] = 2
    meta["__elements_-size"] = 2
    meta.set_global(True)
    meta.add_member("__elements_-0", a_id)
    meta.add_member("__elements_-1", b_id)
    whole = a.create_metadata(meta)
    a.persist(whole.id)

    result = vineyard_migrate.migrate(whole.id, b, details=True)
    assert (result.blobs_copied, result.blobs_reused) == (1, 1)
    assert result.bytes_copied == on_a.nbytes
    gathered = b.get_meta(result.object_id)
    first, second = gathered.get_member("__elements_-0").meta, gathered.get_member("__elements_-1").meta
    assert first.instance_id == b.instance_id and second.instance_id == b.instance_id
    assert second.id == b_id  # the chunk on b is referred to, not copied
    assert first.id != a_id
    np.testing.assert_array_equal(b.get(first.id), on_a)
    np.testing.assert_array_equal(b.get(second.id), on_b)
    # now every chunk is on b: migrating again returns the object as it is
    assert vineyard_migrate.migrate(result.object_id, b) == result.object_id


def test_object_method_and_module_function(a, solo):
    import vineyard as vy  # the plug-in added both on import

    oid = a.put(np.arange(7))
    via_method = a.get_object(oid).migrate(solo, source=a)
    via_meta = a.get_meta(oid).migrate(solo, source=a)
    via_module = vy.migrate(oid, solo, source=a)
    for new_id in (via_method, via_meta, via_module):
        np.testing.assert_array_equal(solo.get(new_id), np.arange(7))
    assert len({via_method, via_meta, via_module}) == 1  # migrating again returns the first copy


@pytest.mark.parametrize("as_path", [True, False])
def test_target_and_source_as_socket_paths(stack, a, solo, as_path):
    oid = a.put(np.arange(4))
    target = stack.solo.socket if as_path else solo
    source = stack.a.socket if as_path else a
    new_id = vineyard_migrate.migrate(oid, target, source=source)
    np.testing.assert_array_equal(solo.get(new_id), np.arange(4))
