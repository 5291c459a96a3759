"""CI-sized checks of tensorgrad.bench: what each workload times is the same computation in
tensorgrad and PyTorch (outputs and gradients at toy sizes), the timing parts run, and
`python -m tensorgrad.bench` writes its table, JSON and plot, saying why no GPU was used."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.bench import WORKLOADS, Case, Framework, measure
from tensorgrad.bench.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY_WIDTH = {"linear": 6, "mlp": 8, "conv2d_mnist": 4, "conv2d_cifar": 4, "maxpool2d_mnist": 64,
              "maxpool2d_cifar": 3, "batchnorm2d": 3, "mnist_cnn": 32, "lstm": 5, "gru": 5, "cross_entropy": 7,
              "train_mlp": 8, "train_cnn": 32, "train_lstm": 5}


def _torch():
    return pytest.importorskip("torch", reason="PyTorch (the oracle) is not installed")


def test_every_workload_has_a_tiny_width():
    assert set(TINY_WIDTH) == set(WORKLOADS)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_computes_the_same_in_both_frameworks(name):
    _torch()
    a = Case(name, Framework("tensorgrad"), "cpu", "float64", 3, TINY_WIDTH[name], train=False)
    b = Case(name, Framework("torch"), "cpu", "float64", 3, TINY_WIDTH[name], a.state(), train=False)
    oa, ob = a.forward(), b.forward()
    np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), rtol=1e-9, atol=1e-10)
    a.backward(oa)
    b.backward(ob)
    ga, gb = a.grads(), b.grads()
    assert set(ga) == set(gb) and ga
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=1e-8, atol=1e-10, err_msg=k)
    if a.opt is not None:  # the step updates the same way
        a.step()
        b.step()
        for (k, p), q in zip(a.module.named_parameters(), b.module.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_measure_reports_each_part():
    case = Case("train_mlp", Framework("tensorgrad"), "cpu", "float32", 4, 8)
    m = measure(case, "tensorgrad", repeats=3, warmup=1)
    assert m.forward_ms["n"] == 3 and m.backward_ms["median"] > 0 and m.step_ms["median"] > 0
    assert m.forward_ms["min"] <= m.forward_ms["median"] <= m.forward_ms["max"]
    assert m.samples_per_s > 0 and m.dtype == "float32"
    layer = measure(Case("linear", Framework("tensorgrad"), "cpu", "float32", 4, 8), "tensorgrad", 2, 0)
    assert layer.step_ms is None


def test_command_writes_table_json_and_plot(tmp_path, capsys):
    out = main(["--workloads", "linear,train_cnn", "--batch-sizes", "2,4", "--repeats", "2", "--warmup", "1",
                "--width", "32", "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")])
    text = capsys.readouterr().out
    saved = json.loads((tmp_path / "r.json").read_text())
    per_device = 2 if tg.cuda.is_available() else 1  # --devices auto adds the GPU's rows
    assert len(saved["rows"]) == 4 * per_device and saved["machine"]["numpy"] == np.__version__
    if not tg.cuda.is_available():
        assert "no GPU found:" in text and saved["machine"]["gpu_unavailable_reason"]
    for r in out["rows"]:
        assert f"{r['workload']:<16}{r['batch']:>6} {r['device']}" in text
    if any(m["framework"] == "torch" for m in saved["measurements"]):
        assert all(r["ratio_to_torch"] > 0 for r in saved["rows"])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in text
    else:
        assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_entry_point_and_errors(tmp_path):
    res = subprocess.run([sys.executable, "-m", "tensorgrad.bench", "--list"], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.returncode == 0 and "mnist_cnn" in res.stdout
    with pytest.raises(SystemExit, match="unknown workload"):
        main(["--workloads", "nope"])
    if not tg.cuda.is_available():
        with pytest.raises(SystemExit, match="no usable GPU"):
            main(["--devices", "cuda"])
