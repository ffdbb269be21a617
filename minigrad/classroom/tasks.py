"""The assignment registry: one `Task` per graded exercise, in the order a learner meets them.

A task id is three things at once, so it must be a valid Python identifier:
the name in the source markers (``BEGIN SOLUTION t04_im2col``), the pytest marker on every test
that grades it (``pytest -m t04_im2col``), and the page heading in ``ASSIGNMENTS.md``.

`depends_on` lists the tasks whose solutions a task's tests also exercise. A test of task T may
only call code from T and from T's dependencies; otherwise, in a student copy, it would fail for
the wrong reason. The project's own test suite checks this on the real source.
"""

from __future__ import annotations

from dataclasses import dataclass


class ClassroomError(Exception):
    """A mistake the classroom tools report to the teacher (message quotes file:line where known).

    It lives in this module because every other classroom module imports the registry anyway.
    """


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    instruction: str  # one line; becomes NotImplementedError("<id>: <instruction>") in the stub
    points: int
    files: tuple[str, ...]  # files a student edits, relative to the project root
    depends_on: tuple[str, ...] = ()
    optional: bool = False  # bonus task: its points are not part of the total possible
    # Environment for the pytest process that grades this task; numba reads
    # NUMBA_ENABLE_CUDASIM only at import, so such a task needs a process of its own.
    pytest_env: tuple[tuple[str, str], ...] = ()


TASKS: tuple[Task, ...] = (
    Task(
        id="t01_elementwise_backward",
        title="Backward of the elementwise and reduction ops",
        instruction="write backward() of this op from its forward formula (ASSIGNMENTS.md, t01)",
        points=10,
        files=("minigrad/functions/elementwise.py", "minigrad/functions/activation.py", "minigrad/functions/reduction.py"),
    ),
    Task(
        id="t02_unbroadcast",
        title="Undo broadcasting in gradients (unbroadcast)",
        instruction="sum the gradient over the broadcast axes back to the input shape (ASSIGNMENTS.md, t02)",
        points=10,
        files=("minigrad/functions/broadcast.py",),
        depends_on=("t01_elementwise_backward",),
    ),
    Task(
        id="t03_gradcheck",
        title="A finite-difference gradient checker",
        instruction="compare analytic gradients with central differences (ASSIGNMENTS.md, t03)",
        points=10,
        files=("minigrad/gradcheck.py",),
        depends_on=("t01_elementwise_backward",),
    ),
    Task(
        id="t04_im2col",
        title="im2col and col2im",
        instruction="fill the column matrix (im2col) or scatter-add it back (col2im) (ASSIGNMENTS.md, t04)",
        points=15,
        files=("minigrad/kernels/im2col.py",),
    ),
    Task(
        id="t05_grouped_conv_forward",
        title="Grouped convolution forward via the column layout",
        instruction="compute each group's output as its weight matrix times its columns (ASSIGNMENTS.md, t05)",
        points=15,
        files=("minigrad/kernels/conv/im2col_matmul.py",),
        depends_on=("t04_im2col",),
    ),
    Task(
        id="t06_conv_backward",
        title="Convolution backward: gradient of input and of weight",
        instruction="derive dX via col2im(W^T @ dY) and dW via dY @ cols^T (ASSIGNMENTS.md, t06)",
        points=20,
        files=("minigrad/kernels/conv/im2col_matmul.py", "minigrad/functions/conv.py"),
        depends_on=("t01_elementwise_backward", "t03_gradcheck", "t04_im2col", "t05_grouped_conv_forward"),
    ),
    Task(
        id="t07_batchnorm_backward",
        title="BatchNorm backward",
        instruction="write the batch-norm backward pass in its compact form (ASSIGNMENTS.md, t07)",
        points=10,
        files=("minigrad/kernels/batchnorm_cpu.py",),
        depends_on=("t01_elementwise_backward", "t03_gradcheck"),
    ),
    Task(
        id="t08_block_converter",
        title="Convert a ResNeXt block between forms (a) and (c)",
        instruction="cut each branch's slice out of the grouped weights, or concatenate the slices back (ASSIGNMENTS.md, t08)",
        points=10,
        files=("resnext_np/convert.py",),
        depends_on=("t04_im2col", "t05_grouped_conv_forward"),
    ),
    Task(
        id="t09_cuda_kernel",
        title="A numba.cuda im2col kernel (optional)",
        instruction="write the numba.cuda im2col kernel body, one thread per column element (ASSIGNMENTS.md, t09)",
        points=10,
        files=("minigrad/kernels/cuda/im2col.py",),
        depends_on=("t04_im2col",),
        optional=True,
        pytest_env=(("NUMBA_ENABLE_CUDASIM", "1"),),
    ),
    Task(
        id="t10_direct_conv_forward",
        title="Grouped convolution forward by direct loops (the ResNeXt 3x3)",
        instruction="add every tap's contribution to the task's outputs; run one task per (image block, group) "
                    "with prange (ASSIGNMENTS.md, t10)",
        points=15,
        files=("minigrad/kernels/conv/direct.py",),
    ),
    Task(
        id="t11_pointwise_conv",
        title="Pointwise (1x1) convolution as a batched matrix product",
        instruction="one matmul per group, broadcast over the batch; its gradients are the transposed "
                    "products, both computed image by image (ASSIGNMENTS.md, t11)",
        points=10,
        files=("minigrad/kernels/conv/pointwise.py",),
    ),
    Task(
        id="t12_sgd_momentum",
        title="SGD with momentum, Nesterov and weight decay",
        instruction="fold in the weight decay, update the momentum buffer, then take the (Nesterov) step "
                    "as PyTorch does (ASSIGNMENTS.md, t12)",
        points=10,
        files=("minigrad/optim/sgd.py",),
    ),
    Task(
        id="t13_block_forms_forward",
        title="ResNeXt block forms (a) and (b) forward",
        instruction="run the branches and merge them: sum (form a) or concatenate then one 1x1 (form b) "
                    "(ASSIGNMENTS.md, t13)",
        points=10,
        files=("resnext_np/block.py",),
        depends_on=("t04_im2col", "t05_grouped_conv_forward", "t08_block_converter"),
    ),
    Task(
        id="t14_training_loop",
        title="A training loop with evaluation and a learning-rate schedule",
        instruction="one optimisation step per batch, evaluate without gradients, step the schedule once "
                    "per epoch (ASSIGNMENTS.md, t14)",
        points=15,
        files=("resnext_np/fit.py",),
        depends_on=("t01_elementwise_backward", "t02_unbroadcast", "t06_conv_backward", "t12_sgd_momentum"),
    ),
    Task(
        id="t15_numba_speedup",
        title="Make a slow kernel fast with Numba (max pooling)",
        instruction="write the max-pooling loops in a form Numba compiles (ASSIGNMENTS.md, t15)",
        points=10,
        files=("minigrad/classroom/speedup.py",),
    ),
    Task(
        id="t16_average_gradients",
        title="Data parallelism: average the gradients across ranks (optional)",
        instruction="pack a bucket's gradients into one flat array, all-reduce it, divide by the number of ranks "
                    "and hand each parameter its slice (ASSIGNMENTS.md, t16)",
        points=10,
        files=("minigrad/distributed/buckets.py",),
        optional=True,
    ),
)

TASKS_BY_ID: dict[str, Task] = {task.id: task for task in TASKS}


def get_task(task_id: str) -> Task:
    try:
        return TASKS_BY_ID[task_id]
    except KeyError:
        known = ", ".join(TASKS_BY_ID)
        raise ClassroomError(f"unknown task id {task_id!r}; known tasks: {known}") from None


def dependency_closure(task_id: str) -> set[str]:
    """The task and every task it depends on, directly or through others."""
    closure, pending = set(), [task_id]
    while pending:
        current = pending.pop()
        if current not in closure:
            closure.add(current)
            pending.extend(get_task(current).depends_on)
    return closure


def register_markers(config, tasks=TASKS) -> None:
    """Register one pytest marker per task; call it from a conftest's `pytest_configure`."""
    for task in tasks:
        config.addinivalue_line("markers", f"{task.id}: classroom task - {task.title}")


def _check_registry(tasks) -> None:
    # Registry mistakes would surface far away (a marker pytest rejects, a stub that does not
    # parse), so they are caught when the module is imported.
    seen = set()
    for task in tasks:
        assert task.id.isidentifier(), f"task id {task.id!r} is not a valid pytest marker name"
        assert task.id not in seen, f"task id {task.id!r} is registered twice"
        assert "\n" not in task.instruction, f"{task.id}: the instruction must be one line"
        for dependency in task.depends_on:
            assert dependency in seen, f"{task.id} depends on {dependency!r}, which must come earlier"
        seen.add(task.id)


_check_registry(TASKS)
