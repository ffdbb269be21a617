"""Tests of ``minigrad/nn/whitening.py``: ``patch_whitening_filters`` and ``PatchWhitening2d``."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.whitening import patch_whitening_filters


def correlated_images(rng, count=64, channels=2, size=9):
    """Images whose neighbouring pixels and channels are correlated (a smoothed, mixed noise), as photos are."""
    noise = rng.standard_normal((count, channels, size + 2, size + 2))
    smooth = (noise[:, :, :-2, :-2] + noise[:, :, 1:-1, 1:-1] + noise[:, :, 2:, 2:]) / 3
    mixing = np.array([[1.0, 0.0], [0.8, 0.6]])[:channels, :channels]
    return np.einsum("dc,nchw->ndhw", mixing, smooth) * np.array([2.0, 0.5])[:channels, None, None]


def patch_rows(images, kernel):
    """Every kernel x kernel patch as a row, written out with loops (the oracle for the strided view)."""
    count, channels, height, width = images.shape
    return np.array([images[n, :, i:i + kernel, j:j + kernel].ravel()
                     for n in range(count) for i in range(height - kernel + 1) for j in range(width - kernel + 1)])


def test_filters_whiten_the_patches_they_were_computed_from():
    images = correlated_images(np.random.default_rng(0))
    filters = patch_whitening_filters(images, (2, 2), eps=1e-12)
    k = 2 * 2 * 2
    assert filters.shape == (2 * k, 2, 2, 2)
    projected = patch_rows(images, 2) @ filters[:k].reshape(k, -1).T  # each patch against each filter
    np.testing.assert_allclose(np.cov(projected, rowvar=False), np.eye(k), atol=1e-6)
    np.testing.assert_array_equal(filters[k:], -filters[:k])


@pytest.mark.parametrize("count, size", [(64, 9), (600, 4)])  # 600 images: summed in several chunks
def test_filters_come_in_order_of_decreasing_variance_and_eps_damps_the_small_ones(count, size):
    from minigrad.nn.whitening import PATCH_CHUNK_IMAGES

    assert (count > PATCH_CHUNK_IMAGES) == (count == 600)
    images = correlated_images(np.random.default_rng(1), count=count, size=size)
    patches = patch_rows(images, 3)
    eigenvalues = np.linalg.eigvalsh(np.cov(patches, rowvar=False))[::-1]
    eps = 0.05
    filters = patch_whitening_filters(images, (3, 3), eps=eps)[:18].reshape(18, -1)
    # each filter is a unit eigenvector divided by sqrt(eigenvalue + eps): its squared norm says which
    np.testing.assert_allclose((filters ** 2).sum(axis=1), 1 / (eigenvalues + eps), rtol=1e-8)
    variances = np.var(patches @ filters.T, axis=0, ddof=1)
    np.testing.assert_allclose(variances, eigenvalues / (eigenvalues + eps), rtol=1e-8)


def test_layer_output_is_the_convolution_with_the_fitted_filters():
    rng = np.random.default_rng(2)
    images = correlated_images(rng, count=16)
    layer = nn.PatchWhitening2d(2, 10, kernel_size=2, padding=1, dtype=np.float64, generator=0)
    random_channels = layer.weight.data[8:].copy()
    layer.fit(images)
    filters = patch_whitening_filters(images, (2, 2), eps=layer.eps)
    np.testing.assert_array_equal(layer.weight.data[:8], filters[:8])
    np.testing.assert_array_equal(layer.weight.data[8:], filters[8:10])  # 10 of the 16 (8 pairs)
    assert not np.array_equal(layer.weight.data[8:], random_channels)
    x = mg.tensor(images[:3])
    expected = mg.functional.conv2d(x, mg.tensor(layer.weight.data), padding=1)
    np.testing.assert_array_equal(layer(x).data, expected.data)


def test_channels_beyond_the_pairs_keep_their_random_initialisation():
    images = correlated_images(np.random.default_rng(3), channels=1)
    layer = nn.PatchWhitening2d(1, 12, kernel_size=2, generator=5)
    before, version = layer.weight.data.copy(), layer.weight._version
    layer.fit(images)
    np.testing.assert_array_equal(layer.weight.data[8:], before[8:])
    assert layer.weight._version == version + 1  # written in place, versioned


def test_training_never_moves_the_filters_but_the_input_gets_its_gradient():
    rng = np.random.default_rng(4)
    layer = nn.PatchWhitening2d(2, 8, kernel_size=2, dtype=np.float64)
    layer.fit(correlated_images(rng, count=8))
    fitted = layer.weight.data.copy()
    optimizer = mg.optim.SGD(layer.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    x = mg.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    (layer(x) * layer(x)).sum().backward()
    optimizer.step()
    assert layer.weight.grad is None and x.grad is not None
    np.testing.assert_array_equal(layer.weight.data, fitted)


def test_gradcheck_input_float64():
    rng = np.random.default_rng(5)
    layer = nn.PatchWhitening2d(2, 6, kernel_size=3, stride=2, padding=1, dtype=np.float64)
    layer.fit(correlated_images(rng, count=8))
    x = mg.tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    assert mg.gradcheck(lambda x: layer(x), x)


def test_state_dict_keys_match_conv2d_so_checkpoints_line_up():
    layer = nn.PatchWhitening2d(3, 8, kernel_size=3, padding=1)
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    conv.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(conv.weight.data, layer.weight.data)


@pytest.mark.parametrize("arguments, message", [
    (dict(eps=0.0), "eps must be a finite number > 0, got 0.0"),
    (dict(eps=float("nan")), "eps must be a finite number > 0, got nan"),
])
def test_bad_eps_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        nn.PatchWhitening2d(3, 8, kernel_size=3, **arguments)


def test_fit_refuses_images_of_the_wrong_shape():
    layer = nn.PatchWhitening2d(3, 8, kernel_size=3)
    with pytest.raises(ValueError, match=r"fits \(N, 3, H, W\) images, got shape \(4, 1, 8, 8\)"):
        layer.fit(np.zeros((4, 1, 8, 8)))
    with pytest.raises(ValueError, match="images of 2x2 pixels have no 3x3 patch"):
        layer.fit(np.zeros((4, 3, 2, 2)))
