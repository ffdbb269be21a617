"""Tests for minigrad/data/: data sets, the seeded loader and the batch transforms."""

import numpy as np
import pytest

from minigrad.data import (ArrayDataset, Compose, Cutout, DataLoader, Dataset, Normalize, RandomCrop,
                           RandomHorizontalFlip, ToFloat)


def numbered_dataset(n, image_shape=(1, 2, 2)):
    """Example i has label i and every pixel equal to i, so a batch says which items it holds."""
    images = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(n, 1, 1, 1), (n, *image_shape)).copy()
    return ArrayDataset(images, np.arange(n))


def epoch_labels(loader):
    return [labels.tolist() for _, labels in loader]


# ------------------------------------------------------------------------------- data sets


def test_array_dataset_indexing_and_batch():
    ds = numbered_dataset(5)
    image, label = ds[3]
    assert label == 3 and image.shape == (1, 2, 2) and np.all(image == 3)
    images, labels = ds.get_batch(np.array([4, 0, 2]))
    assert labels.tolist() == [4, 0, 2]
    assert images[:, 0, 0, 0].tolist() == [4, 0, 2]


def test_array_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="5 images and 4 labels"):
        ArrayDataset(np.zeros((5, 3, 2, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="labels must be 1-D"):
        ArrayDataset(np.zeros((5, 3, 2, 2)), np.zeros((5, 1)))


class SquaresDataset(Dataset):
    """A Dataset that only has __getitem__, to exercise the default get_batch."""

    def __len__(self):
        return 7

    def __getitem__(self, index):
        return np.full((1, 1, 1), index * index), index


def test_generic_dataset_batches_through_getitem():
    loader = DataLoader(SquaresDataset(), batch_size=3)
    batches = list(loader)
    assert [labels.tolist() for _, labels in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[1][0][:, 0, 0, 0].tolist() == [9, 16, 25]


def test_base_dataset_must_be_subclassed():
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


# ---------------------------------------------------------------------------------- loader


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_item_exactly_once_per_epoch(shuffle):
    ds = numbered_dataset(23)
    loader = DataLoader(ds, batch_size=5, shuffle=shuffle, seed=0)
    assert len(loader) == 5
    for _ in range(2):
        batches = list(loader)
        assert [len(labels) for _, labels in batches] == [5, 5, 5, 5, 3]
        seen = np.concatenate([labels for _, labels in batches])
        assert sorted(seen.tolist()) == list(range(23))
        # Images travel with their labels.
        for images, labels in batches:
            assert np.array_equal(images[:, 0, 0, 0], labels)
    if not shuffle:
        assert seen.tolist() == list(range(23))


def test_drop_last():
    loader = DataLoader(numbered_dataset(23), batch_size=5, shuffle=True, seed=0, drop_last=True)
    assert len(loader) == 4
    batches = epoch_labels(loader)
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert len(set(sum(batches, []))) == 20
    # Exact multiple: drop_last changes nothing.
    assert len(DataLoader(numbered_dataset(20), batch_size=5, drop_last=True)) == 4
    assert len(DataLoader(numbered_dataset(20), batch_size=5)) == 4


def test_new_permutation_each_epoch_and_same_for_same_seed():
    first = DataLoader(numbered_dataset(50), batch_size=50, shuffle=True, seed=7)
    twin = DataLoader(numbered_dataset(50), batch_size=50, shuffle=True, seed=7)
    other_seed = DataLoader(numbered_dataset(50), batch_size=50, shuffle=True, seed=8)
    epoch0, epoch1 = epoch_labels(first), epoch_labels(first)
    assert epoch0 != epoch1
    assert epoch0 != [list(range(50))]
    assert epoch_labels(twin) == epoch0 and epoch_labels(twin) == epoch1
    assert epoch_labels(other_seed) != epoch0


def test_resume_from_state_dict_reproduces_next_epoch_with_transforms():
    def noisy(images, rng):  # a transform whose output depends on the generator
        return images + rng.integers(0, 1000, size=images.shape)

    def make_loader():
        return DataLoader(numbered_dataset(17), batch_size=4, shuffle=True, seed=3, transform=noisy)

    uninterrupted = make_loader()
    list(uninterrupted)
    state = uninterrupted.state_dict()
    expected = list(uninterrupted)

    resumed = make_loader()
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    got = list(resumed)
    assert len(got) == len(expected)
    for (images, labels), (images_expected, labels_expected) in zip(got, expected):
        assert np.array_equal(labels, labels_expected)
        assert np.array_equal(images, images_expected)
    # A fresh loader without the state starts at epoch 0, which differs.
    assert epoch_labels(make_loader()) != [labels.tolist() for _, labels in expected]


def test_seed_none_is_recorded_so_runs_can_still_be_resumed():
    loader = DataLoader(numbered_dataset(30), batch_size=30, shuffle=True)
    state = loader.state_dict()
    assert isinstance(state["seed"], int)
    first = epoch_labels(loader)
    copy = DataLoader(numbered_dataset(30), batch_size=30, shuffle=True)
    copy.load_state_dict(state)
    assert epoch_labels(copy) == first


def test_transform_applies_to_images_only():
    loader = DataLoader(numbered_dataset(4), batch_size=4, transform=lambda x, rng: x * 10)
    images, labels = next(iter(loader))
    assert labels.tolist() == [0, 1, 2, 3]
    assert images[:, 0, 0, 0].tolist() == [0, 10, 20, 30]


def test_loader_argument_errors():
    ds = numbered_dataset(4)
    with pytest.raises(ValueError, match="batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(ds, batch_size=2.5)
    with pytest.raises(TypeError, match="dataset must be sized and indexable"):
        DataLoader(5)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn="stack")
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, seed=-1)
    with pytest.raises(ValueError, match="missing"):
        DataLoader(ds).load_state_dict({"epoch": 2})


# ------------------------------------------------------------------------------ transforms


def test_random_crop_shape_and_determinism():
    images = np.random.default_rng(0).integers(1, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    crop = RandomCrop(32, padding=4)
    out = crop(images, np.random.default_rng(5))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert np.array_equal(out, crop(images, np.random.default_rng(5)))
    assert not np.array_equal(out, crop(images, np.random.default_rng(6)))


def test_random_crop_shifts_content_and_pads_with_zeros():
    """Find each image's shift by locating its content; check it against a plain-loop oracle."""
    rng = np.random.default_rng(1)
    n, size, pad = 64, 8, 3
    images = rng.integers(1, 256, size=(n, 2, size, size), dtype=np.uint8)  # no zeros inside
    out = RandomCrop(size, padding=pad)(images, np.random.default_rng(2))

    # Oracle: the offsets the transform drew (same generator, same order of draws).
    draw = np.random.default_rng(2)
    tops = draw.integers(0, 2 * pad + 1, size=n)
    lefts = draw.integers(0, 2 * pad + 1, size=n)
    shifts = set()
    for i in range(n):
        padded = np.zeros((2, size + 2 * pad, size + 2 * pad), np.uint8)
        padded[:, pad:pad + size, pad:pad + size] = images[i]
        expected = padded[:, tops[i]:tops[i] + size, lefts[i]:lefts[i] + size]
        assert np.array_equal(out[i], expected), f"image {i}"
        shift_down, shift_right = pad - tops[i], pad - lefts[i]
        shifts.add((shift_down, shift_right))
        # The uncovered border is zero, the rest is the original moved by the shift.
        if shift_down > 0:
            assert np.all(out[i, :, :shift_down] == 0)
        if shift_right < 0:
            assert np.all(out[i, :, :, shift_right:] == 0)
        assert np.array_equal(
            out[i, :, max(shift_down, 0):size + min(shift_down, 0), max(shift_right, 0):size + min(shift_right, 0)],
            images[i, :, max(-shift_down, 0):size - max(shift_down, 0), max(-shift_right, 0):size - max(shift_right, 0)],
        )
    assert len(shifts) > 10  # per-image offsets, not one shift for the whole batch
    assert any(dy != 0 or dx != 0 for dy, dx in shifts)


def test_random_crop_without_padding_smaller_window():
    images = np.arange(2 * 1 * 5 * 5).reshape(2, 1, 5, 5)
    out = RandomCrop(3, padding=0)(images, np.random.default_rng(0))
    assert out.shape == (2, 1, 3, 3)
    for i in range(2):  # every crop is a contiguous window of its own image
        top, left = divmod(int(out[i, 0, 0, 0]) - 25 * i, 5)
        assert np.array_equal(out[i, 0], images[i, 0, top:top + 3, left:left + 3])


def test_random_crop_errors():
    with pytest.raises(ValueError, match=r"size=40\) does not fit in images of 32x32 padded by 2 to 36x36"):
        RandomCrop(40, padding=2)(np.zeros((1, 3, 32, 32)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="padding=-1"):
        RandomCrop(32, padding=-1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(3, 32, 32\)"):
        RandomCrop()(np.zeros((3, 32, 32)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        RandomCrop()(np.zeros((1, 3, 32, 32)), 0)


def test_horizontal_flip_flips_exactly_the_drawn_images():
    images = np.random.default_rng(0).integers(0, 256, size=(200, 3, 4, 5), dtype=np.uint8)
    out = RandomHorizontalFlip(p=0.5)(images, np.random.default_rng(9))
    flipped = np.array([np.array_equal(out[i], images[i, :, :, ::-1]) for i in range(len(images))])
    kept = np.array([np.array_equal(out[i], images[i]) for i in range(len(images))])
    assert np.all(flipped | kept)
    assert 60 < flipped.sum() < 140  # about half
    assert np.array_equal(flipped, np.random.default_rng(9).random(200) < 0.5)
    assert np.array_equal(images, np.random.default_rng(0).integers(0, 256, size=(200, 3, 4, 5), dtype=np.uint8))


def test_horizontal_flip_extremes_and_errors():
    images = np.arange(6).reshape(1, 1, 2, 3)
    assert RandomHorizontalFlip(1.0)(images, np.random.default_rng(0))[0, 0].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert np.array_equal(RandomHorizontalFlip(0.0)(images, np.random.default_rng(0)), images)
    with pytest.raises(ValueError, match="p=1.5"):
        RandomHorizontalFlip(1.5)


def test_cutout_blanks_the_square_around_each_drawn_centre():
    images = np.random.default_rng(0).uniform(1.0, 2.0, size=(300, 3, 7, 6)).astype(np.float32)  # no zeros
    original = images.copy()
    out = Cutout(size=4)(images, np.random.default_rng(5))
    assert out.dtype == np.float32 and np.array_equal(images, original)  # the input is not written
    draws = np.random.default_rng(5)
    centre_rows, centre_cols = draws.integers(0, 7, size=300), draws.integers(0, 6, size=300)
    sizes = set()
    for i in range(300):
        expected = np.zeros((7, 6), bool)  # the square of side 4 whose centre pixel is (row, col), clipped
        for row in range(centre_rows[i] - 2, centre_rows[i] + 2):
            for col in range(centre_cols[i] - 2, centre_cols[i] + 2):
                if 0 <= row < 7 and 0 <= col < 6:
                    expected[row, col] = True
        for channel in range(3):  # every channel blanked alike, the rest untouched
            assert np.array_equal(out[i, channel] == 0, expected)
            assert np.array_equal(out[i, channel][~expected], images[i, channel][~expected])
        sizes.add(int(expected.sum()))
    assert 16 in sizes and min(sizes) < 16  # whole squares inside, clipped ones at the borders
    assert np.array_equal(Cutout(4)(images, np.random.default_rng(5)), out)  # same generator, same batch


def test_cutout_keeps_integer_images_and_checks_its_arguments():
    images = np.full((2, 1, 5, 5), 7, np.uint8)
    out = Cutout(size=5)(images, np.random.default_rng(1))
    assert out.dtype == np.uint8 and 9 <= (out == 0).sum(axis=(1, 2, 3)).min()  # at least a 3x3 corner
    with pytest.raises(ValueError, match="size=0"):
        Cutout(0)
    with pytest.raises(TypeError, match="int"):
        Cutout(2.5)
    with pytest.raises(ValueError, match=r"shape \(5, 5\)"):
        Cutout(2)(np.zeros((5, 5)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        Cutout(2)(images, None)


def test_normalize_per_channel():
    images = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 4.0), np.full((2, 2), -2.0)])[None].astype(np.float32)
    out = Normalize(mean=[1.0, 2.0, 0.0], std=[1.0, 2.0, 4.0])(images)
    assert out.dtype == np.float32
    assert out[0, :, 0, 0].tolist() == [0.0, 1.0, -0.5]
    assert np.all(out == out[:, :, :1, :1])


def test_tofloat_then_normalize_standardises_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(500, 3, 4, 4), dtype=np.uint8)
    images[:, 1] //= 2  # make the channels differ
    scaled = ToFloat()(images)
    assert scaled.dtype == np.float32 and scaled.max() <= 1.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3))
    out = Normalize(mean, std)(scaled)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-4)


def test_normalize_errors():
    with pytest.raises(TypeError, match="uint8; put ToFloat"):
        Normalize([0.5] * 3, [0.2] * 3)(np.zeros((1, 3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="3 channel statistics but the batch has 1 channels"):
        Normalize([0.5] * 3, [0.2] * 3)(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"std=\[0.2, 0.0\]"):
        Normalize([0.5, 0.5], [0.2, 0.0])
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        Normalize([0.5] * 3, [0.2] * 2)


def test_compose_runs_in_order_with_one_generator():
    images = np.random.default_rng(0).integers(0, 256, size=(8, 3, 32, 32), dtype=np.uint8)
    pipeline = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToFloat()])
    out = pipeline(images, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    by_hand = ToFloat()(RandomHorizontalFlip()(RandomCrop(32, padding=4)(images, rng), rng))
    assert out.dtype == np.float32
    assert np.array_equal(out, by_hand)
    with pytest.raises(TypeError, match="transform #1 is not callable"):
        Compose([ToFloat(), 3])


# ------------------------------------------------------------------ PyTorch's data habits
class PyTorchStyle:
    """A data set written the PyTorch way: __len__ and __getitem__ only, no minigrad base class."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return {"image": np.full((1, 2, 2), index, np.float32), "label": index}


def test_any_sized_indexable_data_set_is_collated_like_pytorch():
    batches = list(DataLoader(PyTorchStyle(5), batch_size=2))
    assert [batch["label"].tolist() for batch in batches] == [[0, 1], [2, 3], [4]]
    assert batches[1]["image"].shape == (2, 1, 2, 2) and batches[1]["image"][1, 0, 0, 0] == 3


def test_a_list_of_pairs_is_a_data_set():
    pairs = [(np.full(3, k, np.float32), k % 2) for k in range(4)]
    (images, labels), = list(DataLoader(pairs, batch_size=4))
    assert images.shape == (4, 3) and labels.tolist() == [0, 1, 0, 1]


def test_a_minigrad_dataset_of_dicts_collates_by_key():
    class Dicts(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return {"x": np.arange(2) + index, "y": index}

    batch = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert batch["x"].tolist() == [[0, 1], [1, 2], [2, 3]] and batch["y"].tolist() == [0, 1, 2]


def test_as_tensors_and_collate_fn_on_the_generic_path():
    import minigrad as mg

    batch = next(iter(DataLoader(PyTorchStyle(3), batch_size=3, as_tensors=True)))
    assert isinstance(batch["image"], mg.Tensor) and isinstance(batch["label"], mg.Tensor)
    sizes = list(DataLoader(numbered_dataset(5), batch_size=2, collate_fn=len))
    assert sizes == [2, 2, 1]  # collate_fn is used even where get_batch exists


def test_a_transform_needs_image_label_batches():
    with pytest.raises(TypeError, match="transform applies to the images of \\(images, labels\\) batches.*dict"):
        next(iter(DataLoader(PyTorchStyle(3), batch_size=3, transform=lambda images, rng: images)))


def test_manual_seed_makes_unseeded_shuffling_reproducible():
    import minigrad as mg

    orders = []
    for _ in range(2):
        mg.manual_seed(3)
        orders.append(epoch_labels(DataLoader(numbered_dataset(20), batch_size=20, shuffle=True)))
    mg.manual_seed(4)
    assert orders[0] == orders[1] != epoch_labels(DataLoader(numbered_dataset(20), batch_size=20, shuffle=True))


def test_tensor_dataset_and_the_pytorch_import_path():
    import minigrad as mg
    from minigrad.utils.data import DataLoader as UtilsLoader, Dataset as UtilsDataset, TensorDataset

    assert UtilsLoader is DataLoader and UtilsDataset is Dataset
    x, y = mg.randn(5, 3), mg.tensor(np.arange(5))
    (xb, yb), = list(UtilsLoader(TensorDataset(x, y), batch_size=5))
    assert isinstance(xb, mg.Tensor) and xb.shape == (5, 3) and yb.data.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"same number of examples in each tensor, got \[5, 4\]"):
        TensorDataset(x, np.arange(4))
