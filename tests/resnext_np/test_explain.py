"""python -m resnext_np.explain: the data behind each picture is the library's, and the CLI writes them.

The oracles are independent of the drawing package: the library's own kernels and its NumPy
reference, slices of an ``np.pad``-ded input, and hand-counted examples.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from minigrad.kernels import ConvGeometry, conv, reference
from minigrad.kernels.im2col import col2im, im2col
from resnext_np.convert import from_grouped_state
from resnext_np.explain import block_data, conv_data
from resnext_np.explain.__main__ import main
from resnext_np.explain.draw_block import box_label, form_stages
from resnext_np.explain.text import forms_text
from conv_cases import CASES, make_case  # tests/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def layer():
    return conv_data.make_layer(8, 8, 4, 3, 5, stride=1, padding=1)


# ------------------------------------------------------------------------------------- groups
def test_block_diagonal_weight_is_the_converters_pieces_and_computes_the_grouped_conv(layer):
    picture = conv_data.groups_picture(layer)
    geom = layer.geom
    pieces = from_grouped_state({"conv_conv.weight": layer.weight}, "b", geom.groups)
    for g, in_slice, out_slice in geom.group_slices():
        np.testing.assert_array_equal(picture.dense_weight[out_slice, in_slice],
                                      pieces[f"branches.{g}.conv_conv.weight"])
    owner = picture.group_of_entry()
    assert (picture.dense_matrix[owner < 0] == 0).all() and (owner < 0).sum() == 8 * 72 - 8 * 18
    assert picture.block_columns == (18, 18, 18, 18)
    np.testing.assert_array_equal(picture.grouped_matrix, layer.weight.reshape(8, 18))
    # the dense weight, as an ordinary groups=1 convolution, computes the grouped one
    dense_geom = ConvGeometry.from_shapes(geom.input_shape, picture.dense_weight.shape, padding=1)
    np.testing.assert_array_equal(reference.conv2d_forward(layer.x, picture.dense_weight, dense_geom),
                                  reference.conv2d_forward(layer.x, layer.weight, geom))


# ------------------------------------------------------------------------------------- im2col
@pytest.mark.parametrize("stride, group, position", [(1, 0, (0, 1)), (1, 3, (4, 2)), (2, 1, (1, 2))])
def test_highlighted_column_is_im2cols_column_and_the_padded_window(stride, group, position):
    layer = conv_data.make_layer(8, 4, 4, 3, 5, stride=stride, padding=1, seed=3)
    picture = conv_data.im2col_picture(layer, group, position)
    geom = layer.geom
    index = position[0] * geom.out_w + position[1]
    np.testing.assert_array_equal(picture.column, im2col(layer.x, geom)[group, :, index])
    padded = np.pad(layer.x[0, 2 * group : 2 * group + 2], ((0, 0), (1, 1), (1, 1)))
    top, left = position[0] * stride, position[1] * stride
    np.testing.assert_array_equal(picture.column, padded[:, top : top + 3, left : left + 3].ravel())
    mask = conv_data.window_mask(picture.padded.shape[1:], picture.top, picture.left, geom)
    np.testing.assert_array_equal(picture.padded[:, mask].ravel(), padded[:, top : top + 3, left : left + 3].ravel())


def test_patch_counts_are_col2im_of_ones_and_count_the_windows(layer):
    picture = conv_data.im2col_picture(layer, group=1)
    np.testing.assert_array_equal(picture.patch_counts, col2im(np.ones(layer.geom.col_shape), layer.geom)[0, 2])
    # 3x3 windows at stride 1, padding 1 on 5x5: corners lie in 4, edges in 6, the inside in 9
    expected = np.array([[4, 6, 6, 6, 4]] + [[6, 9, 9, 9, 6]] * 3 + [[4, 6, 6, 6, 4]])
    np.testing.assert_array_equal(picture.patch_counts, expected)


def test_product_and_gradients_are_the_librarys_and_match_the_reference(layer):
    picture = conv_data.im2col_picture(layer, group=2)
    geom = layer.geom
    for g in range(geom.groups):  # Y_g = W_g @ cols_g
        np.testing.assert_allclose(picture.output[g], picture.weight_matrix[g] @ picture.cols[g], rtol=0, atol=1e-12)
    expected = reference.conv2d_forward(layer.x, layer.weight, geom)
    np.testing.assert_allclose(picture.output.reshape(4, 2, 1, 5, 5).transpose(2, 0, 1, 3, 4).reshape(expected.shape),
                               expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(picture.grad_input, reference.conv2d_grad_input(picture.grad_out, layer.weight, geom),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(picture.grad_weight, reference.conv2d_grad_weight(layer.x, picture.grad_out, geom),
                               rtol=0, atol=1e-12)
    assert conv_data.shape_equations(geom)[0].endswith("(2, 25) = (2, 18) @ (18, 25)")


# --------------------------------------------------------------------------------------- step
def test_step_frames_are_sums_of_the_padded_window_and_equal_the_output(layer):
    padded, frames = conv_data.step_frames(layer, group=1, filter_in_group=1, positions=7)
    expected = reference.conv2d_forward(layer.x, layer.weight, layer.geom)
    assert [frame.position for frame in frames] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1)]
    for frame in frames:
        row, col = frame.position
        np.testing.assert_array_equal(frame.window, padded[:, row : row + 3, col : col + 3])
        np.testing.assert_array_equal(frame.weights, layer.weight[3])
        assert frame.value == sum(x * w for x, w in frame.terms()) == expected[0, 3, row, col]


# --------------------------------------------------------------------------------- algorithms
GRID = [(c, o, g, k, s, size) for c, o, g in [(16, 16, 1), (64, 64, 4), (64, 64, 2), (128, 128, 2), (64, 128, 1)]
        for k in (1, 3) for s in (1, 2) for size in (8, 16, 32)]


@pytest.mark.parametrize("case", range(len(CASES) + len(GRID)))
def test_choice_reasons_name_what_choose_picks(case):
    if case < len(CASES):
        geom = make_case(CASES[case])[3]
    else:
        c, o, g, k, s, size = GRID[case - len(CASES)]
        geom = ConvGeometry.from_shapes((2, c, size, size), (o, c // g, k, k), stride=s, padding=k // 2, groups=g)
    name, steps = block_data.choice_reasons(geom)
    assert name == conv.choose(geom)
    assert len(steps) >= 2 and name in steps[-1]


def test_choice_reasons_say_why_a_1x1_runs_on_python_threads_where_numba_cannot_call_blas(monkeypatch):
    from minigrad.kernels import blas

    geom = ConvGeometry.from_shapes((2, 64, 8, 8), (128, 64, 1, 1))
    monkeypatch.setattr(blas, "gemm", lambda dtype: None)
    name, steps = block_data.choice_reasons(geom)
    assert name == conv.choose(geom) == "pointwise"
    assert steps[-1] == ("the products run on Python threads (pointwise); pointwise_prange cannot: it needs NumPy's BLAS "
                         "to be an OpenBLAS that Numba code can call (minigrad.kernels.blas), and it is not")


def test_algorithms_times_exactly_the_algorithms_that_apply():
    geom = ConvGeometry.from_shapes((2, 8, 6, 6), (8, 2, 3, 3), padding=1, groups=4)
    picture = block_data.algorithms_picture(geom, repeats=1)
    assert picture.choice == conv.choose(geom)
    assert sorted(picture.milliseconds) == ["direct", "im2col", "shifted"] and list(picture.refused) == ["pointwise", "pointwise_prange"]
    assert all(ms > 0 for ms in picture.milliseconds.values())


# -------------------------------------------------------------------------------------- forms
def test_forms_are_converted_from_one_block_and_agree():
    picture = block_data.forms_picture(in_channels=16, out_channels=32, stride=2, cardinality=4, base_width=8,
                                       widen_factor=1, image=6)
    assert max(picture.differences.values()) < 1e-12
    assert picture.output_shape == (2, 32, 3, 3)
    c_layers = {name: (shape, groups) for name, shape, groups in picture.layers["c"]}
    assert c_layers["conv_conv"] == ((16, 4, 3, 3), 4)  # d = int(8 * 32 / 64) = 4, D = 16
    a_stages = form_stages(picture.layers["a"], "a")
    assert [len(stage) for stage in a_stages[:3]] == [4, 4, 4] and a_stages[3] == "sum of the C branches"
    b_stages = form_stages(picture.layers["b"], "b")
    assert b_stages[2] == "concatenate the C branches" and b_stages[3][0][:2] == ("conv_expand", (32, 16, 1, 1))
    # Every branch applies BN and ReLU after its first two convolutions: the drawing says so, there only.
    assert box_label(*a_stages[0][1]).endswith("then BN, ReLU") and box_label(*a_stages[1][1]).endswith("then BN, ReLU")
    assert "BN" not in box_label(*a_stages[2][1]) and "BN" not in box_label(*b_stages[3][0])
    assert "conv_reduce" in forms_text(picture).split("then BN, ReLU")[0]


# ---------------------------------------------------------------------------------------- CLI
SMALL = ["--channels", "4", "--groups", "2", "--image", "4"]


@pytest.mark.parametrize("argv, names", [
    (["groups"] + SMALL, ["groups.png"]),
    (["im2col"] + SMALL, ["im2col_column.png", "im2col_product.png", "im2col_gradients.png"]),
    (["forms", "--in-channels", "8", "--out-channels", "16", "--cardinality", "2", "--image", "4"], ["forms.png"]),
    (["algorithms", "--batch", "2", "--repeats", "1"] + SMALL, ["algorithms.png"]),
])
def test_each_subcommand_writes_non_empty_pngs(tmp_path, capsys, argv, names):
    assert main(argv + ["--out", str(tmp_path)]) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    for name in names:
        with open(tmp_path / name, "rb") as stream:
            assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(tmp_path / name) > 2000
    assert "wrote" in capsys.readouterr().out


def test_step_frames_writes_one_png_per_position(tmp_path, capsys):
    assert main(["step", "--positions", "3", "--frames", str(tmp_path)] + SMALL) == 0
    assert sorted(os.listdir(tmp_path)) == ["step_00.png", "step_01.png", "step_02.png"]
    assert all(os.path.getsize(tmp_path / name) > 2000 for name in os.listdir(tmp_path))


def test_wide_configurations_still_draw(tmp_path):
    """More channels than a frame shows, more branches than a diagram shows, more cells than digits."""
    assert main(["step", "--channels", "16", "--groups", "1", "--positions", "1", "--frames", str(tmp_path)]) == 0
    assert main(["groups", "--channels", "32", "--groups", "2", "--out", str(tmp_path)]) == 0
    assert main(["forms", "--cardinality", "8", "--base-width", "2", "--image", "4", "--out", str(tmp_path)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["forms.png", "groups.png", "step_00.png"]


def test_step_in_the_terminal_prints_each_sum(capsys):
    assert main(["step", "--positions", "2"] + SMALL) == 0
    out = capsys.readouterr().out
    assert out.count("y[0, 0, ") == 2 and "y[0, 0, 1] = " in out


def _library_error(**kwargs):
    with pytest.raises(ValueError) as error:
        ConvGeometry.from_shapes(**kwargs)
    return str(error.value)


@pytest.mark.parametrize("argv, library_message", [
    (["groups", "--channels", "6", "--groups", "4"],
     _library_error(input_shape=(1, 6, 5, 5), weight_shape=(6, 1, 3, 3), padding=1, groups=4)),
    (["im2col", "--kernel", "9", "--image", "5"],
     _library_error(input_shape=(1, 8, 5, 5), weight_shape=(8, 2, 9, 9), padding=1, groups=4)),
    (["step", "--groups", "0"], _library_error(input_shape=(1, 8, 5, 5), weight_shape=(8, 8, 3, 3), groups=0)),
])
def test_bad_arguments_give_the_librarys_error_and_exit_2(capsys, argv, library_message):
    assert main(argv + ["--no-png"] if argv[0] != "step" else argv) == 2
    assert capsys.readouterr().err == f"error: {library_message}\n"


def test_a_student_copy_still_gets_the_pictures_of_the_tasks_done(monkeypatch, tmp_path, capsys):
    """With t05's forward still a stub (as ``python -m minigrad.classroom build`` leaves it), im2col
    draws the column and the patch counts, says what is missing, and does not fail."""
    def stub(*args):
        raise NotImplementedError("t05_grouped_conv_forward: compute each group's output")

    monkeypatch.setattr(conv.im2col_matmul, "forward", stub)
    assert main(["im2col", "--out", str(tmp_path)] + SMALL) == 0
    assert sorted(os.listdir(tmp_path)) == ["im2col_column.png", "im2col_gradients.png"]
    assert "not computed yet: t05_grouped_conv_forward" in capsys.readouterr().out
    assert main(["step"] + SMALL) == 2
    assert capsys.readouterr().err.startswith("error: this picture runs a task that is not done yet: t05")


def test_bad_choices_quote_the_numbers(capsys):
    assert main(["im2col", "--position", "5", "0", "--no-png"]) == 2
    assert capsys.readouterr().err == "error: position row=5 is out of range: there are 5 output rows (0..4)\n"


def test_without_matplotlib_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes ``import matplotlib`` raise ImportError
    assert main(["groups", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: matplotlib is not installed") and err.count("\n") == 1
    assert os.listdir(tmp_path) == []
    assert main(["groups", "--no-png"]) == 0  # the text version needs no matplotlib


def test_command_line_error_has_no_traceback():
    finished = subprocess.run([sys.executable, "-m", "resnext_np.explain", "groups", "--channels", "6", "--no-png"],
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr == "error: in_channels=6 is not divisible by groups=4\n"
