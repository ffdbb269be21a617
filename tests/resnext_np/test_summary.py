"""summary(): per-layer output shapes, parameters and multiply-adds, with totals."""

import doctest

import numpy as np
import pytest

import minigrad as mg
from resnext_np import summary as summary_module
from resnext_np.block import ResNeXtBottleneck
from resnext_np.model import SMALLEST_PRESET, build_model
from resnext_np.summary import summary


def test_hand_computed_small_network():
    net = mg.nn.Sequential(
        mg.nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=True),  # (1, 8, 3, 3)
        mg.nn.BatchNorm2d(8),
        mg.nn.Flatten(),
        mg.nn.Linear(72, 5),
    )
    table = summary(net, (2, 4, 5, 5))
    assert [row.name for row in table.rows] == ["0", "1", "2", "3"]
    assert [row.kind for row in table.rows] == ["Conv2d", "BatchNorm2d", "Flatten", "Linear"]
    assert [row.output_shape for row in table.rows] == [(2, 8, 3, 3), (2, 8, 3, 3), (2, 72), (2, 5)]
    # conv: 8 * (4/2) * 3 * 3 weights + 8 biases; each of 2*8*3*3 outputs sees 2*3*3 inputs
    assert [row.parameters for row in table.rows] == [152, 16, 0, 365]
    assert [row.multiply_adds for row in table.rows] == [2 * 8 * 3 * 3 * 18, 0, 0, 2 * 72 * 5]
    assert table.total_parameters == table.trainable_parameters == 152 + 16 + 365
    assert table.total_multiply_adds == 2592 + 720


def test_grouping_divides_the_cost_of_a_convolution():
    dense = summary(mg.nn.Conv2d(32, 32, 3, padding=1, bias=False), (1, 32, 8, 8))
    grouped = summary(mg.nn.Conv2d(32, 32, 3, padding=1, groups=8, bias=False), (1, 32, 8, 8))
    assert dense.total_multiply_adds == 8 * grouped.total_multiply_adds == 32 * 32 * 9 * 64
    assert dense.total_parameters == 8 * grouped.total_parameters


def test_smallest_preset_rows_and_totals():
    model = build_model(SMALLEST_PRESET)
    table = summary(model, (1, 3, 32, 32))
    rows = {row.name: row for row in table.rows}
    grouped = rows["stage_1.stage_1_bottleneck_0.conv_conv"]
    assert (grouped.output_shape, grouped.parameters, grouped.multiply_adds) == (
        (1, 32, 32, 32), 32 * 8 * 9, 32 * 32 * 32 * 8 * 9)
    assert rows["stage_3.stage_3_bottleneck_0.conv_conv"].output_shape == (1, 128, 8, 8)
    assert rows["classifier"].output_shape == (1, 10)
    assert sum(row.parameters for row in table.rows) == table.total_parameters == 161_866
    assert table.total_multiply_adds == 29_821_440
    text = str(table)
    assert "total parameters:     161,866" in text and "total multiply-adds:  29,821,440" in text
    assert "stage_2.stage_2_bottleneck_0.shortcut.shortcut_conv" in text


def test_summary_leaves_the_model_as_it_was():
    block = ResNeXtBottleneck(8, 16, 2, cardinality=2, base_width=16, widen_factor=1)
    block.train()
    block.bn_reduce.eval()
    before = block.state_dict()
    summary(block, (2, 8, 6, 6))
    after = block.state_dict()
    assert all(np.array_equal(before[key], after[key]) for key in before)  # running stats untouched
    assert block.training and block.conv_conv.training and not block.bn_reduce.training
    assert all("forward" not in module.__dict__ for module in block.modules())


def test_a_failing_forward_still_restores_the_model():
    model = build_model(SMALLEST_PRESET)
    with pytest.raises(ValueError, match="expects input"):
        summary(model, (1, 3, 16, 16))
    assert model.training and all("forward" not in module.__dict__ for module in model.modules())


def test_multiply_adds_scale_with_batch_size():
    block = ResNeXtBottleneck(8, 16, 1, cardinality=2, base_width=16, widen_factor=1)
    one, four = summary(block, (1, 8, 4, 4)), summary(block, (4, 8, 4, 4))
    assert four.total_multiply_adds == 4 * one.total_multiply_adds


@pytest.mark.parametrize("module", [summary_module], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
