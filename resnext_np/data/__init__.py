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

The pickles are read by an unpickler that can only rebuild arrays (``cifar.py``'s
``_DataOnlyUnpickler``), so a crafted batch file in the data folder cannot run code; the md5 check
is what makes a downloaded archive the official one.

>>> train, test = load_dataset("synthetic", n_train=20, n_test=10)
>>> train.images.shape, train.images.dtype, train.labels.dtype, len(train.class_names)
((20, 3, 32, 32), dtype('uint8'), dtype('int64'), 10)
"""

from resnext_np.data.cifar import load_cifar, read_cifar_folder
from resnext_np.data.cifar_files import (
    CIFAR_FORMATS,
    DATA_DIR_ENV,
    default_data_dir,
    download_cifar,
    extract_cifar,
    file_md5,
)
from resnext_np.data.images import DatasetError, DownloadError, LabeledImages
from resnext_np.data.synthetic import (
    SYNTHETIC_CLASS_NAMES,
    make_synthetic,
    synthetic_images,
)

__all__ = [
    "LabeledImages",
    "DatasetError",
    "DownloadError",
    "CIFAR_FORMATS",
    "DATA_DIR_ENV",
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


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------

DATASET_NAMES = ("synthetic", "cifar10", "cifar100")


def load_dataset(name, root=None, download=False, seed=0, n_train=5000, n_test=1000, difficulty="clear",
                 **cifar_options):
    """Load both splits of ``"synthetic"``, ``"cifar10"`` or ``"cifar100"``: ``(train, test)``.

    ``seed``, ``n_train``, ``n_test`` and ``difficulty`` apply to the synthetic set only; ``root``,
    ``download`` and ``cifar_options`` (``md5``, ``base_url``, ``progress``, ``download_hint``) to
    CIFAR only.

    >>> train, test = load_dataset("synthetic", n_train=50, n_test=10)
    >>> len(train), len(test), train.class_names[0]
    (50, 10, 'horizontal stripes')
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key == "synthetic":
        return make_synthetic(n_train, n_test, seed, difficulty)
    if key in CIFAR_FORMATS:
        return (load_cifar(key, root=root, train=True, download=download, **cifar_options),
                load_cifar(key, root=root, train=False, download=download, **cifar_options))
    raise ValueError(f"unknown data set {name!r}; choose one of {list(DATASET_NAMES)}")
