"""Training checkpoints: what ``--resume`` and ``python -m resnext_np.evaluate`` read.

A checkpoint is one file, ``checkpoint.ckpt``, in ``minigrad.save``'s format: a zip of ``.npy``
arrays and JSON with a SHA-256 of the whole file inside. Loading it can never run code, and a
changed byte is reported as corruption. It is written atomically (a temporary file, then a
rename), and never with a non-finite weight, buffer or optimiser state: the checkpoint on disk is
always one that can be resumed.

Before version 0.2 checkpoints were pickles (``checkpoint.pkl``). They are refused; convert one
you trust with ``python -m minigrad.serialization convert-pickle checkpoint.pkl checkpoint.ckpt``.
"""

import os

import numpy as np

import minigrad as mg

CHECKPOINT_NAME = "checkpoint.ckpt"
LEGACY_CHECKPOINT_NAME = "checkpoint.pkl"
# Options that may change on --resume: where and how fast to run, not what is trained; and --epochs,
# to continue a finished run (its learning-rate schedule stays the one it was started with).
RESUMABLE_CHANGES = {"data_dir", "download", "out", "resume", "threads", "no_progress", "epochs", "plan_only"}
# Options added after checkpoints were first written, and the value every earlier run had.
OPTIONS_ADDED_LATER = {"whitening_stem": False, "average_last": 0.0, "cutout": 0, "low_res_epochs": 0.0, "low_res_size": 24,
                       "mixup": 0.0}


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable, corrupt, a pickle, or holds non-finite numbers."""


def non_finite_arrays(state, prefix=""):
    """Dotted names of the arrays in a nested dict/list that hold NaN or infinity, in order."""
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        array = np.asarray(state) if isinstance(state, (np.ndarray, np.floating)) else None
        return [prefix] if array is not None and array.dtype.kind == "f" and not np.isfinite(array).all() else []
    names = []
    for key, value in items:
        names += non_finite_arrays(value, f"{prefix}.{key}" if prefix else str(key))
    return names


def _trained_state(state):
    return {key: state[key] for key in ("model", "optimizer") if key in state}


def save_checkpoint(path, state):
    """Write ``state`` atomically; refuses (and writes nothing) if a weight or buffer is not finite."""
    bad = non_finite_arrays(_trained_state(state))
    if bad:
        raise CheckpointError(f"not saving {path}: {bad[0]} holds non-finite values")
    mg.save(state, path)


def load_checkpoint(path):
    """The checkpoint's dict; ``CheckpointError`` with a one-line reason if it cannot be used."""
    if not os.path.exists(path):
        legacy = os.path.join(os.path.dirname(path), LEGACY_CHECKPOINT_NAME)
        if os.path.exists(legacy):
            raise CheckpointError(
                f"no {CHECKPOINT_NAME} in {os.path.dirname(path) or '.'}, only an old pickle checkpoint {legacy}; "
                f"if you trust it, convert it with: python -m minigrad.serialization convert-pickle {legacy} {path}")
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = mg.load(path)
    except (mg.serialization.SerializationError, OSError) as error:
        raise CheckpointError(str(error)) from None
    if not isinstance(state, dict) or not {"model", "args", "epoch"} <= set(state):
        raise CheckpointError(f"{path} is a minigrad file but not a training checkpoint")
    bad = non_finite_arrays(_trained_state(state))
    if bad:
        raise CheckpointError(f"{path} holds non-finite values in {bad[0]} (the run diverged); it cannot be used")
    return state


def load_for_resume(path, options):
    """The checkpoint at ``path``, if it can continue a run started with ``options`` (a dict)."""
    state = load_checkpoint(path)
    check_same_options(options, state["args"])
    return state


def existing_checkpoint(folder):
    """The checkpoint file (new or old format) in ``folder``, or None."""
    for name in (CHECKPOINT_NAME, LEGACY_CHECKPOINT_NAME):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def _option(key):
    return "mpiexec -n" if key == "ranks" else f"--{key.replace('_', '-')}"  # ranks: ranks.py


def check_same_options(options, saved):
    """--resume continues the run a checkpoint holds: every option that shapes training must match."""
    saved = {**OPTIONS_ADDED_LATER, **saved}
    changed = [f"{_option(key)} is {options[key]!r} but the checkpoint was made with {saved[key]!r}"
               for key in saved if key not in RESUMABLE_CHANGES and key in options and saved[key] != options[key]]
    if changed:
        raise CheckpointError("; ".join(changed) + " (--resume continues a run as it was started; "
                              "to change these, start a new run with another --out)")
