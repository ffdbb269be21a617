"""Dropout (minigrad/functions/dropout.py, nn.Dropout): the mask's statistics, the scaling, eval
mode, p = 0 and 1, seeding, and the errors.  Gradients are checked in tests/gradcheck_cases.py."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F


def test_about_p_of_the_elements_are_zeroed_and_the_rest_scaled():
    x = mg.ones(200_000, dtype=np.float64)
    y = F.dropout(x, p=0.2, generator=0)
    dropped = (y.data == 0).mean()
    assert abs(dropped - 0.2) < 0.005  # 4 standard deviations of a binomial proportion
    np.testing.assert_array_equal(np.unique(y.data), [0.0, 1.25])
    assert y.dtype == np.float64


def test_gradient_is_the_same_mask_times_the_scale():
    x = mg.tensor(np.arange(1.0, 7.0), requires_grad=True)
    y = F.dropout(x, p=0.5, generator=3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, (y.data != 0) * 2.0)


def test_eval_mode_p_zero_and_p_one():
    layer = mg.nn.Dropout(0.5)
    x = mg.randn(3, 4)
    assert layer.eval()(x) is x and F.dropout(x, 0.0) is x and F.dropout(x, 0.9, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, np.zeros((3, 4)))
    assert repr(mg.nn.Dropout(0.25)) == "Dropout(p=0.25)"


def test_manual_seed_makes_the_masks_reproducible():
    masks = []
    for _ in range(2):
        mg.manual_seed(11)
        masks.append(mg.nn.Dropout(0.5)(mg.ones(50)).data)
    np.testing.assert_array_equal(masks[0], masks[1])


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_a_probability_outside_zero_one_is_refused_with_its_value(p):
    with pytest.raises(ValueError, match=f"between 0 and 1, but got p={p!r}"):
        F.dropout(mg.ones(2), p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        mg.nn.Dropout(p)


def test_in_place_dropout_is_refused():
    with pytest.raises(ValueError, match="inplace=True"):
        mg.nn.Dropout(0.5, inplace=True)


def test_statistics_match_torch():
    torch = pytest.importorskip("torch")
    x = np.ones(100_000)
    theirs = torch.nn.functional.dropout(torch.tensor(x), p=0.3).numpy()
    ours = F.dropout(mg.tensor(x), p=0.3, generator=1).data
    assert sorted(np.unique(ours)) == pytest.approx(sorted(np.unique(theirs)), rel=1e-12)
    assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.01
