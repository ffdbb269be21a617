"""The CIFAR CPU recipe and the time budget: parameter groups, flip TTA, the planner (with a fake
clock), stopping on time, resuming the same plan exactly, and the command on a real-format CIFAR folder."""

import os
import pickle

import numpy as np
import pytest

import minigrad as mg
from resnext_np import evaluate, train
from resnext_np.model import build_model
from resnext_np.training import budget, recipe, scoring
from resnext_np.training import run as run_module
from resnext_np.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

TINY = ["--train-size", "96", "--test-size", "64", "--batch-size", "32", "--no-progress"]


class FakeClock:
    """Each reading advances ``tick`` seconds: time passes only when someone looks."""

    def __init__(self, tick):
        self.now, self.tick = 0.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


# ----------------------------------------------------------------------------- recipe elements
def test_parameter_groups_exempt_exactly_the_biases_and_batchnorm_parameters():
    model = build_model("resnext11_4x8d_w1")
    decayed, exempt = recipe.parameter_groups(model, 5e-4, decay_norms_and_biases=False)
    names = {id(p): name for name, p in model.named_parameters()}
    assert decayed["weight_decay"] == 5e-4 and exempt["weight_decay"] == 0.0
    exempt_names = {names[id(p)] for p in exempt["params"]}
    expected = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters():
            if "." not in name and (isinstance(module, mg.nn.BatchNorm2d) or name == "bias"):
                expected.add(f"{module_name}.{name}" if module_name else name)
    assert exempt_names == expected and len(expected) > 10
    assert all(names[id(p)].endswith("weight") and p.ndim in (2, 4) for p in decayed["params"])
    assert len(decayed["params"]) + len(exempt["params"]) == len(list(model.parameters()))
    (everything,) = recipe.parameter_groups(model, 5e-4, decay_norms_and_biases=True)
    assert len(everything["params"]) == len(list(model.parameters()))


def test_sgd_leaves_the_exempt_group_undecayed():
    model = build_model("resnext11_4x8d_w1")
    args = train.parse_args(["--lr", "0.1", "--momentum", "0.5", "--no-nesterov", "--schedule", "multistep"])
    optimizer, _ = recipe.make_optimizer(args, model, total_steps=10)
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = mg.zeros(p.shape, dtype=p.dtype)
    optimizer.step()  # zero gradient: only weight decay moves a parameter
    for name, p in model.named_parameters():
        if p.ndim >= 2:
            np.testing.assert_allclose(p.data, before[name] * (1 - 0.1 * args.weight_decay), rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(p.data, before[name], err_msg=name)


def test_zero_init_residual_makes_every_block_start_as_its_shortcut():
    from resnext_np.block import ResNeXtBottleneck

    model = recipe.initialise(build_model("resnext11_4x8d_w1"),
                              train.parse_args(["--zero-init-residual", "--no-whitening-stem"]))
    blocks = [module for module in model.modules() if isinstance(module, ResNeXtBottleneck)]
    assert len(blocks) == 3
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 64, 8, 8)).astype(np.float32))
    block = blocks[0]  # 64 -> 64, identity shortcut
    with mg.no_grad():
        np.testing.assert_allclose(block(x).data, np.maximum(x.data, 0), rtol=1e-6)
    untouched = recipe.initialise(build_model("resnext11_4x8d_w1"), train.parse_args(["--no-whitening-stem"]))
    assert all(np.all(m.bn_expand.weight.data == 1) for m in untouched.modules() if isinstance(m, ResNeXtBottleneck))


def test_whitening_stem_is_fitted_to_the_first_training_images_and_never_trained():
    from minigrad.nn.whitening import patch_whitening_filters

    images = np.random.default_rng(0).standard_normal((recipe.WHITENING_IMAGES + 50, 3, 8, 8)).astype(np.float32)
    images[recipe.WHITENING_IMAGES:] *= 100  # images past the first WHITENING_IMAGES must not count
    options = train.parse_args(["--dataset", "cifar10"])
    assert options.whitening_stem and not train.parse_args([]).whitening_stem  # the cpu recipe's; not on synthetic
    model = recipe.initialise(build_model("resnext11_4x8d_w1", whitening_stem=True), options, images)
    stem = model.conv_1_3x3
    assert isinstance(stem, mg.nn.PatchWhitening2d) and not stem.weight.requires_grad
    expected = patch_whitening_filters(images[:recipe.WHITENING_IMAGES], (3, 3), stem.eps)
    np.testing.assert_allclose(stem.weight.data[:54], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass training_images"):
        recipe.initialise(build_model("resnext11_4x8d_w1", whitening_stem=True), options)
    plain = recipe.initialise(build_model("resnext11_4x8d_w1"), train.parse_args(["--no-whitening-stem"]), images)
    assert type(plain.conv_1_3x3) is mg.nn.Conv2d and plain.conv_1_3x3.weight.requires_grad


def test_cutout_goes_last_in_the_training_transform_only(capsys):
    from minigrad.data import Cutout, Normalize
    from resnext_np.training.loaders import make_loaders

    images, labels = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), np.arange(8) % 10
    with_cutout = train.parse_args(["--cutout", "8"])
    train_loader, test_loader = make_loaders(with_cutout, images, labels, images, labels)
    steps = train_loader.transform.transforms
    assert isinstance(steps[-2], Normalize) and isinstance(steps[-1], Cutout) and steps[-1].size == 8
    assert not any(isinstance(step, Cutout) for step in test_loader.transform.transforms)
    plain_loader, _ = make_loaders(train.parse_args([]), images, labels, images, labels)
    assert train.parse_args([]).cutout == recipe.RECIPES["cpu"].cutout
    assert any(isinstance(step, Cutout) for step in plain_loader.transform.transforms) == bool(recipe.RECIPES["cpu"].cutout)
    with pytest.raises(SystemExit):
        train.parse_args(["--cutout", "-1"])
    assert "--cutout must be >= 0 pixels, got -1" in capsys.readouterr().err


def test_flip_tta_averages_the_softmax_of_the_image_and_its_mirror():
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Flatten(), mg.nn.Linear(2 * 3 * 4, 5))
    images = np.random.default_rng(0).standard_normal((3, 2, 3, 4)).astype(np.float32)
    weight, bias = model[1].weight.data.astype(np.float64), model[1].bias.data.astype(np.float64)

    def softmax_by_hand(batch):
        logits = batch.reshape(len(batch), -1) @ weight.T + bias
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    plain = scoring.class_probabilities(model, images)
    averaged = scoring.class_probabilities(model, images, flip_tta=True)
    np.testing.assert_allclose(plain, softmax_by_hand(images), rtol=1e-5)
    np.testing.assert_allclose(averaged, (softmax_by_hand(images) + softmax_by_hand(images[..., ::-1])) / 2, rtol=1e-5)
    assert not np.allclose(averaged, plain)


def test_confusion_matrix_and_per_class_table_count_by_hand():
    predictions, labels = np.array([0, 1, 1, 2, 0]), np.array([0, 0, 1, 2, 2])
    assert scoring.confusion_matrix(predictions, labels, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert evaluate.per_class_table(predictions, labels, ["a", "b", "c"]) == [
        ("a", 1, 2, 0.5, "b"), ("b", 1, 1, 1.0, "-"), ("c", 1, 2, 0.5, "a")]


# ----------------------------------------------------------------------------- the planner
def test_plan_fills_the_budget_with_steps_and_evaluations():
    plan = budget.plan_for_budget(budget_seconds=100, spent_seconds=10, steps_per_epoch=7, step_seconds=0.5,
                                  evaluation_seconds=2.0, final_evaluation_seconds=4.0, margin=0.1)
    # 90 - 10 - 4 = 76 s: e epochs cost 2e s of evaluation; 12 epochs leave 52 s = 104 steps > 84 possible,
    # 13 epochs leave 50 s = 100 steps > 84 -> 13 epochs of at most 91 steps: 100 > 91 -> the 14th is tried...
    predicted = plan.total_steps * 0.5 + plan.epochs * 2.0 + 4.0 + 10
    assert predicted <= 90 < predicted + 0.5 + 2.0  # full, and one more step (with its evaluation) would not fit
    assert plan.epochs == -(-plan.total_steps // 7)
    assert sum(plan.steps_in_epoch(e) for e in range(plan.epochs)) == plan.total_steps


def test_a_budget_that_fits_no_step_is_refused_with_the_measured_times():
    with pytest.raises(ValueError, match=r"a budget of 0.1 min fits no training step: 5.0 s went to setup.*2.00 s"):
        budget.plan_for_budget(6, 5.0, 10, 2.0, 1.0, 0.0)


def test_time_calls_takes_the_median_after_an_untimed_call():
    durations = iter([100.0, 3.0, 1.0, 2.0])  # the first (untimed) call is slow: compilation

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()

    def call():
        clock.now += next(durations)

    assert budget.time_calls(call, 3, clock) == 2.0


@pytest.mark.parametrize("step_seconds, budget_seconds, more", [
    (0.1, 300, 39),    # 5 minutes: 45 steps of 0.1 s add up to 1.5% of the budget
    (1.0, 60, 0),      # the first six steps already take more than 1.5% of a minute
    (0.001, 600, 194),  # capped: 200 timed steps in all
])
def test_planner_times_steps_for_a_share_of_the_budget(step_seconds, budget_seconds, more):
    assert budget.more_steps_to_time(step_seconds, budget_seconds) == more


def test_planning_times_the_steps_that_fill_its_share_of_the_budget(monkeypatch, capsys):
    from resnext_np.training.loop import Trainer

    calls = []
    original_step = Trainer.step

    def counted_step(self, *args, **kwargs):
        calls.append(1)
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "step", counted_step)
    # A timed step is one tick between two readings: 1 s, so 1.5% of a 20-minute budget is 18 steps.
    assert train.run(train.parse_args(TINY + ["--time-budget", "20", "--plan-only"]), clock=FakeClock(tick=1.0)) == []
    assert len(calls) == 1 + 18  # one untimed step first
    assert "measured 1.000 s per step" in capsys.readouterr().out


def test_planning_times_both_sizes_in_alternation(monkeypatch, capsys):
    from resnext_np.training.loop import Trainer

    sizes = []
    original_step = Trainer.step

    def recording_step(self, images, labels, epoch, step):
        sizes.append(images.shape[-1])
        return original_step(self, images, labels, epoch, step)

    monkeypatch.setattr(Trainer, "step", recording_step)
    # A timed step is one tick between two readings: 1 s, so 1.5% of a 20-minute budget is 18 steps of each size.
    argv = TINY + ["--time-budget", "20", "--plan-only", "--low-res-epochs", "0.5"]
    assert train.run(train.parse_args(argv), clock=FakeClock(tick=1.0)) == []
    assert sizes == [32, 24] + [32, 24] * 18  # one untimed step of each first
    assert "measured 1.000 s per step (1.000 s at low resolution)" in capsys.readouterr().out


@pytest.mark.parametrize("averaging, reported", [
    (["--ema-decay", "0.9"], "moving average of the weights"),
    (["--average-last", "0.5"], "average of the weights of the last 50% of the steps"),
    (["--average-last", "0.5", "--low-res-epochs", "0.5"], "average of the weights of the last 50% of the steps"),
    (["--average-last", "0.5", "--mixup", "0.4"], "average of the weights of the last 50% of the steps"),  # the blends replay
])
def test_budget_run_stops_on_time_and_resume_finishes_the_same_plan_bit_for_bit(tmp_path, monkeypatch, capsys,
                                                                                averaging, reported):
    argv = TINY + ["--time-budget", "1", *averaging, "--out", str(tmp_path / "stopped")]  # the average resumes too
    history = train.run(train.parse_args(argv), clock=FakeClock(tick=1.0))  # the loop reads the clock > once a step
    out = capsys.readouterr().out
    saved = load_checkpoint(tmp_path / "stopped" / CHECKPOINT_NAME)
    plan = budget.plan_from_dict(saved["plan"])
    assert plan.step_seconds == 1.0 and plan.budget_seconds == 60.0 and f"plan: {plan.describe()}" in out
    assert "the time budget of 1 min ran out at epoch" in out and saved["partial_epoch"] is not None
    done = saved["epoch"] * plan.steps_per_epoch + saved["partial_epoch"]["batches_done"]
    assert 0 < done < plan.total_steps and saved["spent_seconds"] > 60.0
    assert len(history) == saved["epoch"]

    resumed = train.run(train.parse_args(argv + ["--resume"]), clock=FakeClock(tick=0.0))
    # The same plan without a deadline, in one go.
    monkeypatch.setattr(run_module, "measure_plan", lambda *args, **kwargs: plan._replace(budget_seconds=0.0))
    straight = train.run(train.parse_args(TINY + ["--time-budget", "1", *averaging,
                                                  "--out", str(tmp_path / "straight")]))
    keep = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "test_acc_flip_tta")
    assert [{k: row.get(k) for k in keep} for row in resumed] == [{k: row.get(k) for k in keep} for row in straight]
    assert len(straight) == plan.epochs
    a = load_checkpoint(tmp_path / "stopped" / CHECKPOINT_NAME)
    b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME)
    for name in b["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name], err_msg=name)
        np.testing.assert_array_equal(a["ema"]["average"][name], b["ema"]["average"][name], err_msg=name)
    if "--average-last" in averaging:  # the plain mean of the weights after each step of the last half
        assert b["ema"]["updates"] == round(plan.total_steps * 0.5) > 1
    capsys.readouterr()
    assert evaluate.main([str(tmp_path / "straight" / CHECKPOINT_NAME), "--test-size", "64", "--no-plot"]) == 0
    assert f"({reported}): test accuracy {straight[-1]['test_acc']:.4f}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the command, as a newcomer meets it
def write_cifar_folder(root, train_count=96, test_count=64, seed=0):
    """A real-format cifar-10-batches-py folder (random pixels) under ``root``."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    counts = {f"data_batch_{i}": train_count // 5 + (i <= train_count % 5) for i in range(1, 6)}
    counts["test_batch"] = test_count
    for file_name, count in counts.items():
        batch = {b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, size=count).tolist()}
        (folder / file_name).write_bytes(pickle.dumps(batch))
    return root


def test_cifar_command_plans_a_budget_trains_and_evaluates_with_tta(tmp_path, capsys):
    data = write_cifar_folder(tmp_path / "data")
    out = tmp_path / "run"
    code = train.main(["--dataset", "cifar10", "--data-dir", str(data), "--time-budget", "0.5", "--batch-size", "32",
                       "--no-progress", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "recipe cpu" in printed and "plan: " in printed and "in a budget of 0.5 min" in printed
    assert "flip test-time augmentation" in printed  # at the end, or when it stopped on time
    checkpoint = load_checkpoint(out / CHECKPOINT_NAME)
    assert checkpoint["args"]["label_smoothing"] == 0.1 and checkpoint["args"]["flip_tta"] is True
    assert checkpoint["args"]["average_last"] == 0.25 and checkpoint["ema"]["updates"] > 0  # docs/cpu_recipe.md
    # The whitening stem: fitted to the normalised training images, then never moved by training.
    from minigrad.nn.whitening import patch_whitening_filters
    from resnext_np.training.loaders import load_data, make_loaders

    args = train.parse_args(["--dataset", "cifar10", "--data-dir", str(data), "--no-progress"])
    train_images, train_labels, test_images, test_labels, _ = load_data(args)
    _, test_loader = make_loaders(args, train_images, train_labels, test_images, test_labels)
    filters = patch_whitening_filters(test_loader.transform(train_images, None), (3, 3))
    np.testing.assert_allclose(checkpoint["model"]["conv_1_3x3.weight"][:54], filters, rtol=1e-4, atol=1e-5)
    assert evaluate.main([str(out / CHECKPOINT_NAME)]) == 0
    report = capsys.readouterr().out
    assert "test accuracy" in report and "with flip test-time augmentation (the recipe's)" in report
    pytest.importorskip("matplotlib")
    assert (out / evaluate.CONFUSION_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_without_out_go_to_fresh_numbered_folders_and_resume_takes_the_latest(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    one_epoch = TINY + ["--epochs", "1"]
    assert train.main(one_epoch) == 0
    assert train.main(one_epoch) == 0
    assert "writing to runs/synthetic-resnext11_4x8d_w1-2" in capsys.readouterr().out
    assert sorted(os.listdir("runs")) == ["synthetic-resnext11_4x8d_w1", "synthetic-resnext11_4x8d_w1-2"]
    assert train.main(TINY + ["--epochs", "2", "--resume"]) == 0
    assert "resuming from runs/synthetic-resnext11_4x8d_w1-2/checkpoint.ckpt" in capsys.readouterr().out


def test_a_failed_start_creates_no_folder_and_names_the_cli_option(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train.main(["--dataset", "cifar10", "--data-dir", str(tmp_path / "empty"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Pass --download to fetch it" in err and "download=True" not in err
    assert not (tmp_path / "runs").exists()


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--dataset", "--model", "--recipe", "--time-budget", "--epochs", "--batch-size", "--lr",
                   "--momentum", "--weight-decay", "--schedule", "--label-smoothing", "--ema-decay", "--flip-tta",
                   "--seed", "--threads", "--out", "--warmup", "--whitening-stem", "--average-last", "--cutout"):
        after = text.split(option, 2)[-1][:400]
        assert "default" in after, option
    assert "resnext11_4x8d_w1" in text and "cpu: 0.2" in text


def test_resuming_a_checkpoint_from_before_the_whitening_stem_asks_for_the_stem_it_was_made_with(tmp_path, capsys):
    out = tmp_path / "old"
    assert train.main(TINY + ["--epochs", "1", "--no-whitening-stem", "--out", str(out)]) == 0
    checkpoint = load_checkpoint(out / CHECKPOINT_NAME)
    del checkpoint["args"]["whitening_stem"]  # as an earlier version wrote it
    mg.save(checkpoint, out / CHECKPOINT_NAME)
    capsys.readouterr()
    assert train.main(TINY + ["--epochs", "2", "--whitening-stem", "--out", str(out), "--resume"]) == 2
    assert "--whitening-stem is True but the checkpoint was made with False" in capsys.readouterr().err
    assert train.main(TINY + ["--epochs", "2", "--out", str(out), "--resume"]) == 0


@pytest.mark.parametrize("content, expected", [
    ("folder", "is a folder; give the checkpoint file in it"),
    ("int pickle", "looks like a pickle"),
    ("dict without keys", "not a training checkpoint"),
])
def test_evaluate_on_something_that_is_not_a_checkpoint_is_one_line_exit_2(tmp_path, capsys, content, expected):
    path = tmp_path / "thing"
    if content == "folder":
        path.mkdir()
    elif content == "int pickle":
        path.write_bytes(pickle.dumps(5))
    else:
        mg.save({"weights": np.zeros(3)}, path)
    assert evaluate.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_moving_average_asked_for_replaces_the_recipes_late_average(capsys):
    assert train.parse_args(["--dataset", "cifar10"]).average_last == 0.25
    args = train.parse_args(["--dataset", "cifar10", "--ema-decay", "0.99"])
    assert (args.ema_decay, args.average_last) == (0.99, 0.0)
    with pytest.raises(SystemExit):
        train.parse_args(["--ema-decay", "0.99", "--average-last", "0.3"])
    assert "give --ema-decay (0.99) or --average-last (0.3), not both" in capsys.readouterr().err
