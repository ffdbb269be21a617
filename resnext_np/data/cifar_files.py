"""The official CIFAR archives: where things are in them, their md5s, and downloading and extracting one.

See :mod:`resnext_np.data` for the archives' table and the search order.
"""

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from resnext_np.data.images import (
    DatasetError,
    DownloadError,
)

DATA_DIR_ENV = "RESNEXT_NP_DATA"
BASE_URL_ENV_VAR = "RESNEXT_NP_CIFAR_URL"
DEFAULT_BASE_URL = "https://www.cs.toronto.edu/~kriz/"


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


def cifar_format(name):
    """Accept 'cifar10', 'CIFAR-10', 'cifar_100', ..."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in CIFAR_FORMATS:
        raise ValueError(f"unknown CIFAR data set {name!r}; choose one of {sorted(CIFAR_FORMATS)}")
    return CIFAR_FORMATS[key]


def md5_to_check(cifar, md5):
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


def offline_help(cifar, root):
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
    cifar = cifar_format(name)
    root = Path(root) if root is not None else default_data_dir()
    root.mkdir(parents=True, exist_ok=True)
    expected_md5 = md5_to_check(cifar, md5)
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
        raise DownloadError(f"{reason}. Nothing was kept. {offline_help(cifar, root)}") from error
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
    cifar = cifar_format(name)
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
                             f"{offline_help(cifar, root)}") from error
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
