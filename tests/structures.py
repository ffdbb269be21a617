"""``assert_identical``: two nested values are the same down to types, dtypes and bytes.

Shared by the save/load tests (a value must come back exactly) and the collate tests (our batch
must have PyTorch's structure)."""

import math

import numpy as np


def assert_identical(actual, expected):
    """Same type at every level (a dict subclass may come back as a plain dict), same keys in the
    same order, arrays and NumPy scalars with the same dtype, shape and bytes (so NaN payloads
    and -0.0 count), NaN equal to NaN, everything else equal by ``repr``."""
    assert type(actual) is (dict if isinstance(expected, dict) else type(expected)), (type(actual), type(expected))
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_identical(actual[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, b in zip(actual, expected):
            assert_identical(a, b)
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert actual.dtype == expected.dtype and np.shape(actual) == np.shape(expected)
        assert np.asarray(actual).tobytes() == np.asarray(expected).tobytes()
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert repr(actual) == repr(expected)
