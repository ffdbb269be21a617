"""The machinery of ``python -m resnext_np.train``: what turns ``fit.py``'s 80-line loop into a command.

Nothing here is needed to understand the model (``resnext_np/block.py``, ``convert.py``,
``model.py``) or a training loop (``resnext_np/fit.py``). Read it after them, in this order:

* ``recipe.py``      every training choice that is not the model, as one named record;
* ``budget.py``      a time budget turned into a number of steps, once, up front;
* ``loaders.py``     the data set, its augmentation and the loaders of the command;
* ``mixup.py``       optional: blending the photos of a batch in pairs, and the loss of a blend;
* ``loop.py``        ``Trainer``: one step, and the plan's steps epoch by epoch (the loop);
* ``report.py``      beside the loop: progress bars, the line per epoch, the closing lines;
* ``saving.py``      beside the loop: what a checkpoint holds, written and restored;
* ``run.py``         one run from start to end: folder, data, plan, trainer;
* ``checkpoint.py``  the file format (cannot run code), ``run_folder.py`` (one run per folder),
  ``stop.py`` (Ctrl-C and SIGTERM between steps), ``divergence.py`` (where a NaN started),
  ``scoring.py`` (accuracy, flip TTA, confusion matrix), ``metrics.py`` (metrics.jsonl, curves.png),
  ``ranks.py`` (what changes under ``mpiexec``), ``errors.py`` (the command's two errors).

Submodules are not re-exported here: ``from resnext_np.training.loop import Trainer``.
"""
