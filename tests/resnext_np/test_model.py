"""CifarResNeXt: architecture (pinned by exact parameter counts), names, init, presets, errors."""

import doctest
import re
import time

import numpy as np
import pytest

import minigrad as mg
from resnext_np import model as model_module
from resnext_np.block import ResNeXtBottleneck
from resnext_np.model import DEFAULT_PRESET, PRESETS, SMALLEST_PRESET, CifarResNeXt, build_model
from resnext_np.summary import summary


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("args, expected", [
    (dict(cardinality=4, depth=11, base_width=8, widen_factor=1), 161_866),
    (dict(cardinality=32, depth=29, base_width=4), 4_775_754),
    (dict(cardinality=8, depth=29, base_width=64), 34_426_698),
])
def test_exact_parameter_counts(args, expected):
    assert count(CifarResNeXt(num_classes=10, **args)) == expected


@pytest.mark.slow
def test_exact_parameter_count_of_16x64d():
    assert count(CifarResNeXt(16, 29, 10, 64)) == 68_155_210


def documented_presets():
    """Rows of the preset table in resnext_np/model.py's docstring."""
    pattern = re.compile(r"^\s+(resnext\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d,]+)\s+([\d,]+)", re.M)
    rows = {}
    for name, c, depth, d, wf, params, macs in pattern.findall(model_module.__doc__):
        rows[name] = (dict(cardinality=int(c), depth=int(depth), base_width=int(d), widen_factor=int(wf)),
                      int(params.replace(",", "")), int(macs.replace(",", "")))
    return rows


def test_docstring_table_lists_every_preset_with_its_arguments():
    rows = documented_presets()
    assert set(rows) == set(PRESETS)
    for name, (args, _, _) in rows.items():
        assert PRESETS[name] == args, name
    assert SMALLEST_PRESET == DEFAULT_PRESET == min(rows, key=lambda name: rows[name][1])


@pytest.mark.parametrize("name", [
    "resnext11_4x8d_w1", "resnext20_8x8d_w1", "resnext29_32x4d",
    pytest.param("resnext29_8x64d", marks=pytest.mark.slow),
    pytest.param("resnext29_16x64d", marks=pytest.mark.slow),
])
def test_documented_parameters_and_multiply_adds(name):
    _, params, macs = documented_presets()[name]
    table = summary(build_model(name, num_classes=10), (1, 3, 32, 32))
    assert (table.total_parameters, table.total_multiply_adds) == (params, macs)


def test_build_model_and_overrides():
    model = build_model(SMALLEST_PRESET, num_classes=100, input_size=16)
    assert model.classifier.out_features == 100
    assert model(mg.zeros(1, 3, 16, 16)).shape == (1, 100)
    with pytest.raises(ValueError, match="unknown model 'resnet50'; presets are: resnext11_4x8d_w1"):
        build_model("resnet50")


def test_state_dict_names_follow_the_reference_code():
    keys = list(build_model(SMALLEST_PRESET).state_dict())
    assert keys[:2] == ["conv_1_3x3.weight", "bn_1.weight"]
    assert "conv_1_3x3.bias" not in keys
    assert keys[-2:] == ["classifier.weight", "classifier.bias"]
    for key in ["stage_1.stage_1_bottleneck_0.conv_reduce.weight",
                "stage_2.stage_2_bottleneck_0.shortcut.shortcut_conv.weight",
                "stage_3.stage_3_bottleneck_0.shortcut.shortcut_bn.running_var",
                "stage_3.stage_3_bottleneck_0.bn_expand.num_batches_tracked"]:
        assert key in keys, key
    # stage 1 keeps 64 channels at stride 1 when widen_factor=1, so its shortcut is the identity
    assert not any(key.startswith("stage_1.stage_1_bottleneck_0.shortcut") for key in keys)


def test_stage_layout_strides_and_widths():
    model = CifarResNeXt(cardinality=2, depth=20, num_classes=10, base_width=4, widen_factor=2)
    assert [len(stage) for stage in (model.stage_1, model.stage_2, model.stage_3)] == [2, 2, 2]
    firsts = [model.stage_1[0], model.stage_2[0], model.stage_3[0]]
    assert [(b.in_channels, b.out_channels, b.stride) for b in firsts] == [(64, 128, 1), (128, 256, 2), (256, 512, 2)]
    assert [b.branch_width for b in firsts] == [4, 8, 16]
    assert all(isinstance(b, ResNeXtBottleneck) and b.stride == 1 for b in
               (model.stage_1[1], model.stage_2[1], model.stage_3[1]))
    assert model.classifier.in_features == 512


def test_initialisation():
    model = CifarResNeXt(cardinality=8, depth=11, num_classes=10, base_width=8, widen_factor=2, generator=0)
    conv = model.stage_3[0].conv_reduce  # (256, 256, 1, 1): fan_out = 256
    assert abs(conv.weight.data.std() - np.sqrt(2.0 / 256)) < 0.05 * np.sqrt(2.0 / 256)
    for name, value in model.state_dict().items():
        if re.search(r"(bn\w*)\.weight$", name):
            assert np.all(value == 1), name
        if re.search(r"(bn\w*|classifier)\.bias$", name):
            assert np.all(value == 0), name
    again = CifarResNeXt(cardinality=8, depth=11, num_classes=10, base_width=8, widen_factor=2, generator=0)
    assert np.array_equal(again.conv_1_3x3.weight.data, model.conv_1_3x3.weight.data)


def test_tiny_model_gradcheck():
    model = CifarResNeXt(cardinality=2, depth=11, num_classes=3, base_width=2, widen_factor=1,
                         input_size=8, generator=1).double()
    rng = np.random.default_rng(2)
    for module in model.modules():  # move BN affine parameters off their (1, 0) initial values
        if isinstance(module, mg.nn.BatchNorm2d):
            module.weight.data[...] = rng.uniform(0.5, 1.5, module.weight.shape)
            module.bias.data[...] = rng.normal(0, 0.2, module.bias.shape)
    x = mg.tensor(rng.standard_normal((2, 3, 8, 8)), requires_grad=True)
    # one tensor of each kind of layer, in every stage (checking all of them would take minutes)
    checked = [model.conv_1_3x3.weight, model.bn_1.weight,
               model.stage_1[0].conv_conv.weight, model.stage_2[0].shortcut.shortcut_conv.weight,
               model.stage_3[0].conv_expand.weight, model.stage_3[0].bn_expand.bias,
               model.classifier.weight, model.classifier.bias]
    mg.gradcheck(lambda x, *params: model(x), x, *checked, n_directions=6)


def test_training_and_eval_outputs_are_finite():
    model = build_model(SMALLEST_PRESET, generator=0)
    x = mg.randn(4, 3, 32, 32, generator=3)
    logits = model(x)
    loss = mg.functional.cross_entropy(logits, mg.tensor(np.array([0, 1, 2, 3])))
    loss.backward()
    assert logits.shape == (4, 10) and np.isfinite(loss.item())
    assert all(p.grad is not None and np.all(np.isfinite(p.grad.data)) for p in model.parameters())
    model.eval()
    with mg.no_grad():
        assert np.all(np.isfinite(model(x).data))


@pytest.mark.slow
def test_resnext29_8x64d_forward_on_a_batch_of_two():
    model = build_model("resnext29_8x64d", generator=0)
    start = time.perf_counter()
    with mg.no_grad():
        logits = model(mg.randn(2, 3, 32, 32, generator=0))
    elapsed = time.perf_counter() - start
    assert logits.shape == (2, 10) and np.all(np.isfinite(logits.data))
    print(f"resnext29_8x64d forward, batch 2: {elapsed:.1f} s")


@pytest.mark.parametrize("depth", [10, 12, 28, 2])
def test_depth_must_be_9n_plus_2(depth):
    with pytest.raises(ValueError, match=f"depth must be 9n \\+ 2 with n >= 1 .*got depth={depth}"):
        CifarResNeXt(cardinality=2, depth=depth, num_classes=10, base_width=4)


@pytest.mark.parametrize("bad", [dict(cardinality=0), dict(num_classes=0), dict(widen_factor=1.5)])
def test_non_positive_arguments_are_value_errors(bad):
    args = dict(cardinality=2, depth=11, num_classes=10, base_width=8, widen_factor=1, **{})
    args.update(bad)
    with pytest.raises(ValueError, match="must be a positive int"):
        CifarResNeXt(**args)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 3, 28, 28), (2, 32, 32, 3), (3, 32, 32)])
def test_wrong_input_shape_is_a_value_error_quoting_it(shape):
    model = build_model(SMALLEST_PRESET)
    with pytest.raises(ValueError, match=re.escape(f"expects input (N, 3, 32, 32), got shape {shape}")):
        model(mg.zeros(*shape))


@pytest.mark.parametrize("module", [model_module], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
