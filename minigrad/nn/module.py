"""``Module``: a container of parameters, buffers and sub-modules, as in PyTorch.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (``__setattr__`` below), so
``parameters()`` and ``state_dict()`` can find everything by walking the attributes in the order
they were set.  ``state_dict`` keys are dotted paths, such as a ResNeXt's first block's first
convolution: ``"stage_1.stage_1_bottleneck_0.conv_reduce.weight"``.
"""

import warnings
from collections import OrderedDict

import numpy as np

from minigrad.autograd import op_recorder
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimiser updates (``requires_grad=True`` by default).

    ``Parameter(t)`` shares ``t``'s memory and version counter, as PyTorch's.
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _holds_non_finite(value):
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    return array.dtype.kind == "f" and not np.isfinite(array).all()


def _registrable(module, name, value, registered_as):
    """``value`` as a replacement for the registered ``name``, or the TypeError that says what to do."""
    if registered_as == "buffer" and isinstance(value, (np.ndarray, Tensor)):
        return value.data if isinstance(value, Tensor) else value  # buffers are arrays here
    expected = {"parameter": "a minigrad.nn.Parameter or None", "buffer": "a NumPy array, a Tensor or None",
                "module": "a minigrad.nn.Module or None"}[registered_as]
    advice = (f"; wrap it (nn.Parameter(value)) or write into the parameter (with no_grad(): "
              f"{name}.copy_(value))" if registered_as == "parameter" else "")
    raise TypeError(f"cannot assign {type(value).__name__} as {registered_as} {name!r} of "
                    f"{type(module).__name__} ({expected} expected){advice}")


class _HookHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook."""

    _next_key = 0

    def __init__(self, hooks):
        self.hooks, self.key = hooks, _HookHandle._next_key
        _HookHandle._next_key += 1

    def remove(self):
        self.hooks.pop(self.key, None)


class Module:
    """Base class of every layer and model.

    Subclasses set their parameters and sub-modules as attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_hooks", {})

    def __setattr__(self, name, value):
        """PyTorch's rules: a Parameter or Module registers (in place of whatever had the name); a
        registered parameter or sub-module can be replaced only by its kind or None; a buffer by an
        array or Tensor (its array is stored) or None.  Anything else there is a TypeError, not a
        silently unregistered name that ``state_dict`` would lose."""
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() before setting attributes")
        registries = {"parameter": self._parameters, "buffer": self._buffers, "module": self._modules}
        kind = "parameter" if isinstance(value, Parameter) else "module" if isinstance(value, Module) else None
        registered_as = next((known for known, registry in registries.items() if name in registry), None)
        if kind is None and registered_as is not None and value is not None:
            value = _registrable(self, name, value, registered_as)
            kind = registered_as
        elif kind is None and registered_as == "buffer":
            kind = "buffer"  # a buffer set to None stays registered (and is left out of state_dict), as PyTorch
        for known, registry in registries.items():
            if known != kind:
                registry.pop(name, None)
        if kind is not None:
            registries[kind][name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """Register state that is saved in ``state_dict`` but not trained (e.g. running means)."""
        if "_buffers" not in self.__dict__:
            raise RuntimeError("call super().__init__() before register_buffer")
        self._buffers[name] = None if array is None else np.asarray(array)
        object.__setattr__(self, name, self._buffers[name])

    def _set_buffer(self, name, array):
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        recorder = op_recorder.get()  # None unless inside minigrad.profiler.profile()
        if recorder is not None:
            recorder.enter_module(self)  # so the ops recorded next carry this layer's dotted name
        try:
            output = self.forward(*args, **kwargs)
            for hook in tuple(self._forward_hooks.values()):
                hook(self, args, output)
        finally:
            if recorder is not None:
                recorder.exit_module(self)
        return output

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward of this module (as PyTorch).

        Returns a handle whose ``remove()`` takes the hook off again. Used, for example, to find
        the first layer whose output stops being finite.
        """
        handle = _HookHandle(self._forward_hooks)
        self._forward_hooks[handle.key] = hook
        return handle

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, parameter in module._parameters.items():
                if id(parameter) in seen:
                    continue
                seen.add(id(parameter))
                yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self):
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self, prefix=""):
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    # ---------------------------------------------------------------- modes
    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for parameter in self.parameters():
            parameter.grad = None

    def to(self, *args, dtype=None, device=None):
        """Convert every floating parameter and buffer to ``dtype`` in place; return the module.

        As PyTorch's: ``to(np.float64)``, ``to("cpu")``, ``to(device)``, ``to("cpu", np.float64)``
        or ``to(dtype=...)``.  Parameters live in host memory, so the only device is ``"cpu"``.
        """
        from minigrad.creation import check_device, device as device_type

        for arg in args:
            if isinstance(arg, (str, device_type)):
                device = arg
            else:
                dtype = arg
        check_device(device)
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to() converts to a floating dtype, got {dtype}")
        for module in self.modules():
            for parameter in module._parameters.values():
                parameter.data = parameter.data.astype(dtype)
                parameter.grad = None
            for name, buffer in list(module._buffers.items()):
                if buffer is not None and buffer.dtype.kind == "f":
                    module._set_buffer(name, buffer.astype(dtype))
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ----------------------------------------------------------- state dict
    def state_dict(self):
        """An ordered dict of dotted name -> NumPy array copy, parameters then buffers per module."""
        state = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, parameter in module._parameters.items():
                state[prefix + name] = parameter.data.copy()
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    state[prefix + name] = np.array(buffer, copy=True)
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Everything is checked before anything is written, so a failed load changes nothing.
        With ``strict=True`` missing or unexpected keys are an error; a wrong shape always is.
        Values holding NaN or infinity are loaded (a diverged model can still be inspected), but
        a ``RuntimeWarning`` names them: such a model's outputs are not numbers.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        targets = {}
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, parameter in module._parameters.items():
                targets[prefix + name] = (module, name, parameter.data)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    targets[prefix + name] = (module, name, buffer)
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        for key, (_, _, current) in targets.items():
            if key in state_dict:
                incoming_shape = np.shape(state_dict[key])
                if incoming_shape != current.shape:
                    problems.append(f"{key}: expected shape {current.shape}, got {incoming_shape}")
        if problems:
            raise RuntimeError(f"error loading state_dict into {type(self).__name__}: " + "; ".join(problems))
        non_finite = [key for key in targets if key in state_dict and _holds_non_finite(state_dict[key])]
        if non_finite:
            warnings.warn(f"load_state_dict into {type(self).__name__}: {len(non_finite)} entries hold NaN or "
                          f"infinity: {', '.join(non_finite)}", RuntimeWarning, stacklevel=2)
        for key, (module, name, current) in targets.items():
            if key not in state_dict:
                continue
            incoming = state_dict[key]
            incoming = incoming.data if isinstance(incoming, Tensor) else incoming
            value = np.array(incoming, dtype=current.dtype, copy=True)
            if name in module._parameters:
                module._parameters[name].data = value
            else:
                module._set_buffer(name, value)
        return missing, unexpected

    # ------------------------------------------------------------- display
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_lines = repr(child).split("\n")
            lines.append(f"  ({name}): " + "\n  ".join(child_lines))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"
