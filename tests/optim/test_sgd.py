"""SGD: update steps worked out by hand, parity with torch.optim.SGD, state_dict resume."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.optim import SGD


def run_steps(optimizer_factory, start, gradients):
    """Apply ``gradients`` (one per step) to a parameter starting at ``start``; return its values."""
    parameter = nn.Parameter(np.array(start, dtype=np.float64))
    optimizer = optimizer_factory([parameter])
    values = []
    for gradient in gradients:
        parameter.grad = mg.tensor(gradient, dtype=np.float64)
        optimizer.step()
        values.append(parameter.data.copy())
    return values


GRADIENTS = [[0.5], [-1.0], [2.0]]


def test_plain_sgd_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1), [1.0], GRADIENTS)
    # p <- p - lr g
    np.testing.assert_allclose(values, [[0.95], [1.05], [0.85]], rtol=1e-15)


def test_momentum_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9), [1.0], GRADIENTS)
    # b1 = 0.5                  p = 1 - 0.05          = 0.95
    # b2 = 0.9*0.5 - 1 = -0.55  p = 0.95 + 0.055      = 1.005
    # b3 = -0.495 + 2 = 1.505   p = 1.005 - 0.1505    = 0.8545
    np.testing.assert_allclose(values, [[0.95], [1.005], [0.8545]], rtol=1e-14)


def test_nesterov_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True), [1.0], GRADIENTS)
    # step = g + 0.9 b with the buffers above
    # 1: 0.5 + 0.45 = 0.95        p = 1 - 0.095       = 0.905
    # 2: -1 - 0.495 = -1.495      p = 0.905 + 0.1495  = 1.0545
    # 3: 2 + 1.3545 = 3.3545      p = 1.0545 - 0.33545 = 0.71905
    np.testing.assert_allclose(values, [[0.905], [1.0545], [0.71905]], rtol=1e-14)


def test_dampening_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5), [1.0], GRADIENTS)
    # b1 = g1 = 0.5 (no dampening on the first step)   p = 0.95
    # b2 = 0.45 + 0.5*(-1) = -0.05                     p = 0.955
    # b3 = -0.045 + 0.5*2 = 0.955                      p = 0.8595
    np.testing.assert_allclose(values, [[0.95], [0.955], [0.8595]], rtol=1e-14)


def test_weight_decay_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1, weight_decay=0.2), [1.0], GRADIENTS)
    # g' = g + 0.2 p
    # 1: 0.5 + 0.2 = 0.7          p = 1 - 0.07         = 0.93
    # 2: -1 + 0.186 = -0.814      p = 0.93 + 0.0814    = 1.0114
    # 3: 2 + 0.20228 = 2.20228    p = 1.0114 - 0.220228 = 0.791172
    np.testing.assert_allclose(values, [[0.93], [1.0114], [0.791172]], rtol=1e-14)


def test_momentum_with_weight_decay_by_hand():
    values = run_steps(lambda ps: SGD(ps, lr=0.1, momentum=0.5, weight_decay=1.0), [2.0], [[1.0], [1.0]])
    # 1: g' = 1 + 2 = 3, b = 3               p = 2 - 0.3 = 1.7
    # 2: g' = 1 + 1.7 = 2.7, b = 1.5 + 2.7 = 4.2   p = 1.7 - 0.42 = 1.28
    np.testing.assert_allclose(values, [[1.7], [1.28]], rtol=1e-14)


def test_parameters_without_grad_are_left_alone():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = SGD([a, b], lr=1.0, momentum=0.9)
    a.grad = mg.tensor(np.array([1.0, 2.0]))
    optimizer.step()
    np.testing.assert_array_equal(a.data, [0.0, -1.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert 1 not in optimizer.state


def test_zero_grad_and_param_groups():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    optimizer = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = mg.tensor(np.ones(1)), mg.tensor(np.ones(1))
    optimizer.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(lr=-1.0), "invalid learning rate lr=-1.0"), (dict(momentum=-0.1), "invalid momentum=-0.1"),
     (dict(weight_decay=-1), "invalid weight_decay=-1"),
     (dict(nesterov=True), "nesterov needs momentum > 0 and dampening = 0, got momentum=0.0, dampening=0.0")],
)
def test_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD([nn.Parameter(np.ones(1))], **kwargs)


def test_empty_parameter_list():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)


def test_step_updates_in_place_and_records_nothing():
    parameter = nn.Parameter(np.ones(3))
    data = parameter.data
    (parameter * 2.0).sum().backward()
    SGD([parameter], lr=0.5).step()
    assert parameter.data is data and parameter.is_leaf
    np.testing.assert_array_equal(parameter.data, [0.0, 0.0, 0.0])


CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_parity_with_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,)]
    starts = [rng.standard_normal(s) for s in shapes]
    gradients = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    ours = [nn.Parameter(s.copy()) for s in starts]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    optimizer, reference = SGD(ours, **kwargs), torch.optim.SGD(theirs, **kwargs)
    for step_gradients in gradients:
        for p, t, g in zip(ours, theirs, step_gradients):
            p.grad, t.grad = mg.tensor(g), torch.tensor(g)
        optimizer.step()
        reference.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)


def _fresh(starts, **kwargs):
    parameters = [nn.Parameter(s.copy()) for s in starts]
    return parameters, SGD(parameters, **kwargs)


def test_state_dict_resume_gives_identical_parameters():
    rng = np.random.default_rng(1)
    starts = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    gradients = [[rng.standard_normal(s.shape) for s in starts] for _ in range(6)]
    kwargs = dict(lr=0.1, momentum=0.9, nesterov=True)

    def apply(parameters, optimizer, steps):
        for step_gradients in steps:
            for p, g in zip(parameters, step_gradients):
                p.grad = mg.tensor(g)
            optimizer.step()

    straight, straight_optimizer = _fresh(starts, **kwargs)
    apply(straight, straight_optimizer, gradients)

    first, first_optimizer = _fresh(starts, **kwargs)
    apply(first, first_optimizer, gradients[:3])
    saved_state = first_optimizer.state_dict()
    saved_parameters = [p.data.copy() for p in first]
    apply(first, first_optimizer, gradients[3:4])  # later steps must not leak into the saved state

    resumed, resumed_optimizer = _fresh(saved_parameters, lr=0.5)  # hyper-parameters come from the state
    resumed_optimizer.load_state_dict(saved_state)
    assert resumed_optimizer.param_groups[0]["lr"] == 0.1
    apply(resumed, resumed_optimizer, gradients[3:])
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_checks_sizes_before_changing_anything():
    parameters, optimizer = _fresh([np.zeros((2, 3))], lr=0.1, momentum=0.9)
    other_parameters, other = _fresh([np.zeros((3, 2))], lr=0.3, momentum=0.9)
    other_parameters[0].grad = mg.tensor(np.ones((3, 2)))
    other.step()
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(3, 2\), "
                                         r"the parameter has shape \(2, 3\)"):
        optimizer.load_state_dict(other.state_dict())
    assert optimizer.param_groups[0]["lr"] == 0.1 and optimizer.state == {}
    _, two = _fresh([np.zeros(1), np.zeros(1)], lr=0.1)
    with pytest.raises(ValueError, match="has 2 parameters, this optimizer's has 1"):
        optimizer.load_state_dict(two.state_dict())


@pytest.mark.parametrize("option", ["lr", "momentum", "weight_decay"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_sgd_refuses_nan_infinite_and_negative_hyperparameters(option, value):
    with pytest.raises(ValueError, match=f"{option}={value}: must be a finite number >= 0"):
        mg.optim.SGD([mg.nn.Parameter(np.zeros(2, dtype=np.float32))], **{"lr": 0.1, option: value})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_adam_refuses_a_nan_or_infinite_learning_rate(value):
    with pytest.raises(ValueError, match=f"lr={value}: must be a finite number >= 0"):
        mg.optim.Adam([mg.nn.Parameter(np.zeros(2, dtype=np.float32))], lr=value)
