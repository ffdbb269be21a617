"""Saving and loading state (state dicts, checkpoints) in a format that cannot run code.

``save(obj, path)`` takes a nested structure of dicts, lists, tuples, NumPy arrays, NumPy scalars
and plain JSON values (None, bool, int, float, str) and writes one zip archive:

* ``content.json``    the structure, with every array replaced by a reference to its file;
* ``arrays/<k>.npy``  each array in NumPy's own ``.npy`` format (read back with ``allow_pickle=False``);
* the zip comment     ``sha256:<hex>``: the SHA-256 of every byte of the file before those 64 hex digits.

``load(path)`` checks the SHA-256 before reading anything else, so a single flipped byte anywhere
in the file (arrays, structure or zip headers) is reported as corruption instead of loading altered
weights. Nothing in the file is ever executed: JSON and ``.npy`` can only describe data. That is
the point of the format: a pickle (what ``pickle``/older versions of ``resnext_np`` wrote) can run
any command while it loads. Old pickle files are refused with a message; one you trust can be
converted once with::

    python -m minigrad.serialization convert-pickle OLD.pkl NEW.ckpt

In ``content.json`` every JSON object is a tag, so no user key can be mistaken for one:
``{"dict": [[key, value], ...]}`` (keys are str or int, order kept), ``{"tuple": [...]}``,
``{"array": k}`` / ``{"scalar": k}`` (the k-th ``.npy`` file; a scalar keeps its NumPy dtype) and
``{"float": "nan" | "inf" | "-inf"}``. Lists are JSON lists. Dicts (``OrderedDict`` included) load
as plain dicts; every other value comes back with its type: a NumPy scalar (``np.float64("nan")``
too, though it is also a ``float``) as that NumPy scalar, a Python float as a Python float.

A file is untrusted input.  Loading reads the file into memory once and never allocates much more:
members must be stored uncompressed (so none can inflate: no decompression bomb), each ``.npy``
header's declared shape and dtype must account for exactly the bytes that follow it (checked before
the array is allocated), and nesting deeper than ``MAX_DEPTH`` is refused.  Whatever is wrong with a
file, the error is a ``SerializationError`` naming it.

>>> import os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "state.ckpt")
>>> save({"weight": np.arange(3.0), "step": 7, "shape": (2, 3)}, path)
>>> load(path)
{'weight': array([0., 1., 2.]), 'step': 7, 'shape': (2, 3)}
"""

import hashlib
import io
import json
import math
import os
import sys
import tempfile
import zipfile

import numpy as np

__all__ = ["save", "load", "SerializationError", "write_atomically"]

FORMAT, VERSION = "minigrad-state", 1
MAX_DEPTH = 100  # dicts/lists/tuples inside each other; a state dict or checkpoint uses fewer than 10
_ARRAY_KINDS = "biufcUSmM"  # bool, integers, floats, complex, strings, timedeltas, dates: no objects or records
_DIGEST_LABEL, _DIGEST_HEX = b"sha256:", 64
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the same object always gives the same bytes
CONVERT_COMMAND = "python -m minigrad.serialization convert-pickle OLD.pkl NEW.ckpt"


class SerializationError(ValueError):
    """A file that is not a minigrad state file, is corrupt, or is a (refused) pickle."""


# ------------------------------------------------------------------------------ save
def save(obj, path):
    """Write ``obj`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    arrays = []
    content = {"format": FORMAT, "version": VERSION, "content": _encode(obj, arrays, "obj")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo("content.json", _FIXED_DATE),
                         json.dumps(content, indent=1, allow_nan=False).encode())
        for index, array in enumerate(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"arrays/{index}.npy", _FIXED_DATE), member.getvalue())
        archive.comment = _DIGEST_LABEL + b"0" * _DIGEST_HEX  # placeholder, replaced below
    data = bytearray(buffer.getvalue())
    data[-_DIGEST_HEX:] = hashlib.sha256(data[:-_DIGEST_HEX]).hexdigest().encode()
    write_atomically(path, lambda stream: stream.write(data))


def _encode(value, arrays, where, depth=0):
    """``value`` as JSON-able tags; arrays are appended to ``arrays``. ``where`` names it in errors."""
    if depth > MAX_DEPTH:
        raise ValueError(f"cannot save {where}: nested more than {MAX_DEPTH} deep (or it contains itself)")
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is also a float, np.str_ a str
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot save {where}: an array of dtype {value.dtype} (only numeric/bool/str "
                            f"arrays can be saved)")
        arrays.append(np.asarray(value))
        return {"array" if isinstance(value, np.ndarray) else "scalar": len(arrays) - 1}
    if value is None or type(value) in (bool, int, str):  # exactly these types: a subclass would load as its base
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if type(value) is list:
        return [_encode(item, arrays, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    if type(value) is tuple:
        return {"tuple": [_encode(item, arrays, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]}
    if isinstance(value, dict):
        for key in value:
            if type(key) not in (str, int):
                raise TypeError(f"cannot save {where}: dict keys must be str or int, got {key!r} ({type(key).__name__})")
        return {"dict": [[key, _encode(item, arrays, f"{where}[{key!r}]", depth + 1)] for key, item in value.items()]}
    raise TypeError(f"cannot save {where}: {type(value).__name__} is not an array, a number, a string, "
                    f"None or a dict/list/tuple of those (save a Tensor's .data or a module's state_dict())")


# ------------------------------------------------------------------------------ load
def load(path, weights_only=True):
    """Read what ``save`` wrote; raises ``SerializationError`` for a corrupt, foreign or pickle file.

    ``weights_only`` is accepted for PyTorch's spelling; this format holds only data, so it must be
    True (nothing here can unpickle: convert a trusted pickle with the command in the module docstring).
    """
    if weights_only is not True:
        raise ValueError(f"weights_only must be True (got {weights_only!r}): minigrad never unpickles; "
                         f"convert a pickle you trust with: {CONVERT_COMMAND}")
    with open(path, "rb") as stream:
        data = stream.read()
    _check_digest(path, data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():  # stored members cannot inflate beyond the file's own size
                if info.compress_type != zipfile.ZIP_STORED:
                    raise SerializationError(f"member {info.filename} is compressed (minigrad.save never "
                                             f"compresses; a compressed member could inflate without bound)")
            header = json.loads(archive.read("content.json"))
            if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
                found = header if not isinstance(header, dict) else (header.get("format"), header.get("version"))
                raise SerializationError(f"format and version {found!r:.80}; this minigrad reads {FORMAT!r} version {VERSION}")
            return _decode(header["content"], archive, 0)
    except Exception as error:  # noqa: BLE001 - whatever a hostile file provokes, the caller learns which file
        reason = str(error) if isinstance(error, SerializationError) else f"{type(error).__name__}: {error}"
        raise SerializationError(f"{path} is not a readable minigrad state file ({reason:.300})") from None


def _check_digest(path, data):
    if not data.startswith(b"PK"):
        if data.startswith(b"\x80") or data[:1] in (b"(", b"}", b"]", b"c"):
            raise SerializationError(
                f"{path} looks like a pickle (the format of checkpoints before minigrad 0.2). Loading a pickle "
                f"can run any code, so minigrad refuses it. If you trust where this file came from, convert it "
                f"once with: {CONVERT_COMMAND}")
        raise SerializationError(f"{path} is not a minigrad state file (it does not start like a zip archive)")
    label_at = len(data) - _DIGEST_HEX - len(_DIGEST_LABEL)
    if label_at < 0 or data[label_at:-_DIGEST_HEX] != _DIGEST_LABEL:
        raise SerializationError(f"{path} has no sha256 checksum where a minigrad state file keeps it "
                                 f"(it is truncated, corrupt or not written by minigrad.save)")
    stored = data[-_DIGEST_HEX:].decode("ascii", errors="replace")
    actual = hashlib.sha256(data[:-_DIGEST_HEX]).hexdigest()
    if stored != actual:
        raise SerializationError(f"{path} is corrupt: its sha256 is {actual[:16]}..., but the file records "
                                 f"{stored[:16]}... (it changed after it was written)")


def _decode(value, archive, depth):
    if depth > MAX_DEPTH:
        raise SerializationError(f"content.json is nested more than {MAX_DEPTH} deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(item, archive, depth + 1) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise SerializationError(f"unexpected entry in content.json: {value!r:.80}")
    (tag, body), = value.items()
    if tag == "dict":
        return {key: _decode(item, archive, depth + 1) for key, item in body}
    if tag == "tuple":
        return tuple(_decode(item, archive, depth + 1) for item in body)
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("array", "scalar") and type(body) is int:
        array = _read_npy(archive.read(f"arrays/{body}.npy"), f"arrays/{body}.npy")
        return array if tag == "array" else array[()]
    raise SerializationError(f"unknown tag in content.json: {tag!r:.80}")


def _read_npy(raw, name):
    """An array from ``.npy`` bytes, after checking that its header accounts for exactly those bytes."""
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise SerializationError(f"{name}: .npy format version {version} (minigrad.save writes 1.0 or 2.0)")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stream)
    if dtype.kind not in _ARRAY_KINDS:
        raise SerializationError(f"{name}: dtype {dtype} is not one minigrad.save writes")
    declared, held = math.prod(shape) * dtype.itemsize, len(raw) - stream.tell()
    if declared != held:  # refused before anything of the declared size is allocated
        raise SerializationError(f"{name} declares shape {shape} of {dtype} ({declared} bytes) but holds {held} bytes")
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


# --------------------------------------------------------------------- atomic writes
def write_atomically(path, write):
    """Call ``write(stream)`` on a temporary file in ``path``'s folder, then rename it to ``path``:
    readers never see half a file, and a failed write leaves the previous file as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the usual mode
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------ converting old pickles
def convert_pickle(pickle_path, out_path):
    """Unpickle ``pickle_path`` (RUNS ANY CODE IT HOLDS: only for a file you trust) and ``save`` it."""
    import pickle

    with open(pickle_path, "rb") as stream:
        obj = pickle.load(stream)
    save(obj, out_path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "convert-pickle":
        print(f"usage: {CONVERT_COMMAND}\n  converts a pickle you trust (loading it runs any code it holds) "
              f"into minigrad's safe format", file=sys.stderr)
        return 2
    convert_pickle(argv[1], argv[2])
    print(f"wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
