"""Shared drawing helpers: matplotlib imported lazily (Agg backend), one colour per group, and a
matrix drawn as coloured cells with its numbers written in."""

import os

import numpy as np

__all__ = ["MatplotlibMissing", "pyplot", "group_colour", "ZERO_GREY", "draw_matrix", "fit", "save"]

ZERO_GREY = (0.82, 0.82, 0.82)
MAX_NUMBERS = 2000  # a matrix with more cells is drawn as colours only: the digits would not be legible
MAX_INCHES = (24, 16)
_GROUP_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                  "#9c755f", "#bab0ac"]


class MatplotlibMissing(Exception):
    """Raised when a picture is asked for and matplotlib is not installed."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MatplotlibMissing('matplotlib is not installed, so no pictures (pip install "minigrad-resnext[plot]");'
                                " --no-png prints the text version only") from None
    return plt


def group_colour(group, lightness=0.0):
    """The RGB colour of ``group``, mixed with white by ``lightness`` (0: full colour, 1: white)."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(_GROUP_COLOURS[group % len(_GROUP_COLOURS)]))
    return tuple(rgb + (1 - rgb) * lightness)


def draw_matrix(axis, values, owner=None, highlight=None, numbers=True, title=None, fontsize=7, grey_numbers=False):
    """Draw ``values`` (2-D) as cells: cell (r, c) is tinted with ``group_colour(owner[r, c])``, or grey
    where ``owner`` is -1 (their numbers only written when ``grey_numbers``); cells where ``highlight``
    is True get a stronger tint and a black frame."""
    values = np.asarray(values)
    owner = np.zeros(values.shape, dtype=int) if owner is None else np.asarray(owner)
    image = np.empty(values.shape + (3,))
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            strong = highlight is not None and highlight[r, c]
            image[r, c] = ZERO_GREY if owner[r, c] < 0 else group_colour(owner[r, c], 0.25 if strong else 0.7)
    axis.imshow(image, interpolation="nearest", aspect="equal")
    if numbers and values.size <= MAX_NUMBERS:
        for (r, c), value in np.ndenumerate(values):
            if owner[r, c] >= 0 or grey_numbers:
                text = f"{value:g}" if float(value).is_integer() else f"{value:.1f}"
                axis.text(c, r, text, ha="center", va="center", fontsize=fontsize)
    if highlight is not None:
        for r, c in zip(*np.nonzero(highlight)):
            axis.add_patch(_cell_frame(r, c))
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=9)


def fit(width, height):
    """A figure size in inches, scaled down (keeping its shape) to at most ``MAX_INCHES``, so a large
    configuration gives a picture of reasonable size instead of a huge one."""
    scale = min(1.0, MAX_INCHES[0] / width, MAX_INCHES[1] / height)
    return width * scale, height * scale


def _cell_frame(r, c):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.2)


def save(figure, folder, name):
    """Write ``figure`` to ``folder/name`` (creating the folder) and close it; returns the path."""
    plt = pyplot()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    figure.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return path
