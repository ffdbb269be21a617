"""Where the time goes: every op's time, FLOPs and bytes, against this machine's measured peaks.

>>> import minigrad as mg
>>> model = mg.nn.Sequential(mg.nn.Conv2d(3, 8, 3, padding=1), mg.nn.BatchNorm2d(8), mg.nn.ReLU())
>>> with mg.profiler.profile() as prof:
...     model(mg.randn(16, 3, 32, 32)).sum().backward()
>>> sorted({(event.layer, event.op) for event in prof.events})
[('(no module)', 'Sum'), ('0', 'Conv2d'), ('1', 'BatchNorm'), ('2', 'ReLU')]
>>> print(prof.table(group_by="layer"))  # measures this machine's peaks the first time # doctest: +SKIP

Read in this order: :mod:`~minigrad.profiler.recorder` (how ops are timed with one branch
in ``Function.apply`` and the layer names taken from the module tree), :mod:`~minigrad.profiler.counts`
(the FLOP and byte model), :mod:`~minigrad.profiler.peaks` (the probe that measures this
machine, cached), :mod:`~minigrad.profiler.report` (the roofline verdicts, tables, JSON, PNG).
"""

from minigrad.profiler import counts, peaks, report
from minigrad.profiler.peaks import Peaks, load_or_measure
from minigrad.profiler.recorder import Event, profile

__all__ = ["profile", "Event", "Peaks", "load_or_measure", "counts", "peaks", "report"]
