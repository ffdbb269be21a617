"""``load_script``: a script of ``examples/`` or ``benchmarks/`` imported as a module, so a test can call its ``main``."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative_path, module_name):
    """The module of ``ROOT / relative_path`` (e.g. ``"examples/train_mlp.py"``), run once as ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
