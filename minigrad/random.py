"""The default random number generator, for parameter initialisation and ``randn``/``rand``.

Everything random in minigrad takes an explicit ``generator`` (a ``numpy.random.Generator``) or
falls back to this module's one, which ``manual_seed`` resets, as PyTorch's ``torch.manual_seed``.
"""

import numpy as np

_default_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reset the default generator so that initialisation is reproducible."""
    global _default_generator
    _default_generator = np.random.default_rng(seed)
    return _default_generator


def as_generator(generator=None):
    """A NumPy Generator from ``None`` (the default one), an int seed, or a Generator."""
    if generator is None:
        return _default_generator
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be a numpy.random.Generator, an int seed or None, got {type(generator).__name__}")
