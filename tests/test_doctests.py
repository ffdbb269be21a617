"""Every docstring example in the packages runs and prints what it shows (so none can drift)."""

import doctest
import importlib
import pkgutil

import pytest

import minigrad
import resnext_np


def _modules():
    for package in (minigrad, resnext_np):
        yield package.__name__
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            if info.name.endswith("__main__") or ".kernels.cuda" in info.name:
                continue  # a CLI entry point; the CUDA kernels have their own (simulator) tests
            yield info.name


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module_name} failed"
