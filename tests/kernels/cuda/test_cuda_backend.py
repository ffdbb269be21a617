"""Choosing the device: ``minigrad.backend.use_device`` and the error without GPU or simulator."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad
from minigrad import backend
from minigrad.kernels import conv
from minigrad.kernels.cuda.device import cuda_unavailable_reason, simulator_enabled

from cuda_cases import needs_cuda


@pytest.fixture
def restore_device():
    previous = backend.get_device()
    yield
    backend.use_device(previous)


def test_default_device_is_cpu():
    assert backend.get_device() == "cpu"
    assert backend.conv_kernels() is conv


def test_unknown_device_is_a_value_error(restore_device):
    with pytest.raises(ValueError, match=r"device must be one of \('cpu', 'cuda'\), got 'gpu'"):
        backend.use_device("gpu")


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="a GPU or the CUDA simulator is available here")
def test_cuda_without_gpu_or_simulator_says_how_to_get_one(restore_device):
    with pytest.raises(RuntimeError) as raised:
        backend.use_device("cuda")
    message = str(raised.value)
    assert 'pip install "minigrad-resnext[cuda]"' in message
    assert "NUMBA_ENABLE_CUDASIM=1" in message
    assert backend.get_device() == "cpu"  # the failed switch changed nothing


@pytest.mark.cudasim
@needs_cuda
def test_conv2d_layer_on_cuda_matches_cpu(restore_device):
    # The whole path: autograd Function -> backend -> CUDA kernels, forward and backward.
    geom_args = dict(stride=2, padding=1, groups=2)
    rng = np.random.default_rng(0)
    x_data = rng.standard_normal((1, 4, 5, 5))
    w_data = rng.standard_normal((6, 2, 3, 3))

    def run():
        x = minigrad.tensor(x_data, requires_grad=True)
        w = minigrad.tensor(w_data, requires_grad=True)
        y = minigrad.functional.conv2d(x, w, **geom_args)
        (y * y).sum().backward()
        return y.numpy(), x.grad.data, w.grad.data

    backend.use_device("cpu")
    on_cpu = run()
    backend.use_device("cuda")
    assert backend.conv_kernels() is minigrad.kernels.cuda
    on_cuda = run()
    for cpu_array, cuda_array in zip(on_cpu, on_cuda):
        np.testing.assert_allclose(cuda_array, cpu_array, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(simulator_enabled(), reason="already inside the simulator")
def test_simulator_runs_in_a_fresh_process():
    # NUMBA_ENABLE_CUDASIM is read when numba is first imported, so a process that already has
    # numba needs a new one to try the simulator. One small forward pass, checked there.
    program = textwrap.dedent(
        """
        import numpy as np
        from minigrad import backend
        from minigrad.kernels import reference
        from minigrad.kernels.conv_geometry import ConvGeometry
        backend.use_device("cuda")
        geom = ConvGeometry.from_shapes((1, 2, 4, 4), (2, 1, 3, 3), padding=1, groups=2)
        x = np.arange(32.0).reshape(geom.input_shape)
        w = np.linspace(-1, 1, 18).reshape(geom.weight_shape)
        y = backend.conv_kernels().conv2d_forward(x, w, geom)
        np.testing.assert_allclose(y, reference.conv2d_forward(x, w, geom), rtol=1e-12)
        print("ok")
        """
    )
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    finished = subprocess.run(
        [sys.executable, "-c", program], env=environment, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "ok"


@pytest.mark.skipif(simulator_enabled(), reason="already inside the simulator")
def test_whole_cuda_suite_passes_under_the_simulator():
    # README's one test command must also cover the CUDA kernels on machines without a GPU:
    # the simulator has to be switched on before numba is imported, hence a pytest of its own.
    tests_folder = os.path.dirname(os.path.abspath(__file__))
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "cudasim", "-p", "no:cacheprovider", tests_folder],
        env=environment, capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout and " failed" not in finished.stdout
