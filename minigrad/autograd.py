"""Reverse-mode automatic differentiation: recording the graph and walking it backwards.

Recording.  ``SomeOp.apply(a, b, **attrs)`` unwraps the input Tensors to arrays, calls
``SomeOp.forward(ctx, a_array, b_array, **attrs)``, and wraps the result in a new Tensor.  If grad
mode is on and any input requires grad, the output also remembers a ``Node``: the op, its ``ctx``
(whatever forward saved) and the input Tensors.  That chain of nodes *is* the graph.

Backward.  ``backward(root)`` orders the nodes so that every tensor comes after all the tensors
computed from it (a reverse topological order), then hands each op the gradient of its output and
receives one gradient per input.  Gradients are *added* (``+=``) into a running total per tensor,
because a tensor used twice receives a contribution from each use (the multivariable chain rule).
Leaves (tensors the user created with ``requires_grad=True``) accumulate into ``.grad``, a Tensor
without history.  A backward frees what each op saved (``ctx``) as it goes, unless
``retain_graph=True``: a second backward through the same ops then raises instead of silently
adding the gradients again (PyTorch's rule).
"""

import contextlib
import contextvars

import numpy as np

from minigrad.tensor import Tensor

# How many ``no_grad()`` blocks are open in this thread (or asyncio task): a context variable, so
# one thread evaluating under ``no_grad()`` never switches recording off in another (as PyTorch's
# grad mode is per thread).  A count rather than a saved flag, so blocks left in any order
# (interleaved ``__exit__`` calls) still end with recording back on.
_no_grad_depth = contextvars.ContextVar("minigrad_no_grad_depth", default=0)

# The recorder of an open ``minigrad.profiler.profile()`` block in this thread, or None.  When it is
# None (always, unless profiling) an op costs one extra branch; when set, the recorder runs the op's
# forward and backward itself, timing them (minigrad/profiler/recorder.py).
op_recorder = contextvars.ContextVar("minigrad_op_recorder", default=None)


def is_grad_enabled():
    """True unless this thread is inside a ``no_grad()`` block."""
    return _no_grad_depth.get() == 0


@contextlib.contextmanager
def no_grad():
    """Inside this block no op is recorded (evaluation, optimiser updates).  Per thread.

    >>> import minigrad as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> with mg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    _no_grad_depth.set(_no_grad_depth.get() + 1)
    try:
        yield
    finally:
        _no_grad_depth.set(_no_grad_depth.get() - 1)


class Context:
    """What ``forward`` leaves for ``backward``: saved arrays, plain attributes, and which inputs need a gradient.

    ``saved_tensors`` holds NumPy arrays, not Tensors: ``forward`` and ``backward`` work on the
    arrays (``Tensor.data``). The name is PyTorch's, kept so that ``ctx.save_for_backward(x, w)`` /
    ``x, w = ctx.saved_tensors`` read as in a PyTorch ``Function``.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """One recorded op application: ``output = function.forward(ctx, *inputs)``.

    It notes the version of every input and of the output (ops such as exp, sigmoid, tanh, relu,
    sqrt and softmax save their *output* for backward), so backward can refuse an op whose
    arrays were changed in place after it ran (see minigrad/inplace.py).  ``ctx`` becomes None
    once a backward that does not retain the graph has used it.
    """

    __slots__ = ("function", "ctx", "inputs", "input_versions", "output_version")

    def __init__(self, function, ctx, inputs, output):
        self.function = function
        self.ctx = ctx
        self.inputs = inputs
        self.input_versions = tuple(t._version_counter.value for t in inputs)
        self.output_version = output._version_counter.value


class Function:
    """Base class of every differentiable op.

    A subclass defines two static methods side by side::

        class Mul(Function):
            # y = a * b ;  da = dy * b ;  db = dy * a
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, grad_out):
                a, b = ctx.saved_tensors
                return grad_out * b, grad_out * a

    ``forward`` receives NumPy arrays (one per Tensor input) plus keyword attributes and returns
    one array.  ``backward`` receives the gradient of that output and returns one gradient per
    Tensor input, each with that input's shape, or ``None`` where ``ctx.needs_input_grad`` is False.
    """

    @staticmethod
    def forward(ctx, *arrays, **attrs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **attrs):
        for position, value in enumerate(inputs):
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"{cls.__name__}.apply expects Tensors as positional inputs, "
                    f"got {type(value).__name__} at position {position}{array_hint(value)}"
                )
        needs_input_grad = tuple(t.requires_grad for t in inputs)
        record = _no_grad_depth.get() == 0 and any(needs_input_grad)
        ctx = Context(needs_input_grad)
        recorder = op_recorder.get()
        if recorder is None:
            output_array = cls.forward(ctx, *(t.data for t in inputs), **attrs)
        else:
            output_array = recorder.forward(cls, ctx, inputs, attrs)
        output = Tensor(np.asarray(output_array))
        if output.data.base is not None:  # a view (reshape, permute, basic indexing) may share an input's memory
            _share_version_with_viewed_input(output, inputs)
        if record:
            output.requires_grad = True
            output._node = Node(cls, ctx, inputs, output)
        return output


def _share_version_with_viewed_input(output, inputs):
    """A view shares its input's version counter: writing through either changes both (PyTorch's rule)."""
    for tensor in inputs:
        if np.may_share_memory(output.data, tensor.data):
            output._version_counter = tensor._version_counter
            return


def array_hint(value):
    """What to say when a NumPy array arrives where a Tensor belongs (a DataLoader yields arrays by default)."""
    if not isinstance(value, np.ndarray):
        return ""
    return ("; wrap a NumPy array with minigrad.from_numpy(array) (or minigrad.tensor(array)), or build the "
            "DataLoader with as_tensors=True so that it yields Tensors")


def _reverse_topological_order(root):
    """Tensors reachable from ``root`` through recorded nodes, each after every tensor that uses it.

    An iterative depth-first search (a recursive one would hit Python's recursion limit on deep
    networks): a tensor is appended once all its inputs have been visited (post-order); reversing
    that list puts every output before its inputs.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._node is not None:
            for parent in tensor._node.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return reversed(order)


def backward(root, grad=None, retain_graph=False):
    """Backpropagate from ``root``: add ``d(root)/d(leaf)`` (times ``grad``) into every leaf's ``.grad``.

    ``grad`` is the gradient of some final scalar with respect to ``root``; it may be omitted only
    when ``root`` holds a single value (then it is 1).  Without ``retain_graph`` each op's saved
    arrays are released once its backward has run, so the graph can be walked only once.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward() called on a tensor that does not require grad: no input of the "
            "computation had requires_grad=True (or it ran under no_grad())"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a single-value output, got shape "
                f"{root.shape}; pass grad= of that shape (e.g. loss.sum().backward())"
            )
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape}, but the output has shape {root.shape}")

    pending = {id(root): grad}  # id(tensor) -> gradient summed over the uses seen so far
    recorder = op_recorder.get()
    for tensor in _reverse_topological_order(root):
        grad_out = pending.pop(id(tensor), None)
        if grad_out is None:
            continue
        node = tensor._node
        if node is None:  # a leaf: accumulate, never overwrite
            # .grad is a Tensor without history (as PyTorch's); a new one each time, so a grad the
            # caller kept from an earlier backward is never changed under them
            total = grad_out.copy() if tensor.grad is None else tensor.grad.data + grad_out
            tensor.grad = Tensor(total)
            continue
        _check_versions(node, tensor)
        if recorder is None:
            input_grads = node.function.backward(node.ctx, grad_out)
        else:
            input_grads = recorder.backward(node, grad_out)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        _check_gradients(node, input_grads)
        if not retain_graph:
            node.ctx = None  # frees the saved arrays now, not when the last output is dropped
        for parent, parent_grad in zip(node.inputs, input_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            key = id(parent)
            pending[key] = parent_grad if key not in pending else pending[key] + parent_grad


def _check_versions(node, output):
    """Refuse an op already differentiated (without retain_graph), or whose input or output changed in place."""
    if node.ctx is None:
        raise RuntimeError(
            f"Trying to backward through the graph a second time ({node.function.__name__} already "
            f"released what it saved): specify retain_graph=True in the first backward() if you need to "
            f"backward twice, or run the forward again"
        )
    changed = [(f"input {position}", parent, recorded)
               for position, (parent, recorded) in enumerate(zip(node.inputs, node.input_versions))
               if parent._version_counter.value != recorded]
    if output._version_counter.value != node.output_version:
        changed.append(("the output", output, node.output_version))
    if changed:
        role, tensor, recorded = changed[0]
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: {role} of {node.function.__name__}, shape {tensor.shape}, is at version "
            f"{tensor._version} but was at version {recorded} when recorded "
            f"(last changed by {tensor._last_inplace_op})"
        )


def _check_gradients(node, input_grads):
    """An op's backward must return one gradient per input, each shaped like that input."""
    op_name = node.function.__name__
    if len(input_grads) != len(node.inputs):
        raise RuntimeError(
            f"{op_name}.backward returned {len(input_grads)} gradients for {len(node.inputs)} inputs"
        )
    for position, (parent, parent_grad) in enumerate(zip(node.inputs, input_grads)):
        if parent_grad is None:
            if parent.requires_grad and node.ctx.needs_input_grad[position]:
                raise RuntimeError(f"{op_name}.backward returned None for input {position}, which requires grad")
            continue
        if np.shape(parent_grad) != parent.shape:
            raise RuntimeError(
                f"{op_name}.backward returned a gradient of shape {np.shape(parent_grad)} for "
                f"input {position} of shape {parent.shape}"
            )
        if np.result_type(parent_grad) != parent.dtype:  # dtypes are never mixed silently
            raise RuntimeError(
                f"{op_name}.backward returned a {np.result_type(parent_grad)} gradient for "
                f"input {position} of dtype {parent.dtype}"
            )
