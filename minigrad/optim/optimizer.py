"""Optimiser base class: parameter groups, per-parameter state, and a state_dict to resume from."""

import copy

import numpy as np


class Optimizer:
    """Holds ``param_groups`` (each a dict with ``"params"`` and hyper-parameters) and ``state``.

    ``state`` maps a parameter's position (0, 1, ... across all groups) to a dict of arrays, so
    that ``state_dict()`` does not depend on object identity and can be loaded into a fresh run.
    """

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for group in groups:
            full = dict(self.defaults)
            full.update(group)
            full["params"] = list(full["params"])
            self.param_groups.append(full)
        self.state = {}

    def _indexed_params(self):
        index = 0
        for group in self.param_groups:
            for parameter in group["params"]:
                yield index, group, parameter
                index += 1

    def zero_grad(self):
        for group in self.param_groups:
            for parameter in group["params"]:
                parameter.grad = None

    def step(self):
        raise NotImplementedError

    def state_dict(self):
        groups, index = [], 0
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = list(range(index, index + len(group["params"])))
            index += len(group["params"])
            groups.append(saved)
        return {"state": copy.deepcopy(self.state), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state (e.g. momentum buffers); checks sizes before changing anything."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups)} parameter groups, this optimizer has {len(self.param_groups)}")
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"a parameter group in the state_dict has {len(saved['params'])} parameters, "
                    f"this optimizer's has {len(group['params'])}"
                )
        parameters = {index: parameter for index, _, parameter in self._indexed_params()}
        for index, entry in state_dict["state"].items():
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.shape != parameters[int(index)].shape:
                    raise ValueError(
                        f"optimizer state {name!r} of parameter {index} has shape {value.shape}, "
                        f"the parameter has shape {parameters[int(index)].shape}"
                    )
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {int(k): copy.deepcopy(v) for k, v in state_dict["state"].items()}
