"""CI-sized checks of benchmarks/device_train_step.py: on the CPU at batch 2 it runs end to end, the
two frameworks' workloads start from the same loss, the JSON holds what the table prints, and asking
for CUDA without a GPU stops with the reason. On a GPU machine the CUDA case runs too."""
from __future__ import annotations

import json
import os
import sys

import pytest

import tensorgrad as tg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import device_train_step as dts  # noqa: E402


def test_tiny_run_on_the_cpu(tmp_path):
    pytest.importorskip("torch", reason="PyTorch (the oracle) is not installed")
    out = tmp_path / "r.json"
    res = dts.main(["--device", "cpu", "--tiny", "--workloads", "cnn64,mlp64,lstm64", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert set(saved["workloads"]) == {"cnn64", "mlp64", "lstm64"}
    for name, w in res["workloads"].items():
        assert w["batch"] == 2 and w["ms_per_step"]["tensorgrad"] > 0 and w["ratio"] > 0
        assert abs(w["first_loss"]["tensorgrad"] - w["first_loss"]["torch"]) < 1e-3, name
    assert set(saved["backward"]["cpu"]) == {"tensorgrad", "torch"}


def test_profile_tables_name_the_step_ops(capsys):
    res = dts.main(["--device", "cpu", "--tiny", "--no-torch", "--workloads", "mlp64", "--backward-batch", "0",
                    "--profile"])
    prof = res["profiles"]["mlp64"]
    assert set(prof) == {"host", "device"}
    for text in prof.values():  # the MLP step's forward and backward ops, with their call counts
        assert "Linear" in text and "LinearBackward0" in text
    assert "host time" in capsys.readouterr().out


def test_the_step_trains():
    r = dts.StepRunner("tensorgrad", "mlp", 8, "cpu")
    before = r.first_loss()
    for _ in range(30):
        r.step()
    assert r.first_loss() < before


def test_cuda_without_a_gpu_says_why():
    if tg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="no usable GPU"):
        dts.main(["--device", "cuda", "--tiny"])


@pytest.mark.cuda
def test_tiny_run_on_cuda(device):
    if device != "cuda":
        pytest.skip("the CUDA case of the script")
    res = dts.main(["--device", "cuda", "--tiny", "--workloads", "cnn64,lstm64"])
    assert res["backward"]["gpu_speedup"]["tensorgrad"] > 0


def test_tiny_amp_run_on_the_cpu():
    """--amp: both frameworks' steps under autocast(float16) with a GradScaler (CPU float16 is slow,
    so only the smoke-sized run here; the GPU session times it)."""
    # (cnn and mlp: PyTorch's CPU LSTM has no float16 kernel under autocast)
    res = dts.main(["--device", "cpu", "--tiny", "--workloads", "cnn64,mlp64", "--backward-batch", "0", "--amp"])
    assert "autocast" in res["step"]
    for w in res["workloads"].values():
        assert w["ms_per_step"]["tensorgrad"] > 0
