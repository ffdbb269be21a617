"""The CPU convolution (minigrad/kernels/conv/): every algorithm, forced with ``conv_algorithm``,
against hand-worked numbers, the NumPy reference and PyTorch when installed; the rule that
chooses between them; refusals; threads."""

import os
import select
import signal
import threading

import numpy as np
import pytest
from conv_cases import CASES, make_case

from minigrad.kernels import blas, conv, reference
from minigrad.kernels.conv import direct, im2col_matmul, phases, pointwise_prange
from minigrad.kernels.conv.selection import ALGORITHMS, conv_algorithm
from minigrad.kernels.conv_geometry import ConvGeometry

pytestmark = pytest.mark.kernels


TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}

T05, T06 = pytest.mark.t05_grouped_conv_forward, pytest.mark.t06_conv_backward
T11 = pytest.mark.t11_pointwise_conv  # pointwise: forward and gradients are one task

# What "auto" gives a 1x1 convolution: its products on Numba's threads where NumPy's BLAS can be
# called from Numba (here, with NumPy's wheels), else the pointwise chapter on Python threads.
ONE_BY_ONE = "pointwise_prange" if blas.gemm(np.float64) is not None else "pointwise"
NEEDS_BLAS_FROM_NUMBA = pytest.mark.skipif(ONE_BY_ONE != "pointwise_prange", reason="NumPy's BLAS cannot be called from Numba here")


def every_algorithm(task_marker):
    """Parametrize ``algorithm`` over the algorithms. im2col + matmul is classroom tasks t05
    (forward) and t06 (gradients): its runs carry `task_marker`; pointwise runs are task t11."""
    return pytest.mark.parametrize(
        "algorithm",
        [pytest.param("im2col", marks=task_marker), pytest.param("pointwise", marks=T11),
         pytest.param("pointwise_prange", marks=NEEDS_BLAS_FROM_NUMBA), "shifted", "direct"],
    )


def where_applicable(task_marker, cases=CASES):
    """Parametrize ``case, algorithm`` over every (case, algorithm) pair where the algorithm
    computes that case (which ones, test_which_algorithms_apply checks); im2col runs carry
    `task_marker`, pointwise runs task t11's marker."""
    params = []
    for index, case in enumerate(cases):
        geom = make_case(case)[3]
        for algorithm in conv.ALGORITHMS:
            if computes(algorithm, geom):
                marks = {"im2col": [task_marker], "pointwise": [T11]}.get(algorithm, [])
                params.append(pytest.param(case, algorithm, marks=marks, id=f"{algorithm}-case{index}"))
    return pytest.mark.parametrize("case, algorithm", params)


def assert_close(actual, expected, dtype):
    """Agreement relative to the largest entry (sums of products cancel, so per-element
    relative error is meaningless near zero)."""
    assert actual.dtype == dtype and actual.shape == expected.shape
    tolerance = TOLERANCE[dtype] * max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


def assert_all_three_match_reference(x, weight, grad_out, geom):
    dtype = x.dtype.type
    assert_close(conv.conv2d_forward(x, weight, geom), reference.conv2d_forward(x, weight, geom), dtype)
    assert_close(conv.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom), dtype)
    assert_close(conv.conv2d_grad_weight(x, grad_out, geom), reference.conv2d_grad_weight(x, grad_out, geom), dtype)


def computes(algorithm, geom):
    return conv.ALGORITHMS[algorithm].cannot_compute(geom) is None


@pytest.mark.parametrize("case", [(2, 8, 7, 6, 8, 2, (3, 3), 2, 1, 1), (2, 12, 9, 7, 4, 2, (3, 2), (2, 3), (1, 0), 1)],
                         ids=["4 channels per group", "6 channels per group"])
def test_strided_direct_gradients_take_four_channels_at_once_and_then_the_rest(case):
    """At stride > 1 the direct grad_input sends back four channels per pass (``add_back_to_four_taps``)
    and the channels left over one at a time: 4 = one pass, 6 = one pass and two single channels."""
    x, weight, grad_out, geom = make_case(case)
    with conv_algorithm("direct"):
        assert_all_three_match_reference(x, weight, grad_out, geom)


@every_algorithm(T06)
def test_by_hand(algorithm):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).reshape(1, 1, 3, 3)
    weight = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    geom = ConvGeometry.from_shapes(x.shape, weight.shape)
    if algorithm.startswith("pointwise"):  # a 1x1 kernel: out = 2 * x, dx = 2 * dy, dw = sum(x * dy)
        weight, geom = np.full((1, 1, 1, 1), 2.0), ConvGeometry.from_shapes(x.shape, (1, 1, 1, 1))
        expected_out, grad_out, expected_grad_x, expected_grad_w = 2 * x, np.ones_like(x), np.full_like(x, 2.0), [[[[45.0]]]]
    else:
        # top-left output: 1*1 + 2*2 + 3*4 + 4*5 = 37, and so on across the four 2x2 windows.
        expected_out = np.array([[37.0, 47.0], [67.0, 77.0]]).reshape(1, 1, 2, 2)
        grad_out = np.ones((1, 1, 2, 2))
        # Input pixel (a, b) collects w[i, j] for every tap that reads it.
        expected_grad_x = np.array([[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]).reshape(1, 1, 3, 3)
        # dL/dw[i, j] is the sum of the 2x2 input block that tap (i, j) reads.
        expected_grad_w = np.array([[12.0, 16.0], [24.0, 28.0]]).reshape(1, 1, 2, 2)
    with conv_algorithm(algorithm):
        np.testing.assert_array_equal(conv.conv2d_forward(x, weight, geom), expected_out)
        np.testing.assert_array_equal(conv.conv2d_grad_input(grad_out, weight, geom), expected_grad_x)
        np.testing.assert_array_equal(conv.conv2d_grad_weight(x, grad_out, geom), expected_grad_w)


@where_applicable(T05)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_matches_reference(case, dtype, algorithm):
    x, weight, _, geom = make_case(case, dtype)
    with conv_algorithm(algorithm):
        assert_close(conv.conv2d_forward(x, weight, geom), reference.conv2d_forward(x, weight, geom), dtype)


@where_applicable(T06)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradients_match_reference(case, dtype, algorithm):
    x, weight, grad_out, geom = make_case(case, dtype)
    with conv_algorithm(algorithm):
        assert_close(conv.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom), dtype)
        assert_close(conv.conv2d_grad_weight(x, grad_out, geom), reference.conv2d_grad_weight(x, grad_out, geom), dtype)


@where_applicable(T06)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_gives_the_gradients_asked_for(case, dtype, algorithm):
    """``conv2d_backward`` (what Conv2d.backward calls; the pointwise chapter computes both
    gradients in one pass) gives each gradient asked for, and None for one not asked for."""
    x, weight, grad_out, geom = make_case(case, dtype)
    expected = reference.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_weight(x, grad_out, geom)
    with conv_algorithm(algorithm):
        for asked in [(True, True), (True, False), (False, True), (False, False)]:
            for gradient, wanted, is_asked in zip(conv.conv2d_backward(x, grad_out, weight, geom, *asked), expected, asked):
                if is_asked:
                    assert_close(gradient, wanted, dtype)
                else:
                    assert gradient is None


@pytest.mark.parametrize("case", CASES)
def test_which_algorithms_apply(case):
    """im2col and direct compute every case, shifted those at stride 1, pointwise the 1x1 ones
    without padding, and pointwise_prange those too where it finds NumPy's BLAS: so
    where_applicable leaves out only what it should."""
    geom = make_case(case)[3]
    assert computes("im2col", geom) and computes("direct", geom)
    assert computes("shifted", geom) == (geom.stride_h == geom.stride_w == 1)
    assert computes("pointwise", geom) == ((geom.kernel_h, geom.kernel_w, geom.pad_h, geom.pad_w) == (1, 1, 0, 0))
    assert computes("pointwise_prange", geom) == (computes("pointwise", geom) and ONE_BY_ONE == "pointwise_prange")


@pytest.mark.parametrize(
    "algorithm, case, because",
    [
        ("pointwise", CASES[0], "needs a 1x1 kernel, and this one is 3x3"),
        ("pointwise", CASES[7], r"needs padding 0, and this convolution has padding \(1, 1\)"),
        ("pointwise_prange", CASES[0], "needs a 1x1 kernel, and this one is 3x3"),
        ("shifted", CASES[3], r"needs stride 1 .* has stride \(2, 2\)"),
        ("shifted", CASES[4], r"needs stride 1 .* has stride \(2, 1\)"),
    ],
)
def test_refusals_say_why_and_which_algorithms_can(algorithm, case, because):
    x, weight, grad_out, geom = make_case(case)
    with conv_algorithm(algorithm):
        for call, arguments in [(conv.conv2d_forward, (x, weight)), (conv.conv2d_grad_input, (grad_out, weight)), (conv.conv2d_grad_weight, (x, grad_out))]:
            with pytest.raises(ValueError, match=f"'{algorithm}' cannot compute this convolution: it {because}") as error:
                call(*arguments, geom)
            assert "Algorithms that can: im2col" in str(error.value) and "direct" in str(error.value)


def test_unknown_algorithm_is_refused_with_the_names():
    with pytest.raises(ValueError, match="'winograd' is not an algorithm; choose one of auto, im2col, pointwise, pointwise_prange, shifted, direct"):
        with conv_algorithm("winograd"):
            pass
    assert ALGORITHMS == ("auto", *conv.ALGORITHMS)


def test_auto_is_choose_and_the_context_restores_what_was_there():
    x, weight, grad_out, geom = make_case((2, 4, 8, 8, 4, 2, (1, 1), 2, 0, 1))
    assert conv.algorithm_for(geom) == conv.choose(geom) == ONE_BY_ONE
    with conv_algorithm("direct"):
        assert conv.algorithm_for(geom) == "direct"
        with conv_algorithm("im2col"):
            assert conv.algorithm_for(geom) == "im2col"
        with conv_algorithm("auto"):
            assert conv.algorithm_for(geom) == ONE_BY_ONE
        assert conv.algorithm_for(geom) == "direct"
    assert conv.algorithm_for(geom) == ONE_BY_ONE


def test_choose_picks_an_algorithm_by_stride_groups_and_image_size():
    def choice(input_shape, weight_shape, **arguments):
        return conv.choose(ConvGeometry.from_shapes(input_shape, weight_shape, **arguments))

    assert choice((8, 128, 32, 32), (128, 4, 3, 3), padding=1, groups=32) == "direct"  # ResNeXt's grouped 3x3
    assert choice((8, 64, 16, 16), (64, 1, 3, 3), padding=1, groups=64) == "direct"  # depthwise
    assert choice((8, 64, 32, 32), (64, 64, 3, 3), padding=1) == "direct"  # dense, large image
    assert choice((8, 3, 32, 32), (64, 3, 3, 3), padding=1) == "direct"  # a network's stem
    assert choice((8, 512, 8, 8), (512, 16, 3, 3), padding=1, groups=32) == "direct"  # narrow groups, small image
    assert choice((8, 1024, 8, 8), (1024, 32, 3, 3), padding=1, groups=32) == "shifted"  # wide groups, small image
    assert choice((8, 128, 8, 8), (128, 128, 3, 3), padding=1) == "shifted"
    assert choice((8, 128, 15, 15), (128, 128, 3, 3), padding=1) == "shifted"  # 225 output pixels: below 16x16
    assert choice((8, 128, 16, 16), (128, 128, 3, 3), padding=1) == "direct"
    assert choice((8, 256, 32, 32), (256, 256, 1, 1)) == ONE_BY_ONE
    assert choice((8, 64, 32, 32), (64, 4, 1, 1), groups=16) == "direct"  # 1x1 with tiny groups
    assert choice((8, 64, 32, 32), (64, 64, 1, 1), padding=1) == "direct"  # a padded 1x1 is no pointwise conv
    assert choice((8, 128, 32, 32), (128, 4, 3, 3), stride=2, padding=1, groups=32) == "direct"  # narrow, strided
    assert choice((8, 128, 32, 32), (128, 32, 3, 3), stride=2, padding=1, groups=4) == "direct"
    assert choice((8, 128, 32, 32), (128, 64, 3, 3), stride=2, padding=1, groups=2) == "im2col"
    assert choice((8, 64, 32, 32), (128, 64, 3, 3), stride=2, padding=1) == "im2col"  # dense, strided
    assert choice((8, 256, 32, 32), (256, 256, 1, 1), stride=2) == ONE_BY_ONE
    assert choice((8, 64, 32, 32), (64, 4, 1, 1), stride=2, groups=16) == ONE_BY_ONE


@T06
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_runs_a_batch_in_several_column_blocks(dtype):
    """A batch larger than one COLUMN_BLOCK_BYTES block is cut into blocks; grad_weight must add
    up the contributions of all of them."""
    x, weight, grad_out, geom = make_case((1, 4, 32, 32, 6, 2, (3, 3), 1, 1, 1), dtype)
    images_per_block = im2col_matmul.COLUMN_BLOCK_BYTES // (geom.col_rows * geom.out_h * geom.out_w * x.itemsize)
    x, weight, grad_out, geom = make_case((2 * images_per_block + 1, 4, 32, 32, 6, 2, (3, 3), 1, 1, 1), dtype)
    assert len(im2col_matmul._image_blocks(geom, x.itemsize)) == 3
    with conv_algorithm("im2col"):
        assert_all_three_match_reference(x, weight, grad_out, geom)


@pytest.mark.parametrize("case", [(0, 4, 5, 6, 6, 2, (3, 3), 1, 1, 2), (0, 4, 7, 6, 6, 2, (3, 2), (2, 3), (1, 2), 1)], ids=["stride 1", "strided"])
def test_direct_loops_in_tasks_of_several_images(case):
    """A task lays several images one after another (in each stride phase): the positions
    between them are garbage to drop from the output and to leave out of both gradients. The
    batch here is one image more than two full tasks hold: three blocks, the last one smaller."""
    plane_h, plane_w = phases.plane_shape(make_case((1,) + case[1:])[3])
    batch = 2 * (direct.DIRECT_TASK_PIXELS // (plane_h * plane_w)) + 1
    x, weight, grad_out, geom = make_case((batch,) + case[1:])
    images = direct._images_per_task(geom)
    assert images > 1 and -(-batch // images) == 3 and batch % images != 0
    with conv_algorithm("direct"):
        assert_all_three_match_reference(x, weight, grad_out, geom)


@pytest.mark.parametrize("batch, images", [(32, 11), (43, 11), (64, 11), (12, 12), (13, 7), (1, 1)])
def test_direct_blocks_of_images_are_as_even_as_the_batch_allows(batch, images):
    """12 padded 8x8 planes (9x9 with shared padding) fit in a task; the batch is cut into the
    fewest blocks that hold it, split evenly (32 = 11 + 11 + 10, not 12 + 12
    + 8: ``prange`` gives each thread an equal count of tasks, so equal tasks balance the threads)."""
    geom = ConvGeometry.from_shapes((batch, 8, 8, 8), (8, 2, 3, 3), 1, 1, 1, 4)
    assert direct._images_per_task(geom) == images


@pytest.mark.parametrize("case, plane", [((5, 4, 5, 6, 6, 2, (3, 3), 1, 1, 1), (6, 7)), ((5, 4, 5, 6, 6, 2, (3, 3), 1, (3, 1), 1), (11, 8)),
                                         ((5, 4, 5, 6, 6, 2, (3, 3), 2, 1, 1), (4, 4))],
                         ids=["same: rows and images share their zeros", "rows past the kernel's reach do not", "stride 2 does not"])
def test_direct_layout_shares_padding_where_the_kernel_reaches_it(case, plane):
    """At stride 1, with padding <= (k-1)*d, a task's planes keep only their top and left padding
    (phases.py, "Shared padding"); each layout gives the reference's results for five images."""
    x, weight, grad_out, geom = make_case(case)
    assert phases.plane_shape(geom) == plane
    with conv_algorithm("direct"):
        assert_all_three_match_reference(x, weight, grad_out, geom)


@every_algorithm(T06)
def test_accepts_non_contiguous_arrays(algorithm):
    x, weight, grad_out, geom = make_case(CASES[1] if not algorithm.startswith("pointwise") else CASES[11])
    x_f, weight_f, grad_out_f = (np.asfortranarray(a) for a in (x, weight, grad_out))
    with conv_algorithm(algorithm):
        assert_close(conv.conv2d_forward(x_f, weight_f, geom), reference.conv2d_forward(x, weight, geom), np.float64)
        assert_close(conv.conv2d_grad_input(grad_out_f, weight_f, geom), reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
        assert_close(conv.conv2d_grad_weight(x_f, grad_out_f, geom), reference.conv2d_grad_weight(x, grad_out, geom), np.float64)


@pytest.mark.parametrize(
    "algorithm, case",
    [("im2col", (3, 4, 7, 6, 6, 2, (3, 3), 2, 1, 1)), ("pointwise", (3, 4, 7, 6, 6, 2, (1, 1), 2, 0, 1)),
     ("pointwise", (3, 4, 5, 6, 6, 2, (1, 1), 1, 0, 1)), ("shifted", (3, 4, 5, 6, 6, 2, (3, 3), 1, 1, 1))],
    ids=["im2col", "pointwise strided", "pointwise", "shifted"],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_algorithms_write_every_element_of_the_out_they_are_given(algorithm, case, threads):
    """A thread's slice of the batch is written in place (``out=``), never built and copied in: a
    result array filled with NaN first comes back exact, and through ``conv2d_*`` on two threads
    (slices of 2 and 1 images) too."""
    import minigrad

    x, weight, grad_out, geom = make_case(case)
    module = conv.ALGORITHMS[algorithm]
    out, grad_x = np.full(geom.output_shape, np.nan), np.full(geom.input_shape, np.nan)
    assert np.shares_memory(module.forward(x, weight, geom, out=out), out)
    assert np.shares_memory(module.grad_input(grad_out, weight, geom, out=grad_x), grad_x)
    assert_close(out, reference.conv2d_forward(x, weight, geom), np.float64)
    assert_close(grad_x, reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
    if algorithm == "pointwise":  # both gradients in one pass: dL/dx in place too
        grad_x[...] = np.nan
        assert np.shares_memory(module.gradients(x, grad_out, weight, geom, out=grad_x)[0], grad_x)
        assert_close(grad_x, reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        with conv_algorithm(algorithm):
            assert_all_three_match_reference(x, weight, grad_out, geom)
            grad_x, grad_weight = conv.conv2d_backward(x, grad_out, weight, geom)
            assert_close(grad_x, reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
            assert_close(grad_weight, reference.conv2d_grad_weight(x, grad_out, geom), np.float64)
    finally:
        minigrad.set_num_threads(before)


def test_rejects_wrong_shape():
    x, weight, grad_out, geom = make_case(CASES[0])
    with pytest.raises(ValueError, match=r"x has shape \(1, 4, 5, 6\), but the geometry expects \(2, 4, 5, 6\)"):
        conv.conv2d_forward(x[:1], weight, geom)
    with pytest.raises(ValueError, match="grad_out has shape"):
        conv.conv2d_grad_weight(x, grad_out[:, :1], geom)


@where_applicable(T06, cases=[CASES[1], CASES[3], CASES[4], CASES[8], CASES[12]])
def test_matches_torch(case, algorithm):
    torch = pytest.importorskip("torch")
    x, weight, grad_out, geom = make_case(case)
    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(weight, requires_grad=True)
    out_t = torch.nn.functional.conv2d(
        x_t, weight_t, None, (geom.stride_h, geom.stride_w), (geom.pad_h, geom.pad_w),
        (geom.dilation_h, geom.dilation_w), geom.groups,
    )  # fmt: skip
    out_t.backward(torch.tensor(grad_out))
    with conv_algorithm(algorithm):
        np.testing.assert_allclose(conv.conv2d_forward(x, weight, geom), out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(conv.conv2d_grad_input(grad_out, weight, geom), x_t.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(conv.conv2d_grad_weight(x, grad_out, geom), weight_t.grad.numpy(), rtol=1e-10, atol=1e-10)
        grad_x, grad_weight = conv.conv2d_backward(x, grad_out, weight, geom)
        np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grad_weight, weight_t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algorithm", ["im2col", "direct"])
def test_four_python_threads_at_once_get_what_serial_calls_get(algorithm):
    """Each thread runs its own convolutions (its own sizes, and its own conv_algorithm context)
    while the others run theirs, sharing the worker pool."""
    cases = [make_case((8, 8, 12, 12, 8, groups, (3, 3), stride, 1, 1), seed=seed) for seed, groups, stride in [(0, 1, 1), (1, 2, 2), (2, 4, 1), (3, 8, 2)]]

    def all_three(x, weight, grad_out, geom):
        with conv_algorithm(algorithm):
            return conv.conv2d_forward(x, weight, geom), conv.conv2d_grad_input(grad_out, weight, geom), conv.conv2d_grad_weight(x, grad_out, geom)

    serial = [all_three(*case) for case in cases]
    results, errors = [None] * 4, []

    def run(index):
        try:
            for _ in range(5):
                results[index] = all_three(*cases[index])
                for got, expected in zip(results[index], serial[index]):
                    np.testing.assert_array_equal(got, expected)
        except Exception as error:  # reported below, with the thread it came from
            errors.append((index, error))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(result is not None for result in results)
    with conv_algorithm(algorithm):  # the threads' contexts did not leak into this one
        assert conv.algorithm_for(cases[0][3]) == algorithm
    assert conv.algorithm_for(cases[0][3]) == conv.choose(cases[0][3])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_matmul_algorithms_work_in_a_forked_child():
    """The batch-slice thread pool must not hang a child forked after the parent used it."""
    x, weight, _, geom = make_case((4, 4, 6, 6, 6, 1, (3, 3), 2, 1, 1))
    expected = reference.conv2d_forward(x, weight, geom)
    with conv_algorithm("im2col"):
        conv.conv2d_forward(x, weight, geom)  # the parent's pool now exists
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: report 1 if the result is right, then leave at once
            ok = np.allclose(conv.conv2d_forward(x, weight, geom), expected)
            os.write(write_end, b"1" if ok else b"0")
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 60)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    answer = os.read(read_end, 1) if ready else b"(no answer in 60 s: hung)"
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"1", answer


@pytest.mark.parametrize("threads", [1, 2])
def test_a_matmul_kernel_that_returns_an_array_of_its_own_still_fills_the_batch(monkeypatch, threads):
    """A kernel written the first way (a new array returned, the out argument ignored), as a
    learner may write it or a spy wraps it, still gives the whole batch's result."""
    import minigrad

    x, weight, grad_out, geom = make_case((3, 4, 5, 6, 6, 2, (1, 1), 1, 0, 1))
    module = conv.ALGORITHMS["pointwise"]
    original_forward, original_grad_input, original_gradients = module.forward, module.grad_input, module.gradients
    monkeypatch.setattr(module, "forward", lambda x, weight, geom, out=None: original_forward(x, weight, geom))
    monkeypatch.setattr(module, "grad_input", lambda grad_out, weight, geom, *rest: original_grad_input(grad_out, weight, geom))
    monkeypatch.setattr(module, "gradients", lambda x, grad_out, weight, geom, out=None, **asked: original_gradients(x, grad_out, weight, geom, **asked))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        with conv_algorithm("pointwise"):
            assert_all_three_match_reference(x, weight, grad_out, geom)
            grad_x, grad_weight = conv.conv2d_backward(x, grad_out, weight, geom)
            assert_close(grad_x, reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
            assert_close(grad_weight, reference.conv2d_grad_weight(x, grad_out, geom), np.float64)
    finally:
        minigrad.set_num_threads(before)
