"""Every differentiable op is gradient-checked: the registry in ``gradcheck_cases.py`` is run here,
and a Function subclass defined under ``minigrad`` without a registry entry fails the suite."""

import importlib
import pkgutil

import numpy as np
import pytest

import minigrad
import minigrad.functions
from minigrad.autograd import Function

try:
    from gradcheck_cases import CASES, iter_cases
except ImportError:  # the tests directory is a package (tests/__init__.py)
    from tests.gradcheck_cases import CASES, iter_cases


def _import_every_function_module():
    for module in pkgutil.walk_packages(minigrad.functions.__path__, prefix="minigrad.functions."):
        importlib.import_module(module.name)


def _all_subclasses(cls):
    found = set()
    for subclass in cls.__subclasses__():
        found.add(subclass)
        found |= _all_subclasses(subclass)
    return found


def minigrad_functions():
    """Names of every Function subclass that minigrad itself defines (tests define broken ones too)."""
    _import_every_function_module()
    return {
        cls.__name__
        for cls in _all_subclasses(Function)
        if cls.__module__ == "minigrad" or cls.__module__.startswith("minigrad.")
    }


def test_every_function_has_a_gradcheck_case():
    missing = sorted(minigrad_functions() - set(CASES))
    assert not missing, f"Function subclasses without a case in tests/gradcheck_cases.py: {missing}"


def test_registry_names_only_existing_functions():
    stale = sorted(set(CASES) - minigrad_functions())
    assert not stale, f"tests/gradcheck_cases.py has cases for unknown Functions: {stale}"


def test_subclass_discovery_sees_nested_subclasses():
    """The walk is recursive: a subclass of a subclass is found too."""
    _import_every_function_module()

    class Middle(Function):
        pass

    class Leaf(Middle):
        pass

    found = _all_subclasses(Function)
    assert Middle in found and Leaf in found
    assert "Add" in minigrad_functions() and "Leaf" not in minigrad_functions()


@pytest.mark.parametrize(
    "function_name, case_id, fn, make_inputs, kwargs",
    list(iter_cases()),
    ids=[f"{name}: {case_id}" for name, case_id, *_ in iter_cases()],
)
def test_gradcheck_case(function_name, case_id, fn, make_inputs, kwargs):
    inputs = make_inputs(np.random.default_rng(1234))
    used = _functions_used(fn, inputs)
    assert function_name in used, f"case {case_id!r} never calls {function_name} (it calls {sorted(used)})"
    assert minigrad.gradcheck(fn, *inputs, **kwargs)


def _functions_used(fn, inputs):
    """Names of the Functions recorded in the graph that ``fn(*inputs)`` builds."""
    output = fn(*inputs)
    names, stack, seen = set(), [output], set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen or tensor._node is None:
            continue
        seen.add(id(tensor))
        names.add(tensor._node.function.__name__)
        stack.extend(tensor._node.inputs)
    return names
