#!/usr/bin/env bash
# One-shot check of the numba.cuda kernels on a machine with an NVIDIA GPU and numba-cuda
# installed: versions, the CUDA kernel tests on the real GPU (no simulator), then the timings.
# Logs go to $OUT (or ./gpu_check_logs).
#
# numba-cuda 0.30.4 fails to import with numpy 2.5 (it overloads np.row_stack, gone in 2.5): where
# the machine has numpy 2.5, put a numpy 2.4 wheel first on PYTHONPATH, e.g.
#   pip install --no-deps --target /tmp/site numpy==2.4.6 && PYTHONPATH=/tmp/site bash benchmarks/gpu_check.sh
set -o pipefail
OUT=${OUT:-gpu_check_logs}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NUMBA_ENABLE_CUDASIM
PYTHON=${PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  $PYTHON -m pip list 2>/dev/null | grep -i -E "^(numba|numba-cuda|llvmlite|numpy|cuda-bindings|cuda-core|cuda-pathfinder|nvidia-cuda-nvrtc|nvidia-nvjitlink|cuda-toolkit) "
  $PYTHON -c "from numba import cuda; print('numba.cuda:', cuda.implementation, 'available:', cuda.is_available()); cuda.detect()"
} 2>&1 | tee "$OUT/versions.txt"
timeout 240 $PYTHON -m pytest tests/kernels/cuda -q -p no:cacheprovider -rs --durations=5 2>&1 | tee "$OUT/tests.log"
timeout 300 $PYTHON benchmarks/conv_cuda.py --repeats 10 2>&1 | tee "$OUT/bench.log"
