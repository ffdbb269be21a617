"""Adam: steps worked out from the paper's bias-corrected form, torch parity, state_dict resume."""

import math

import numpy as np
import pytest

import minigrad as mg

from minigrad import nn
from minigrad.optim import Adam


def run_steps(start, gradients, **kwargs):
    parameter = nn.Parameter(np.array(start, dtype=np.float64))
    optimizer = Adam([parameter], **kwargs)
    values = []
    for gradient in gradients:
        parameter.grad = mg.tensor(gradient, dtype=np.float64)
        optimizer.step()
        values.append(parameter.data.copy())
    return values


def test_constant_gradient_moves_lr_per_step():
    """With a constant gradient g, m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so the corrected
    moments are exactly g and g^2 and every step is lr * g / (|g| + eps)."""
    lr, eps = 0.01, 1e-8
    values = run_steps([1.0, -2.0], [[3.0, -0.5]] * 3, lr=lr, eps=eps)
    for t, value in enumerate(values, start=1):
        expected = [1.0 - t * lr * 3.0 / (3.0 + eps), -2.0 + t * lr * 0.5 / (0.5 + eps)]
        np.testing.assert_allclose(value, expected, rtol=1e-13)


def test_two_different_gradients_by_hand():
    # b1 = 0.9, b2 = 0.999, g1 = 1, g2 = -2, lr = 0.1, eps = 1e-8
    # t=1: m = 0.1, v = 0.001        -> m_hat = 1,             v_hat = 1
    # t=2: m = 0.09 - 0.2 = -0.11    -> m_hat = -0.11 / 0.19
    #      v = 0.000999 + 0.004 = 0.004999 -> v_hat = 0.004999 / 0.001999
    lr, eps = 0.1, 1e-8
    values = run_steps([0.0], [[1.0], [-2.0]], lr=lr, eps=eps)
    p1 = 0.0 - lr * 1.0 / (1.0 + eps)
    p2 = p1 - lr * (-0.11 / 0.19) / (math.sqrt(0.004999 / 0.001999) + eps)
    np.testing.assert_allclose(values, [[p1], [p2]], rtol=1e-12)


def test_weight_decay_and_custom_betas_by_hand():
    # g' = g + wd * p ;  b1 = 0.5, b2 = 0.75
    # t=1: p0 = 2, g' = 1 + 0.1*2 = 1.2 -> corrected moments g', g'^2 -> step lr * 1.2 / (1.2 + eps)
    # t=2: p1 = 2 - 0.1*1.2/(1.2+eps); g' = 1 + 0.1 p1
    #      m = 0.5*0.6 + 0.5 g' ; v = 0.75*0.25*1.44 + 0.25 g'^2 ; corrections 1 - 0.25 and 1 - 0.5625
    lr, eps = 0.1, 1e-6
    values = run_steps([2.0], [[1.0], [1.0]], lr=lr, betas=(0.5, 0.75), eps=eps, weight_decay=0.1)
    p1 = 2.0 - lr * 1.2 / (1.2 + eps)
    g2 = 1.0 + 0.1 * p1
    m = 0.5 * (0.5 * 1.2) + 0.5 * g2
    v = 0.75 * (0.25 * 1.44) + 0.25 * g2 * g2
    p2 = p1 - lr * (m / 0.75) / (math.sqrt(v / 0.4375) + eps)
    np.testing.assert_allclose(values, [[p1], [p2]], rtol=1e-12)


def test_state_is_created_per_parameter_on_first_step():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    optimizer = Adam([a, b])
    a.grad = mg.tensor(np.ones(2))
    optimizer.step()
    assert list(optimizer.state) == [0] and optimizer.state[0]["step"] == 1
    np.testing.assert_array_equal(b.data, np.ones(3))


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(lr=-0.1), "invalid learning rate lr=-0.1"),
     (dict(betas=(0.9, 1.0)), r"betas must be in \[0, 1\), got \(0.9, 1.0\)"),
     (dict(eps=-1.0), "eps=-1.0"), (dict(weight_decay=-0.5), "weight_decay=-0.5")],
)
def test_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([nn.Parameter(np.ones(1))], **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.01, weight_decay=0.1)],
)
def test_parity_with_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,)]
    starts = [rng.standard_normal(s) for s in shapes]
    ours = [nn.Parameter(s.copy()) for s in starts]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    optimizer = Adam(ours, **kwargs)
    reference = torch.optim.Adam(theirs, foreach=False, **kwargs)
    for _ in range(6):
        for p, t in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, t.grad = mg.tensor(g), torch.tensor(g)
        optimizer.step()
        reference.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_state_dict_resume_gives_identical_parameters():
    rng = np.random.default_rng(1)
    start = rng.standard_normal((2, 3))
    gradients = [rng.standard_normal((2, 3)) for _ in range(6)]

    def fresh(values):
        parameter = nn.Parameter(values.copy())
        return parameter, Adam([parameter], lr=0.05, weight_decay=0.01)

    def apply(parameter, optimizer, steps):
        for g in steps:
            parameter.grad = mg.tensor(g)
            optimizer.step()

    straight, straight_optimizer = fresh(start)
    apply(straight, straight_optimizer, gradients)

    first, first_optimizer = fresh(start)
    apply(first, first_optimizer, gradients[:2])
    saved_state, saved_values = first_optimizer.state_dict(), first.data.copy()
    apply(first, first_optimizer, gradients[2:3])  # must not leak into saved_state

    resumed, resumed_optimizer = fresh(saved_values)
    resumed_optimizer.load_state_dict(saved_state)
    assert resumed_optimizer.state[0]["step"] == 2
    apply(resumed, resumed_optimizer, gradients[2:])
    np.testing.assert_array_equal(resumed.data, straight.data)
