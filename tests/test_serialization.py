"""minigrad.save / minigrad.load: round trips, the checksum, and refusing pickles."""

import os
import pickle
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad.serialization import SerializationError

try:
    from structures import assert_identical
except ImportError:  # the tests directory is a package (tests/__init__.py)
    from tests.structures import assert_identical


def sample_state():
    return {
        "model": OrderedDict([("conv.weight", np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)),
                              ("bn.num_batches_tracked", np.array(5, dtype=np.int64))]),
        "optimizer": {"state": {0: {"momentum_buffer": np.ones(3)}, 7: {}},
                      "param_groups": [{"lr": 0.1, "params": [0, 7], "nesterov": True}]},
        "history": [{"loss": float("nan"), "acc": float("inf"), "neg": float("-inf")}],
        "shape": (2, (3, 4)), "name": "run", "none": None, "scalar": np.float32(2.5),
        "scalar64": np.float64(-1.25),  # also a Python float: it must still come back as np.float64
        "__array__": "a user key that looks like a tag", "dict": {"array": 3},
    }


def test_round_trip_keeps_types_keys_dtypes_and_non_finite_floats(tmp_path):
    state = sample_state()
    mg.save(state, tmp_path / "state.ckpt")
    assert_identical(mg.load(tmp_path / "state.ckpt"), state)


def test_the_same_object_gives_the_same_bytes(tmp_path):
    mg.save(sample_state(), tmp_path / "a")
    mg.save(sample_state(), tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_a_module_state_dict_loads_back_into_a_module(tmp_path):
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Conv2d(3, 4, 3), mg.nn.BatchNorm2d(4))
    mg.save(model.state_dict(), tmp_path / "model.ckpt")
    mg.manual_seed(1)
    other = mg.nn.Sequential(mg.nn.Conv2d(3, 4, 3), mg.nn.BatchNorm2d(4))
    other.load_state_dict(mg.load(tmp_path / "model.ckpt"))
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_every_flipped_byte_is_detected(tmp_path):
    path = tmp_path / "state.ckpt"
    mg.save(sample_state(), path)
    original = path.read_bytes()
    for position in range(0, len(original), max(1, len(original) // 400)):
        corrupt = bytearray(original)
        corrupt[position] ^= 0x01
        path.write_bytes(bytes(corrupt))
        with pytest.raises(SerializationError):
            mg.load(path)
    path.write_bytes(original[:-1])
    with pytest.raises(SerializationError, match="checksum"):
        mg.load(path)


def test_a_flipped_weight_byte_is_reported_as_corrupt_with_both_digests(tmp_path):
    path = tmp_path / "state.ckpt"
    mg.save({"weight": np.zeros(100, dtype=np.float32)}, path)
    corrupt = bytearray(path.read_bytes())
    corrupt[corrupt.index(b"\x93NUMPY") + 200] ^= 0x40  # inside the array's values
    path.write_bytes(bytes(corrupt))
    with pytest.raises(SerializationError, match=r"is corrupt: its sha256 is [0-9a-f]{16}\.\.\., but the file records"):
        mg.load(path)


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > PWNED",))


def test_a_pickle_is_refused_without_running_it_and_the_message_names_the_conversion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"model": RunsCode()}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(SerializationError, match="python -m minigrad.serialization convert-pickle OLD.pkl NEW.ckpt"):
        mg.load(tmp_path / "evil.pkl")
    assert not (tmp_path / "PWNED").exists()
    with pytest.raises(ValueError, match="weights_only must be True"):
        mg.load(tmp_path / "evil.pkl", weights_only=False)


def test_the_conversion_command_turns_a_trusted_pickle_into_the_safe_format(tmp_path):
    state = sample_state()
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(state))
    run = subprocess.run([sys.executable, "-m", "minigrad.serialization", "convert-pickle",
                          str(tmp_path / "old.pkl"), str(tmp_path / "new.ckpt")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert_identical(mg.load(tmp_path / "new.ckpt"), state)


@pytest.mark.parametrize("value, message", [
    (np.array([object()]), r"obj\['bad'\]: an array of dtype object"),
    (mg.tensor([1.0]), r"obj\['bad'\]: Tensor is not an array"),
    ({(1, 2): 3}, r"obj\['bad'\]: dict keys must be str or int, got \(1, 2\)"),
])
def test_what_cannot_be_saved_is_refused_by_name_and_nothing_is_written(tmp_path, value, message):
    with pytest.raises(TypeError, match=message):
        mg.save({"bad": value}, tmp_path / "state.ckpt")
    assert os.listdir(tmp_path) == []


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SerializationError, match="not a minigrad state file"):
        mg.load(tmp_path / "notes.txt")


# ------------------------------------------------------------------ every value, with its type
@pytest.mark.parametrize("value", [
    np.float64("nan"), np.float64(0.1), np.float64("-inf"), np.float32("nan"), np.float16(1.5), np.int8(-3),
    np.uint64(2**64 - 1), np.bool_(True), np.str_("é"), np.complex128(1 + 2j), np.datetime64("2026-01-01"),
    -0.0, 1e308, 5e-324, 2**100, -(2**70), "", "\u2603", True,
    np.array(np.float64("nan")), np.zeros((0, 3), np.float32), np.array(["a", "bc"]), np.arange(6).reshape(2, 3).T,
], ids=repr)
def test_every_accepted_value_comes_back_exactly_with_its_type(tmp_path, value):
    mg.save({"v": value, "in a list": [value], "in a tuple": (value,)}, tmp_path / "state.ckpt")
    loaded = mg.load(tmp_path / "state.ckpt")
    for got in (loaded["v"], loaded["in a list"][0], loaded["in a tuple"][0]):
        assert_identical(got, value)  # -0.0 stays -0.0, NaN stays NaN


class Label(int):
    pass


@pytest.mark.parametrize("value, message", [
    (Label(3), "Label is not an array"),
    ({np.int64(1): 2}, "dict keys must be str or int"),
    (np.zeros(2, dtype=[("a", "f4")]), "an array of dtype"),
])
def test_a_value_that_would_not_come_back_with_its_type_is_refused(tmp_path, value, message):
    with pytest.raises(TypeError, match=message):
        mg.save({"bad": value}, tmp_path / "state.ckpt")


def test_nesting_deeper_than_the_limit_or_a_cycle_is_refused_on_save(tmp_path):
    cycle = []
    cycle.append(cycle)
    deep = []
    for _ in range(mg.serialization.MAX_DEPTH + 5):
        deep = [deep]
    for value in (cycle, deep):
        with pytest.raises(ValueError, match="nested more than"):
            mg.save(value, tmp_path / "state.ckpt")


# ------------------------------------------------------------------ hostile files
def forge(path, content, arrays=(), compression=None):
    """A file minigrad.load's checksum accepts, with whatever ``content.json`` and members we like."""
    import hashlib
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression or zipfile.ZIP_STORED) as archive:
        archive.writestr("content.json", content if isinstance(content, bytes) else json.dumps(
            {"format": "minigrad-state", "version": 1, "content": content}))
        for index, raw in enumerate(arrays):
            archive.writestr(f"arrays/{index}.npy", raw)
        archive.comment = b"sha256:" + b"0" * 64
    data = bytearray(buffer.getvalue())
    data[-64:] = hashlib.sha256(data[:-64]).hexdigest().encode()
    path.write_bytes(bytes(data))
    return path


def npy_header(shape, dtype="<f8"):
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": dtype, "fortran_order": False, "shape": shape})
    return stream.getvalue()


HOSTILE = {
    "a compressed member that inflates (decompression bomb)": (
        {"array": 0}, [npy_header((4_000_000,)) + bytes(32_000_000)], "compressed"),
    "a declared shape of 10^6 x 10^6": ({"array": 0}, [npy_header((10**6, 10**6)) + bytes(80)], "declares shape"),
    "fewer bytes than the shape declares": ({"array": 0}, [npy_header((3,)) + bytes(16)], r"\(24 bytes\) but holds 16"),
    "an object array": ({"array": 0}, [npy_header((1,), "|O") + bytes(8)], "dtype object"),
    "content.json nested 2,000 deep": (b"[" * 2000 + b"]" * 2000, [], ""),
    "a missing array member": ({"array": 3}, [], "arrays/3.npy"),
    "an unknown tag": ({"pickle": "x"}, [], "unknown tag"),
    "a dict body that is not pairs": ({"dict": 5}, [], "TypeError"),
    "content.json that is not JSON": (b"\xff{", [], ""),
    "a header that is a list": (b"[1, 2]", [], "format and version"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_a_serialization_error_naming_the_file(tmp_path, case):
    import tracemalloc
    import zipfile

    content, arrays, message = HOSTILE[case]
    path = forge(tmp_path / "hostile.ckpt", content, arrays,
                 zipfile.ZIP_DEFLATED if "compressed" in case else None)
    tracemalloc.start()
    try:
        with pytest.raises(SerializationError, match=f"hostile.ckpt is not a readable minigrad state file.*{message}"):
            mg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * path.stat().st_size + 2_000_000, f"loading allocated {peak} bytes for a {path.stat().st_size}-byte file"


def test_nesting_deeper_than_the_limit_is_refused_on_load(tmp_path):
    deep = []
    for _ in range(mg.serialization.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(SerializationError, match="state.ckpt is not a readable.*nested more than"):
        mg.load(forge(tmp_path / "state.ckpt", deep))
