"""The three forms of the ResNeXt block compute one function; the converters are exact."""

import doctest
import itertools

import numpy as np
import pytest

import minigrad as mg
from resnext_np import block as block_module
from resnext_np import convert as convert_module
from resnext_np.block import (
    ResNeXtBottleneck,
    SplitTransformMergeBlock,
    bottleneck_widths,
)
from resnext_np.convert import FORMS, convert, convert_state_dict, form_of, gradients

# Classroom task t08 (the converters' slicing). Its graded tests move weights without running a
# block; the tests that run forms (a) and (b) forward, with im2col + matmul, grade task t13 (as
# test_block_forms.py does); tests that also run backward go through t01, t06 and t07 and are not graded.
T08 = pytest.mark.t08_block_converter
T13 = pytest.mark.t13_block_forms_forward


@pytest.fixture
def im2col_path():
    """"auto" would run the narrow 3x3s with the direct loops, which are task t10."""
    with mg.conv_algorithm("im2col"):
        yield


# in, out, stride, cardinality, base_width, widen_factor:  d = int(16 * out / 64), D = 2 * d
CONFIGS = {
    "identity": (8, 8, 1, 2, 16, 1),        # d = 2, identity shortcut
    "projection": (8, 16, 1, 2, 16, 1),     # d = 4, 1x1 projection (channels change)
    "stride2": (8, 16, 2, 2, 16, 1),        # d = 4, strided projection
    "stride2_same": (8, 8, 2, 4, 32, 1),    # d = 4, C = 4; stride 2 with equal channels projects too
}


def randomize(block, seed):
    """Random weights, BN affine parameters and running statistics, so a slicing bug shows."""
    rng = np.random.default_rng(seed)
    state = block.state_dict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var") or (key.split(".")[-2].startswith(("bn", "shortcut_bn")) and key.endswith("weight")):
            state[key] = rng.uniform(0.5, 2.0, value.shape)
        else:
            state[key] = rng.normal(0.0, 0.5, value.shape)
    block.load_state_dict(state)
    return block


def three_forms(config, seed=0, training=True):
    block_c = randomize(ResNeXtBottleneck(*config).double(), seed).train(training)
    return convert(block_c, "a"), convert(block_c, "b"), block_c


def run_with_grad(block, x_data):
    x = mg.tensor(x_data.copy(), requires_grad=True)
    block.zero_grad()
    out = block(x)
    out.backward(np.random.default_rng(7).standard_normal(out.shape))
    return out.data, x.grad.data


def input_for(config, seed=1, batch=3, size=6):
    return np.random.default_rng(seed).standard_normal((batch, config[0], size, size))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_three_forms_same_output_and_gradients(name, training):
    config = CONFIGS[name]
    x_data = input_for(config)
    forms = dict(zip("abc", three_forms(config, training=training)))
    results = {form: run_with_grad(block, x_data) for form, block in forms.items()}
    out_c, grad_x_c = results["c"]
    grads_c = gradients(forms["c"])
    assert set(grads_c) == {name for name, _ in forms["c"].named_parameters()}
    for form in "ab":
        out, grad_x = results[form]
        np.testing.assert_allclose(out, out_c, rtol=0, atol=1e-10)
        np.testing.assert_allclose(grad_x, grad_x_c, rtol=0, atol=1e-10)
        grads_as_c = convert_state_dict(gradients(forms[form]), form, "c", config[3])
        assert set(grads_as_c) == set(grads_c)
        for key, grad in grads_c.items():
            np.testing.assert_allclose(grads_as_c[key], grad, rtol=0, atol=1e-10, err_msg=key)
    # the output is not trivially equal: it depends on the randomised weights
    assert np.abs(out_c).max() > 0.1


@T13
@pytest.mark.usefixtures("im2col_path")
@pytest.mark.parametrize("name", ["projection", "stride2_same"])
def test_running_statistics_update_the_same_in_every_form(name):
    config = CONFIGS[name]
    blocks = three_forms(config, seed=3, training=True)
    x = mg.tensor(input_for(config, seed=4))
    for block in blocks:
        block(x)
        block(x * 2.0)
    state_c = blocks[2].state_dict()
    for block in blocks[:2]:
        as_c = convert_state_dict(block.state_dict(), form_of(block), "c", config[3])
        assert set(as_c) == set(state_c)
        for key in state_c:
            np.testing.assert_allclose(as_c[key], state_c[key], rtol=0, atol=1e-12, err_msg=key)
    assert int(state_c["bn_reduce.num_batches_tracked"]) == 2


@T13
@pytest.mark.usefixtures("im2col_path")
@pytest.mark.parametrize("source, target", list(itertools.permutations("abc", 2)))
def test_every_pair_of_forms_converts_exactly(source, target):
    config = CONFIGS["stride2"]
    block_c = randomize(ResNeXtBottleneck(*config).double(), seed=5).eval()
    source_block = convert(block_c, source) if source != "c" else block_c
    target_block = convert(source_block, target)
    assert isinstance(target_block, FORMS[target]) and not target_block.training
    x = mg.tensor(input_for(config))
    np.testing.assert_allclose(target_block(x).data, source_block(x).data, rtol=0, atol=1e-10)


@T08
@pytest.mark.parametrize("start, middle", [("a", "c"), ("a", "b"), ("b", "c"), ("c", "a")])
def test_round_trip_reproduces_weights_exactly(start, middle):
    config = CONFIGS["stride2"]
    block = randomize(FORMS[start](*config).double(), seed=6)
    back = convert(convert(block, middle), start)
    original, returned = block.state_dict(), back.state_dict()
    assert list(returned) == list(original)
    for key in original:
        assert returned[key].dtype == original[key].dtype
        assert np.array_equal(returned[key], original[key]), key


@T08
def test_branches_take_slices_of_the_grouped_weights():
    """Form (a)'s first layer is D = C*d filters dealt out d to each branch, not a squash to d."""
    config = CONFIGS["stride2_same"]  # C = 4, d = 4
    block_c = randomize(ResNeXtBottleneck(*config).double(), seed=8)
    block_a = convert(block_c, "a")
    d = block_c.branch_width
    assert (d, block_c.bottleneck_width) == (4, 16)
    for i, branch in enumerate(block_a.branches):
        rows = slice(i * d, (i + 1) * d)
        assert np.array_equal(branch.conv_reduce.weight.data, block_c.conv_reduce.weight.data[rows])
        assert np.array_equal(branch.conv_conv.weight.data, block_c.conv_conv.weight.data[rows])
        assert np.array_equal(branch.conv_expand.weight.data, block_c.conv_expand.weight.data[:, rows])
        for bn_name in ("bn_reduce", "bn"):
            branch_bn, grouped_bn = getattr(branch, bn_name), getattr(block_c, bn_name)
            assert np.array_equal(branch_bn.running_var, grouped_bn.running_var[rows])
            assert np.array_equal(branch_bn.weight.data, grouped_bn.weight.data[rows])
    assert np.array_equal(block_a.bn_expand.running_mean, block_c.bn_expand.running_mean)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parameter_counts_are_equal(name):
    counts = [sum(p.numel() for p in block.parameters()) for block in three_forms(CONFIGS[name])]
    assert counts[0] == counts[1] == counts[2]


def test_paper_block_widths_and_shapes():
    block = ResNeXtBottleneck(256, 256, 1, cardinality=32, base_width=4, widen_factor=4)
    assert (block.branch_width, block.bottleneck_width) == (4, 128)
    assert block.conv_reduce.weight.shape == (128, 256, 1, 1)
    assert block.conv_conv.weight.shape == (128, 4, 3, 3) and block.conv_conv.groups == 32
    assert block.conv_expand.weight.shape == (256, 128, 1, 1)
    assert not block.shortcut._modules  # identity


def test_state_dict_keys_match_the_reference_pytorch_names():
    bn_keys = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    expected = ["conv_reduce.weight"] + [f"bn_reduce.{k}" for k in bn_keys]
    expected += ["conv_conv.weight"] + [f"bn.{k}" for k in bn_keys]
    expected += ["conv_expand.weight"] + [f"bn_expand.{k}" for k in bn_keys]
    assert list(ResNeXtBottleneck(*CONFIGS["identity"]).state_dict()) == expected
    projection = expected + ["shortcut.shortcut_conv.weight"] + [f"shortcut.shortcut_bn.{k}" for k in bn_keys]
    assert list(ResNeXtBottleneck(*CONFIGS["projection"]).state_dict()) == projection


def test_stride_two_with_equal_channels_projects_the_shortcut():
    block = ResNeXtBottleneck(*CONFIGS["stride2_same"])
    assert block.shortcut.shortcut_conv.stride == (2, 2)
    assert block(mg.zeros(2, 8, 7, 7)).shape == (2, 8, 4, 4)


@pytest.mark.parametrize("name", ["projection", "stride2"])
def test_block_gradcheck(name):
    config = CONFIGS[name]
    block = randomize(ResNeXtBottleneck(*config).double(), seed=9).train()
    x = mg.tensor(input_for(config, batch=2, size=4), requires_grad=True)
    mg.gradcheck(block, x)  # every input element
    parameters = list(block.parameters())
    mg.gradcheck(lambda *params: block(x.detach()), *parameters, n_directions=12)


@pytest.mark.parametrize("form", ["a", "b"])
def test_branch_forms_gradcheck(form):
    config = CONFIGS["stride2"]
    block = convert(randomize(ResNeXtBottleneck(*config).double(), seed=10), form)
    x = mg.tensor(input_for(config, batch=2, size=4), requires_grad=True)
    mg.gradcheck(lambda x, *params: block(x), x, *block.parameters(), n_directions=6)


def test_zero_width_branches_are_a_value_error_quoting_the_numbers():
    with pytest.raises(ValueError, match=r"base_width=2 \* out_channels=8 / \(widen_factor=1 \* 64\)"):
        ResNeXtBottleneck(8, 8, 1, cardinality=2, base_width=2, widen_factor=1)
    with pytest.raises(ValueError, match="cardinality must be a positive int, got 0"):
        bottleneck_widths(8, 8, 0, 4, 1)
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        SplitTransformMergeBlock(8, 8, 3, 2, 16, 1)


def test_wrong_input_channels_is_a_value_error():
    for form_cls in FORMS.values():
        with pytest.raises(ValueError, match=r"expects input \(N, 8, H, W\), got shape \(1, 3, 4, 4\)"):
            form_cls(*CONFIGS["identity"])(mg.zeros(1, 3, 4, 4))


def test_converting_with_a_cardinality_that_does_not_divide_the_channels_fails():
    state = ResNeXtBottleneck(*CONFIGS["projection"]).state_dict()  # D = 8
    with pytest.raises(ValueError, match=r"'conv_reduce.weight' has 8 channels .* cardinality=3 does not divide"):
        convert_state_dict(state, "c", "a", cardinality=3)
    branches = convert_state_dict(state, "c", "b", cardinality=2)
    with pytest.raises(ValueError, match=r"expected branches 0..3 \(cardinality=4\), found \[0, 1\]"):
        convert_state_dict(branches, "b", "c", cardinality=4)
    with pytest.raises(ValueError, match="form must be one of"):
        convert_state_dict(state, "c", "d", cardinality=2)


def test_module_list_registers_children_by_index():
    modules = mg.nn.ModuleList([mg.nn.Linear(2, 3), mg.nn.Linear(3, 1)])
    assert len(modules) == 2 and modules[1].out_features == 1
    assert list(modules.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="ModuleList takes Modules, got int at position 2"):
        modules.append(3)


# ---------------------------------------------------------------- PyTorch parity (skips without torch)
def test_grouped_block_matches_a_pytorch_block_with_the_same_state_dict():
    torch = pytest.importorskip("torch")
    config = CONFIGS["stride2"]
    in_channels, out_channels, stride, cardinality, _, _ = config
    block = randomize(ResNeXtBottleneck(*config).double(), seed=11)
    width = block.bottleneck_width

    class TorchBlock(torch.nn.Module):
        """Form (c) written directly in PyTorch, with the reference code's attribute names."""

        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.conv_reduce = nn.Conv2d(in_channels, width, 1, bias=False)
            self.bn_reduce = nn.BatchNorm2d(width)
            self.conv_conv = nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False)
            self.bn = nn.BatchNorm2d(width)
            self.conv_expand = nn.Conv2d(width, out_channels, 1, bias=False)
            self.bn_expand = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Sequential()
            self.shortcut.add_module("shortcut_conv", nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))
            self.shortcut.add_module("shortcut_bn", nn.BatchNorm2d(out_channels))

        def forward(self, x):
            f = torch.nn.functional
            h = f.relu(self.bn_reduce(self.conv_reduce(x)))
            h = f.relu(self.bn(self.conv_conv(h)))
            return f.relu(self.shortcut(x) + self.bn_expand(self.conv_expand(h)))

    reference = TorchBlock().double()
    reference.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in block.state_dict().items()})
    x_data = input_for(config)
    for training in (False, True):
        block.train(training), reference.train(training)
        expected = reference(torch.from_numpy(x_data)).detach().numpy()
        np.testing.assert_allclose(block(mg.tensor(x_data)).data, expected, rtol=0, atol=1e-10)
    for key, value in reference.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(block.state_dict()[key], value.numpy(), rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("module", [block_module, convert_module], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
