"""Classroom task t12: SGD's update rule (minigrad/optim/sgd.py), worked by hand and, when PyTorch is
installed, step by step against torch.optim.SGD. The gradients are set by hand, so nothing else
of minigrad is exercised."""

import numpy as np
import pytest

from minigrad import nn
from minigrad.optim import SGD
import minigrad as mg

pytestmark = pytest.mark.t12_sgd_momentum

GRADIENTS = [[0.5], [-1.0], [2.0]]


def run_steps(start, gradients, **options):
    parameter = nn.Parameter(np.array(start, dtype=np.float64))
    optimizer = SGD([parameter], **options)
    values = []
    for gradient in gradients:
        parameter.grad = mg.tensor(gradient, dtype=np.float64)
        optimizer.step()
        values.append(parameter.data.copy())
    return np.array(values)


def test_plain_step_moves_against_the_gradient():
    np.testing.assert_allclose(run_steps([1.0], GRADIENTS, lr=0.1), [[0.95], [1.05], [0.85]], rtol=1e-15)


def test_nesterov_with_weight_decay_by_hand():
    values = run_steps([1.0], GRADIENTS, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    # t1: g = 0.5 + 0.1*1 = 0.6, b = 0.6, step g + 0.9 b = 1.14, p = 1 - 0.114 = 0.886
    # t2: g = -1 + 0.0886 = -0.9114, b = 0.54 - 0.9114 = -0.3714, step -1.24566, p = 1.010566
    # t3: g = 2 + 0.1010566 = 2.1010566, b = -0.33426 + 2.1010566 = 1.7667966,
    #     step = 2.1010566 + 1.59011694 = 3.69117354, p = 1.010566 - 0.369117354 = 0.641448646
    np.testing.assert_allclose(values, [[0.886], [1.010566], [0.641448646]], rtol=1e-13)


def test_dampening_scales_the_new_gradient_but_not_the_first():
    values = run_steps([1.0], GRADIENTS, lr=0.1, momentum=0.9, dampening=0.5)
    # b1 = 0.5 (the first buffer is the gradient itself), p = 0.95
    # b2 = 0.45 - 0.5 * 1 = -0.05, p = 0.955;  b3 = -0.045 + 0.5 * 2 = 0.955, p = 0.8595
    np.testing.assert_allclose(values, [[0.95], [0.955], [0.8595]], rtol=1e-13)


def test_parameters_without_a_gradient_are_left_alone():
    with_grad, without = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = SGD([with_grad, without], lr=0.5, momentum=0.9, weight_decay=0.1)
    with_grad.grad = mg.tensor(np.array([1.0, -1.0]))
    optimizer.step()
    np.testing.assert_allclose(with_grad.data, [1 - 0.5 * 1.1, 1 - 0.5 * -0.9], rtol=1e-15)
    np.testing.assert_array_equal(without.data, np.ones(2))


@pytest.mark.parametrize("options", [dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=5e-4),
                                     dict(momentum=0.5, dampening=0.1, weight_decay=0.01)])
def test_matches_torch_over_ten_steps(options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start, gradients = rng.standard_normal((2, 3)), rng.standard_normal((10, 2, 3))
    ours = run_steps(start, gradients, lr=0.05, **options)
    theirs = torch.tensor(start, requires_grad=True)
    optimizer = torch.optim.SGD([theirs], lr=0.05, **options)
    for step, gradient in enumerate(gradients):
        theirs.grad = torch.tensor(gradient)
        optimizer.step()
        np.testing.assert_allclose(ours[step], theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
