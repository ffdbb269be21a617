"""Hypothesis settings for the property-based tests in this folder.

Each test draws ``MINIGRAD_HYPOTHESIS_EXAMPLES`` examples (default 10, so the suite stays quick);
run more to search harder, e.g. ``MINIGRAD_HYPOTHESIS_EXAMPLES=500 pytest tests/properties``.
No example database is written (the tests leave the tree as they found it): a failure prints
the smallest example Hypothesis found and a ``@reproduce_failure`` line to replay it.
"""

import os

import pytest

try:
    import hypothesis
except ImportError:  # a development dependency (setup.cfg's dev extra); without it these tests are skipped
    hypothesis = None
    collect_ignore_glob = ["test_*.py"]

EXAMPLES = int(os.environ.get("MINIGRAD_HYPOTHESIS_EXAMPLES", "10"))

if hypothesis is not None:
    hypothesis.settings.register_profile(
        "minigrad", max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
    )
    hypothesis.settings.load_profile("minigrad")


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.properties)
