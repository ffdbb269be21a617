"""``im2col`` and ``col2im`` as CUDA kernels: one thread per element they write.

Same layout as :mod:`minigrad.kernels.reference` and :mod:`minigrad.kernels.im2col`::

    columns[g, (c*kh + i)*kw + j, (n*oh + p)*ow + q] = xp[n, g*Cg + c, p*sh + i*dh, q*sw + j*dw]

with ``xp`` the input zero-padded by ``(ph, pw)``: row = (in-group channel c, tap (i, j)),
column = output pixel (n, p, q).

On the CPU, ``col2im`` is ``im2col``'s loop with ``=`` turned into ``+=``. On a GPU that mirror
image would be a race: thousands of threads adding into the same input pixel at once. So
``col2im_kernel`` turns the loop inside out: one thread per *input pixel*, which finds every
column entry that was copied from it and sums them. No two threads write the same place.

Each kernel has a host function beside it (``im2col``, ``col2im``: NumPy in, NumPy out) and a
device function (``im2col_on_device``, ...: device arrays in and out, no copies), which the
convolution in :mod:`minigrad.kernels.cuda.conv` chains without leaving the GPU.
"""

from numba import cuda

from minigrad.kernels.cuda.device import arrays_to_device, flat_launch, kernel_geometry


@cuda.jit
def im2col_kernel(image, columns, geometry):
    """Fill ``columns (G, Cg*kh*kw, N*oh*ow)`` from ``image (N, C, H, W)``.

    Thread mapping: one flat index per element of ``columns``, in memory order, so the 32 threads
    of a warp write 32 neighbouring columns (output pixels) of one row: coalesced stores, and for
    stride 1 the loads from ``image`` are neighbours too.
    """
    # BEGIN SOLUTION t09_cuda_kernel
    rows = geometry.in_channels_per_group * geometry.kernel_h * geometry.kernel_w
    cols = geometry.batch * geometry.out_h * geometry.out_w
    for index in range(cuda.grid(1), geometry.groups * rows * cols, cuda.gridsize(1)):
        # index = (group*rows + row)*cols + column
        column = index % cols
        row = (index // cols) % rows
        group = index // (cols * rows)
        # column = (n*oh + p)*ow + q: the output pixel
        q = column % geometry.out_w
        p = (column // geometry.out_w) % geometry.out_h
        n = column // (geometry.out_w * geometry.out_h)
        # row = (c*kh + i)*kw + j: in-group channel and kernel tap
        j = row % geometry.kernel_w
        i = (row // geometry.kernel_w) % geometry.kernel_h
        c = row // (geometry.kernel_w * geometry.kernel_h)
        # the input pixel this tap of this output pixel reads (padding shifts it by -pad)
        h = p * geometry.stride_h - geometry.pad_h + i * geometry.dilation_h
        w = q * geometry.stride_w - geometry.pad_w + j * geometry.dilation_w
        if 0 <= h < geometry.in_h and 0 <= w < geometry.in_w:
            columns[group, row, column] = image[n, group * geometry.in_channels_per_group + c, h, w]
        else:
            columns[group, row, column] = 0  # a tap that falls on the zero padding
    # END SOLUTION


@cuda.jit
def col2im_kernel(columns, image, geometry):
    """Sum ``columns (G, Cg*kh*kw, N*oh*ow)`` back into ``image (N, C, H, W)``.

    Thread mapping: one flat index per element ``(n, channel, h, w)`` of ``image``; that thread
    alone writes it. Tap ``i`` of output row ``p`` reads input row ``h = p*sh - ph + i*dh``, so
    for each tap the thread solves for ``p = (h + ph - i*dh) / sh`` and keeps it only when the
    division is exact and ``0 <= p < oh`` (likewise ``q`` for the columns).
    """
    total = cuda.local.array(1, dtype=image.dtype)  # a running sum in the image's own dtype
    for index in range(cuda.grid(1), image.size, cuda.gridsize(1)):
        w = index % geometry.in_w
        h = (index // geometry.in_w) % geometry.in_h
        channel = (index // (geometry.in_w * geometry.in_h)) % geometry.in_channels
        n = index // (geometry.in_w * geometry.in_h * geometry.in_channels)
        group = channel // geometry.in_channels_per_group
        c = channel % geometry.in_channels_per_group
        total[0] = 0
        for i in range(geometry.kernel_h):
            p_times_stride = h + geometry.pad_h - i * geometry.dilation_h
            if p_times_stride < 0 or p_times_stride % geometry.stride_h != 0:
                continue
            p = p_times_stride // geometry.stride_h
            if p >= geometry.out_h:
                continue
            for j in range(geometry.kernel_w):
                q_times_stride = w + geometry.pad_w - j * geometry.dilation_w
                if q_times_stride < 0 or q_times_stride % geometry.stride_w != 0:
                    continue
                q = q_times_stride // geometry.stride_w
                if q >= geometry.out_w:
                    continue
                row = (c * geometry.kernel_h + i) * geometry.kernel_w + j
                column = (n * geometry.out_h + p) * geometry.out_w + q
                total[0] += columns[group, row, column]
        image[n, channel, h, w] = total[0]


def im2col_on_device(image, geom):
    """Device array ``(N, C, H, W)`` -> new device array ``geom.col_shape``."""
    columns = cuda.device_array(geom.col_shape, dtype=image.dtype)
    blocks, threads = flat_launch(columns.size)
    im2col_kernel[blocks, threads](image, columns, kernel_geometry(geom))
    return columns


def col2im_on_device(columns, geom):
    """Device array ``geom.col_shape`` -> new device array ``geom.input_shape``."""
    image = cuda.device_array(geom.input_shape, dtype=columns.dtype)
    blocks, threads = flat_launch(image.size)
    col2im_kernel[blocks, threads](columns, image, kernel_geometry(geom))
    return image


def im2col(x, geom):
    """``(N, C, H, W) -> (G, Cg*kh*kw, N*oh*ow)`` on the GPU: NumPy in, NumPy out."""
    (x,) = arrays_to_device(x=(x, geom.input_shape))
    return im2col_on_device(x, geom).copy_to_host()


def col2im(cols, geom):
    """``(G, Cg*kh*kw, N*oh*ow) -> (N, C, H, W)`` on the GPU: the adjoint of :func:`im2col`."""
    (cols,) = arrays_to_device(cols=(cols, geom.col_shape))
    return col2im_on_device(cols, geom).copy_to_host()
