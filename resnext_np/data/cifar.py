"""Reading CIFAR's pickled batches safely, and :func:`load_cifar`, which first finds, fetches or
extracts them.
"""

import pickle
from pathlib import Path

import numpy as np

from resnext_np.data.cifar_files import (
    cifar_format,
    default_data_dir,
    download_cifar,
    extract_cifar,
    file_md5,
    md5_to_check,
    offline_help,
)
from resnext_np.data.images import (
    IMAGE_SHAPE,
    PIXELS_PER_IMAGE,
    DatasetError,
    LabeledImages,
)

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
    cifar = cifar_format(name)
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
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS_PER_IMAGE:
            raise DatasetError(f"CIFAR file {path}: b'data' should be uint8 (N, "
                             f"{PIXELS_PER_IMAGE}), got {data.dtype} {data.shape}")
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
               progress=True, download_hint="Pass download=True"):
    """Load the CIFAR-10 or CIFAR-100 train or test split as :class:`LabeledImages`.

    Looks in ``root`` (default :func:`default_data_dir`) for the extracted folder, then for
    the archive (checked against ``md5``, then extracted), then downloads it if ``download``.

    Args:
        name: ``"cifar10"`` or ``"cifar100"`` (CIFAR-100 uses the 100 fine labels).
        md5: what the archive must hash to: ``"official"`` (default), a hex string, or
            ``None`` to skip the check.  An already extracted folder is not checked.
        base_url: passed to :func:`download_cifar`.
        download_hint: how the caller asks for a download, for the missing-data message (the
            training command says "Pass --download").
    """
    cifar = cifar_format(name)
    root = Path(root) if root is not None else default_data_dir()
    folder = root / cifar.folder_name
    if not folder.is_dir():
        archive = root / cifar.archive_name
        if not archive.is_file():
            if not download:
                raise FileNotFoundError(
                    f"{cifar.name} not found: neither {folder} nor {archive} exists. {download_hint} "
                    f"to fetch it. {offline_help(cifar, root)}"
                )
            archive = download_cifar(cifar.name, root, base_url=base_url, md5=md5,
                                     progress=progress)
        expected_md5 = md5_to_check(cifar, md5)
        if expected_md5 is not None:
            actual_md5 = file_md5(archive)
            if actual_md5 != expected_md5:
                raise DatasetError(
                    f"{archive} has md5 {actual_md5}, expected {expected_md5}: it is corrupt "
                    f"or not the official archive. Delete it and download again. "
                    f"{offline_help(cifar, root)}"
                )
        extract_cifar(archive, root, cifar.name)
    return read_cifar_folder(folder, cifar.name, train=train)
