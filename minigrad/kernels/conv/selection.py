"""``conv_algorithm(name)``: a context in which every convolution uses one algorithm.

>>> import minigrad as mg
>>> from minigrad.kernels import ConvGeometry, conv
>>> x, w = mg.randn(2, 4, 8, 8), mg.randn(8, 2, 3, 3)
>>> with mg.conv_algorithm("im2col"):        # forward and both gradients, on this thread
...     y = mg.functional.conv2d(x, w, padding=1, groups=2)
>>> conv.choose(ConvGeometry.from_shapes(x.shape, w.shape, padding=1, groups=2))  # what "auto" picks
'direct'

``"auto"`` (the default) lets :func:`minigrad.kernels.conv.choose` pick the fastest. A learner
steps through the algorithm they are reading; the tests and the classroom grading use it to
reach each algorithm. The choice is a context variable: it holds for the thread (or asyncio
task) that set it, and other threads keep their own. The ``Conv2d`` Function records the choice
made at forward time, so its backward uses the same algorithm wherever it runs.
"""

import contextlib
import contextvars

__all__ = ["ALGORITHMS", "conv_algorithm", "requested_algorithm"]

ALGORITHMS = ("auto", "im2col", "pointwise", "pointwise_prange", "shifted", "direct")

_requested = contextvars.ContextVar("minigrad_conv_algorithm", default="auto")


@contextlib.contextmanager
def conv_algorithm(name):
    """Use the algorithm ``name`` (one of :data:`ALGORITHMS`) for every convolution in the block.

    A convolution that the algorithm cannot compute (``"pointwise"`` for a 3x3 kernel,
    ``"shifted"`` at stride 2) raises a ``ValueError`` saying why and which algorithms can.
    """
    if name not in ALGORITHMS:
        raise ValueError(f"conv_algorithm: {name!r} is not an algorithm; choose one of {', '.join(ALGORITHMS)}")
    token = _requested.set(name)
    try:
        yield name
    finally:
        _requested.reset(token)


def requested_algorithm():
    """The algorithm asked for here and now: ``"auto"`` unless inside :func:`conv_algorithm`."""
    return _requested.get()
