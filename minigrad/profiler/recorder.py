"""``profile()``: record every op's forward and backward, with its time, work and layer.

How it hooks in.  ``Function.apply`` and ``backward`` (``minigrad/autograd.py``) look up one context
variable, ``op_recorder``; outside a profile it is ``None`` and the op runs as always, so profiling
off costs one branch per op.  Inside, the recorder runs the op's ``forward`` or ``backward`` itself,
between two ``time.perf_counter()`` calls, and keeps an :class:`Event`.  ``Module.__call__`` tells
the recorder which module is running, so each event carries the dotted name of its layer
(``stage_2.stage_2_bottleneck_0.conv_conv``), the name ``state_dict`` uses for that layer's
parameters.  A backward event takes its layer from its forward event, which the recorder leaves
on the op's ``ctx``.

The work an op did (FLOPs, bytes) is computed from the shapes as it is recorded
(:mod:`minigrad.profiler.counts`); the machine's peaks are only looked up when a table or a
roofline asks for them (:mod:`minigrad.profiler.peaks`), never inside the profiled block.
"""

import time

import numpy as np

from minigrad.autograd import op_recorder
from minigrad.kernels import conv as cpu_conv
from minigrad.profiler import counts, report
from minigrad.profiler.peaks import load_or_measure

__all__ = ["Event", "profile"]

NO_MODULE = "(no module)"


class Event:
    """One call of one op: ``op`` ran its ``phase`` ("forward"/"backward") in ``layer`` for ``seconds``.

    ``dtype`` is the NumPy dtype of the output (of ``grad_out`` for backward); ``algorithm`` is the
    convolution algorithm that ran (``"direct"``, ``"im2col"``, ...; ``"cuda"`` on the GPU backend),
    ``None`` for other ops; ``flops`` and ``bytes`` follow the model of
    :mod:`minigrad.profiler.counts`.
    """

    __slots__ = ("op", "phase", "layer", "algorithm", "dtype", "seconds", "flops", "bytes")

    def __init__(self, op, phase, layer, algorithm, dtype, seconds, flops, bytes):  # noqa: A002
        self.op, self.phase, self.layer, self.algorithm = op, phase, layer, algorithm
        self.dtype, self.seconds, self.flops, self.bytes = dtype, seconds, flops, bytes

    def as_dict(self):
        return {name: str(self.dtype) if name == "dtype" else getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return (f"Event({self.op} {self.phase} in {self.layer!r}, {self.seconds * 1e3:.3f} ms, "
                f"{self.flops} FLOPs, {self.bytes} bytes)")


def _conv_algorithm(ctx):
    """The algorithm a ``Conv2d`` ran: the one asked for, or what ``"auto"`` chooses for its geometry."""
    if ctx.kernels is not cpu_conv:
        return "cuda"
    return cpu_conv.choose(ctx.geometry) if ctx.algorithm == "auto" else ctx.algorithm


class profile:  # noqa: N801  (a context manager named like torch.profiler.profile)
    """Record every op run in this thread inside ``with profile() as prof:``.

    Afterwards ``prof.events`` holds one :class:`Event` per forward and backward call,
    ``prof.wall_seconds`` the time the block took, and ``prof.table()``, ``prof.to_json(path)``
    and ``prof.roofline(path)`` report them against this machine's measured peaks (``peaks``: a
    :class:`~minigrad.profiler.peaks.Peaks`, or None to load or measure them when first needed).

    Profiles nest: an inner one records what runs inside it, and so does the outer one.  The
    profiler is off again when the block is left, by an exception too.

    >>> import minigrad as mg
    >>> from minigrad.profiler import profile
    >>> x = mg.ones(4, 3, requires_grad=True)
    >>> with profile() as prof:
    ...     (x * 2).sum().backward()
    >>> [(event.op, event.phase, event.flops) for event in prof.events]
    [('Mul', 'forward', 12), ('Sum', 'forward', 12), ('Sum', 'backward', 0), ('Mul', 'backward', 12)]
    """

    def __init__(self, peaks=None):
        self.events = []
        self.wall_seconds = None
        self.bookkeeping_seconds = 0.0  # time the recorder spent on itself, outside the ops it timed
        self._peaks = peaks
        self._modules = []  # (dotted name, module) of the modules running now, outermost first
        self._child_names = {}
        self._outer = None
        self._token = None

    # ------------------------------------------------------------ the block
    def __enter__(self):
        if self._token is not None:
            raise RuntimeError("this profile is already recording; nest a new profile() instead")
        self._outer = op_recorder.get()
        if self._outer is not None:
            self._modules = list(self._outer._modules)  # an inner profile names layers as its outer one does
        self._token = op_recorder.set(self)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exception):
        self.wall_seconds = time.perf_counter() - self._start
        op_recorder.reset(self._token)
        self._token = None
        return False

    @classmethod
    def merged(cls, profiles, peaks=None):
        """Finished profiles as one: their events together, their wall and bookkeeping times summed."""
        combined = cls(peaks=peaks if peaks is not None else next((p._peaks for p in profiles if p._peaks), None))
        for finished in profiles:
            if finished.wall_seconds is None:
                raise ValueError("profile.merged: a profile is still recording (or never ran)")
            combined.events.extend(finished.events)
            combined.bookkeeping_seconds += finished.bookkeeping_seconds
        combined.wall_seconds = sum(finished.wall_seconds for finished in profiles)
        return combined

    @property
    def peaks(self):
        """This machine's peaks (measured once and cached; see :mod:`minigrad.profiler.peaks`)."""
        if self._peaks is None:
            self._peaks = load_or_measure()
        return self._peaks

    # ------------------------------------------------------------ reports
    def table(self, sort_by="total", group_by="op", row_limit=None):
        """The events summed per ``group_by`` ("op", "layer" or "algorithm"), as a printable table."""
        return report.table(self, sort_by=sort_by, group_by=group_by, row_limit=row_limit)

    def to_json(self, path):
        """Write the peaks, the totals, every grouping and every event to ``path`` (atomically)."""
        report.to_json(self, path)

    def roofline(self, path, group_by="op"):
        """Draw each ``group_by`` row as a dot under this machine's roofline into the PNG ``path``."""
        report.roofline(self, path, group_by=group_by)

    # ------------------------------------------------------------ hooks (autograd, Module)
    def _add(self, event):
        self.events.append(event)
        if self._outer is not None:
            self._outer._add(event)

    def _layer(self):
        if not self._modules:
            return NO_MODULE
        name = self._modules[-1][0]
        return name or f"({type(self._modules[0][1]).__name__})"  # the outermost module's own ops

    def enter_module(self, module):
        """Called by ``Module.__call__`` before ``forward``: name the module by its place in the tree."""
        start = time.perf_counter()
        if not self._modules:
            name = ""
        else:
            parent_name, parent = self._modules[-1]
            key = (id(parent), id(module))
            child = self._child_names.get(key)
            if child is None:
                child = next((n for n, m in parent._modules.items() if m is module), type(module).__name__)
                self._child_names[key] = child
            name = f"{parent_name}.{child}" if parent_name else child
        self._modules.append((name, module))
        self.bookkeeping_seconds += time.perf_counter() - start

    def exit_module(self, module):
        """Called by ``Module.__call__`` after ``forward`` (also when it raised)."""
        if self._modules and self._modules[-1][1] is module:
            self._modules.pop()

    def forward(self, function, ctx, inputs, attrs):
        """Run ``function.forward`` for ``Function.apply``, timed; return its output array."""
        arrays = tuple(t.data for t in inputs)
        start = time.perf_counter()
        output = function.forward(ctx, *arrays, **attrs)
        seconds = time.perf_counter() - start
        output = np.asarray(output)
        flops, moved = counts.forward_counts(function.__name__, ctx, arrays, output, attrs)
        algorithm = _conv_algorithm(ctx) if function.__name__ == "Conv2d" else None
        event = Event(function.__name__, "forward", self._layer(), algorithm, output.dtype, seconds, flops, moved)
        ctx.profiled_forward = (event, attrs)  # for the backward event: its layer, algorithm, attributes
        self._add(event)
        self.bookkeeping_seconds += time.perf_counter() - start - seconds
        return output

    def backward(self, node, grad_out):
        """Run ``node.function.backward`` for the autograd engine, timed; return its gradients."""
        ctx, name = node.ctx, node.function.__name__
        start = time.perf_counter()
        grads = node.function.backward(ctx, grad_out)
        seconds = time.perf_counter() - start
        as_tuple = grads if isinstance(grads, tuple) else (grads,)
        forward = getattr(ctx, "profiled_forward", None)
        if forward is not None:
            layer, algorithm, attrs = forward[0].layer, forward[0].algorithm, forward[1]
        else:  # the forward ran before the profile started
            layer, attrs = "(forward not profiled)", {}
            algorithm = _conv_algorithm(ctx) if name == "Conv2d" else None
        shapes = tuple(t.shape for t in node.inputs)
        flops, moved = counts.backward_counts(name, ctx, shapes, grad_out, as_tuple, attrs)
        self._add(Event(name, "backward", layer, algorithm, grad_out.dtype, seconds, flops, moved))
        self.bookkeeping_seconds += time.perf_counter() - start - seconds
        return grads
