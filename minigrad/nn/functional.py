"""``import minigrad.nn.functional as F``: PyTorch's spelling of :mod:`minigrad.functional`.

The same functions, re-exported, so tutorial code that says ``F.relu`` or ``F.cross_entropy`` runs.

>>> import minigrad.nn.functional as F
>>> import minigrad.functional
>>> F.relu is minigrad.functional.relu
True
"""

from minigrad.functional import *  # noqa: F401,F403 - the whole point of this module
from minigrad.functional import __all__  # noqa: F401
