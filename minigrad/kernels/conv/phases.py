"""The direct loops' scratch layout: zero-padded planes, flat, split into stride phases.

A task of the direct loops (:mod:`minigrad.kernels.conv.direct`) works on ``image_count``
consecutive images of one group. It copies their Cg channels into one flat buffer per channel, zero-padded,
so that its kernel loops never test for borders. At stride 1 each padded plane is stored row
after row at row pitch Wp, and the images one after another::

    buffer[c, m*Hp*Wp + p*Wp + q] = xp[first_image + m, g*Cg + c, p, q]

With stride s the taps would read every s-th pixel, which does not vectorise. So the padded
planes are split into sh*sw phases (polyphase): phase (a, b) holds the pixels whose row is a mod
sh and column b mod sw, in a plane of Hq x Wq = ceil(Hp/sh) x ceil(Wp/sw)::

    buffer[c, (a*sw + b)*phase_size + m*Hq*Wq + u*Wq + v] = xp[first_image + m, g*Cg + c, u*sh + a, v*sw + b]

Output pixel (y, x) of image m and tap (i, j) read pixel (y*sh + i*dh, x*sw + j*dw), which lies
in phase ((i*dh) % sh, (j*dw) % sw) at row y + (i*dh)//sh, column x + (j*dw)//sw: at index
``start[i, j] + k`` with ``k = m*Hq*Wq + y*Wq + x``. So for every tap, the pixels that all the
output positions k read are one contiguous run of the buffer. Stride 1 is the case of one phase,
Hq = Hp and Wq = Wp. Positions k whose x >= ow, or whose row falls between two images, are
garbage: computed, and dropped.

Shared padding (stride 1). Stored flat, a row's right padding and the next row's left padding
are neighbours: 2*pad zeros where pad would do, since a tap that runs past a row's end reads the
next row's left padding. So when the padding reaches no further than the kernel (pad <= (k-1)*d,
every "same" convolution), each row keeps only its left padding (Wq = W + pad_w) and each image
only its top padding (Hq = H + pad_h), the last image's bottom padding being the buffer's zero
tail. The formulas above hold with these Hq and Wq: a tap that reads past a row's end lands in
the next row's left padding, and past an image's last row in the next image's top padding. On
8x8 images a 3x3 kernel then computes 64 of 81 positions instead of 64 of 100; measured on 2
cores, 64 x 512ch x 8x8, groups 32: forward, grad input and grad weight each 7.3-8.2 -> 6.9-7.1
ms (three runs of each, alternating; 16x16 moved inside the noise).

Every function takes the convolution as a :data:`~minigrad.kernels.conv_geometry.KernelGeometry`
record and the task's layout as a :data:`PhaseLayout`, and runs inside the direct loops' Numba
tasks (``@njit``; plain Python under ``NUMBA_DISABLE_JIT=1``).
"""

from collections import namedtuple

import numpy as np
from numba import njit
from numba.extending import register_jitable

# plane_size = Hq*Wq (one phase of one image) and plane_w = Wq (its row pitch); phase_size =
# image_count*Hq*Wq (one phase of the task's images); start[i, j] = where tap (i, j)'s run begins;
# positions = how many output positions k a task computes; buffer_size = one channel's buffer:
# every phase of every image, and room for the last tap's run (at stride 1 it reads (kw - 1)*dw
# past the final padded row).
PhaseLayout = namedtuple("PhaseLayout", ["plane_size", "plane_w", "phase_size", "start", "positions", "buffer_size"])


# register_jitable: plain Python functions that Numba code can call too (the direct loops'
# Python side sizes its tasks with them, on the ConvGeometry itself, without a Numba dispatch).
@register_jitable
def plane_shape(geometry):
    """``(Hq, Wq)``: the rows and the row pitch of one image's plane in a task's buffer."""
    if shares_padding(geometry):
        return geometry.in_h + geometry.pad_h, geometry.in_w + geometry.pad_w
    return -(-(geometry.in_h + 2 * geometry.pad_h) // geometry.stride_h), -(-(geometry.in_w + 2 * geometry.pad_w) // geometry.stride_w)


@register_jitable
def shares_padding(geometry):
    """Whether neighbouring rows (and images) share their zeros: at stride 1, when the padding
    reaches no further than the kernel does (pad <= (k - 1)*d, as in every "same" convolution)."""
    return (geometry.stride_h == geometry.stride_w == 1 and geometry.pad_h <= (geometry.kernel_h - 1) * geometry.dilation_h
            and geometry.pad_w <= (geometry.kernel_w - 1) * geometry.dilation_w)


@njit(cache=True)
def phase_layout(geometry, image_count):
    """The :data:`PhaseLayout` of a task of ``image_count`` images."""
    plane_h, plane_w = plane_shape(geometry)
    plane_size = plane_h * plane_w
    phase_size = image_count * plane_size
    start = np.empty((geometry.kernel_h, geometry.kernel_w), dtype=np.int64)
    for i in range(geometry.kernel_h):
        for j in range(geometry.kernel_w):
            row, col = i * geometry.dilation_h, j * geometry.dilation_w
            phase = (row % geometry.stride_h) * geometry.stride_w + col % geometry.stride_w
            start[i, j] = phase * phase_size + (row // geometry.stride_h) * plane_w + col // geometry.stride_w
    positions = (image_count - 1) * plane_size + geometry.out_h * plane_w
    buffer_size = max(geometry.stride_h * geometry.stride_w * phase_size, start.max() + positions)
    return PhaseLayout(plane_size, plane_w, phase_size, start, positions, buffer_size)


# At stride 2 a padded row's pixels alternate between two phase planes. Written as one loop over
# pairs of pixels with the constant 2 in its indices (rather than one strided pass per phase, the
# stride known only at run time), LLVM reads each pair with vector loads and shuffles: measured
# on 2 cores, 32 x 64ch x 32x32, groups 4 (the default model's stage 2): the copy into the phases
# 1.47 -> 0.60 ms (it was half of the forward); forward + both gradients 9.0 -> 5.7 ms.
# They are inlined (``inline="always"``): a call per row of 16 or 32 pixels cost more than the
# row. Measured, the default model's training step at batch 32 against calls: 1.070x (median of
# 40 alternating bursts, benchmarks/compare_checkouts.py).


@njit(cache=True, inline="always")
def _starts_of_two_phases(row_start, pad_w, phase_size):
    """Where source pixel 0 and source pixel 1 of a row land at stride 2 (padded columns
    q + pad_w: even ones in phase 0, odd ones in phase 1, at column (q + pad_w) // 2)."""
    even_start = row_start + (pad_w % 2) * phase_size + pad_w // 2
    odd_start = row_start + ((pad_w + 1) % 2) * phase_size + (pad_w + 1) // 2
    return even_start, odd_start


@njit(cache=True, inline="always")
def split_row_in_two(row, evens, odds):
    """``evens[t] = row[2*t]`` and ``odds[t] = row[2*t + 1]``."""
    for t in range(row.shape[0] // 2):
        evens[t] = row[2 * t]
        odds[t] = row[2 * t + 1]
    if row.shape[0] % 2:
        evens[row.shape[0] // 2] = row[row.shape[0] - 1]


@njit(cache=True, inline="always")
def join_two_phases(evens, odds, row):
    """``row[2*t] = evens[t]`` and ``row[2*t + 1] = odds[t]``: the inverse of :func:`split_row_in_two`."""
    for t in range(row.shape[0] // 2):
        row[2 * t] = evens[t]
        row[2 * t + 1] = odds[t]
    if row.shape[0] % 2:
        row[row.shape[0] - 1] = evens[row.shape[0] // 2]


# The four copies below move a task's images (n = first_image + m, m < image_count) between the
# (N, C, H, W) arrays and the task's buffers, where image m starts at offset m*plane_size.
# Their inner loops copy between row slices indexed from 0 (``buffer_row[q] = row[q]``), never at
# a run-time offset (``buffer[c, start + q]``): Numba wraps negative indices around, and LLVM,
# unable to prove that ``start + q`` is never negative, keeps that test in the loop and does not
# vectorise it. Measured, one thread, 32 x 32ch x 32x32 copied into 33-wide rows: 0.72 -> 0.13 ms.


@njit(cache=True)
def copy_into_phases(source, first_image, image_count, first_channel, buffer, layout, geometry):
    """``buffer[c, (a*sw + b)*phase_size + m*plane_size + u*Wq + v] = xp[n, first_channel + c, u*sh + a, v*sw + b]``
    for the pixels of each image (xp: ``source`` zero-padded); the padding is already zero."""
    height, width = source.shape[2], source.shape[3]
    pad_h, pad_w, stride_h, stride_w = geometry.pad_h, geometry.pad_w, geometry.stride_h, geometry.stride_w
    plane_w, phase_size = layout.plane_w, layout.phase_size
    for m in range(image_count):
        n, offset = first_image + m, m * layout.plane_size
        if stride_h == stride_w == 1:  # one phase: the padded image itself (the common case, kept simple and fast)
            for c in range(buffer.shape[0]):
                for p in range(height):
                    start = offset + (p + pad_h) * plane_w + pad_w
                    row, buffer_row = source[n, first_channel + c, p], buffer[c, start : start + width]  # indexed from 0: see above
                    for q in range(width):
                        buffer_row[q] = row[q]
            continue
        for c in range(buffer.shape[0]):
            for p in range(height):
                row = p + pad_h
                row_start = (row % stride_h) * stride_w * phase_size + offset + (row // stride_h) * plane_w
                if stride_w == 2:  # ResNeXt's only stride: split the row in one pass, see split_row_in_two
                    even_start, odd_start = _starts_of_two_phases(row_start, pad_w, phase_size)
                    split_row_in_two(source[n, first_channel + c, p], buffer[c, even_start:], buffer[c, odd_start:])
                    continue
                for b in range(stride_w):
                    # padded columns v*sw + b that hold a pixel: source columns q = v*sw + b - pad_w
                    first_v, end_v = max(0, -(-(pad_w - b) // stride_w)), (width - 1 + pad_w - b) // stride_w + 1
                    start = row_start + b * phase_size
                    for v in range(first_v, end_v):
                        buffer[c, start + v] = source[n, first_channel + c, p, v * stride_w + b - pad_w]


@njit(cache=True)
def copy_from_phases(buffer, dest, first_image, image_count, first_channel, layout, geometry):
    """``dest[n, first_channel + c, p, q] = buffer[c, ...]``: the inverse of :func:`copy_into_phases`,
    dropping the padding."""
    height, width = dest.shape[2], dest.shape[3]
    pad_h, pad_w, stride_h, stride_w = geometry.pad_h, geometry.pad_w, geometry.stride_h, geometry.stride_w
    for m in range(image_count):
        for c in range(buffer.shape[0]):
            for p in range(height):
                row = p + pad_h
                row_start = (row % stride_h) * stride_w * layout.phase_size + m * layout.plane_size + (row // stride_h) * layout.plane_w
                if stride_w == 2:
                    even_start, odd_start = _starts_of_two_phases(row_start, pad_w, layout.phase_size)
                    join_two_phases(buffer[c, even_start:], buffer[c, odd_start:], dest[first_image + m, first_channel + c, p])
                    continue
                for q in range(width):
                    col = q + pad_w
                    dest[first_image + m, first_channel + c, p, q] = buffer[c, row_start + (col % stride_w) * layout.phase_size + col // stride_w]


@njit(cache=True)
def copy_to_row_pitch(source, first_image, image_count, first_channel, channels, flat, layout):
    """``flat[c, m*plane_size + y*Wq + x] = source[n, first_channel + c, y, x]`` for c <
    ``channels``: output-sized planes, with rows at the phases' pitch Wq."""
    height, width = source.shape[2], source.shape[3]
    for m in range(image_count):
        for c in range(channels):
            for y in range(height):
                start = m * layout.plane_size + y * layout.plane_w
                source_row, flat_row = source[first_image + m, first_channel + c, y], flat[c, start : start + width]
                for x in range(width):
                    flat_row[x] = source_row[x]


@njit(cache=True)
def copy_from_row_pitch(flat, dest, first_image, image_count, first_channel, channels, layout):
    """``dest[n, first_channel + c, y, x] = flat[c, m*plane_size + y*Wq + x]`` for c <
    ``channels``: the inverse of :func:`copy_to_row_pitch`, dropping the garbage positions."""
    height, width = dest.shape[2], dest.shape[3]
    for m in range(image_count):
        for c in range(channels):
            for y in range(height):
                flat_row, dest_row = flat[c, m * layout.plane_size + y * layout.plane_w :], dest[first_image + m, first_channel + c, y]
                for x in range(width):
                    dest_row[x] = flat_row[x]
