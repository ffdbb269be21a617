"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay (PyTorch's rule).

With gradient g of parameter p (step t)::

    g = g + weight_decay * p                         (L2 penalty folded into the gradient)
    b = g                               at t = 1
    b = momentum * b + (1 - dampening) * g           afterwards
    g = g + momentum * b   (nesterov)   or   g = b   (classical momentum)
    p = p - lr * g
"""

import math

import numpy as np

from minigrad.autograd import no_grad
from minigrad.optim.optimizer import Optimizer


class SGD(Optimizer):
    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        # Written as "not (x >= 0)" so that NaN, which fails every comparison, is refused too.
        if not (0 <= lr < math.inf):
            raise ValueError(f"invalid learning rate lr={lr}: must be a finite number >= 0")
        if not (0 <= momentum < math.inf):
            raise ValueError(f"invalid momentum={momentum}: must be a finite number >= 0")
        if not (0 <= weight_decay < math.inf):
            raise ValueError(f"invalid weight_decay={weight_decay}: must be a finite number >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"nesterov needs momentum > 0 and dampening = 0, got momentum={momentum}, dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self):
        with no_grad():
            for index, group, parameter in self._indexed_params():
                if parameter.grad is None:
                    continue
                grad = parameter.grad.data
                # BEGIN SOLUTION t12_sgd_momentum
                if group["weight_decay"] != 0:
                    grad = grad + group["weight_decay"] * parameter.data
                if group["momentum"] != 0:
                    state = self.state.setdefault(index, {})
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = np.array(grad, copy=True)
                    else:
                        buffer = group["momentum"] * buffer + (1 - group["dampening"]) * grad
                    state["momentum_buffer"] = buffer
                    grad = grad + group["momentum"] * buffer if group["nesterov"] else buffer
                # END SOLUTION
                parameter.sub_(group["lr"] * grad)  # in place, and bumps its version (minigrad/inplace.py)
