"""Differentiable ops: one ``Function`` subclass per op, ``forward`` and ``backward`` side by side.

Each module also offers small wrapper functions (``elementwise.add``, ``reduction.sum``, ...) that
turn Python numbers into Tensors of the right dtype before calling ``SomeOp.apply``.
"""
