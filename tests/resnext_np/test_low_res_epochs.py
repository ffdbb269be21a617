"""The cpu recipe's low-resolution epochs (progressive resizing): the crops, the model that takes
them in training only, the planner that times their steps apart, and a run that switches size."""

import types

import numpy as np
import pytest

import minigrad as mg
from resnext_np import train
from resnext_np.model import SMALLEST_PRESET, build_model
from resnext_np.training import budget, recipe
from resnext_np.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from resnext_np.training.loaders import TrainingCrop, make_loaders, use_low_res
from resnext_np.training.loop import Trainer

TINY = ["--train-size", "96", "--test-size", "64", "--batch-size", "32", "--no-progress"]


def test_the_cpu_recipe_trains_its_first_half_on_24_pixel_crops_of_photos_only(capsys):
    assert (recipe.RECIPES["cpu"].low_res_epochs, recipe.RECIPES["cpu"].low_res_size) == (0.5, 24)
    assert recipe.RECIPES["paper"].low_res_epochs == 0
    assert train.parse_args(["--dataset", "cifar10"]).low_res_epochs == 0.5
    assert train.parse_args([]).low_res_epochs == train.SYNTHETIC_LOW_RES_EPOCHS == 0  # the quick start's textures
    for argv, message in [(["--low-res-epochs", "1"], "--low-res-epochs must be a finite number in [0, 1), got 1.0"),
                          (["--low-res-size", "0"], "--low-res-size must be >= 1 pixel, got 0")]:
        with pytest.raises(SystemExit):
            train.parse_args(argv)
        assert message in capsys.readouterr().err


def test_training_crop_cuts_small_windows_of_the_unpadded_image_while_switched_on():
    images = np.full((64, 3, 32, 32), 200, dtype=np.uint8)
    labels = np.arange(64) % 10
    loader, test_loader = make_loaders(train.parse_args(["--dataset", "cifar10"]), images, labels, images, labels)
    crop = loader.transform.transforms[0]
    assert isinstance(crop, TrainingCrop)
    rng = np.random.default_rng(0)
    full = crop(images, rng)
    assert full.shape == (64, 3, 32, 32) and (full == 0).any()  # padded by 4: some windows reach the zeros
    use_low_res(loader, True)
    small = crop(images, rng)
    assert small.shape == (64, 3, 24, 24) and (small == 200).all()  # inside the photo: no padding
    use_low_res(loader, False)
    assert crop(images, rng).shape == (64, 3, 32, 32)
    with pytest.raises(ValueError, match="low-resolution epochs need the training loader of make_loaders"):
        use_low_res(test_loader, True)  # its transform has no crop to switch
    use_low_res(test_loader, False)  # nothing to switch off: fine


def test_the_model_takes_its_training_sizes_in_training_mode_only():
    model = build_model(SMALLEST_PRESET, training_sizes=(24,))
    assert model(mg.zeros(2, 3, 24, 24)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"expects input \(N, 3, 32, 32\) or \(N, 3, 24, 24\), got shape \(2, 3, 28, 28\)"):
        model(mg.zeros(2, 3, 28, 28))
    model.eval()
    with pytest.raises(ValueError, match=r"expects input \(N, 3, 32, 32\), got shape \(2, 3, 24, 24\)"):
        model(mg.zeros(2, 3, 24, 24))
    assert model(mg.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"training_sizes must be positive ints, got \(0,\)"):
        build_model(SMALLEST_PRESET, training_sizes=(0,))


def test_the_plan_counts_low_resolution_steps_at_their_own_cost():
    args = dict(budget_seconds=200, spent_seconds=10, steps_per_epoch=10, step_seconds=0.5, evaluation_seconds=2.0,
                final_evaluation_seconds=4.0, margin=0.1)
    full = budget.plan_for_budget(**args)
    plan = budget.plan_for_budget(**args, low_res_share=0.5, low_res_step_seconds=0.3)
    assert plan.total_steps > full.total_steps and plan.low_res_step_seconds == 0.3
    assert plan.low_res_epochs == budget.low_res_epoch_count(0.5, plan.epochs) > 0
    low_res_steps = plan.low_res_epochs * plan.steps_per_epoch
    predicted = 10 + low_res_steps * 0.3 + (plan.total_steps - low_res_steps) * 0.5 + plan.epochs * 2.0 + 4.0
    assert predicted <= 180 < predicted + 0.5 + 2.0  # full: one more step (and evaluation) would not fit
    assert "the first" in plan.describe() and "(0.300 s at low resolution)" in plan.describe()
    with pytest.raises(ValueError, match="low-resolution epochs \\(0.5 of them\\) need their step's time, got 0.0"):
        budget.plan_for_budget(**args, low_res_share=0.5)


def test_a_resumed_run_is_allowed_its_remaining_steps_each_at_its_own_cost():
    # 3 epochs of 10 steps at low resolution (0.2 s), then 2 of 10 and 5 steps at full size (0.5 s)
    plan = budget.Plan(55, 10, 6, 300.0, 0.5, 2.0, low_res_epochs=3, low_res_step_seconds=0.2)
    assert plan.seconds_after(0) == pytest.approx(30 * 0.2 + 25 * 0.5)
    assert plan.seconds_after(12) == pytest.approx(18 * 0.2 + 25 * 0.5)
    assert plan.seconds_after(40) == pytest.approx(15 * 0.5)
    assert plan.seconds_after(55) == 0
    unmeasured = plan._replace(low_res_step_seconds=0.0)  # planned in epochs: every step at the step's time
    assert unmeasured.seconds_after(12) == pytest.approx(43 * 0.5)
    # resumed after 12 steps with 299 s of the budget spent: the plan's prediction, not the 1 s left
    resumed = types.SimpleNamespace(plan=plan, spent_seconds=299.0, partial={"batches_done": 2}, history=[{}], start_epoch=1)
    predicted = plan.seconds_after(12) + 5 * 2.0
    assert Trainer.time_allowance(resumed) == pytest.approx(predicted * (1 + 2 * budget.MARGIN))


@pytest.mark.parametrize("size", [24, 16])
def test_a_run_trains_its_first_epochs_on_small_crops(tmp_path, monkeypatch, size):
    seen = {}
    original_step = Trainer.step

    def recording_step(self, images, labels, epoch, step):
        seen.setdefault(epoch, set()).add(images.shape[-1])
        return original_step(self, images, labels, epoch, step)

    monkeypatch.setattr(Trainer, "step", recording_step)
    out = tmp_path / "run"
    history = train.run(train.parse_args(TINY + ["--epochs", "4", "--low-res-epochs", "0.5", "--low-res-size", str(size),
                                                 "--out", str(out)]))
    assert seen == {0: {size}, 1: {size}, 2: {32}, 3: {32}}
    assert len(history) == 4  # each epoch evaluated: in eval mode, which takes 32x32 only (test above)
    saved = load_checkpoint(out / CHECKPOINT_NAME)
    assert saved["plan"]["low_res_epochs"] == 2 and saved["args"]["low_res_size"] == size

