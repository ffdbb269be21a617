"""The moving average of the weights: the update rule by hand, buffers, swapping, resuming."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import ExponentialMovingAverage


def small_model():
    mg.manual_seed(0)
    return mg.nn.Sequential(mg.nn.Conv2d(2, 4, 3, bias=False), mg.nn.BatchNorm2d(4))


def test_update_follows_the_formula_with_the_warm_up_decay():
    model = small_model()
    ema = ExponentialMovingAverage(model, decay=0.9)
    expected = {name: value.astype(np.float64) for name, value in model.state_dict().items()}
    rng = np.random.default_rng(1)
    for t in range(30):
        for parameter in model.parameters():
            parameter.data[...] = rng.standard_normal(parameter.shape)
        model[1].running_mean[...] = rng.standard_normal(4)
        decay = min(0.9, (1 + t) / (10 + t))
        assert ema.current_decay() == pytest.approx(decay)
        ema.update(model)
        for name, value in model.state_dict().items():
            if value.dtype.kind == "f":
                expected[name] = decay * expected[name] + (1 - decay) * value
            else:
                expected[name] = value
    for name, value in ema.average.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert ema.average["1.num_batches_tracked"] == model[1].num_batches_tracked


def test_swapped_into_evaluates_the_average_and_restores_the_weights_even_after_an_error():
    model = small_model()
    ema = ExponentialMovingAverage(model, decay=0.5)
    own = {name: value.copy() for name, value in model.state_dict().items()}
    for parameter in model.parameters():
        parameter.data += 1.0
    ema.update(model)
    trained = model.state_dict()
    with pytest.raises(RuntimeError, match="inside"):
        with ema.swapped_into(model):
            np.testing.assert_array_equal(model[0].weight.data, ema.average["0.weight"])
            assert not np.array_equal(model[0].weight.data, trained["0.weight"])
            raise RuntimeError("inside")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, trained[name], err_msg=name)
    # d_0 = min(0.5, 1/10) = 0.1: the average moved 90% of the way from the start to the trained weights.
    np.testing.assert_allclose(ema.average["0.weight"], 0.1 * own["0.weight"] + 0.9 * trained["0.weight"], rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    model = small_model()
    straight, resumed = ExponentialMovingAverage(model, 0.8), None
    for step in range(6):
        for parameter in model.parameters():
            parameter.data *= 1.01
        straight.update(model)
        if step == 2:
            resumed = ExponentialMovingAverage(small_model(), 0.3)
            resumed.load_state_dict(straight.state_dict())
        elif step > 2:
            resumed.update(model)
    for name in straight.average:
        np.testing.assert_array_equal(resumed.average[name], straight.average[name])


def test_bad_decay_and_mismatched_state_are_refused():
    with pytest.raises(ValueError, match=r"decay must be a number in \[0, 1\), got 1.0"):
        ExponentialMovingAverage(small_model(), decay=1.0)
    other = ExponentialMovingAverage(mg.nn.Linear(2, 2), 0.9)
    with pytest.raises(ValueError, match="EMA state does not match the model"):
        ExponentialMovingAverage(small_model(), 0.9).load_state_dict(other.state_dict())


def test_weight_average_is_the_plain_mean_of_the_updates_and_resumes_identically():
    model = small_model()
    average = mg.optim.WeightAverage(model)
    rng = np.random.default_rng(2)
    seen = []
    for t in range(7):
        for parameter in model.parameters():
            parameter.data[...] = rng.standard_normal(parameter.shape)
        model[1].running_var[...] = rng.random(4) + 0.5
        model[1].num_batches_tracked[...] = 10 + t
        seen.append({name: value.astype(np.float64) for name, value in model.state_dict().items()})
        average.update(model)
        if t == 3:  # a checkpoint in the middle, continued by a fresh object
            resumed = mg.optim.WeightAverage(small_model())
            resumed.load_state_dict(average.state_dict())
            average = resumed
    assert average.updates == 7
    for name, value in average.average.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, np.mean([state[name] for state in seen], axis=0), rtol=1e-5,
                                       atol=1e-6, err_msg=name)
    assert average.average["1.num_batches_tracked"] == 16  # integers are copied, not averaged
