"""Mixup (resnext_np/training/mixup.py): the blend, its loss and gradient, the option, and a run
whose steps see blended photos."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.gradcheck import gradcheck
from resnext_np import train
from resnext_np.training import mixup
from resnext_np.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from resnext_np.training.loop import Trainer

TINY = ["--train-size", "96", "--test-size", "64", "--batch-size", "32", "--no-progress"]


def test_mix_blends_each_image_with_a_partner_by_one_beta_weight():
    images = np.random.default_rng(0).standard_normal((6, 3, 4, 4)).astype(np.float32)
    blended, partner, lam = mixup.mix(images, 0.4, mixup.step_generator(7, 0, 2, 5))
    assert sorted(partner) == list(range(6)) and 0.0 <= lam <= 1.0
    assert blended.dtype == np.float32 and blended.shape == images.shape
    expected = lam * images.astype(np.float64) + (1 - lam) * images[partner].astype(np.float64)
    np.testing.assert_allclose(blended, expected, rtol=1e-6, atol=1e-6)
    # The same step of the same run draws the same blend; another step, rank or seed another one.
    again = mixup.mix(images, 0.4, mixup.step_generator(7, 0, 2, 5))
    assert again[2] == lam and np.array_equal(again[1], partner)
    others = [mixup.mix(images, 0.4, mixup.step_generator(*key))[2] for key in [(7, 0, 2, 6), (7, 1, 2, 5), (8, 0, 2, 5)]]
    assert all(other != lam for other in others)


def test_small_alphas_draw_weights_near_zero_or_one():
    weights = [mixup.mix(np.zeros((2, 1, 1, 1)), 0.2, mixup.step_generator(0, 0, 0, step))[2] for step in range(2000)]
    near_the_ends = np.mean([min(w, 1 - w) < 0.1 for w in weights])
    assert 0.55 < near_the_ends < 0.75  # Beta(0.2, 0.2) puts about 64% of its mass within 0.1 of 0 or 1
    assert abs(np.mean(weights) - 0.5) < 0.03


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_mixed_loss_is_the_cross_entropy_against_both_labels(smoothing):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 4))
    labels, partner, lam = np.array([0, 3, 1, 1, 2]), np.array([2, 0, 4, 1, 3]), 0.3
    loss = mixup.mixed_cross_entropy(mg.tensor(logits, dtype="float64"), labels, partner, lam, label_smoothing=smoothing)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))

    def cross_entropy(targets):  # label smoothing as PyTorch: (1 - s) one-hot + s / classes
        soft = (1 - smoothing) * np.eye(4)[targets] + smoothing / 4
        return -(soft * log_p).sum(axis=1).mean()

    assert loss.item() == pytest.approx(lam * cross_entropy(labels) + (1 - lam) * cross_entropy(labels[partner]), rel=1e-12)
    assert gradcheck(lambda x: mixup.mixed_cross_entropy(x, labels, partner, lam, label_smoothing=smoothing),
                     mg.tensor(logits, dtype="float64", requires_grad=True))


def test_a_weight_of_one_is_the_plain_loss():
    logits, labels = mg.tensor(np.array([[1.0, -2.0, 0.5]]), dtype="float64"), np.array([2])
    plain = mg.functional.cross_entropy(logits, labels, label_smoothing=0.1).item()
    assert mixup.mixed_cross_entropy(logits, labels, np.array([0]), 1.0, label_smoothing=0.1).item() == plain


@pytest.mark.parametrize("value", ["-0.1", "nan", "inf"])
def test_the_option_must_be_a_finite_alpha_of_zero_or_more(value, capsys):
    with pytest.raises(SystemExit):
        train.parse_args(TINY + ["--mixup", value])
    assert f"--mixup must be a finite number >= 0, got {float(value)}" in capsys.readouterr().err


def test_the_recipes_leave_it_off_and_help_lists_it(capsys):
    assert train.parse_args(TINY).mixup == 0.0
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    assert "--mixup ALPHA" in capsys.readouterr().out


def test_a_run_with_mixup_trains_on_blends_of_its_batches(tmp_path, monkeypatch):
    seen = []
    original_step = Trainer.step

    def recording_step(self, images, labels, epoch, step):
        inputs = []
        handle = self.model.register_forward_hook(lambda module, args, output: inputs.append(args[0].data.copy()))
        try:
            result = original_step(self, images, labels, epoch, step)
        finally:
            handle.remove()
        seen.append((images.copy(), inputs[0]))
        return result

    monkeypatch.setattr(Trainer, "step", recording_step)
    out = tmp_path / "run"
    train.run(train.parse_args(TINY + ["--epochs", "1", "--mixup", "1.0", "--out", str(out)]))
    assert len(seen) == 3
    for step, (batch, model_input) in enumerate(seen):
        blended, partner, lam = mixup.mix(batch, 1.0, mixup.step_generator(0, 0, 0, step))
        np.testing.assert_array_equal(model_input, blended)
        assert 0.0 < lam < 1.0 and not np.array_equal(model_input, batch)
    assert load_checkpoint(out / CHECKPOINT_NAME)["args"]["mixup"] == 1.0
