"""The direct loops' innermost kernels: four filters and a whole kernel row per pass (register blocking).

Written one tap at a time, the direct loop ``out_flat[o, k] += w[o, c, i, j] * buffer[c, start(i, j) + k]``
loads and stores every output value once per multiply-add, and the memory traffic, not the
arithmetic, sets its speed. So these kernels take FILTER_BLOCK = 4 filters and a whole kernel
row at once: each output value is loaded and stored once per kernel row, each input value loaded
once for four filters (for a 3-wide row: 12 multiply-adds per 7 loads and 4 stores, instead of 1
per 2 loads and 1 store). Measured on one core, forward of 64 x 128ch x 32x32, groups 32: 26 ms
one tap at a time, 8 ms blocked. Four is the best count on an AVX2 machine (2 cores, forward of
the default model's three grouped shapes and of 64 x 256-512ch x 16x16-8x8, groups 32): 2, 3 and 8
filters per pass took 1.04-1.10x, 0.99-1.09x and 1.12-1.29x the time of four (eight filters'
24 weights and 8 outputs are more values than AVX2's 16 vector registers hold). Each group's
filters are padded with zero filters to a multiple of four, so no loop has a remainder (a
depthwise conv, Og = 1, thus does 4x the arithmetic it needs).

They are inlined into the direct loops' tasks (``inline="always"``): a call per kernel row cost
more than the row itself on small images (64 x 512ch x 8x8: 28 ms called, 11 ms inlined, one core).
"""

from numba import njit

FILTER_BLOCK = 4

# In each kernel the innermost loop over ``k`` runs over 1-D contiguous slices, one per tap:
# that is the form LLVM turns into SIMD code. (Indexing 2-D arrays, or one slice at offsets
# known only at run time, stayed scalar: LLVM could not prove that the taps do not overlap the
# outputs. Measured 4x slower.)


@njit(cache=True, inline="always")
def add_kernel_row(out_flat, o, w, c, i, phases_c, start):
    """``out_flat[o + b, k] += sum_j w[o + b, c, i, j] * phases_c[start[j] + k]`` for the four
    filters b = 0..3 and every position k (kernel row i of channel c)."""
    positions = out_flat.shape[1]
    out0, out1, out2, out3 = out_flat[o], out_flat[o + 1], out_flat[o + 2], out_flat[o + 3]
    if w.shape[3] == 3:
        # The usual 3-wide kernel row, written out.
        tap0 = phases_c[start[0] : start[0] + positions]
        tap1 = phases_c[start[1] : start[1] + positions]
        tap2 = phases_c[start[2] : start[2] + positions]
        a0, a1, a2 = w[o, c, i, 0], w[o, c, i, 1], w[o, c, i, 2]
        b0, b1, b2 = w[o + 1, c, i, 0], w[o + 1, c, i, 1], w[o + 1, c, i, 2]
        c0, c1, c2 = w[o + 2, c, i, 0], w[o + 2, c, i, 1], w[o + 2, c, i, 2]
        d0, d1, d2 = w[o + 3, c, i, 0], w[o + 3, c, i, 1], w[o + 3, c, i, 2]
        for k in range(positions):
            s0, s1, s2 = tap0[k], tap1[k], tap2[k]
            out0[k] += a0 * s0 + a1 * s1 + a2 * s2
            out1[k] += b0 * s0 + b1 * s1 + b2 * s2
            out2[k] += c0 * s0 + c1 * s1 + c2 * s2
            out3[k] += d0 * s0 + d1 * s1 + d2 * s2
    else:
        # Any other width: one tap at a time, still four filters per input load.
        for j in range(w.shape[3]):
            tap = phases_c[start[j] : start[j] + positions]
            a, b, c_, d = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
            for k in range(positions):
                s = tap[k]
                out0[k] += a * s
                out1[k] += b * s
                out2[k] += c_ * s
                out3[k] += d * s


# A sum is a chain of dependent additions; only if it may reorder them ("reassoc") does LLVM
# split these dot products over SIMD lanes, which makes them ~10x faster (1.1 -> 0.1 ns per
# float32 element, measured). Results change only by rounding (float64 tests still agree with
# the reference to 1e-12). The only other flag, the tasks' "contract" (fused multiply-adds,
# :data:`minigrad.kernels.conv.direct.FUSED_MULTIPLY_ADD`), keeps NaN and inf as IEEE says too.
# (Inlined code takes its caller's flags, so the grad_weight task carries the flag too.)
@njit(cache=True, inline="always", fastmath={"reassoc"})
def dot_kernel_row(grad_w, o, c, i, phases_c, start, grad_out_flat):
    """``grad_w[o + b, c, i, j] = sum_k phases_c[start[j] + k] * grad_out_flat[o + b, k]`` for the
    four filters b = 0..3 and every j: the dot products of :func:`add_kernel_row`'s inputs with
    the output gradient, all in one pass over k."""
    positions = grad_out_flat.shape[1]
    gy0, gy1, gy2, gy3 = grad_out_flat[o], grad_out_flat[o + 1], grad_out_flat[o + 2], grad_out_flat[o + 3]
    zero = grad_out_flat.dtype.type(0)
    if grad_w.shape[3] == 3:
        tap0 = phases_c[start[0] : start[0] + positions]
        tap1 = phases_c[start[1] : start[1] + positions]
        tap2 = phases_c[start[2] : start[2] + positions]
        a0, a1, a2, b0, b1, b2 = zero, zero, zero, zero, zero, zero
        c0, c1, c2, d0, d1, d2 = zero, zero, zero, zero, zero, zero
        for k in range(positions):
            s0, s1, s2 = tap0[k], tap1[k], tap2[k]
            y0, y1, y2, y3 = gy0[k], gy1[k], gy2[k], gy3[k]
            a0, a1, a2 = a0 + s0 * y0, a1 + s1 * y0, a2 + s2 * y0
            b0, b1, b2 = b0 + s0 * y1, b1 + s1 * y1, b2 + s2 * y1
            c0, c1, c2 = c0 + s0 * y2, c1 + s1 * y2, c2 + s2 * y2
            d0, d1, d2 = d0 + s0 * y3, d1 + s1 * y3, d2 + s2 * y3
        grad_w[o, c, i, 0], grad_w[o, c, i, 1], grad_w[o, c, i, 2] = a0, a1, a2
        grad_w[o + 1, c, i, 0], grad_w[o + 1, c, i, 1], grad_w[o + 1, c, i, 2] = b0, b1, b2
        grad_w[o + 2, c, i, 0], grad_w[o + 2, c, i, 1], grad_w[o + 2, c, i, 2] = c0, c1, c2
        grad_w[o + 3, c, i, 0], grad_w[o + 3, c, i, 1], grad_w[o + 3, c, i, 2] = d0, d1, d2
    else:
        for j in range(grad_w.shape[3]):
            tap = phases_c[start[j] : start[j] + positions]
            a, b, c_, d = zero, zero, zero, zero
            for k in range(positions):
                s = tap[k]
                a += s * gy0[k]
                b += s * gy1[k]
                c_ += s * gy2[k]
                d += s * gy3[k]
            grad_w[o, c, i, j], grad_w[o + 1, c, i, j], grad_w[o + 2, c, i, j], grad_w[o + 3, c, i, j] = a, b, c_, d


@njit(cache=True, inline="always")
def add_back_to_tap(grad_tap, o, w, c, i, j, grad_out_flat):
    """``grad_tap[k] += sum_b w[o + b, c, i, j] * grad_out_flat[o + b, k]`` for the four filters
    b = 0..3: what tap (i, j) of channel c passed on to those filters, sent back."""
    gy0, gy1, gy2, gy3 = grad_out_flat[o], grad_out_flat[o + 1], grad_out_flat[o + 2], grad_out_flat[o + 3]
    a, b, c_, d = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
    for k in range(grad_tap.shape[0]):
        grad_tap[k] += a * gy0[k] + b * gy1[k] + c_ * gy2[k] + d * gy3[k]


@njit(cache=True, inline="always")
def add_back_to_four_taps(grad_buffer, c, begin, o, w, i, j, grad_out_flat):
    """:func:`add_back_to_tap` for four channels c..c+3 at once (their taps start at ``begin``):
    ``grad_buffer[c + q, begin + k] += sum_b w[o + b, c + q, i, j] * grad_out_flat[o + b, k]``.
    Each output-gradient value loaded serves four channels instead of one: 16 multiply-adds per
    4 loads of it and 4 loads and stores of the taps, instead of 4 per 4 and 1 + 1. Measured on
    2 cores, grad input of 32 x 64ch x 32x32, groups 4, stride 2: 4.7 -> 3.8 ms; 32 x 128ch x
    16x16: 4.1 -> 3.2 ms."""
    positions = grad_out_flat.shape[1]
    tap0, tap1 = grad_buffer[c, begin : begin + positions], grad_buffer[c + 1, begin : begin + positions]
    tap2, tap3 = grad_buffer[c + 2, begin : begin + positions], grad_buffer[c + 3, begin : begin + positions]
    gy0, gy1, gy2, gy3 = grad_out_flat[o], grad_out_flat[o + 1], grad_out_flat[o + 2], grad_out_flat[o + 3]
    a0, a1, a2, a3 = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
    b0, b1, b2, b3 = w[o, c + 1, i, j], w[o + 1, c + 1, i, j], w[o + 2, c + 1, i, j], w[o + 3, c + 1, i, j]
    c0, c1, c2, c3 = w[o, c + 2, i, j], w[o + 1, c + 2, i, j], w[o + 2, c + 2, i, j], w[o + 3, c + 2, i, j]
    d0, d1, d2, d3 = w[o, c + 3, i, j], w[o + 1, c + 3, i, j], w[o + 2, c + 3, i, j], w[o + 3, c + 3, i, j]
    for k in range(positions):
        y0, y1, y2, y3 = gy0[k], gy1[k], gy2[k], gy3[k]
        tap0[k] += a0 * y0 + a1 * y1 + a2 * y2 + a3 * y3
        tap1[k] += b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3
        tap2[k] += c0 * y0 + c1 * y1 + c2 * y2 + c3 * y3
        tap3[k] += d0 * y0 + d1 * y1 + d2 * y2 + d3 * y3
