"""MultiStepLR and CosineAnnealingLR: per-epoch values by formula and vs torch; resume."""

import math

import numpy as np
import pytest

import minigrad as mg

from minigrad import nn
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR, OneCycleLR


def optimizer(lr=0.1, groups=1):
    return SGD([{"params": [nn.Parameter(np.zeros(1))], "lr": lr * (k + 1)} for k in range(groups)], lr=lr)


def lrs_per_epoch(scheduler, epochs):
    values = []
    for _ in range(epochs):
        values.append(scheduler.get_last_lr())
        scheduler.optimizer.step()
        scheduler.step()
    return values


def test_multistep_values_by_hand():
    scheduler = MultiStepLR(optimizer(lr=1.0), milestones=[2, 5], gamma=0.1)
    got = [lr for (lr,) in lrs_per_epoch(scheduler, 7)]
    np.testing.assert_allclose(got, [1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-15)


def test_multistep_scales_every_group_from_its_own_base():
    scheduler = MultiStepLR(optimizer(lr=0.5, groups=2), milestones=[1], gamma=0.5)
    assert lrs_per_epoch(scheduler, 2) == [[0.5, 1.0], [0.25, 0.5]]


def test_cosine_values_by_formula():
    base, eta_min, t_max = 0.4, 0.01, 5
    scheduler = CosineAnnealingLR(optimizer(lr=base), T_max=t_max, eta_min=eta_min)
    got = [lr for (lr,) in lrs_per_epoch(scheduler, 11)]
    # half a cosine from base down to eta_min over T_max epochs, then back up
    expected = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2 for e in range(11)]
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert got[0] == base and got[t_max] == pytest.approx(eta_min) and got[2 * t_max] == pytest.approx(base)


def test_scheduler_sets_the_optimizer_lr_used_by_step():
    parameter = nn.Parameter(np.zeros(1))
    sgd = SGD([parameter], lr=1.0)
    scheduler = MultiStepLR(sgd, milestones=[1], gamma=0.5)
    for _ in range(2):
        parameter.grad = mg.tensor(np.ones(1))
        sgd.step()
        scheduler.step()
    np.testing.assert_allclose(parameter.data, [-1.0 - 0.5])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"milestones must be increasing, got \[5, 2\]"):
        MultiStepLR(optimizer(), milestones=[5, 2])
    with pytest.raises(ValueError, match="T_max must be >= 1, got 0"):
        CosineAnnealingLR(optimizer(), T_max=0)
    with pytest.raises(ValueError, match="total_steps must be an int >= 1, got 0"):
        OneCycleLR(optimizer(), max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start must be in \\[0, 1\\], got 1.5"):
        OneCycleLR(optimizer(), max_lr=0.1, total_steps=5, pct_start=1.5)
    with pytest.raises(ValueError, match="does not cycle momentum"):
        OneCycleLR(optimizer(), max_lr=0.1, total_steps=5, cycle_momentum=True)


def test_one_cycle_warms_up_to_max_lr_then_decays_to_its_floor_and_refuses_extra_steps():
    scheduler = OneCycleLR(optimizer(), max_lr=1.0, total_steps=11, pct_start=0.5, anneal_strategy="linear",
                           div_factor=10, final_div_factor=100)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(10):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    # warm-up ends at step 0.5 * 11 - 1 = 4.5: steps 0..4 rise from 0.1 in steps of 0.9 / 4.5
    np.testing.assert_allclose(rates[:5], [0.1 + 0.2 * k for k in range(5)], rtol=1e-12)
    assert rates[-1] == pytest.approx(0.1 / 100, rel=1e-12)  # step 10 = total_steps - 1: the floor
    assert all(later < earlier for earlier, later in zip(rates[5:], rates[6:]))
    scheduler.step()  # one more, after the last optimiser step, is allowed (as in PyTorch)
    with pytest.raises(ValueError, match="more than its total_steps=11"):
        scheduler.step()


@pytest.mark.parametrize("total_steps, pct_start", [(10, 0.1), (5, 0.2), (1, 1.0), (4, 0.0), (3, 0.1)])
def test_one_cycle_with_a_warm_up_of_one_step_or_none_starts_at_the_peak(total_steps, pct_start):
    """pct_start * total_steps == 1 divided by zero (as PyTorch's OneCycleLR does); now step 0 is the peak."""
    scheduler = OneCycleLR(optimizer(), max_lr=1.0, total_steps=total_steps, pct_start=pct_start)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(total_steps - 1):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    assert rates[0] <= 1.0 and rates[0] == max(rates)
    if pct_start * total_steps == 1:
        assert rates[0] == 1.0
    if total_steps > 1:
        assert rates[-1] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)


@pytest.mark.parametrize(
    "make_ours, make_theirs",
    [
        (lambda o: MultiStepLR(o, milestones=[2, 4, 4, 7], gamma=0.3),
         lambda torch, o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 4, 4, 7], gamma=0.3)),
        (lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.001),
         lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.001)),
        (lambda o: OneCycleLR(o, max_lr=0.4, total_steps=15, pct_start=0.2, anneal_strategy="linear"),
         lambda torch, o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=15, pct_start=0.2,
                                                              anneal_strategy="linear", cycle_momentum=False)),
        (lambda o: OneCycleLR(o, max_lr=0.3, total_steps=15, pct_start=0.3, div_factor=10, final_div_factor=100),
         lambda torch, o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.3, total_steps=15, pct_start=0.3,
                                                              div_factor=10, final_div_factor=100,
                                                              cycle_momentum=False)),
    ],
    ids=["MultiStepLR", "CosineAnnealingLR", "OneCycleLR linear", "OneCycleLR cos"],
)
def test_parity_with_torch(make_ours, make_theirs):
    torch = pytest.importorskip("torch")
    ours = make_ours(optimizer(lr=0.2))
    reference_optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    theirs = make_theirs(torch, reference_optimizer)
    for epoch in range(15):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15), epoch
        ours.optimizer.step()
        reference_optimizer.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("make", [lambda o: MultiStepLR(o, milestones=[3, 6], gamma=0.5),
                                  lambda o: CosineAnnealingLR(o, T_max=8, eta_min=0.01),
                                  lambda o: OneCycleLR(o, max_lr=0.3, total_steps=10, pct_start=0.3)],
                         ids=["MultiStepLR", "CosineAnnealingLR", "OneCycleLR"])
def test_resume_from_state_dicts_gives_identical_parameters(make):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(3)
    gradients = [rng.standard_normal(3) for _ in range(10)]

    def fresh(values):
        parameter = nn.Parameter(values.copy())
        sgd = SGD([parameter], lr=0.3, momentum=0.9)
        return parameter, sgd, make(sgd)

    def train(parameter, sgd, scheduler, epochs):
        lrs = []
        for g in epochs:
            lrs.append(sgd.param_groups[0]["lr"])
            parameter.grad = mg.tensor(g)
            sgd.step()
            scheduler.step()
        return lrs

    straight = fresh(start)
    straight_lrs = train(*straight, gradients)

    first = fresh(start)
    first_lrs = train(*first, gradients[:4])
    saved = (first[0].data.copy(), first[1].state_dict(), first[2].state_dict())

    parameter, sgd, scheduler = fresh(saved[0])
    sgd.load_state_dict(saved[1])
    scheduler.load_state_dict(saved[2])
    resumed_lrs = train(parameter, sgd, scheduler, gradients[4:])
    assert first_lrs + resumed_lrs == straight_lrs
    np.testing.assert_array_equal(parameter.data, straight[0].data)
