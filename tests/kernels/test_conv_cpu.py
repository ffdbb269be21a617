"""The CPU convolution kernels, every path (direct loops, shifted matmuls, im2col + matmul and
pointwise), against hand-worked numbers, the NumPy reference and PyTorch when installed."""

import os
import select
import signal

import numpy as np
import pytest

from minigrad.kernels import conv_cpu, reference
from minigrad.kernels.conv_geometry import ConvGeometry

pytestmark = pytest.mark.kernels

# (N, C, H, W, O, groups, (kh, kw), stride, padding, dilation)
CASES = [
    (2, 4, 5, 6, 6, 1, (3, 3), 1, 1, 1),  # dense
    (2, 4, 5, 6, 6, 2, (3, 3), 1, 1, 1),  # two groups
    (2, 4, 6, 5, 4, 4, (3, 3), 1, 1, 1),  # depthwise
    (1, 4, 7, 6, 8, 4, (3, 3), 2, 1, 1),  # depthwise x2 filters, stride 2, batch 1
    (2, 6, 7, 8, 4, 2, (2, 3), (2, 1), (0, 2), 1),  # non-square kernel, stride, padding
    (2, 4, 7, 7, 4, 2, (3, 3), 1, 2, 2),  # dilation 2, padding 2
    (1, 3, 5, 4, 5, 1, (1, 1), 1, 0, 1),  # 1x1
    (2, 4, 5, 5, 4, 2, (1, 1), 2, 1, 1),  # 1x1 with stride and padding
    (2, 2, 6, 9, 4, 2, (3, 2), (1, 2), (2, 0), (2, 1)),  # everything non-square
    (1, 8, 4, 4, 8, 4, (3, 3), 2, 2, 2),  # stride 2 with dilation 2
    (3, 2, 3, 3, 2, 1, (3, 3), 1, 0, 1),  # 1x1 output
    (2, 4, 7, 6, 6, 2, (1, 1), 2, 0, 1),  # 1x1 without padding (no im2col), stride 2, two groups
    (2, 6, 5, 7, 4, 2, (1, 1), (1, 3), 0, 2),  # 1x1 without padding, non-square stride, dilation
    (2, 4, 5, 6, 10, 2, (1, 3), 1, (1, 3), 1),  # padding past the kernel's reach (output borders see only zeros)
    (1, 10, 6, 6, 10, 2, (5, 5), 1, 2, 1),  # 5x5, 5 filters per group (not a multiple of four)
]

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(params=["direct", "shifted", "im2col"])
def path(request, monkeypatch):
    """Run the test once through each path, by moving the dispatcher's switches.

    "direct" sends every conv to the direct loops (but strided 1x1 convs without padding to the
    pointwise matmul), "shifted" every stride-1 conv with a kernel wider than 1x1-without-padding
    to the shifted matmuls, and "im2col" everything to the classic matmul paths: im2col +
    matmul, and for 1x1 kernels without padding the pointwise matmul. Those are classroom tasks
    t05 (forward) and t06 (gradients), so their runs carry the task's marker (see `all_paths`);
    the direct loops and shifted matmuls are not a task. Convolutions a path cannot compute
    (strides > 1 for the shifted matmuls) go where the dispatcher sends them.
    """
    send_to(request.param, monkeypatch)
    return request.param


def send_to(path, monkeypatch):
    """Move the dispatcher's switches so that convs go down ``path`` (see the `path` fixture)."""
    direct = path == "direct"
    monkeypatch.setattr(conv_cpu, "DIRECT_MAX_CHANNELS_PER_GROUP", 1 << 30 if direct else 0)
    monkeypatch.setattr(conv_cpu, "DIRECT_MAX_CHANNELS_PER_GROUP_STRIDED", 1 << 30 if direct else 0)
    monkeypatch.setattr(conv_cpu, "DIRECT_MIN_OUTPUT_PIXELS", 0 if direct else 1 << 30)
    monkeypatch.setattr(conv_cpu, "SHIFTED_MATMULS", path != "im2col")


T05, T06 = pytest.mark.t05_grouped_conv_forward, pytest.mark.t06_conv_backward


def all_paths(task_marker):
    """Parametrize `path` over every path; the im2col run is graded as `task_marker`."""
    return pytest.mark.parametrize("path", ["direct", "shifted", pytest.param("im2col", marks=task_marker)], indirect=True)


def make_case(case, dtype=np.float64, seed=0):
    batch, channels, height, width, out_channels, groups, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, height, width)).astype(dtype)
    weight = rng.standard_normal((out_channels, channels // groups) + kernel).astype(dtype)
    geom = ConvGeometry.from_shapes(x.shape, weight.shape, stride, padding, dilation, groups)
    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    return x, weight, grad_out, geom


def assert_close(actual, expected, dtype):
    """Agreement relative to the largest entry (sums of products cancel, so per-element
    relative error is meaningless near zero)."""
    assert actual.dtype == dtype and actual.shape == expected.shape
    tolerance = TOLERANCE[dtype] * max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


@all_paths(T06)
def test_by_hand(path):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).reshape(1, 1, 3, 3)
    weight = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    geom = ConvGeometry.from_shapes(x.shape, weight.shape)
    # top-left output: 1*1 + 2*2 + 3*4 + 4*5 = 37, and so on across the four 2x2 windows.
    expected_out = np.array([[37.0, 47.0], [67.0, 77.0]]).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(conv_cpu.conv2d_forward(x, weight, geom), expected_out)
    grad_out = np.ones((1, 1, 2, 2))
    # Input pixel (a, b) collects w[i, j] for every tap that reads it.
    expected_grad_x = np.array([[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(conv_cpu.conv2d_grad_input(grad_out, weight, geom), expected_grad_x)
    # dL/dw[i, j] is the sum of the 2x2 input block that tap (i, j) reads.
    expected_grad_w = np.array([[12.0, 16.0], [24.0, 28.0]]).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(conv_cpu.conv2d_grad_weight(x, grad_out, geom), expected_grad_w)


@all_paths(T05)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_reference(case, dtype, path):
    x, weight, _, geom = make_case(case, dtype)
    assert_close(conv_cpu.conv2d_forward(x, weight, geom), reference.conv2d_forward(x, weight, geom), dtype)


@all_paths(T06)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_reference(case, dtype, path):
    x, weight, grad_out, geom = make_case(case, dtype)
    assert_close(
        conv_cpu.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom), dtype
    )
    assert_close(
        conv_cpu.conv2d_grad_weight(x, grad_out, geom), reference.conv2d_grad_weight(x, grad_out, geom), dtype
    )


@T06
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[11]])
@pytest.mark.parametrize("images_per_block", [1, 2])
def test_im2col_path_in_blocks_of_images(case, dtype, images_per_block, monkeypatch):
    """Small column blocks split a batch of 5 into 1+1+1+1+1 or 2+2+1 images; grad_weight must
    add up the contributions of all blocks."""
    x, weight, grad_out, geom = make_case((5,) + case[1:], dtype)
    column_bytes_per_image = geom.col_rows * geom.out_h * geom.out_w * x.itemsize
    send_to("im2col", monkeypatch)
    monkeypatch.setattr(conv_cpu, "COLUMN_BLOCK_BYTES", images_per_block * column_bytes_per_image)
    assert len(conv_cpu._image_blocks(geom, x.itemsize)) == -(-5 // images_per_block)
    assert_close(conv_cpu.conv2d_forward(x, weight, geom), reference.conv2d_forward(x, weight, geom), dtype)
    assert_close(
        conv_cpu.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom), dtype
    )
    assert_close(
        conv_cpu.conv2d_grad_weight(x, grad_out, geom), reference.conv2d_grad_weight(x, grad_out, geom), dtype
    )


@pytest.mark.parametrize("images_per_task", [1, 2, 5])
@pytest.mark.parametrize(
    "case", [(5, 4, 5, 6, 6, 2, (3, 3), 1, 1, 2), (5, 4, 7, 6, 6, 2, (3, 2), (2, 3), (1, 2), 1)], ids=["stride 1", "strided"]
)
def test_direct_loops_in_tasks_of_several_images(case, images_per_task, monkeypatch):
    """A task lays several images one after another (in each stride phase): the positions
    between them are garbage to drop from the output and to leave out of both gradients. A
    batch of 5 runs as tasks of 1+1+1+1+1, 2+2+1 or 5 images."""
    x, weight, grad_out, geom = make_case(case)
    phase_pixels = -(-(geom.in_h + 2 * geom.pad_h) // geom.stride_h) * -(-(geom.in_w + 2 * geom.pad_w) // geom.stride_w)
    monkeypatch.setattr(conv_cpu, "DIRECT_TASK_PIXELS", images_per_task * phase_pixels)
    assert conv_cpu.path_name(geom) == "direct"
    assert_close(conv_cpu.conv2d_forward(x, weight, geom), reference.conv2d_forward(x, weight, geom), np.float64)
    assert_close(conv_cpu.conv2d_grad_input(grad_out, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
    assert_close(conv_cpu.conv2d_grad_weight(x, grad_out, geom), reference.conv2d_grad_weight(x, grad_out, geom), np.float64)


@all_paths(T06)
def test_accepts_non_contiguous_arrays(path):
    x, weight, grad_out, geom = make_case(CASES[1])
    x_f, weight_f, grad_out_f = (np.asfortranarray(a) for a in (x, weight, grad_out))
    assert_close(conv_cpu.conv2d_forward(x_f, weight_f, geom), reference.conv2d_forward(x, weight, geom), np.float64)
    assert_close(conv_cpu.conv2d_grad_input(grad_out_f, weight_f, geom), reference.conv2d_grad_input(grad_out, weight, geom), np.float64)
    assert_close(conv_cpu.conv2d_grad_weight(x_f, grad_out_f, geom), reference.conv2d_grad_weight(x, grad_out, geom), np.float64)


def test_dispatcher_picks_a_path_by_stride_groups_and_image_size():
    def path(input_shape, weight_shape, **arguments):
        return conv_cpu.path_name(ConvGeometry.from_shapes(input_shape, weight_shape, **arguments))

    assert path((8, 128, 32, 32), (128, 4, 3, 3), padding=1, groups=32) == "direct"  # ResNeXt's grouped 3x3
    assert path((8, 64, 16, 16), (64, 1, 3, 3), padding=1, groups=64) == "direct"  # depthwise
    assert path((8, 64, 32, 32), (64, 64, 3, 3), padding=1) == "direct"  # dense, large image
    assert path((8, 3, 32, 32), (64, 3, 3, 3), padding=1) == "direct"  # a network's stem
    assert path((8, 512, 8, 8), (512, 16, 3, 3), padding=1, groups=32) == "direct"  # narrow groups, small image
    assert path((8, 1024, 8, 8), (1024, 32, 3, 3), padding=1, groups=32) == "shifted"  # wide groups, small image
    assert path((8, 128, 8, 8), (128, 128, 3, 3), padding=1) == "shifted"
    assert path((8, 256, 32, 32), (256, 256, 1, 1)) == "pointwise"
    assert path((8, 64, 32, 32), (64, 4, 1, 1), groups=16) == "direct"  # 1x1 with tiny groups
    assert path((8, 128, 32, 32), (128, 4, 3, 3), stride=2, padding=1, groups=32) == "direct"  # narrow, strided
    assert path((8, 128, 32, 32), (128, 32, 3, 3), stride=2, padding=1, groups=4) == "direct"
    assert path((8, 64, 32, 32), (128, 64, 3, 3), stride=2, padding=1) == "im2col"  # dense, strided
    assert path((8, 256, 32, 32), (256, 256, 1, 1), stride=2) == "pointwise"
    assert path((8, 64, 32, 32), (64, 4, 1, 1), stride=2, groups=16) == "pointwise"


def test_rejects_wrong_shape():
    x, weight, grad_out, geom = make_case(CASES[0])
    with pytest.raises(ValueError, match="shape"):
        conv_cpu.conv2d_forward(x[:1], weight, geom)
    with pytest.raises(ValueError, match="shape"):
        conv_cpu.conv2d_grad_weight(x, grad_out[:, :1], geom)


@all_paths(T06)
@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[4], CASES[8]])
def test_matches_torch(case, path):
    torch = pytest.importorskip("torch")
    x, weight, grad_out, geom = make_case(case)
    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(weight, requires_grad=True)
    out_t = torch.nn.functional.conv2d(
        x_t, weight_t, None, (geom.stride_h, geom.stride_w), (geom.pad_h, geom.pad_w),
        (geom.dilation_h, geom.dilation_w), geom.groups,
    )  # fmt: skip
    out_t.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(conv_cpu.conv2d_forward(x, weight, geom), out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(conv_cpu.conv2d_grad_input(grad_out, weight, geom), x_t.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(conv_cpu.conv2d_grad_weight(x, grad_out, geom), weight_t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_matmul_paths_work_in_a_forked_child(monkeypatch):
    """The batch-slice thread pool must not hang a child forked after the parent used it."""
    send_to("im2col", monkeypatch)
    x, weight, _, geom = make_case((4, 4, 6, 6, 6, 1, (3, 3), 2, 1, 1))
    assert conv_cpu.path_name(geom) == "im2col"
    expected = reference.conv2d_forward(x, weight, geom)
    conv_cpu.conv2d_forward(x, weight, geom)  # the parent's pool now exists
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report 1 if the result is right, then leave at once
        ok = np.allclose(conv_cpu.conv2d_forward(x, weight, geom), expected)
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
