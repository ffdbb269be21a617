"""Where training stopped being finite: the first layer whose output or gradient holds NaN or inf.

Training stops at the first non-finite loss, gradient, weight or BatchNorm running statistic
(``python -m resnext_np.train`` checks them after every step), and these functions say where it
started, so that the message names a layer rather than only a step.
"""

import warnings

import numpy as np

import minigrad as mg


def first_non_finite(named_arrays):
    """The first name in ``(name, array)`` pairs whose array holds NaN or infinity, or None."""
    for name, array in named_arrays:
        if array is not None and not np.isfinite(array).all():
            return name
    return None


def first_non_finite_state(model):
    """The first parameter or buffer (e.g. a BatchNorm ``running_var``) that is not finite, or None."""
    return first_non_finite([(name, parameter.data) for name, parameter in model.named_parameters()]
                            + list(model.named_buffers()))


def first_non_finite_gradient(model):
    """The parameter nearest the loss whose gradient is not finite, or None.

    Backward computes the gradients from the last layer to the first, so the last parameter in the
    model's order that has a bad gradient is where the gradient first went non-finite.
    """
    return first_non_finite([(name, None if parameter.grad is None else parameter.grad.data)
                             for name, parameter in reversed(list(model.named_parameters()))])


def first_non_finite_output(model, images):
    """Run the forward pass on ``images`` again and name the first module whose output is not finite.

    Modules are checked in the order their forward passes finish, so the innermost layer that
    produced the first NaN/inf is named. Returns "the input images" if the input already holds
    them, or None if every output is finite. Running statistics are restored afterwards.
    """
    if not np.isfinite(images).all():
        return "the input images"
    buffers = {name: np.array(buffer, copy=True) for name, buffer in model.named_buffers()}
    found = []

    def check(name):
        def hook(module, inputs, output):
            if not found and isinstance(output, mg.Tensor) and not np.isfinite(output.data).all():
                found.append(f"{name} ({type(module).__name__})")
        return hook

    handles = [module.register_forward_hook(check(name)) for name, module in model.named_modules() if name]
    try:
        with mg.no_grad():
            model(mg.tensor(images))
    finally:
        for handle in handles:
            handle.remove()
        with warnings.catch_warnings():  # the buffers may be the non-finite ones: put them back as they were
            warnings.simplefilter("ignore", RuntimeWarning)
            model.load_state_dict(buffers, strict=False)
    return found[0] if found else None
