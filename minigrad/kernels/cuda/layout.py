"""Move between the image layout ``(N, O, oh, ow)`` and the column layout ``(G, Og, N*oh*ow)``.

Because ``O = G*Og`` channel-major, both are the same numbers in a different order: viewed as
3-D arrays, ``(N, O, oh*ow)`` and ``(O, N, oh*ow)``. So one kernel that swaps the two leading axes
of a 3-D array converts either way (the reshapes around it are free views).
"""

from numba import cuda

from minigrad.kernels.cuda.device import flat_launch


@cuda.jit
def swap_leading_axes_kernel(source, destination):
    """``destination[b, a, s] = source[a, b, s]``.

    Thread mapping: one flat index per element of ``destination``, in memory order; ``s`` varies
    fastest, so a warp reads and writes runs of neighbouring pixels.
    """
    inner = destination.shape[2]
    middle = destination.shape[1]
    for index in range(cuda.grid(1), destination.size, cuda.gridsize(1)):
        s = index % inner
        a = (index // inner) % middle
        b = index // (inner * middle)
        destination[b, a, s] = source[a, b, s]


def swap_leading_axes_on_device(source):
    """Device array ``(A, B, S)`` -> new device array ``(B, A, S)``."""
    first, second, inner = source.shape
    destination = cuda.device_array((second, first, inner), dtype=source.dtype)
    blocks, threads = flat_launch(destination.size)
    swap_leading_axes_kernel[blocks, threads](source, destination)
    return destination


def images_to_columns_on_device(images, groups):
    """``(N, O, oh, ow) -> (G, O/G, N*oh*ow)`` on the device."""
    batch, channels, height, width = images.shape
    swapped = swap_leading_axes_on_device(images.reshape(batch, channels, height * width))  # (O, N, oh*ow)
    return swapped.reshape(groups, channels // groups, batch * height * width)


def columns_to_images_on_device(columns, batch, height, width):
    """``(G, O/G, N*oh*ow) -> (N, O, oh, ow)`` on the device."""
    groups, channels_per_group, _ = columns.shape
    channels = groups * channels_per_group
    swapped = swap_leading_axes_on_device(columns.reshape(channels, batch, height * width))  # (N, O, oh*ow)
    return swapped.reshape(batch, channels, height, width)
