"""``python -m resnext_np.explain SUBCOMMAND``: pictures of a grouped convolution, drawn from the library's arrays.

Subcommands (``--help`` on each lists its options; every one prints a text version and, unless
``--no-png``, writes PNGs into ``--out``):

- ``groups``: the grouped weight as the block-diagonal dense weight it is.
- ``im2col``: a receptive field, its column in ``im2col``'s matrix, the product, both gradients.
- ``forms``: the ResNeXt block in forms (a), (b), (c), converted from one set of weights.
- ``algorithms``: what ``auto`` picks for a geometry and why, and each algorithm's measured time.
- ``step``: the kernel sliding over one group's padded input, a sum per position (Enter to advance;
  ``--frames DIR`` writes the frames as PNGs instead).
- ``readme``: the pictures README.md shows, into ``docs/figures`` (groups, im2col, forms at their defaults).

A bad argument gets the library's own error on one line (``error: in_channels=6 is not divisible
by groups=4``) and exit status 2.
"""

import argparse
import sys

from resnext_np.explain import block_data, conv_data, text
from resnext_np.explain.draw_block import draw_algorithms, draw_forms
from resnext_np.explain.draw_conv import draw_groups, draw_im2col, draw_step_frame
from resnext_np.explain.plotting import MatplotlibMissing, pyplot  # matplotlib itself only when drawing

README_FIGURES = "docs/figures"


def _conv_options(parser, channels=8, groups=4, image=5, batch=None):
    parser.add_argument("--channels", type=int, default=channels, help=f"input channels C (default {channels})")
    parser.add_argument("--out-channels", type=int, default=None, help="output channels O (default: C)")
    parser.add_argument("--groups", type=int, default=groups, help=f"groups G (default {groups})")
    parser.add_argument("--kernel", type=int, default=3, help="kernel size k, for a k x k kernel (default 3)")
    parser.add_argument("--image", type=int, default=image, help=f"image size, for a square image (default {image})")
    parser.add_argument("--stride", type=int, default=1, help="stride (default 1)")
    parser.add_argument("--padding", type=int, default=1, help="zero padding (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights (default 0)")
    if batch is not None:
        parser.add_argument("--batch", type=int, default=batch, help=f"batch size N (default {batch})")


def _output_options(parser, folder="runs/explain"):
    parser.add_argument("--out", default=folder, help=f"folder for the PNGs (default: {folder})")
    parser.add_argument("--no-png", action="store_true", help="print the text version only (no matplotlib needed)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m resnext_np.explain",
        description="See a grouped convolution: pictures drawn from minigrad's own arrays.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    groups = commands.add_parser("groups", help="the grouped weight as a block-diagonal dense weight")
    _conv_options(groups)
    _output_options(groups)

    im2col = commands.add_parser("im2col", help="a receptive field, its column, the product and the gradients")
    _conv_options(im2col)
    im2col.add_argument("--group", type=int, default=0, help="the group to draw (default 0)")
    im2col.add_argument("--position", type=int, nargs=2, default=(0, 1), metavar=("ROW", "COL"),
                        help="the output position whose receptive field is highlighted (default 0 1)")
    _output_options(im2col)

    forms = commands.add_parser("forms", help="the ResNeXt block in forms (a), (b), (c)")
    forms.add_argument("--in-channels", type=int, default=64)
    forms.add_argument("--out-channels", type=int, default=64)
    forms.add_argument("--stride", type=int, default=1)
    forms.add_argument("--cardinality", type=int, default=4)
    forms.add_argument("--base-width", type=int, default=4)
    forms.add_argument("--widen-factor", type=int, default=1)
    forms.add_argument("--image", type=int, default=8, help="image size of the test input (default 8)")
    forms.add_argument("--seed", type=int, default=0)
    _output_options(forms)

    algorithms = commands.add_parser("algorithms", help="which algorithm auto picks, and each one's measured time")
    _conv_options(algorithms, channels=64, groups=4, image=16, batch=16)
    algorithms.add_argument("--repeats", type=int, default=3, help="timed runs per algorithm, best kept (default 3)")
    _output_options(algorithms)

    step = commands.add_parser("step", help="the kernel sliding over one group's padded input")
    _conv_options(step)
    step.add_argument("--group", type=int, default=0, help="the group (default 0)")
    step.add_argument("--filter", type=int, default=0, help="the filter within the group (default 0)")
    step.add_argument("--positions", type=int, default=4, help="output positions to show (default 4)")
    step.add_argument("--frames", default=None, metavar="DIR", help="write the frames as PNGs into DIR instead")

    readme = commands.add_parser("readme", help=f"write README's pictures (default into {README_FIGURES})")
    _output_options(readme, README_FIGURES)
    return parser


def _layer(args, batch=1):
    out_channels = args.channels if args.out_channels is None else args.out_channels
    return conv_data.make_layer(args.channels, out_channels, args.groups, args.kernel, args.image,
                                stride=args.stride, padding=args.padding, batch=batch, seed=args.seed)


def run_groups(args):
    picture = conv_data.groups_picture(_layer(args))
    print(text.groups_text(picture))
    return [] if args.no_png else draw_groups(picture, args.out)


def run_im2col(args):
    picture = conv_data.im2col_picture(_layer(args), args.group, tuple(args.position))
    equations = conv_data.shape_equations(picture.geom)
    print(text.im2col_text(picture, equations))
    return [] if args.no_png else draw_im2col(picture, equations, args.out)


def run_forms(args):
    picture = block_data.forms_picture(args.in_channels, args.out_channels, args.stride, args.cardinality,
                                       args.base_width, args.widen_factor, image=args.image, seed=args.seed)
    print(text.forms_text(picture))
    return [] if args.no_png else draw_forms(picture, args.out)


def run_algorithms(args):
    geom = _layer(args, batch=args.batch).geom
    picture = block_data.algorithms_picture(geom, repeats=args.repeats, seed=args.seed)
    print(text.algorithms_text(picture))
    return [] if args.no_png else draw_algorithms(picture, args.out)


def run_step(args):
    layer = _layer(args)
    padded, frames = conv_data.step_frames(layer, args.group, args.filter, args.positions)
    filter_index = args.group * layer.geom.out_channels_per_group + args.filter
    if args.frames is not None:
        return [draw_step_frame(padded, frame, layer.geom, args.group, filter_index, args.frames, index)
                for index, frame in enumerate(frames)]
    wait = sys.stdin is not None and sys.stdin.isatty()
    for index, frame in enumerate(frames):
        print(text.step_text(padded, frame, layer.geom, filter_index))
        if wait and index + 1 < len(frames):
            try:
                input(f"-- {index + 1}/{len(frames)}: Enter for the next position, Ctrl-D to stop --")
            except EOFError:
                print()
                break
        print()
    return []


def run_readme(args):
    """The README pictures at the subcommands' defaults, so one command regenerates docs/figures."""
    parser = build_parser()
    paths = []
    for command in ("groups", "im2col", "forms"):
        defaults = parser.parse_args([command, "--out", args.out] + (["--no-png"] if args.no_png else []))
        paths += RUNNERS[command](defaults)
    return paths


RUNNERS = {"groups": run_groups, "im2col": run_im2col, "forms": run_forms, "algorithms": run_algorithms,
           "step": run_step, "readme": run_readme}


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "seed", 0) < 0:  # NumPy's own message would not name the option
        parser.error(f"--seed must be >= 0, got {args.seed}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if not getattr(args, "no_png", True) or getattr(args, "frames", None) is not None:
            pyplot()  # fail before the work, not after it
        paths = RUNNERS[args.command](args)
    except (ValueError, TypeError, MatplotlibMissing) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NotImplementedError as error:  # a student copy (python -m minigrad.classroom build)
        print(f"error: this picture runs a task that is not done yet: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: could not write {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while stepping
        print("interrupted", file=sys.stderr)
        return 130
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
