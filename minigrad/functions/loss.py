"""log_softmax and cross-entropy, written to stay finite for any logits.

log_softmax(x)_i = x_i - logsumexp(x), and logsumexp(x) = m + log(sum_j e^(x_j - m)) with
m = max_j x_j, so the largest exponent is e^0 = 1 and nothing overflows.
"""

import numpy as np

from minigrad.autograd import Function


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis`` ;  dx = dy - softmax(x) * sum(dy)"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = _log_softmax(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out - np.exp(y) * np.sum(grad_out, axis=ctx.axis, keepdims=True)


class Softmax(Function):
    """y = exp(x - logsumexp(x)) along ``axis`` ;  dx = y * (dy - sum(dy * y))"""

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = np.exp(_log_softmax(x, axis))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return y * (grad_out - np.sum(grad_out * y, axis=ctx.axis, keepdims=True))


class CrossEntropy(Function):
    """loss = -(1/N) sum_n sum_k q_nk log_softmax(logits_n)_k ;  dlogits = (softmax(logits) - q) / N * dloss

    ``logits`` has shape (N, K); ``target`` holds N integer class labels in [0, K).  The target
    distribution q is the one-hot label, or with label smoothing eps (PyTorch's definition)
    q = (1 - eps) * onehot(target) + eps / K: every class keeps a little probability, so the
    logits are not pushed to grow without bound on examples the model already gets right.
    """

    @staticmethod
    def forward(ctx, logits, target, label_smoothing=0.0):
        if logits.ndim != 2:
            raise ValueError(f"cross_entropy expects logits of shape (N, classes), got {logits.shape}")
        if target.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy expects integer class labels, got dtype {target.dtype}")
        if target.shape != (logits.shape[0],):
            raise ValueError(
                f"cross_entropy: logits {logits.shape} need {logits.shape[0]} labels, got target shape {target.shape}"
            )
        classes = logits.shape[1]
        if target.size and (target.min() < 0 or target.max() >= classes):
            bad = target[(target < 0) | (target >= classes)][0]
            raise ValueError(f"cross_entropy: label {bad} is outside [0, {classes})")
        log_probs = _log_softmax(logits, axis=1)
        ctx.save_for_backward(log_probs, target)
        ctx.label_smoothing = label_smoothing
        rows = np.arange(logits.shape[0])
        nll = -log_probs[rows, target]
        if label_smoothing:
            nll = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(axis=1)
        return np.asarray(nll.mean(), dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        log_probs, target = ctx.saved_tensors
        batch, classes = log_probs.shape
        eps = ctx.label_smoothing
        grad = np.exp(log_probs)  # softmax(logits)
        if eps:
            grad -= eps / classes
        grad[np.arange(batch), target] -= 1 - eps
        return grad * (grad_out / batch), None


def log_softmax(x, dim=None, *, axis=None):
    """log(softmax(x)) along ``dim`` (PyTorch's name; ``axis=`` also works), computed stably."""
    return LogSoftmax.apply(x, axis=_one_axis(dim, axis, "log_softmax", x))


def softmax(x, dim=None, *, axis=None):
    """exp(x) / sum(exp(x)) along ``dim`` (PyTorch's name; ``axis=`` also works)."""
    return Softmax.apply(x, axis=_one_axis(dim, axis, "softmax", x))


def _one_axis(dim, axis, op_name, x):
    """The single axis to normalise over; the last one when neither is given."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op_name}: give either dim or axis, not both (dim={dim}, axis={axis})")
    chosen = -1 if dim is None and axis is None else (dim if axis is None else axis)
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)) or not -x.ndim <= chosen < x.ndim:
        raise ValueError(f"{op_name}: dim={chosen!r} is not an axis of a tensor with {x.ndim} dimensions")
    return int(chosen)


def cross_entropy(logits, target, label_smoothing=0.0):
    """Mean negative log-likelihood of integer ``target`` labels under ``softmax(logits)``.

    ``label_smoothing`` in [0, 1] mixes the one-hot target with the uniform distribution, as
    ``torch.nn.functional.cross_entropy(..., label_smoothing=)`` does.
    """
    from minigrad.tensor import Tensor

    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float, np.floating)) \
            or not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target))
    return CrossEntropy.apply(logits, target, label_smoothing=float(label_smoothing))
