"""The worker: the only process in which a submission's code runs during grading.

The judge (`judge.py`, inside the teacher's pytest process) starts one worker per task:

    python -c "<runpy one-liner>" worker.py TREE REQUEST_FD REPLY_FD

and sends it requests, each naming a function of a teacher's test module (by file and name) and
its arguments. The worker imports that test module with TREE first on sys.path, so the module's
``import minigrad`` is the submission's code, calls the function and sends back what it returned,
or the exception it raised, as data. It never says whether a test passed: the judge compares.

This file imports nothing from minigrad (it runs before the submission's package is importable,
and the judge imports it for `encode`/`decode`): a broken submission cannot break the channel.
Values cross the channel as JSON with arrays as .npy bytes read with ``allow_pickle=False``, so
what a submission sends back can only ever be data, never code run in the judge.
"""

import base64
import importlib.util
import io
import json
import os
import select
import struct
import sys
import time
import traceback

import numpy as np

MAX_MESSAGE_BYTES = 1 << 30  # a reply larger than this is refused, not read into the judge's memory
_HEADER = struct.Struct("!Q")


class ChannelError(Exception):
    """The other end sent something that is not a message (closed, too large, not our format)."""


def encode(value):
    """A JSON-able tree for `value`: None, bool, int, float, str, lists, tuples, str-keyed dicts, arrays."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"an array of Python objects cannot be sent (dtype {array.dtype})")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return {"__array__": base64.b64encode(buffer.getvalue()).decode("ascii"), "scalar": isinstance(value, np.generic)}
    if isinstance(value, (list, tuple)):
        items = [encode(item) for item in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only dicts with str keys can be sent")
        return {"__dict__": {key: encode(item) for key, item in value.items()}}
    raise TypeError(f"a {type(value).__name__} cannot be sent between judge and worker: return arrays, numbers, "
                    "strings, lists, tuples or dicts of them (e.g. tensor.data, not the Tensor)")


def decode(tree):
    if isinstance(tree, list):
        return [decode(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        array = np.load(io.BytesIO(base64.b64decode(tree["__array__"])), allow_pickle=False)
        return array[()] if tree.get("scalar") else array
    if "__tuple__" in tree:
        return tuple(decode(item) for item in tree["__tuple__"])
    return {key: decode(item) for key, item in tree["__dict__"].items()}


def send(fd, message: dict) -> None:
    data = json.dumps(message).encode("utf-8")
    os.write(fd, _HEADER.pack(len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd, deadline=None) -> dict:
    """The next message; `deadline` (time.monotonic()) raises TimeoutError when passed mid-way."""
    size = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))[0]
    if size > MAX_MESSAGE_BYTES:
        raise ChannelError(f"a message of {size} bytes is over the limit of {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(_read_exactly(fd, size, deadline).decode("utf-8"))
    except ValueError as error:
        raise ChannelError(f"not a message: {error}") from None
    if not isinstance(message, dict):
        raise ChannelError("not a message: expected a JSON object")
    return message


def _read_exactly(fd, size, deadline=None):
    chunks, left = [], size
    while left:
        if deadline is not None and not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelError("the other end closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _test_module(path, cache={}):
    # Imported under a private name: the judge's pytest never sees this module object.
    if path not in cache:
        spec = importlib.util.spec_from_file_location(f"classroom_graded_{len(cache)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cache[path] = module
        _check_imported_from()
    return cache[path]


def _check_imported_from():
    # The teacher's own packages (an editable install) must not stand in for the submission's.
    tree = sys.path[0]
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if "." not in name and os.path.exists(os.path.join(tree, name)) and not where.startswith(tree + os.sep):
            raise ImportError(f"{name} was imported from {where}, not from the submission's tree {tree}")


def serve(tree, request_fd, reply_fd):
    sys.path.insert(0, tree)
    while True:
        try:
            request = receive(request_fd)
        except ChannelError:
            return  # the judge is done with this task
        started = time.perf_counter()
        try:
            function = _test_module(request["module"])
            for name in request["function"].split("."):
                function = getattr(function, name)
            result = function(*decode(request["args"]), **decode(request["kwargs"]))
            reply = {"value": encode(result)}
        except BaseException as error:  # SystemExit and KeyboardInterrupt from a solution are its results too
            reply = {"error": {"type": type(error).__name__, "message": str(error),
                               "traceback": "".join(traceback.format_exception(error))[-4000:]}}
        reply["seconds"] = time.perf_counter() - started
        send(reply_fd, reply)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
