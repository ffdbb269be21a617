"""Image data for the ResNeXt experiments: CIFAR-10/100 and a built-in synthetic set.

Everything returns a :class:`LabeledImages`: uint8 images of shape ``(N, 3, 32, 32)``,
int64 labels of shape ``(N,)`` and the class names.  Wrap it for training with
``minigrad.data.ArrayDataset(split.images, split.labels)``.

CIFAR comes from the official "python version" archives (Krizhevsky, 2009):

===========  ==========================  ================================  ====================
name         archive                     md5                               folder inside
===========  ==========================  ================================  ====================
cifar10      ``cifar-10-python.tar.gz``  c58f30108f718f92721af3b95e74349a  cifar-10-batches-py
cifar100     ``cifar-100-python.tar.gz`` eb9058c3a382ffc7106e4002c42a8d85  cifar-100-python
===========  ==========================  ================================  ====================

:func:`load_cifar` looks in ``root`` (default: ``$RESNEXT_NP_DATA``, else
``~/.cache/resnext_np``) for, in order: the extracted folder, the archive (md5-checked, then
extracted), and with ``download=True`` fetches the archive.  Offline, put the archive into
that folder by hand.

Each pickled batch is a dict with ``b'data'``: uint8 ``(N, 3072)``, one row per image, all red
pixels then all green then all blue, each plane row-major 32x32 -- so ``reshape(N, 3, 32, 32)``
gives channel-first images directly.

The pickles are read with :mod:`pickle`, which can run code hidden in a crafted file: load only
archives you trust.  The default md5 check is what makes a downloaded archive trustworthy.

>>> train, test = load_dataset("synthetic", n_train=20, n_test=10)
>>> train.images.shape, train.images.dtype, train.labels.dtype, len(train.class_names)
((20, 3, 32, 32), dtype('uint8'), dtype('int64'), 10)
"""

import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "LabeledImages",
    "DatasetError",
    "DownloadError",
    "CIFAR_FORMATS",
    "SYNTHETIC_CLASS_NAMES",
    "default_data_dir",
    "file_md5",
    "download_cifar",
    "extract_cifar",
    "read_cifar_folder",
    "load_cifar",
    "synthetic_images",
    "make_synthetic",
    "load_dataset",
]

DATA_DIR_ENV = "RESNEXT_NP_DATA"
BASE_URL_ENV_VAR = "RESNEXT_NP_CIFAR_URL"
DEFAULT_BASE_URL = "https://www.cs.toronto.edu/~kriz/"

IMAGE_SHAPE = (3, 32, 32)
_PIXELS_PER_IMAGE = 3 * 32 * 32


@dataclass
class LabeledImages:
    """One split of an image data set.

    Attributes:
        images: uint8 array ``(N, 3, 32, 32)``, channel-first RGB.
        labels: int64 array ``(N,)`` with values in ``0 .. len(class_names)-1``.
        class_names: the name of each class, indexed by label.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")
        self.class_names = tuple(self.class_names)

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.class_names)


class DatasetError(Exception):
    """Data on disk is corrupt, malformed or unsafe to extract (the message says which file)."""


class DownloadError(DatasetError):
    """A download failed, was cut short or did not match its checksum (nothing was kept)."""


# ---------------------------------------------------------------------------------------------
# CIFAR file formats
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CifarFormat:
    """Where things are in one of the official CIFAR "python version" archives."""

    name: str
    archive_name: str
    md5: str
    folder_name: str
    train_files: tuple
    test_files: tuple
    meta_file: str
    labels_key: bytes
    class_names_key: bytes


CIFAR_FORMATS = {
    "cifar10": CifarFormat(
        name="cifar10",
        archive_name="cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        folder_name="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        meta_file="batches.meta",
        labels_key=b"labels",
        class_names_key=b"label_names",
    ),
    "cifar100": CifarFormat(
        name="cifar100",
        archive_name="cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        folder_name="cifar-100-python",
        train_files=("train",),
        test_files=("test",),
        meta_file="meta",
        labels_key=b"fine_labels",
        class_names_key=b"fine_label_names",
    ),
}


def _cifar_format(name):
    """Accept 'cifar10', 'CIFAR-10', 'cifar_100', ..."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in CIFAR_FORMATS:
        raise ValueError(f"unknown CIFAR data set {name!r}; choose one of {sorted(CIFAR_FORMATS)}")
    return CIFAR_FORMATS[key]


def _expected_md5(cifar, md5):
    """``"official"`` -> the published checksum, ``None`` -> no check, else the given hex."""
    return cifar.md5 if md5 == "official" else md5


def default_data_dir():
    """``$RESNEXT_NP_DATA`` if set, else ``~/.cache/resnext_np``."""
    return Path(os.environ.get(DATA_DIR_ENV) or "~/.cache/resnext_np").expanduser()


def file_md5(path, chunk_bytes=1 << 20):
    """Hex md5 of a file, read in chunks so a 160 MB archive never sits in memory."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _offline_help(cifar, root):
    return (
        f"To set it up by hand, download {DEFAULT_BASE_URL}{cifar.archive_name} on a machine "
        f"with internet access and copy it to {Path(root) / cifar.archive_name} "
        f"(md5 {cifar.md5}), or extract it there so that {Path(root) / cifar.folder_name} exists."
    )


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def download_cifar(name, root=None, base_url=None, md5="official", progress=True, timeout=60.0,
                   deadline=3600.0):
    """Download a CIFAR archive into ``root`` and return its path.

    The bytes go to a temporary file in ``root`` and are hashed on the way; only a complete
    download with the right md5 is moved (atomically, ``os.replace``) to
    ``root/<archive name>``.  On any failure the temporary file is deleted and
    :class:`DownloadError` says what happened and how to set the data up offline.

    Args:
        name: ``"cifar10"`` or ``"cifar100"``.
        root: folder to put the archive in (default :func:`default_data_dir`).
        base_url: where the archives live (default ``$RESNEXT_NP_CIFAR_URL``, else
            ``https://www.cs.toronto.edu/~kriz/``); the archive name is appended.
        md5: ``"official"`` (the published checksum), a hex string, or ``None`` to skip.
        progress: show a tqdm progress bar.
        timeout: seconds to wait for the server to send anything at all (per read).
        deadline: seconds the whole download may take (a server that trickles a byte at a time
            never trips ``timeout``); the default allows CIFAR-100's 161 MB at 45 kB/s.
    """
    cifar = _cifar_format(name)
    root = Path(root) if root is not None else default_data_dir()
    root.mkdir(parents=True, exist_ok=True)
    expected_md5 = _expected_md5(cifar, md5)
    base_url = base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL
    url = base_url.rstrip("/") + "/" + cifar.archive_name
    destination = root / cifar.archive_name

    # Same folder as the destination, so the final os.replace is a rename, never a copy.
    handle, partial_path = tempfile.mkstemp(dir=root, prefix=f".{cifar.archive_name}.",
                                            suffix=".part")
    try:
        with os.fdopen(handle, "wb") as partial_file:
            received, actual_md5 = _stream_to_file(url, partial_file, progress, timeout, deadline)
        if expected_md5 is not None and actual_md5 != expected_md5:
            raise DownloadError(
                f"downloaded {url} ({received} bytes) but its md5 is {actual_md5}, expected "
                f"{expected_md5}: the file is corrupt or not the official archive"
            )
        os.replace(partial_path, destination)
    except BaseException as error:
        Path(partial_path).unlink(missing_ok=True)
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt, SystemExit: nothing to explain
        reason = str(error) if isinstance(error, DownloadError) else (
            f"could not download {url}: {type(error).__name__}: {error}")
        raise DownloadError(f"{reason}. Nothing was kept. {_offline_help(cifar, root)}") from error
    return destination


def _stream_to_file(url, out_file, progress, timeout, deadline):
    """Copy ``url`` into ``out_file`` chunk by chunk; return ``(bytes received, hex md5)``."""
    digest = hashlib.md5()
    received = 0
    give_up_at = time.monotonic() + deadline
    with urllib.request.urlopen(url, timeout=timeout) as response:
        header = response.headers.get("Content-Length")
        expected_bytes = int(header) if header is not None else None
        with tqdm(total=expected_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
            while True:
                if time.monotonic() > give_up_at:
                    raise DownloadError(f"downloading {url} took longer than {deadline:g} s "
                                        f"({received} of {expected_bytes or 'unknown'} bytes received)")
                try:
                    chunk = response.read1(1 << 16)  # whatever has arrived: read() would wait for all 64 KiB
                except http.client.IncompleteRead as error:
                    received += len(error.partial)
                    chunk = b""
                if not chunk:
                    break
                out_file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if expected_bytes is not None and received != expected_bytes:
        raise DownloadError(
            f"connection to {url} ended after {received} of {expected_bytes} bytes"
        )
    return received, digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Extract
# ---------------------------------------------------------------------------------------------


def _check_member(member, folder_name, archive_path):
    """Allow only plain files and folders inside ``folder_name/`` (no links, no ``..``)."""
    path = PurePosixPath(member.name)
    escapes = path.is_absolute() or ".." in path.parts or path.parts[:1] != (folder_name,)
    if escapes:
        raise DatasetError(f"refusing to extract {archive_path}: member {member.name!r} is not "
                         f"inside {folder_name}/")
    if not (member.isfile() or member.isdir()):
        raise DatasetError(f"refusing to extract {archive_path}: member {member.name!r} is a "
                         f"link or special file")


def extract_cifar(archive_path, root, name):
    """Extract a CIFAR archive into ``root/<folder>`` safely and atomically; return the folder.

    Every member must be a plain file or folder under the expected top folder.  Extraction
    goes to a temporary folder inside ``root`` that is renamed into place only once every
    expected batch file is there, so an interrupted run never leaves a half folder behind.
    """
    cifar = _cifar_format(name)
    root = Path(root)
    destination = root / cifar.folder_name
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{cifar.folder_name}.", suffix=".part"))
    try:
        try:
            with tarfile.open(archive_path, "r:gz") as archive:
                members = archive.getmembers()
                for member in members:
                    _check_member(member, cifar.folder_name, archive_path)
                archive.extractall(staging, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as error:
            raise DatasetError(f"{archive_path} is not a readable .tar.gz archive "
                             f"({type(error).__name__}: {error}); delete it and download again. "
                             f"{_offline_help(cifar, root)}") from error
        extracted = staging / cifar.folder_name
        expected = cifar.train_files + cifar.test_files + (cifar.meta_file,)
        missing = [f for f in expected if not (extracted / f).is_file()]
        if missing:
            raise DatasetError(f"{archive_path} does not contain {cifar.folder_name}/{missing[0]} "
                             f"(missing: {missing}); it is not a complete {cifar.name} archive")
        try:
            os.rename(extracted, destination)
        except OSError:
            if not destination.is_dir():  # a concurrent extraction that won the race is fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


# ---------------------------------------------------------------------------------------------
# Read
# ---------------------------------------------------------------------------------------------


class _DataOnlyUnpickler(pickle.Unpickler):
    """CIFAR's batches are pickles (of dicts, lists and NumPy arrays). A pickle can name any
    function to call while it loads, so this unpickler allows only what rebuilds an array: a
    crafted batch file in the data folder cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how Python 3 writes bytes at protocol 2: a pure conversion

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a CIFAR batch never needs")
        return super().find_class(module, name)


def _load_pickle(path, required_keys):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR file {path} is missing")
    try:
        with open(path, "rb") as f:
            # The files were written by Python 2; "bytes" keeps their str keys as bytes.
            content = _DataOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError) as error:
        raise DatasetError(f"CIFAR file {path} is malformed ({type(error).__name__}: {error}); "
                         f"delete its folder and extract the archive again") from error
    if not isinstance(content, dict):
        raise DatasetError(f"CIFAR file {path} should hold a dict, got {type(content).__name__}")
    missing = [key for key in required_keys if key not in content]
    if missing:
        raise DatasetError(f"CIFAR file {path} lacks key(s) {missing}; it has {sorted(content)}")
    return content


def read_cifar_folder(folder, name, train=True):
    """Read an extracted CIFAR folder (e.g. ``.../cifar-10-batches-py``) into LabeledImages."""
    cifar = _cifar_format(name)
    folder = Path(folder)
    meta = _load_pickle(folder / cifar.meta_file, [cifar.class_names_key])
    class_names = tuple(
        n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in meta[cifar.class_names_key]
    )
    image_parts, label_parts = [], []
    for file_name in cifar.train_files if train else cifar.test_files:
        path = folder / file_name
        batch = _load_pickle(path, [b"data", cifar.labels_key])
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[cifar.labels_key], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS_PER_IMAGE:
            raise DatasetError(f"CIFAR file {path}: b'data' should be uint8 (N, "
                             f"{_PIXELS_PER_IMAGE}), got {data.dtype} {data.shape}")
        if labels.shape != (len(data),):
            raise DatasetError(f"CIFAR file {path}: {len(data)} images but labels of shape "
                             f"{labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DatasetError(f"CIFAR file {path}: labels range {labels.min()}..{labels.max()} "
                             f"but there are {len(class_names)} class names")
        # Row layout is R plane, G plane, B plane, each 32x32 row-major: exactly C, H, W.
        image_parts.append(data.reshape(len(data), *IMAGE_SHAPE))
        label_parts.append(labels)
    return LabeledImages(np.concatenate(image_parts), np.concatenate(label_parts), class_names)


def load_cifar(name, root=None, train=True, download=False, md5="official", base_url=None,
               progress=True):
    """Load the CIFAR-10 or CIFAR-100 train or test split as :class:`LabeledImages`.

    Looks in ``root`` (default :func:`default_data_dir`) for the extracted folder, then for
    the archive (checked against ``md5``, then extracted), then downloads it if ``download``.

    Args:
        name: ``"cifar10"`` or ``"cifar100"`` (CIFAR-100 uses the 100 fine labels).
        md5: what the archive must hash to: ``"official"`` (default), a hex string, or
            ``None`` to skip the check.  An already extracted folder is not checked.
        base_url: passed to :func:`download_cifar`.
    """
    cifar = _cifar_format(name)
    root = Path(root) if root is not None else default_data_dir()
    folder = root / cifar.folder_name
    if not folder.is_dir():
        archive = root / cifar.archive_name
        if not archive.is_file():
            if not download:
                raise FileNotFoundError(
                    f"{cifar.name} not found: neither {folder} nor {archive} exists. Pass "
                    f"download=True to fetch it. {_offline_help(cifar, root)}"
                )
            archive = download_cifar(cifar.name, root, base_url=base_url, md5=md5,
                                     progress=progress)
        expected_md5 = _expected_md5(cifar, md5)
        if expected_md5 is not None:
            actual_md5 = file_md5(archive)
            if actual_md5 != expected_md5:
                raise DatasetError(
                    f"{archive} has md5 {actual_md5}, expected {expected_md5}: it is corrupt "
                    f"or not the official archive. Delete it and download again. "
                    f"{_offline_help(cifar, root)}"
                )
        extract_cifar(archive, root, cifar.name)
    return read_cifar_folder(folder, cifar.name, train=train)


# ---------------------------------------------------------------------------------------------
# Synthetic textures
# ---------------------------------------------------------------------------------------------
#
# Each image is a flat background with one square patch of a class-specific texture, at a
# random place and size, in random colours, plus pixel noise.  Why this is a good test set:
#
# * A linear classifier on pixels sits near chance (10%): the patch can be anywhere, and which
#   of the two colours is the ink is a coin flip, so the *average* image of every class is the
#   same flat grey.  A linear score w . x only sees such averages.
# * A small conv net with global average pooling learns it in a few epochs: each texture has
#   its own 3x3-scale signature (edge orientations, periods, corners, curves) that a conv
#   filter detects wherever the patch is, whatever its colours.
# * Every class is closed under left-right mirroring (diagonal stripes come in both
#   orientations), so the usual RandomHorizontalFlip augmentation does not mix classes up.

SYNTHETIC_CLASS_NAMES = (
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "checkerboard",
    "dots",
    "grid",
    "diagonal grid",
    "concentric rings",
    "solid square",
    "square outline",
)

_SIDE = 32
_MIN_HALF_SIDE, _MAX_HALF_SIDE = 6, 10       # patch side 2*h+1: 13 .. 21 pixels
_DARKEST_LIGHT, _MIN_CONTRAST = 160.0, 60.0  # light colours in 160..255, dark in 0..99
_NOISE_STD = 8.0                             # Gaussian pixel noise, in 0..255 units


def _texture(label, rows, cols, half_side, coin):
    """Boolean "ink" mask of class ``label`` inside the patch.

    ``rows``/``cols`` are each pixel's offsets from the patch centre, already shifted by a
    random phase for the periodic textures; ``half_side`` is the patch's half width; ``coin``
    picks the orientation of the diagonal stripes.  Most textures have a period of 4 pixels.
    """
    if label == 0:
        return rows % 4 < 2
    if label == 1:
        return cols % 4 < 2
    if label == 2:  # "\" or "/" at random
        return np.where(coin, (rows - cols) % 4 < 2, (rows + cols) % 4 < 2)
    if label == 3:  # 3x3 cells: a coarser scale than the stripes
        return (rows // 3 + cols // 3) % 2 == 0
    if label == 4:
        return (rows % 4 < 2) & (cols % 4 < 2)
    if label == 5:
        return (rows % 4 == 0) | (cols % 4 == 0)
    if label == 6:
        return ((rows - cols) % 4 == 0) | ((rows + cols) % 4 == 0)
    if label == 7:
        return np.rint(np.hypot(rows, cols)) % 4 < 2
    if label == 8:
        return np.ones(rows.shape, dtype=bool)
    if label == 9:  # a 2-pixel border
        return np.maximum(np.abs(rows), np.abs(cols)) >= half_side - 1
    raise ValueError(f"no synthetic class {label}")


def synthetic_images(num_images, seed=0, train=True):
    """Generate one split of the synthetic 10-class texture set (see the comment above).

    Deterministic: the same ``(num_images, seed, train)`` gives the same bytes.  Train and test
    come from independent random streams of the same seed.  Classes are balanced (counts
    differ by at most one).

    >>> a = synthetic_images(30, seed=3)
    >>> b = synthetic_images(30, seed=3)
    >>> bool(np.array_equal(a.images, b.images)), np.bincount(a.labels).tolist()
    (True, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    """
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)):
        raise TypeError(f"num_images must be an int, got {type(num_images).__name__}")
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0, got {num_images}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    n = int(num_images)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0 if train else 1]))

    labels = rng.permutation(np.arange(n) % len(SYNTHETIC_CLASS_NAMES)).astype(np.int64)
    half_side = rng.integers(_MIN_HALF_SIDE, _MAX_HALF_SIDE + 1, size=n)
    centre_row = rng.integers(half_side, _SIDE - half_side)   # patch stays inside the image
    centre_col = rng.integers(half_side, _SIDE - half_side)
    phase = rng.integers(0, 4, size=n)
    coin = rng.random(n) < 0.5

    # (N, 32, 32) offsets of every pixel from its image's patch centre.
    pixel = np.arange(_SIDE)
    row_offset = pixel[None, :, None] - centre_row[:, None, None]
    col_offset = pixel[None, None, :] - centre_col[:, None, None]
    row_offset, col_offset = np.broadcast_arrays(row_offset, col_offset)
    inside = np.maximum(np.abs(row_offset), np.abs(col_offset)) <= half_side[:, None, None]

    ink = np.zeros((n, _SIDE, _SIDE), dtype=bool)
    for label in range(len(SYNTHETIC_CLASS_NAMES)):
        chosen = np.flatnonzero(labels == label)
        rows, cols = row_offset[chosen], col_offset[chosen]
        if label not in (7, 9):  # rings and outlines stay centred; the rest get a phase
            rows = rows + phase[chosen, None, None]
            cols = cols + phase[chosen, None, None]
        ink[chosen] = _texture(label, rows, cols, half_side[chosen, None, None],
                               coin[chosen, None, None])
    ink &= inside

    # One dark and one light colour per image, and a coin for which of them is the ink.  The
    # contrast has the same sign in all three channels (so an edge is an edge in every
    # channel), and averaged over the coin every pixel of every class has the same mean.
    dark = rng.uniform(0, _DARKEST_LIGHT - _MIN_CONTRAST, size=(n, 3)).astype(np.float32)
    light = rng.uniform(_DARKEST_LIGHT, 256, size=(n, 3)).astype(np.float32)
    light_ink = (rng.random(n) < 0.5)[:, None]
    foreground = np.where(light_ink, light, dark)
    background = np.where(light_ink, dark, light)
    images = np.where(ink[:, None], foreground[:, :, None, None], background[:, :, None, None])
    images += _NOISE_STD * rng.standard_normal(images.shape, dtype=np.float32)
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return LabeledImages(images, labels, SYNTHETIC_CLASS_NAMES)


def make_synthetic(n_train=5000, n_test=1000, seed=0):
    """``(train, test)`` splits of the synthetic set; see :func:`synthetic_images`."""
    return synthetic_images(n_train, seed, train=True), synthetic_images(n_test, seed, train=False)


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------

DATASET_NAMES = ("synthetic", "cifar10", "cifar100")


def load_dataset(name, root=None, download=False, seed=0, n_train=5000, n_test=1000,
                 **cifar_options):
    """Load both splits of ``"synthetic"``, ``"cifar10"`` or ``"cifar100"``: ``(train, test)``.

    ``seed``, ``n_train`` and ``n_test`` apply to the synthetic set only; ``root``,
    ``download`` and ``cifar_options`` (``md5``, ``base_url``, ``progress``) to CIFAR only.

    >>> train, test = load_dataset("synthetic", n_train=50, n_test=10)
    >>> len(train), len(test), train.class_names[0]
    (50, 10, 'horizontal stripes')
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key == "synthetic":
        return make_synthetic(n_train, n_test, seed)
    if key in CIFAR_FORMATS:
        return (load_cifar(key, root=root, train=True, download=download, **cifar_options),
                load_cifar(key, root=root, train=False, download=download, **cifar_options))
    raise ValueError(f"unknown data set {name!r}; choose one of {list(DATASET_NAMES)}")
