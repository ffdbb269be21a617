"""Turning a list of examples into one batch: PyTorch's ``default_collate`` rules, over NumPy.

A data set written the PyTorch way returns one example at a time (``ds[i]``); the loader asks for
``batch_size`` of them and hands the list to ``collate``, which keeps the examples' structure and
stacks what lies at the same place in each::

    [(image_0, 3), (image_1, 7)]          ->  [stack(image_0, image_1), array([3, 7])]
    [{"x": a, "y": 1}, {"x": b, "y": 2}]  ->  {"x": stack(a, b), "y": array([1, 2])}

Arrays and NumPy scalars are stacked with ``np.stack``; Python ints, floats and bools become an
int64 / float64 / bool array (as PyTorch's default collate makes int64 / float64 / bool tensors);
minigrad Tensors are stacked into a Tensor; strings stay a list; tuples and lists are collated
position by position into a list (PyTorch's choice), a namedtuple into the same namedtuple, a dict
key by key.

>>> batch = default_collate([(np.zeros((2, 2)), 3), (np.ones((2, 2)), 7)])
>>> batch[0].shape, batch[1]
((2, 2, 2), array([3, 7]))
>>> default_collate([{"name": "a", "score": 0.5}, {"name": "b", "score": 1.5}])
{'name': ['a', 'b'], 'score': array([0.5, 1.5])}
"""

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["default_collate", "to_tensors"]


def default_collate(batch):
    """One batch from a list of examples, keeping their structure (see the module docstring)."""
    from minigrad.tensor import Tensor  # the data layer works on arrays; only Tensor examples need it

    batch = list(batch)
    if not batch:
        raise ValueError("default_collate needs at least one example")
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor(_stack([example.data for example in batch], "Tensor"))
    if isinstance(first, (np.ndarray, np.generic)):
        return _stack([np.asarray(example) for example in batch], "array")
    if isinstance(first, (bool, int, float)):
        return np.array(batch)  # bool, int64 or float64 (an int among floats becomes a float)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        for position, example in enumerate(batch):
            if not isinstance(example, Mapping) or example.keys() != first.keys():
                raise ValueError(f"default_collate: example {position} has keys "
                                 f"{sorted(example) if isinstance(example, Mapping) else type(example).__name__}, "
                                 f"example 0 has {sorted(first)}")
        return {key: default_collate([example[key] for example in batch]) for key in first}
    if isinstance(first, Sequence):
        for position, example in enumerate(batch):
            if len(example) != len(first):
                raise ValueError(f"default_collate: example {position} has {len(example)} fields, example 0 has "
                                 f"{len(first)}; every example must have the same structure")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        return type(first)(*fields) if hasattr(first, "_fields") else fields  # a namedtuple keeps its type
    raise TypeError(f"default_collate: examples must be arrays, Tensors, numbers, strings, or dicts/tuples/lists of "
                    f"those; found {type(first).__name__} (pass collate_fn= to the DataLoader for other kinds)")


def _stack(arrays, kind):
    shapes = {array.shape for array in arrays}
    if len(shapes) > 1:
        differing = next(position for position, array in enumerate(arrays) if array.shape != arrays[0].shape)
        raise ValueError(f"default_collate: cannot stack {kind}s of different shapes: example 0 has shape "
                         f"{arrays[0].shape}, example {differing} has {arrays[differing].shape}")
    return np.stack(arrays)


def to_tensors(batch):
    """The same batch with every numeric array replaced by a Tensor sharing it (``from_numpy``)."""
    from minigrad.creation import from_numpy

    if isinstance(batch, np.ndarray) and batch.dtype.kind in "biufc":
        return from_numpy(batch)
    if isinstance(batch, dict):
        return {key: to_tensors(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_tensors(value) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_tensors(value) for value in batch)
    return batch
