"""Adam (Kingma & Ba), PyTorch's rule with L2 weight decay folded into the gradient.

At step t with gradient g::

    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g                 (running mean of gradients)
    v = beta2 * v + (1 - beta2) * g^2               (running mean of squared gradients)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The two ``1 - beta^t`` factors undo the bias of m and v towards their zero start.
"""

import math

import numpy as np

from minigrad.autograd import no_grad
from minigrad.optim.optimizer import Optimizer


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        # Written as "not (x >= 0)" so that NaN, which fails every comparison, is refused too.
        if not (0 <= lr < math.inf):
            raise ValueError(f"invalid learning rate lr={lr}: must be a finite number >= 0")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if not (0 <= eps < math.inf and 0 <= weight_decay < math.inf):
            raise ValueError(f"eps and weight_decay must be >= 0, got eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self):
        with no_grad():
            for index, group, parameter in self._indexed_params():
                if parameter.grad is None:
                    continue
                beta1, beta2 = group["betas"]
                grad = parameter.grad.data
                if group["weight_decay"] != 0:
                    grad = grad + group["weight_decay"] * parameter.data
                state = self.state.setdefault(index, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(parameter.data)
                    state["exp_avg_sq"] = np.zeros_like(parameter.data)
                state["step"] += 1
                step = state["step"]
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
                step_size = group["lr"] / (1 - beta1**step)
                denominator = np.sqrt(state["exp_avg_sq"]) / math.sqrt(1 - beta2**step) + group["eps"]
                parameter.sub_(step_size * state["exp_avg"] / denominator)  # in place; bumps its version
