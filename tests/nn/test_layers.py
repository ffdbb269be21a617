"""Linear, ReLU, Flatten, Identity, Sequential, CrossEntropyLoss."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_linear_forward_is_x_w_transpose_plus_b():
    layer = nn.Linear(3, 2, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]
    layer.bias.data[...] = [0.5, -0.5]
    out = layer(mg.tensor(np.array([[1.0, 2.0, 3.0]])))
    np.testing.assert_array_equal(out.data, [[1 - 3 + 0.5, 2 + 2 - 0.5]])


def test_linear_accepts_leading_batch_axes():
    layer = nn.Linear(4, 5)
    assert layer(mg.zeros(2, 3, 4)).shape == (2, 3, 5)
    assert layer(mg.zeros(4)).shape == (5,)


def test_linear_gradients_by_hand():
    # y = x W^T + b ;  dW = g^T x ;  db = sum_n g_n ;  dx = g W
    layer = nn.Linear(2, 1, dtype=np.float64)
    layer.weight.data[...] = [[3.0, -1.0]]
    x = mg.tensor(np.array([[1.0, 2.0], [0.5, 0.0]]), requires_grad=True)
    layer(x).backward(np.array([[1.0], [2.0]]))
    np.testing.assert_array_equal(layer.weight.grad, [[1.0 + 1.0, 2.0 + 0.0]])
    np.testing.assert_array_equal(layer.bias.grad, [3.0])
    np.testing.assert_array_equal(x.grad, [[3.0, -1.0], [6.0, -2.0]])


def test_linear_gradcheck_through_its_parameters():
    layer = nn.Linear(3, 2, generator=0).double()
    x = mg.tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    assert mg.gradcheck(lambda inp, w, b: layer(inp).tanh(), x, layer.weight, layer.bias)


def test_linear_init_bounds_follow_pytorch():
    in_features = 400
    layer = nn.Linear(in_features, 300, generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(in_features)
    for values in (layer.weight.data, layer.bias.data):
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.95 * bound  # fills the range, not a narrower one
    # uniform on [-bound, bound] has standard deviation bound / sqrt(3)
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_linear_init_is_reproducible_with_manual_seed():
    mg.manual_seed(11)
    first = nn.Linear(3, 4).weight.data.copy()
    mg.manual_seed(11)
    np.testing.assert_array_equal(nn.Linear(3, 4).weight.data, first)
    assert not np.array_equal(nn.Linear(3, 4).weight.data, first)


def test_linear_errors_quote_the_sizes():
    with pytest.raises(ValueError, match="in_features=0, out_features=3"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match=r"Linear expects inputs with 3 features in the last axis, got shape \(2, 4\)"):
        nn.Linear(3, 2)(mg.zeros(2, 4))


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert "bias=False" in repr(layer)


def test_linear_parity_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    layer = nn.Linear(5, 3, dtype=np.float64)
    reference = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.weight.data))
        reference.bias.copy_(torch.tensor(layer.bias.data))
    x_values, g = rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 4, 3))
    x = mg.tensor(x_values, requires_grad=True)
    tx = torch.tensor(x_values, requires_grad=True)
    out, expected = layer(x), reference(tx)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.backward(g)
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, reference.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, reference.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_relu_identity_flatten():
    x = mg.tensor(np.arange(-3.0, 3.0).reshape(1, 2, 3))
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    assert nn.Identity()(x) is x
    assert nn.Flatten()(x).shape == (1, 6)
    assert nn.Flatten(0, 1)(x).shape == (2, 3)


def test_sequential_applies_in_order_and_indexes():
    first, second = nn.Linear(2, 3), nn.ReLU()
    model = nn.Sequential(first, second)
    assert len(model) == 2 and model[0] is first and model[-1] is second and list(model) == [first, second]
    x = mg.randn(4, 2, generator=3)
    np.testing.assert_array_equal(model(x).data, second(first(x)).data)
    with pytest.raises(TypeError, match="Sequential takes Modules, got function at position 1"):
        nn.Sequential(first, lambda t: t)


def test_cross_entropy_loss_module():
    logits = mg.tensor(np.array([[0.0, math.log(3.0)]]), requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, np.array([1]))
    assert loss.item() == pytest.approx(-math.log(3 / 4))
