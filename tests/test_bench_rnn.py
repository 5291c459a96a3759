"""CI-sized checks of benchmarks/rnn_step.py: at toy sizes, the tensorgrad and PyTorch workloads it
times compute the same thing (outputs, input and weight gradients, losses and SGD updates), its
agreement check fails when they do not, and the script runs end to end."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import tensorgrad as tg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import rnn_step  # noqa: E402
from rnn_step import LayerRunner, SeqMNISTRunner  # noqa: E402


def _torch():
    return pytest.importorskip("torch", reason="PyTorch (the oracle) is not installed")


@pytest.mark.parametrize("kind", list(rnn_step.KINDS))
@pytest.mark.parametrize("hidden,T,batch", [(8, 5, 3), (5, 1, 1)])
def test_layer_workloads_agree(kind, hidden, T, batch):
    _torch()
    a = LayerRunner("tensorgrad", kind, hidden, T, batch, input_size=6)
    b = LayerRunner("torch", kind, hidden, T, batch, input_size=6)
    np.testing.assert_allclose(rnn_step.to_numpy(a.forward()), rnn_step.to_numpy(b.forward()), rtol=1e-5, atol=1e-6)
    for _ in range(2):  # the second call must not accumulate onto the first one's gradients
        out_a, out_b = a.fwd_bwd(), b.fwd_bwd()
        np.testing.assert_allclose(rnn_step.to_numpy(out_a), rnn_step.to_numpy(out_b), rtol=1e-5, atol=1e-6)
        ga, gb = a.grads(), b.grads()
        assert set(ga) == set(gb) and "x" in ga and "weight_hh_l0" in ga
        for k in gb:
            assert ga[k].shape == gb[k].shape, k
            np.testing.assert_allclose(ga[k], gb[k], rtol=1e-4, atol=1e-5, err_msg=k)
    check = rnn_step.check_layers("toy", a, b)
    assert check["output"] <= rnn_step.OUT_TOL and check["worst_grad"] <= rnn_step.GRAD_TOL


def test_layer_check_catches_a_disagreement():
    _torch()
    a = LayerRunner("tensorgrad", "lstm", 6, 4, 2, input_size=5)
    b = LayerRunner("torch", "lstm", 6, 4, 2, input_size=5)
    with tg.no_grad():
        a.layer.weight_hh_l0.data = a.layer.weight_hh_l0.data * 1.01
    with pytest.raises(AssertionError, match="disagree"):
        rnn_step.check_layers("toy", a, b)


def test_seq_mnist_steps_agree():
    _torch()
    a = SeqMNISTRunner("tensorgrad", batch=4, hidden=8, T=6, input_size=5)
    b = SeqMNISTRunner("torch", batch=4, hidden=8, T=6, input_size=5)
    assert rnn_step.check_seq_mnist("toy", a, b)["first_loss"]["torch"] > 0
    for _ in range(3):  # the losses follow the same SGD trajectory
        la, lb = float(a.step().item()), float(b.step().item())
        assert abs(la - lb) <= 1e-5 * max(1.0, abs(lb)), (la, lb)
    pa, pb = dict(a.model.named_parameters()), dict(b.model.named_parameters())
    assert set(pa) == set(pb) == {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
                                  "fc.weight", "fc.bias"}
    for k in pb:
        np.testing.assert_allclose(rnn_step.to_numpy(pa[k]), rnn_step.to_numpy(pb[k]), rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_seq_mnist_model_reads_the_last_step():
    tg.manual_seed(0)
    model = rnn_step.build_seq_mnist_model(tg.nn, hidden=4, input_size=3)
    x = tg.randn(2, 5, 3)
    logits = model(x)
    assert tuple(logits.shape) == (2, rnn_step.MNIST_CLASSES)
    out, _ = model.lstm(x)
    np.testing.assert_allclose(rnn_step.to_numpy(logits), rnn_step.to_numpy(model.fc(out[:, 4])), rtol=1e-6)


def test_spec_round_trip():
    for spec in [("layer", "gru", 128, 28, 64), ("mnist", 256)]:
        assert rnn_step.arg_to_spec(rnn_step.spec_to_arg(spec)) == spec


def test_script_runs_end_to_end(tmp_path, capsys):
    _torch()
    path = tmp_path / "out.json"
    res = rnn_step.main(["--kinds", "lstm,gru", "--hidden", "4", "--T", "3", "--batch", "2", "--mnist-batch", "2",
                         "--repeats", "1", "--round-ms", "1", "--no-memory", "--json", str(path)])
    printed = capsys.readouterr().out
    saved = json.loads(path.read_text())
    names = ["lstm h4 T3 b2 fwd+bwd", "lstm h4 T3 b2 fwd", "gru h4 T3 b2 fwd+bwd", "gru h4 T3 b2 fwd",
             "seq-mnist b2 step"]
    assert list(saved["rows"]) == list(res["rows"]) == names
    for n in names:
        row = saved["rows"][n]
        assert row["ratio"] > 0 and set(row["ms"]) == {"tensorgrad", "torch"} and n in printed
    assert "goal <= 1.2" in printed and saved["machine"]["torch"]


def test_script_without_torch_or_layers(capsys):
    res = rnn_step.main(["--kinds", "", "--mnist-batch", "2", "--repeats", "1", "--round-ms", "1",
                         "--no-torch", "--no-memory"])
    row = res["rows"]["seq-mnist b2 step"]
    assert set(row["ms"]) == {"tensorgrad"} and "ratio" not in row


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
def test_memory_subprocess():
    mem = rnn_step.measure_memory("tensorgrad", ("layer", "gru", 8, 3, 2))
    assert mem["peak_mib"] >= 0 and mem["resident_mib"] > 0
