"""ReLU, the activation of every ResNeXt layer, with its Numba kernel.

It is the same kind of op as those in :mod:`minigrad.functions.elementwise`, kept apart because
its arrays are computed by a parallel Numba kernel (:mod:`minigrad.kernels.relu_cpu`): read it
after :mod:`minigrad.kernels.im2col`, where Numba is introduced.
"""

from minigrad.autograd import Function
from minigrad.functions.dtypes import require_float
from minigrad.kernels import relu_cpu

__all__ = ["ReLU", "relu"]


class ReLU(Function):
    """y = max(x, 0) ;  dx = dy * [x > 0]   (the derivative at exactly 0 is taken as 0, as PyTorch)

    Both directions run a one-pass parallel Numba loop (``minigrad/kernels/relu_cpu.py``): ReLU
    touches nearly every activation of a CNN, and NumPy's versions took 9-18% of a ResNeXt training step.
    """

    @staticmethod
    def forward(ctx, x):
        require_float("relu", input=x)
        y = relu_cpu.relu_forward(x)  # np.maximum(x, 0), on every core
        ctx.save_for_backward(y)  # y > 0 exactly where x > 0
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        # BEGIN SOLUTION t01_elementwise_backward
        return relu_cpu.relu_backward(grad_out, y)  # grad_out * (y > 0), in one parallel pass
        # END SOLUTION


def relu(x):
    """``max(x, 0)`` elementwise.

    >>> import minigrad as mg
    >>> relu(mg.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.], dtype=float32)
    """
    return ReLU.apply(x)
