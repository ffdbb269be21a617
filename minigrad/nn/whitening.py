"""``PatchWhitening2d``: a first convolution whose filters are computed from the images, not learned.

Neighbouring pixels of a photo are strongly correlated: in the 27 numbers of a 3x3 RGB patch, a
few directions (the mean brightness, a left-right gradient, ...) hold almost all the variance and
the rest very little. A network's first layer has to learn those directions from noisy gradients.
Patch whitening hands them over instead (Coates & Ng 2011; the fast-CIFAR record holders, e.g.
Jordan's airbench, start with it):

    patches  P: (number of patches, C*kH*kW), every kH x kW patch of the training images
    Σ = cov(P) = V diag(λ) Vᵀ            eigenvectors V[:, i], eigenvalues λ_1 ≥ λ_2 ≥ ...
    filter_i = V[:, i] / sqrt(λ_i + eps)  reshaped to (C, kH, kW)

Convolving with filter_i projects each patch onto one eigenvector and rescales it, so over the
training patches the k = C*kH*kW outputs are uncorrelated with variance λ_i / (λ_i + eps) ≈ 1:
the input "whitened". ``eps`` keeps the directions of tiny variance (mostly noise) from being
blown up. Each filter comes with its negative (filters k..2k-1 are -filter_0..-filter_{k-1}), so
that the ReLU after the layer keeps both signs of every direction.

The filters stay fixed during training (``weight.requires_grad`` is False, so no optimiser moves
them) and are saved in ``state_dict`` under the same key as a ``Conv2d``'s weight. Output channels
beyond 2k (64 for a 3x3 RGB stem, where 2k = 54) keep their random initialisation, frozen too:
fixed random features. The layer's input gradient is the ordinary convolution's.
"""

import numpy as np

from minigrad.autograd import no_grad
from minigrad.nn.conv import Conv2d
from minigrad.tensor import DEFAULT_DTYPE

PATCH_CHUNK_IMAGES = 256  # images whose patches are summed at once


def patch_whitening_filters(images, kernel_size, eps=5e-4):
    """(2k, C, kH, kW) whitening filters of ``images`` (N, C, H, W), k = C*kH*kW; see the module docstring.

    Filter i (i < k) is the eigenvector of the i-th largest eigenvalue of the patch covariance,
    divided by sqrt(eigenvalue + eps); filter k + i is its negative.

    >>> rng = np.random.default_rng(0)
    >>> filters = patch_whitening_filters(rng.normal(size=(8, 1, 6, 6)), (2, 2))
    >>> filters.shape
    (8, 1, 2, 2)
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {images.shape}")
    kernel_height, kernel_width = kernel_size
    channels, height, width = images.shape[1:]
    if height < kernel_height or width < kernel_width:
        raise ValueError(f"images of {height}x{width} pixels have no {kernel_height}x{kernel_width} patch")
    size = channels * kernel_height * kernel_width
    count = len(images) * (height - kernel_height + 1) * (width - kernel_width + 1)
    if count < 2:
        raise ValueError(f"a covariance needs at least 2 patches, the images have {count}")
    # cov = (sum of x xᵀ - count * mean meanᵀ) / (count - 1), summed a few images at a time: the
    # patches of 5,000 CIFAR images would take 1 GB at once.
    total, products = np.zeros(size), np.zeros((size, size))
    for start in range(0, len(images), PATCH_CHUNK_IMAGES):
        chunk = images[start:start + PATCH_CHUNK_IMAGES]
        # (n, C, H', W', kH, kW) view -> one row per patch, its C*kH*kW numbers in the weight's order.
        windows = np.lib.stride_tricks.sliding_window_view(chunk, (kernel_height, kernel_width), axis=(2, 3))
        patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, size)
        total += patches.sum(axis=0)
        products += patches.T @ patches
    mean = total / count
    covariance = (products - count * np.outer(mean, mean)) / (count - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    filters = (eigenvectors / np.sqrt(np.maximum(eigenvalues, 0.0) + eps)).T
    filters = filters.reshape(-1, channels, kernel_height, kernel_width)
    return np.concatenate([filters, -filters])


class PatchWhitening2d(Conv2d):
    """A ``Conv2d`` without bias whose filters whiten image patches: ``fit(images)`` sets them,
    training never moves them.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as ``Conv2d``.
        eps: added to every eigenvalue before the square root (5e-4, airbench's value, for
            images normalised to unit variance per channel).
        dtype, generator: as ``Conv2d`` (the generator draws the channels beyond 2k).

    Until ``fit`` is called the filters are random (Conv2d's initialisation), and frozen.

    >>> import minigrad as mg
    >>> layer = PatchWhitening2d(1, 8, kernel_size=2)
    >>> layer.fit(np.random.default_rng(0).normal(size=(8, 1, 6, 6)))
    >>> layer.weight.requires_grad, layer(mg.zeros(2, 1, 6, 6)).shape
    (False, (2, 8, 5, 5))
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, eps=5e-4,
                 dtype=DEFAULT_DTYPE, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False,
                         dtype=dtype, generator=generator)
        if not (isinstance(eps, (int, float)) and eps > 0 and np.isfinite(eps)):
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
        self.eps = float(eps)
        self.weight.requires_grad_(False)

    def fit(self, images):
        """Set the filters from ``images`` (N, in_channels, H, W), normalised as the layer's inputs will be."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}({self.in_channels}, ...) fits (N, {self.in_channels}, H, W) "
                             f"images, got shape {images.shape}")
        filters = patch_whitening_filters(images, self.kernel_size, self.eps)
        count = min(len(filters), self.out_channels)
        weight = self.weight.data.copy()
        weight[:count] = filters[:count]
        with no_grad():
            self.weight.copy_(weight)  # versioned, as every in-place write to a parameter

    def extra_repr(self):
        return super().extra_repr() + f", eps={self.eps:g}"
