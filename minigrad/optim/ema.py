"""An exponential moving average of a model's weights (Polyak averaging), for evaluation.

After every optimiser step::

    average <- d_t * average + (1 - d_t) * current,      d_t = min(decay, (1 + t) / (10 + t))

where t counts the updates so far.  The average of the last ~1/(1 - decay) weight vectors sits
nearer the bottom of the valley than any single one of them, which SGD keeps bouncing across;
evaluating it gives a better model for free (no extra gradient).  The warm-up ``d_t`` keeps the
first few updates from dragging the average back towards the random initialisation.

Everything in the state dict is averaged (parameters and the BatchNorm running statistics, as
``torch.optim.swa_utils.AveragedModel(use_buffers=True)`` and timm's ModelEma do); integer buffers
(counts) are copied.

>>> import minigrad as mg
>>> layer = mg.nn.Linear(2, 1)
>>> layer.weight.data.fill(0.0)
>>> ema = ExponentialMovingAverage(layer, decay=0.9)
>>> layer.weight.data.fill(1.0)
>>> ema.update(layer)  # t=0: d_0 = min(0.9, 1/10) = 0.1, so the average moves 90% of the way
>>> round(float(ema.average["weight"][0, 0]), 6)
0.9
"""

import contextlib

import numpy as np


class ExponentialMovingAverage:
    """Keeps ``average``, a dict like ``model.state_dict()``; ``update(model)`` after each step."""

    def __init__(self, model, decay=0.999):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.updates = 0
        self.average = model.state_dict()  # copies

    def current_decay(self):
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def update(self, model):
        decay = self.current_decay()
        for name, value in model.state_dict().items():
            average = self.average[name]
            if average.dtype.kind == "f":
                average *= decay
                average += (1 - decay) * value
            else:
                average[...] = value
        self.updates += 1

    @contextlib.contextmanager
    def swapped_into(self, model):
        """``with ema.swapped_into(model):`` the model holds the averaged weights; restored on exit."""
        own = model.state_dict()
        model.load_state_dict(self.average)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def state_dict(self):
        return {"decay": self.decay, "updates": self.updates,
                "average": {name: np.array(value, copy=True) for name, value in self.average.items()}}

    def load_state_dict(self, state):
        missing = sorted(set(self.average) ^ set(state["average"]))
        if missing:
            raise ValueError(f"EMA state does not match the model: keys {missing[:5]} differ")
        for name, value in state["average"].items():
            if np.shape(value) != self.average[name].shape:
                raise ValueError(f"EMA state {name}: expected shape {self.average[name].shape}, got {np.shape(value)}")
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.average = {name: np.array(value, dtype=self.average[name].dtype, copy=True)
                        for name, value in state["average"].items()}


class WeightAverage(ExponentialMovingAverage):
    """The plain average of the weights seen by ``update`` (Izmailov et al. 2018, "SWA"; PyTorch's
    ``AveragedModel`` default): after t updates, ``average = (w_1 + ... + w_t) / t``, kept as::

        average <- t/(t+1) * average + 1/(t+1) * current      (t = updates so far)

    Every update weighs the same, so the average is only as good as the weights it is given: call
    ``update`` over the last part of a run, when the learning rate has decayed and the weights
    wander around one valley, not from the start. Until the first update ``average`` holds the
    weights at construction; ``updates == 0`` says so.

    >>> import minigrad as mg
    >>> layer = mg.nn.Linear(2, 1)
    >>> average = WeightAverage(layer)
    >>> for value in (1.0, 2.0, 6.0):
    ...     layer.weight.data.fill(value)
    ...     average.update(layer)
    >>> round(float(average.average["weight"][0, 0]), 6), average.updates
    (3.0, 3)
    """

    def __init__(self, model):
        super().__init__(model, decay=0.0)

    def current_decay(self):
        return self.updates / (self.updates + 1)
