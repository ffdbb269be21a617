"""Classroom task t13: forms (a) and (b) of the ResNeXt block, run forward with weights converted
from form (c) (resnext_np/block.py; the converter is task t08), give form (c)'s output.

Every convolution runs as im2col + matmul (tasks t04, t05): "auto" would pick the direct loops
for the narrow 3x3s (task t10), which these tests do not grade.
"""

import numpy as np
import pytest

import minigrad as mg
from resnext_np.block import Branch, EarlyConcatBlock, ResNeXtBottleneck, SplitTransformMergeBlock
from resnext_np.convert import convert

pytestmark = pytest.mark.t13_block_forms_forward

# in, out, stride, cardinality, base_width, widen_factor (as in test_block.py)
CONFIGS = {"identity": (8, 8, 1, 2, 16, 1), "stride2": (8, 16, 2, 2, 16, 1), "four_branches": (8, 8, 2, 4, 32, 1)}


@pytest.fixture(autouse=True)
def im2col_path():
    with mg.conv_algorithm("im2col"):
        yield


def random_block_c(config, seed):
    block = ResNeXtBottleneck(*config).double()
    rng = np.random.default_rng(seed)
    state = {key: (value if key.endswith("num_batches_tracked") else
                   rng.uniform(0.5, 2.0, value.shape) if key.endswith("running_var") else
                   rng.normal(0.0, 0.5, value.shape)) for key, value in block.state_dict().items()}
    block.load_state_dict(state)
    return block


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("form", ["a", "b"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_form_gives_form_c_output(name, form, training):
    config = CONFIGS[name]
    block_c = random_block_c(config, seed=1).train(training)
    block = convert(block_c, form)
    assert isinstance(block, {"a": SplitTransformMergeBlock, "b": EarlyConcatBlock}[form])
    x = mg.tensor(np.random.default_rng(2).standard_normal((3, config[0], 6, 6)))
    expected = block_c(x).data
    out = block(x).data
    assert out.shape == expected.shape and np.abs(expected).max() > 0.1
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)


def test_a_branch_is_reduce_then_grouped_slice_of_form_c():
    """Branch k of form (b) computes channels [k*d, (k+1)*d) of form (c)'s 3x3 stage (after BN, ReLU)."""
    config = CONFIGS["four_branches"]
    block_c = random_block_c(config, seed=3).eval()
    block_b = convert(block_c, "b")
    x = mg.tensor(np.random.default_rng(4).standard_normal((2, config[0], 5, 5)))
    h = mg.functional.relu(block_c.bn_reduce(block_c.conv_reduce(x)))
    h = mg.functional.relu(block_c.bn(block_c.conv_conv(h))).data
    d = block_c.branch_width
    for k, branch in enumerate(block_b.branches):
        assert isinstance(branch, Branch)
        np.testing.assert_allclose(branch(x).data, h[:, k * d:(k + 1) * d], rtol=0, atol=1e-12)
