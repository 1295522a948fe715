"""Objects of every common kind come out of a migration equal to what went in."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import vineyard

import vineyard_migrate

ARRAYS = {
    "int8": np.arange(-50, 50, dtype=np.int8),
    "int32-2d": np.arange(24, dtype=np.int32).reshape(4, 6),
    "int64-3d": np.arange(60, dtype=np.int64).reshape(3, 4, 5),
    "uint64": np.array([0, 1, 2**64 - 1], dtype=np.uint64),
    "float32": np.random.default_rng(1).random(1000, dtype=np.float32),
    "float64-2d": np.random.default_rng(2).random((300, 7)),
    "bool": np.random.default_rng(3).random(77) > 0.5,
    "0-d": np.array(3.25),
    "empty": np.zeros((0, 3)),
    "empty-1d": np.array([], dtype=np.int32),
}


@pytest.mark.parametrize("key", sorted(ARRAYS))
def test_ndarray_between_cluster_instances(a, b, key):
    value = ARRAYS[key]
    oid = a.put(value)
    a.persist(oid)
    new_id = vineyard_migrate.migrate(oid, b)  # source found through the cluster
    assert new_id != oid
    out = b.get(new_id)
    np.testing.assert_array_equal(out, value)
    assert out.dtype == value.dtype and out.shape == value.shape
    assert b.get_meta(new_id).instance_id == b.instance_id


@pytest.mark.parametrize("key", sorted(ARRAYS))
def test_ndarray_between_independent_instances(a, solo, key):
    value = ARRAYS[key]
    oid = a.put(value)
    new_id = vineyard_migrate.migrate(oid, solo, source=a)
    out = solo.get(new_id)
    np.testing.assert_array_equal(out, value)
    assert out.dtype == value.dtype and out.shape == value.shape


def test_256_mib_array(a, solo):
    value = np.random.default_rng(7).random(32 << 20)  # 32 Mi float64 = 256 MiB
    oid = a.put(value)
    result = vineyard_migrate.migrate(oid, solo, source=a, details=True)
    assert result.bytes_copied == value.nbytes
    np.testing.assert_array_equal(solo.get(result.object_id), value)
    solo.delete(result.object_id, deep=True)
    a.delete(oid, deep=True)


def _frame():
    n = 1000
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "i": np.arange(n, dtype=np.int64),
            "f": rng.random(n),
            "b": rng.random(n) > 0.5,
            "s": ["row-%d" % i for i in range(n)],
            "t": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


@pytest.mark.parametrize("pair", ["cluster", "independent"])
def test_dataframe(a, b, solo, pair):
    df = _frame()
    oid = a.put(df)
    a.persist(oid)
    target, source = (b, None) if pair == "cluster" else (solo, a)
    new_id = vineyard_migrate.migrate(oid, target, source=source)
    pd.testing.assert_frame_equal(target.get(new_id), df)


def test_pyarrow_table(a, solo):
    table = pa.table(
        {
            "x": pa.array(range(500), pa.int64()),
            "y": pa.array([i / 3 for i in range(500)], pa.float64()),
            "z": pa.array(["v%d" % i for i in range(500)], pa.string()),
        }
    )
    oid = a.put(table)
    new_id = vineyard_migrate.migrate(oid, solo, source=a)
    out = solo.get(new_id)
    assert out.equals(a.get(oid))  # what vineyard itself gives back on the source
    assert out.cast(table.schema).equals(table)  # vineyard widens string to large_string


@pytest.mark.parametrize(
    "value",
    [
        "a plain string",
        (np.arange(5), np.ones((2, 2))),
        [np.arange(3, dtype=np.int16), np.zeros(4)],
        {"left": np.arange(6), "right": np.full(3, 2.5)},
    ],
    ids=["str", "tuple", "list", "dict"],
)
def test_python_values(a, solo, value):
    oid = a.put(value)
    new_id = vineyard_migrate.migrate(oid, solo, source=a)
    out = solo.get(new_id)
    if isinstance(value, str):
        assert out == value
    elif isinstance(value, dict):
        assert sorted(out) == sorted(value)
        for key in value:
            np.testing.assert_array_equal(out[key], value[key])
    else:
        assert len(out) == len(value)
        for got, want in zip(out, value):
            np.testing.assert_array_equal(got, want)


def test_object_and_meta_are_accepted(a, solo):
    value = np.arange(12.0)
    oid = a.put(value)
    for obj in (a.get_object(oid), a.get_meta(oid), "o%016x" % int(oid), int(oid)):
        new_id = vineyard_migrate.migrate(obj, solo, source=a)
        np.testing.assert_array_equal(solo.get(new_id), value)
        assert isinstance(new_id, vineyard.ObjectID)
