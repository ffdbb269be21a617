"""minigrad/data/collate.py: PyTorch's default_collate rules, checked by hand and, where PyTorch is
installed, against torch.utils.data.default_collate on the same examples."""

from collections import namedtuple

import numpy as np
import pytest

import minigrad as mg
from minigrad.data.collate import default_collate, to_tensors

try:
    from structures import assert_identical
except ImportError:  # the tests directory is a package (tests/__init__.py)
    from tests.structures import assert_identical

Point = namedtuple("Point", "x y")

EXAMPLES = {
    "pairs of (array, int)": [(np.full((2, 3), k, np.float32), k) for k in range(3)],
    "lists": [[np.float64(k), float(k) / 2, True] for k in range(3)],
    "dicts": [{"image": np.full(4, k), "label": k, "name": f"n{k}"} for k in range(3)],
    "nested": [{"pair": (np.arange(2) + k, {"w": float(k)})} for k in range(2)],
    "namedtuples": [Point(np.zeros(2), k) for k in range(2)],
    "numbers": [1, 2, 3],
}


def as_numpy(batch):
    """torch's batch with Tensors turned into arrays, to compare with ours."""
    if hasattr(batch, "numpy"):
        return batch.numpy()
    if isinstance(batch, dict):
        return {key: as_numpy(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*map(as_numpy, batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(map(as_numpy, batch))
    return batch


def test_pairs_by_hand():
    images, labels = default_collate(EXAMPLES["pairs of (array, int)"])
    assert images.shape == (3, 2, 3) and images.dtype == np.float32 and images[2, 1, 2] == 2
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2]


def test_dicts_namedtuples_strings_by_hand():
    batch = default_collate(EXAMPLES["dicts"])
    assert batch["image"].shape == (3, 4) and batch["label"].tolist() == [0, 1, 2] and batch["name"] == ["n0", "n1", "n2"]
    point = default_collate(EXAMPLES["namedtuples"])
    assert isinstance(point, Point) and point.x.shape == (2, 2) and point.y.tolist() == [0, 1]
    # an int among floats: float64 here; PyTorch gives float32 when an int comes first, float64 otherwise
    assert default_collate([1, 2.5]).dtype == np.float64


@pytest.mark.parametrize("name", EXAMPLES)
def test_same_structure_shapes_and_dtypes_as_torch(name):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    assert_identical(default_collate(EXAMPLES[name]), as_numpy(torch_collate(EXAMPLES[name])))


def test_tensor_examples_become_a_tensor():
    batch = default_collate([(mg.tensor([1.0, 2.0]), 0), (mg.tensor([3.0, 4.0]), 1)])
    assert isinstance(batch[0], mg.Tensor) and batch[0].shape == (2, 2)


@pytest.mark.parametrize("examples, error, message", [
    ([np.zeros(2), np.zeros(3)], ValueError, r"example 0 has shape \(2,\), example 1 has \(3,\)"),
    ([(1, 2), (1,)], ValueError, "example 1 has 1 fields, example 0 has 2"),
    ([{"a": 1}, {"b": 1}], ValueError, r"example 1 has keys \['b'\], example 0 has \['a'\]"),
    ([object()], TypeError, "found object.*collate_fn="),
    ([], ValueError, "at least one example"),
])
def test_mismatched_examples_are_refused_with_the_positions(examples, error, message):
    with pytest.raises(error, match=message):
        default_collate(examples)


def test_to_tensors_turns_numeric_arrays_into_tensors_sharing_them():
    images = np.zeros((2, 3), np.float32)
    batch = to_tensors({"x": images, "names": np.array(["a", "b"]), "pair": [images, 3]})
    assert isinstance(batch["x"], mg.Tensor) and np.shares_memory(batch["x"].data, images)
    assert isinstance(batch["names"], np.ndarray) and isinstance(batch["pair"][0], mg.Tensor) and batch["pair"][1] == 3
