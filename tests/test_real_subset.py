"""``benchmarks/real_subset.py``: the real CIFAR-10 subset written as two CIFAR folders, or one clear error."""

import pickle

import numpy as np
import pytest

try:
    from script_loader import load_script as load
except ImportError:  # the tests directory is a package (tests/__init__.py)
    from tests.script_loader import load_script as load


def load_script():
    return load("benchmarks/real_subset.py", "real_subset")


def test_a_missing_subset_is_one_line_naming_the_path_and_subset_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_script().main(["--subset", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert f"no CIFAR-10 subset at {tmp_path / 'absent.npz'}" in err and "--subset PATH" in err
    assert not (tmp_path / "out").exists()


def test_the_subset_becomes_a_tuning_and_a_reporting_folder(tmp_path):
    script = load_script()
    count = 4 * script.PER_BATCH
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "subset.npz", images=rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8),
             labels=np.arange(count) % 10, class_names=np.array([f"class {k}" for k in range(10)]))
    script.main(["--subset", str(tmp_path / "subset.npz"), "--out", str(tmp_path / "out")])
    for name, train_photos in (("tune", 2 * script.PER_BATCH), ("report", 3 * script.PER_BATCH)):
        folder = tmp_path / "out" / name / "cifar-10-batches-py"
        batches = [pickle.loads((folder / f"data_batch_{k}").read_bytes()) for k in range(1, 6)]
        assert sum(len(batch[b"labels"]) for batch in batches) == train_photos
        assert len(pickle.loads((folder / "test_batch").read_bytes())[b"labels"]) == script.PER_BATCH


def test_help_describes_the_script_in_whole_sentences(capsys):
    with pytest.raises(SystemExit):
        load_script().main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "OUT/tune" in text and "OUT/report" in text and "--subset SUBSET the subset's .npz file" in text
