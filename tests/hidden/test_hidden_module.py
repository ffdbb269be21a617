"""Hidden tests of tasks t10-t15 (see conftest.py): cases the visible tests do not cover."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.kernels import conv, reference
from minigrad.kernels.conv_geometry import ConvGeometry


@pytest.mark.t10_direct_conv_forward
def test_t10_rectangular_kernel_uneven_stride_and_filters_not_a_multiple_of_the_block():
    geom = ConvGeometry.from_shapes((3, 4, 7, 9), (6, 2, 2, 3), stride=(2, 1), padding=(0, 2), groups=2)  # Og = 3
    rng = np.random.default_rng(10)
    x = np.asfortranarray(rng.standard_normal(geom.input_shape)).astype(np.float32)
    weight = rng.standard_normal(geom.weight_shape).astype(np.float32)
    with mg.conv_algorithm("direct"):
        out = conv.conv2d_forward(x, weight, geom)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, reference.conv2d_forward(x.astype(float), weight.astype(float), geom), atol=1e-4)


@pytest.mark.t11_pointwise_conv
def test_t11_strided_grouped_float32_forward_and_gradients():
    geom = ConvGeometry.from_shapes((1, 8, 7, 5), (12, 2, 1, 1), stride=2, groups=4)
    rng = np.random.default_rng(11)
    x, weight = rng.standard_normal(geom.input_shape), rng.standard_normal(geom.weight_shape)
    grad_out = rng.standard_normal(geom.output_shape)
    f32 = [array.astype(np.float32) for array in (x, weight, grad_out)]
    with mg.conv_algorithm("pointwise"):
        results = (conv.conv2d_forward(f32[0], f32[1], geom), conv.conv2d_grad_input(f32[2], f32[1], geom),
                   conv.conv2d_grad_weight(f32[0], f32[2], geom))
    expected = (reference.conv2d_forward(x, weight, geom), reference.conv2d_grad_input(grad_out, weight, geom),
                reference.conv2d_grad_weight(x, grad_out, geom))
    for result, wanted in zip(results, expected):
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, wanted, atol=1e-4)


@pytest.mark.t12_sgd_momentum
def test_t12_each_parameter_group_uses_its_own_options():
    from minigrad.optim import SGD

    plain, heavy = nn.Parameter(np.array([1.0])), nn.Parameter(np.array([2.0]))
    optimizer = SGD([{"params": [plain]}, {"params": [heavy], "lr": 0.2, "momentum": 0.5, "weight_decay": 0.2}], lr=0.1)
    values = []
    for _ in range(2):
        plain.grad, heavy.grad = mg.tensor(np.array([1.0])), mg.tensor(np.array([1.0]))
        optimizer.step()
        values.append((float(plain.data[0]), float(heavy.data[0])))
    # heavy: g = 1 + 0.2*2 = 1.4, b = 1.4, p = 2 - 0.28 = 1.72; g = 1 + 0.344 = 1.344,
    # b = 0.7 + 1.344 = 2.044, p = 1.72 - 0.4088 = 1.3112.  plain: 0.9, then 0.8.
    np.testing.assert_allclose(values, [(0.9, 1.72), (0.8, 1.3112)], rtol=1e-13)


@pytest.mark.t13_block_forms_forward
def test_t13_four_branches_on_odd_images_in_training_mode():
    from resnext_np.block import ResNeXtBottleneck
    from resnext_np.convert import convert

    block_c = ResNeXtBottleneck(4, 8, 2, cardinality=4, base_width=16, widen_factor=1).double()  # d = 2
    rng = np.random.default_rng(13)
    block_c.load_state_dict({key: value if key.endswith("num_batches_tracked") else rng.uniform(0.5, 2, value.shape)
                             for key, value in block_c.state_dict().items()})
    x = mg.tensor(rng.standard_normal((2, 4, 7, 7)))
    with mg.conv_algorithm("im2col"):
        expected = block_c(x).data
        for form in "ab":
            np.testing.assert_allclose(convert(block_c, form)(x).data, expected, rtol=0, atol=1e-10)


@pytest.mark.t14_training_loop
def test_t14_cosine_schedule_any_optimizer_and_a_smaller_last_batch():
    from minigrad.data import ArrayDataset, DataLoader
    from minigrad.optim import Adam
    from minigrad.optim.lr_scheduler import CosineAnnealingLR
    from resnext_np.fit import fit

    rng = np.random.default_rng(14)
    labels = rng.integers(0, 3, 50)
    images = (np.eye(3)[labels][:, :, None, None] * np.ones((1, 3, 4, 4)) + 0.5 * rng.standard_normal((50, 3, 4, 4)))
    loader = DataLoader(ArrayDataset(images.astype(np.float32), labels), batch_size=16)  # 16 + 16 + 16 + 2
    model = nn.Sequential(nn.Conv2d(3, 3, 1, generator=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3, generator=1))
    optimizer = Adam(model.parameters(), lr=0.05)
    with mg.conv_algorithm("im2col"):
        history = fit(model, loader, loader, optimizer, CosineAnnealingLR(optimizer, T_max=4), epochs=4)
    assert [epoch["lr"] for epoch in history] == pytest.approx([0.05 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    assert history[-1]["train_loss"] < history[0]["train_loss"] and history[-1]["test_accuracy"] > 0.6


@pytest.mark.t15_numba_speedup
def test_t15_all_negative_strided_views_and_a_stride_wider_than_the_window():
    from minigrad.classroom.speedup import max_pool2d_fast, max_pool2d_slow

    x = -1.0 - np.random.default_rng(15).random((2, 3, 11, 10))
    view = x.transpose(0, 1, 3, 2)[:, ::2]  # not contiguous
    for array, kernel_size, stride in ((x, 2, 3), (view, 3, 2), (x, 1, 1)):
        fast = max_pool2d_fast(array, kernel_size, stride)
        np.testing.assert_array_equal(fast, max_pool2d_slow(array, kernel_size, stride))
