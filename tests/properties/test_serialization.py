"""save/load, drawn by Hypothesis: every value save accepts comes back exactly, with its type, and
a file changed anywhere (and re-signed, as an attacker would) loads or fails only with a
SerializationError naming it, allocating at most a small multiple of the file's size."""

import hashlib
import os
import tempfile
import tracemalloc

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.serialization import SerializationError
from structures import assert_identical  # tests/structures.py (tests/conftest.py puts tests/ on the path)

DTYPES = st.sampled_from(["bool", "int8", "uint16", "int64", "uint64", "float16", "float32", "float64",
                          "complex64", "complex128", "<U3", "S2", "m8[s]", "M8[D]"])
ARRAYS = DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
SCALARS = ARRAYS.map(lambda array: array.reshape(-1)[0] if array.size else array.dtype.type(0)
                     if array.dtype.kind not in "mM" else array.dtype.type(0, "s" if array.dtype.kind == "m" else "D"))
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | ARRAYS | SCALARS
KEYS = st.text(max_size=4) | st.integers()
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12)


@given(VALUES)
def test_every_value_round_trips_exactly_with_its_type(value):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "state.ckpt")
        mg.save(value, path)
        assert_identical(mg.load(path), value)


@given(VALUES, st.data())
def test_a_re_signed_change_anywhere_loads_or_is_a_serialization_error(value, data):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "state.ckpt")
        mg.save({"value": value}, path)
        raw = bytearray(open(path, "rb").read())
        body = len(raw) - 64
        for _ in range(data.draw(st.integers(1, 4), label="changes")):
            position = data.draw(st.integers(0, body - 1), label="position")
            raw[position] = data.draw(st.integers(0, 255), label="byte")
        raw[body:] = hashlib.sha256(bytes(raw[:body])).hexdigest().encode()  # the checksum no longer protects it
        with open(path, "wb") as stream:
            stream.write(raw)
        tracemalloc.start()
        try:
            mg.load(path)
        except SerializationError as error:
            assert "state.ckpt" in str(error)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peak < 8 * len(raw) + 1_000_000, f"loading a {len(raw)}-byte file allocated {peak} bytes"
