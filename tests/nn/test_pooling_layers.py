"""Tests of ``minigrad/nn/pooling.py``: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d layers."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def distinct64(rng, *shape):
    count = int(np.prod(shape))
    return mg.tensor(rng.permutation(np.arange(count) - count / 2).reshape(shape) * 0.1, requires_grad=True)


LAYERS = {
    "MaxPool2d(3, 2, 1)": (lambda: nn.MaxPool2d(3, 2, 1), dict(kernel_size=3, stride=2, padding=1)),
    "MaxPool2d((2, 3)) stride defaults to kernel": (lambda: nn.MaxPool2d((2, 3)), dict(kernel_size=(2, 3))),
    "AvgPool2d(3, 1, 1)": (lambda: nn.AvgPool2d(3, 1, 1), dict(kernel_size=3, stride=1, padding=1)),
    "AvgPool2d((3, 2), stride=(1, 2))": (lambda: nn.AvgPool2d((3, 2), stride=(1, 2)), dict(kernel_size=(3, 2), stride=(1, 2))),
    "AdaptiveAvgPool2d(1)": (lambda: nn.AdaptiveAvgPool2d(1), dict(output_size=1)),
    "AdaptiveAvgPool2d((2, 3))": (lambda: nn.AdaptiveAvgPool2d((2, 3)), dict(output_size=(2, 3))),
}


@pytest.mark.parametrize("make_layer, _kwargs", list(LAYERS.values()), ids=list(LAYERS))
def test_gradcheck(make_layer, _kwargs):
    layer = make_layer().double()
    assert mg.gradcheck(layer, distinct64(np.random.default_rng(0), 2, 2, 4, 6))


@pytest.mark.parametrize("make_layer, _kwargs", list(LAYERS.values()), ids=list(LAYERS))
def test_no_parameters_no_state(make_layer, _kwargs):
    layer = make_layer()
    assert list(layer.parameters()) == []
    assert list(layer.state_dict()) == []


def test_hand_examples():
    x = mg.tensor(np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 6.0]]).reshape(1, 1, 2, 4))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, [[[[5.0, 8.0]]]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, [[[[13 / 4, 16 / 4]]]])
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d(1)(x).data, [[[[29 / 8]]]])


def test_float32_stays_float32():
    x = mg.tensor(np.random.default_rng(1).standard_normal((1, 2, 4, 4)).astype(np.float32))
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1)):
        assert layer(x).dtype == np.float32


def test_kernel_larger_than_input_is_an_error():
    with pytest.raises(ValueError, match=r"kernel \(5, 5\) is larger than the padded input \(4, 4\)"):
        nn.MaxPool2d(5)(mg.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"kernel \(3, 3\) is larger than the padded input \(2, 6\)"):
        nn.AvgPool2d(3)(mg.zeros(1, 1, 2, 6))


@pytest.mark.parametrize("make_layer, kwargs", list(LAYERS.values()), ids=list(LAYERS))
def test_matches_torch_layer(make_layer, kwargs):
    torch = pytest.importorskip("torch")
    their_layer = getattr(torch.nn, type(make_layer()).__name__)(**kwargs)
    x64 = np.round(np.random.default_rng(2).standard_normal((2, 3, 6, 6)) * 2)   # ties included
    grad_out_rng = np.random.default_rng(3)
    x, tx = mg.tensor(x64, requires_grad=True), torch.tensor(x64, requires_grad=True)
    y, ty = make_layer()(x), their_layer(tx)
    grad_out = grad_out_rng.standard_normal(y.shape)
    y.backward(grad_out)
    ty.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
