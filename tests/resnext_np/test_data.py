"""Tests for resnext_np/data/: CIFAR reading, extraction, download, and the synthetic set.

The CIFAR tests write tiny archives in exactly the official layout (real folder, file and key
names, Python-2-style pickles with bytes keys), 10 images per batch file.  Their md5 is not the
official one, which is itself tested: a user's archive is checked against the official md5.
"""

import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from resnext_np import data
from resnext_np.data import DatasetError, DownloadError

IMAGES_PER_FILE = 10


# ------------------------------------------------------------------------ fake CIFAR files


def write_cifar_folder(parent, name, seed=0):
    """Write a tiny extracted CIFAR folder under ``parent``; return (folder, expected arrays)."""
    cifar = data.CIFAR_FORMATS[name]
    rng = np.random.default_rng(seed)
    folder = parent / cifar.folder_name
    folder.mkdir(parents=True)
    num_classes = 10 if name == "cifar10" else 100
    expected = {}
    for split, files in (("train", cifar.train_files), ("test", cifar.test_files)):
        rows, labels = [], []
        for file_name in files:
            batch_rows = rng.integers(0, 256, size=(IMAGES_PER_FILE, 3072), dtype=np.uint8)
            batch_labels = rng.integers(0, num_classes, size=IMAGES_PER_FILE).tolist()  # a list, as the official files
            content = {b"batch_label": f"batch {file_name}".encode(), b"data": batch_rows,
                       b"filenames": [f"img_{i}.png".encode() for i in range(IMAGES_PER_FILE)]}
            if name == "cifar10":
                content[b"labels"] = batch_labels
            else:
                content[b"fine_labels"] = batch_labels
                content[b"coarse_labels"] = [label // 5 for label in batch_labels]
            with open(folder / file_name, "wb") as f:
                pickle.dump(content, f, protocol=2)
            rows.append(batch_rows)
            labels += batch_labels
        expected[split] = (np.concatenate(rows), np.array(labels))
    if name == "cifar10":
        meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_cases_per_batch": 10000}
    else:
        meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}
    with open(folder / cifar.meta_file, "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return folder, expected


def write_cifar_archive(directory, name, seed=0):
    """Write ``<archive name>`` into ``directory``; return (archive path, md5, expected arrays)."""
    cifar = data.CIFAR_FORMATS[name]
    source = directory / "source"
    folder, expected = write_cifar_folder(source, name, seed)
    archive = directory / cifar.archive_name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=cifar.folder_name)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    return archive, md5, expected


def listing(directory):
    """Every path under ``directory``, hidden temporary files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ----------------------------------------------------------------------------- reading


def test_read_cifar10_folder(tmp_path):
    folder, expected = write_cifar_folder(tmp_path, "cifar10")
    train = data.read_cifar_folder(folder, "cifar10", train=True)
    test = data.read_cifar_folder(folder, "cifar10", train=False)
    rows, labels = expected["train"]
    assert train.images.shape == (50, 3, 32, 32) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64 and train.labels.tolist() == labels.tolist()
    assert len(test) == 10 and test.labels.tolist() == expected["test"][1].tolist()
    assert train.class_names == tuple(f"class{i}" for i in range(10))
    # Row layout: 1024 red values, then green, then blue; each plane row-major.
    i, y, x = 13, 5, 30
    assert [train.images[i, c, y, x] for c in range(3)] == [rows[i, c * 1024 + y * 32 + x] for c in range(3)]


def test_read_cifar100_uses_fine_labels(tmp_path):
    folder, expected = write_cifar_folder(tmp_path, "cifar100")
    train = data.read_cifar_folder(folder, "cifar100", train=True)
    assert len(train) == 10 and train.num_classes == 100
    assert train.labels.tolist() == expected["train"][1].tolist()
    assert train.class_names[7] == "fine7"
    assert np.array_equal(train.images.reshape(10, -1), expected["train"][0])


def test_load_from_extracted_folder_needs_no_md5(tmp_path):
    write_cifar_folder(tmp_path, "cifar10")
    train, test = data.load_dataset("cifar10", root=tmp_path)
    assert (len(train), len(test)) == (50, 10)


def test_missing_batch_file_is_named(tmp_path):
    folder, _ = write_cifar_folder(tmp_path, "cifar10")
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3 is missing"):
        data.load_cifar("cifar10", root=tmp_path)


def test_malformed_pickle_is_reported(tmp_path):
    folder, _ = write_cifar_folder(tmp_path, "cifar10")
    (folder / "test_batch").write_bytes(b"this is not a pickle")
    with pytest.raises(DatasetError, match="test_batch is malformed"):
        data.load_cifar("cifar10", root=tmp_path, train=False)


def test_wrong_keys_and_shapes_are_reported(tmp_path):
    folder, _ = write_cifar_folder(tmp_path, "cifar10")
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8)}, f, protocol=2)
    with pytest.raises(DatasetError, match=r"lacks key\(s\) \[b'labels'\]"):
        data.load_cifar("cifar10", root=tmp_path, train=False)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 1000), np.uint8), b"labels": [0] * 4}, f, protocol=2)
    with pytest.raises(DatasetError, match=r"\(N, 3072\), got uint8 \(4, 1000\)"):
        data.load_cifar("cifar10", root=tmp_path, train=False)


def test_nothing_there_explains_offline_setup(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_cifar("cifar100", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-100-python.tar.gz") in message
    assert "eb9058c3a382ffc7106e4002c42a8d85" in message
    assert "download=True" in message
    assert listing(tmp_path) == []


def test_default_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNEXT_NP_DATA", str(tmp_path / "elsewhere"))
    assert data.default_data_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("RESNEXT_NP_DATA")
    assert data.default_data_dir() == Path.home() / ".cache" / "resnext_np"


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        data.load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown CIFAR data set 'cifar20'"):
        data.load_cifar("cifar20")


# -------------------------------------------------------------------------- extraction


def test_archive_is_md5_checked_and_extracted(tmp_path):
    archive, md5, expected = write_cifar_archive(tmp_path, "cifar10")
    train = data.load_cifar("cifar10", root=tmp_path, md5=md5)
    assert np.array_equal(train.images.reshape(50, -1), expected["train"][0])
    assert (tmp_path / "cifar-10-batches-py" / "batches.meta").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_user_archive_is_checked_against_official_md5_by_default(tmp_path):
    archive, md5, _ = write_cifar_archive(tmp_path, "cifar10")
    with pytest.raises(DatasetError) as info:
        data.load_cifar("cifar10", root=tmp_path)
    assert f"has md5 {md5}, expected c58f30108f718f92721af3b95e74349a" in str(info.value)
    assert not (tmp_path / "cifar-10-batches-py").exists()
    # md5=None skips the check.
    assert len(data.load_cifar("cifar10", root=tmp_path, md5=None, train=False)) == 10


def make_tar(path, entries):
    """entries: (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in entries:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)


def file_entry(name, payload=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


@pytest.mark.parametrize("bad_member", ["../escaped", "/tmp/absolute", "cifar-10-batches-py/../../escaped",
                                        "other-folder/data_batch_1", "symlink"])
def test_unsafe_archive_is_refused_and_leaves_nothing(tmp_path, bad_member):
    root = tmp_path / "root"
    root.mkdir()
    if bad_member == "symlink":
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        bad = (link, None)
    else:
        bad = file_entry(bad_member)
    archive = tmp_path / "cifar-10-python.tar.gz"
    make_tar(archive, [file_entry("cifar-10-batches-py/batches.meta"), bad])
    with pytest.raises(DatasetError, match="refusing to extract"):
        data.extract_cifar(archive, root, "cifar10")
    assert listing(root) == []
    assert not (tmp_path / "escaped").exists()


def test_incomplete_archive_leaves_no_folder(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    make_tar(archive, [file_entry("cifar-10-batches-py/batches.meta"),
                       file_entry("cifar-10-batches-py/data_batch_1")])
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError, match="does not contain cifar-10-batches-py/data_batch_2"):
        data.extract_cifar(archive, root, "cifar10")
    assert listing(root) == []


def test_corrupt_gzip_is_reported(tmp_path):
    archive = tmp_path / "cifar-100-python.tar.gz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DatasetError, match="not a readable .tar.gz"):
        data.load_cifar("cifar100", root=tmp_path, md5=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-100-python.tar.gz"]


# ---------------------------------------------------------------------------- download


class ArchiveServer:
    """An HTTP server on 127.0.0.1 serving ``/<mode>/<file>`` for mode in ok / truncated / trickle."""

    def __init__(self, files):
        self.files = files
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mode, _, file_name = self.path.strip("/").partition("/")
                body = server.files.get(file_name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncated":  # promise the whole file, send half, hang up
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif mode == "trickle":  # one byte every 0.1 s: never silent long enough for a read timeout
                    try:
                        for byte in body[:100]:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass  # the client gave up
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, mode):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mode}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served_archive(tmp_path):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    archive, md5, expected = write_cifar_archive(upstream, "cifar10")
    with ArchiveServer({archive.name: archive.read_bytes()}) as server:
        yield server, archive, md5, expected


def test_download_good_archive(tmp_path, served_archive):
    server, archive, md5, expected = served_archive
    root = tmp_path / "cache"
    path = data.download_cifar("cifar10", root, base_url=server.url("ok"), md5=md5, progress=False)
    assert path == root / "cifar-10-python.tar.gz"
    assert path.read_bytes() == archive.read_bytes()
    assert listing(root) == ["cifar-10-python.tar.gz"]


def test_load_with_download_end_to_end_via_environment(tmp_path, served_archive, monkeypatch):
    server, _, md5, expected = served_archive
    monkeypatch.setenv("RESNEXT_NP_CIFAR_URL", server.url("ok"))
    monkeypatch.setenv("RESNEXT_NP_DATA", str(tmp_path / "cache"))
    train, test = data.load_dataset("cifar10", download=True, md5=md5, progress=False)
    assert train.labels.tolist() == expected["train"][1].tolist()
    assert np.array_equal(test.images.reshape(10, -1), expected["test"][0])
    assert (tmp_path / "cache" / "cifar-10-batches-py").is_dir()


def test_download_with_wrong_md5_leaves_nothing(tmp_path, served_archive):
    server, _, md5, _ = served_archive
    root = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        data.download_cifar("cifar10", root, base_url=server.url("ok"), progress=False)  # official md5
    message = str(info.value)
    assert f"md5 is {md5}, expected c58f30108f718f92721af3b95e74349a" in message
    assert str(root / "cifar-10-python.tar.gz") in message  # where to put it by hand
    assert listing(root) == []


def test_truncated_download_leaves_nothing(tmp_path, served_archive):
    server, archive, md5, _ = served_archive
    root = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        data.download_cifar("cifar10", root, base_url=server.url("truncated"), md5=md5, progress=False)
    size = archive.stat().st_size
    assert f"after {size // 2} of {size} bytes" in str(info.value)
    assert "c58f30108f718f92721af3b95e74349a" in str(info.value)
    assert listing(root) == []


def test_a_trickling_download_stops_at_its_deadline_and_leaves_nothing(tmp_path, served_archive):
    server, archive, md5, _ = served_archive
    root = tmp_path / "cache"
    with pytest.raises(DownloadError, match=rf"took longer than 0.5 s \(\d+ of {archive.stat().st_size} bytes received\)"):
        data.download_cifar("cifar10", root, base_url=server.url("trickle"), md5=md5, progress=False,
                            timeout=5, deadline=0.5)
    assert listing(root) == []


def test_a_cifar_batch_that_would_run_code_is_refused_unrun(tmp_path, monkeypatch):
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo pwned > PWNED",))

    monkeypatch.chdir(tmp_path)
    folder, _ = write_cifar_folder(tmp_path, "cifar10")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": RunsCode()}, protocol=2))
    with pytest.raises(DatasetError, match=r"test_batch is malformed \(UnpicklingError: it asks for \w+\.system"):
        data.load_cifar("cifar10", root=tmp_path, train=False)
    assert not (tmp_path / "PWNED").exists()


def test_http_error_leaves_nothing(tmp_path, served_archive):
    server, _, md5, _ = served_archive
    root = tmp_path / "cache"
    with pytest.raises(DownloadError, match="404"):
        data.download_cifar("cifar100", root, base_url=server.url("ok"), md5=md5, progress=False)
    assert listing(root) == []


# --------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic_and_splits_differ():
    train, test = data.make_synthetic(200, 50, seed=4)
    again_train, again_test = data.make_synthetic(200, 50, seed=4)
    assert train.images.tobytes() == again_train.images.tobytes()
    assert np.array_equal(test.labels, again_test.labels)
    other = data.synthetic_images(200, seed=5)
    assert not np.array_equal(other.images, train.images)
    test_as_big = data.synthetic_images(200, seed=4, train=False)
    assert not np.array_equal(test_as_big.images, train.images)
    assert np.array_equal(test_as_big.images[:0], train.images[:0])  # shapes agree


def test_synthetic_shapes_and_balance():
    split = data.synthetic_images(1003, seed=0)
    assert split.images.shape == (1003, 3, 32, 32) and split.images.dtype == np.uint8
    assert split.labels.dtype == np.int64
    counts = np.bincount(split.labels, minlength=10)
    assert counts.min() == 100 and counts.max() == 101
    assert split.class_names == data.SYNTHETIC_CLASS_NAMES and len(split.class_names) == 10
    assert split.images.std() > 40  # not blank


def test_synthetic_class_means_are_flat():
    """The average image of every class is the same flat grey: nothing for a linear model."""
    split = data.synthetic_images(3000, seed=1)
    means = np.stack([split.images[split.labels == k].mean(axis=0) for k in range(10)])
    assert np.abs(means - 127.5).max() < 25


def softmax_regression(train_features, train_labels, test_features, steps=100, learning_rate=0.5):
    """Plain multinomial logistic regression by full-batch gradient descent; test predictions."""
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    a, b = (train_features - mean) / std, (test_features - mean) / std
    weights, bias = np.zeros((a.shape[1], 10)), np.zeros(10)
    targets = np.eye(10)[train_labels]
    for _ in range(steps):
        logits = a @ weights + bias
        probabilities = np.exp(logits - logits.max(1, keepdims=True))
        probabilities /= probabilities.sum(1, keepdims=True)
        gradient = (probabilities - targets) / len(a)
        weights -= learning_rate * (a.T @ gradient + 1e-4 * weights)
        bias -= learning_rate * gradient.sum(0)
    return np.argmax(b @ weights + bias, axis=1)


def local_difference_features(images):
    """Translation- and colour-invariant statistics: mean |x(p) - x(p + offset)| over pixels for
    a few offsets, divided by the image's contrast.  A hand-made 'conv + global pool'."""
    x = images.astype(np.float64)
    features = []
    for dy, dx in [(0, 1), (1, 0), (1, 1), (1, -1), (0, 2), (2, 0), (2, 2), (2, -2), (0, 4), (4, 0)]:
        here = x[:, :, :32 - dy, max(0, -dx):32 - max(0, dx)]
        there = x[:, :, dy:, max(0, dx):32 - max(0, -dx)]   # the pixel (dy, dx) further on
        features.append(np.abs(here - there).mean(axis=(1, 2, 3)))
    features = np.stack(features, axis=1)
    return features / (features.mean(axis=1, keepdims=True) + 1e-6)


def test_linear_on_pixels_fails_but_local_features_work():
    train, test = data.make_synthetic(1000, 300, seed=0)
    pixels_train = train.images.reshape(len(train), -1).astype(np.float32)
    pixels_test = test.images.reshape(len(test), -1).astype(np.float32)
    linear_accuracy = (softmax_regression(pixels_train, train.labels, pixels_test) == test.labels).mean()
    local_train, local_test = local_difference_features(train.images), local_difference_features(test.images)
    local_accuracy = (softmax_regression(local_train, train.labels, local_test) == test.labels).mean()
    assert linear_accuracy < 0.25, linear_accuracy
    assert local_accuracy > 0.5, local_accuracy


def test_the_noisy_synthetic_set_is_harder_for_the_same_features():
    clear_train, clear_test = data.make_synthetic(1000, 300, seed=0)
    noisy_train, noisy_test = data.make_synthetic(1000, 300, seed=0, difficulty="noisy")
    assert noisy_train.images.std() > clear_train.images.std() * 0.5  # it is not blank
    scores = {}
    for name, (train, test) in {"clear": (clear_train, clear_test), "noisy": (noisy_train, noisy_test)}.items():
        predicted = softmax_regression(local_difference_features(train.images), train.labels,
                                       local_difference_features(test.images))
        scores[name] = (predicted == test.labels).mean()
    assert scores["noisy"] < scores["clear"] - 0.15, scores
    with pytest.raises(ValueError, match="difficulty must be one of \\['clear', 'noisy'\\], got 'hard'"):
        data.synthetic_images(3, difficulty="hard")
