"""tensorgrad.serialization: save/load round trips, atomic writes, corrupt and hostile files."""
from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import serialization as S
from tensorgrad.nn.parameter import Parameter
from oracle import rand, to_tg

ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]


def _same(a, b):
    assert isinstance(b, tg.Tensor)
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and a.device == b.device
    np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())


def _walk_equal(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tg.Tensor):
        _same(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _walk_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _walk_equal(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_nested_every_dtype(tmp_path, device):
    tensors = {np.dtype(dt).name: to_tg(rand(2, 3, dtype=dt, low=-5, high=5) if dt is not np.uint8
                                        else rand(2, 3, dtype=dt, low=0, high=200), device, False)
               for dt in ALL_DTYPES}
    obj = {
        "tensors": tensors,
        "scalars": [0, -7, 2 ** 70, 1.5, float("inf"), float("nan"), -0.0, True, False, None, "héllo"],
        "tuple": (1, (2.5, "x"), [tg.zeros(0), tg.tensor(3.0)]),
        "int_keys": {0: {"step": 3, "exp_avg": tg.randn(4)}, 1: {"step": 3}},
        "other_keys": {(1, "a"): 1, 2.5: 2, None: 3, True: 4},
        "empty": {"d": {}, "l": [], "t": ()},
    }
    S.save(obj, tmp_path / "ckpt.tg")
    out = S.load(tmp_path / "ckpt.tg")
    _walk_equal(obj, out)
    assert out["scalars"][2] == 2 ** 70
    assert str(out["scalars"][6]) == "-0.0"


def test_ordered_dict_order_and_type_preserved(tmp_path):
    od = OrderedDict((k, tg.tensor(float(i))) for i, k in enumerate(["z", "a", "m", "b"]))
    od.move_to_end("z")
    S.save({"sd": od, "plain": {"y": 1, "x": 2}}, tmp_path / "a.tg")
    out = S.load(tmp_path / "a.tg")
    assert type(out["sd"]) is OrderedDict and list(out["sd"]) == ["a", "m", "b", "z"]
    assert type(out["plain"]) is dict and list(out["plain"]) == ["y", "x"]


def test_tensors_sharing_memory(tmp_path):
    base = tg.arange(12.0).reshape(3, 4)
    view = base[1]  # shares memory with base
    strided = base.t()  # non-contiguous view
    expanded = base[0:1].expand(3, 4)  # zero strides
    S.save({"base": base, "view": view, "strided": strided, "again": base, "expanded": expanded},
           tmp_path / "s.tg")
    out = S.load(tmp_path / "s.tg")
    _same(expanded, out["expanded"])
    _same(base, out["base"])
    _same(view, out["view"])
    _same(strided, out["strided"])
    assert out["again"] is out["base"]  # one tensor saved once comes back as one tensor
    out["view"].add_(100.0)  # restored tensors are independent, writable copies
    _same(base, out["base"])
    with zipfile.ZipFile(tmp_path / "s.tg") as z:  # stored once: header + 4 distinct tensors
        assert len(z.namelist()) == 5


def test_requires_grad_and_parameters_round_trip(tmp_path):
    p = Parameter(tg.randn(2, 2))
    r = tg.randn(3, requires_grad=True)
    S.save([p, r, r.detach()], tmp_path / "p.tg")
    out = S.load(tmp_path / "p.tg")
    assert isinstance(out[0], Parameter) and out[0].requires_grad
    assert out[1].requires_grad and out[1].is_leaf and not isinstance(out[1], Parameter)
    assert not out[2].requires_grad
    _same(p, out[0])


def test_file_objects(tmp_path):
    buf = io.BytesIO()
    S.save({"x": tg.ones(3)}, buf)
    buf.seek(0)
    _same(tg.ones(3), S.load(buf)["x"])
    with open(tmp_path / "f.tg", "wb") as fh:
        S.save([1, 2], fh)
    with open(tmp_path / "f.tg", "rb") as fh:
        assert S.load(fh) == [1, 2]


def test_map_location(tmp_path, device):
    x = to_tg(rand(2, 3), device, False)
    S.save({"x": x}, tmp_path / "m.tg")
    for ml in ("cpu", tg.device("cpu"), {"cuda:0": "cpu"}, {str(x.device): "cpu"}):
        out = S.load(tmp_path / "m.tg", map_location=ml)["x"]
        assert out.device == tg.device("cpu")
        np.testing.assert_array_equal(out.numpy(), x.cpu().numpy())
    assert S.load(tmp_path / "m.tg")["x"].device == x.device
    with pytest.raises(TypeError, match="callables are not supported"):
        S.load(tmp_path / "m.tg", map_location=lambda s, loc: s)


def test_saved_cuda_device_restored_or_mapped(tmp_path):
    # a checkpoint written on a GPU machine (header says cuda:0), read here
    buf = io.BytesIO()
    S.save({"x": tg.arange(3.0)}, buf)
    path = tmp_path / "gpu.tg"
    _rewrite_header(buf.getvalue(), path, lambda h: h["root"]["v"][0][1].update(device="cuda:0"))
    out = S.load(path, map_location="cpu")["x"]
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0, 2.0])
    if tg.cuda.is_available():
        assert S.load(path)["x"].device == tg.device("cuda:0")
    else:
        with pytest.raises(RuntimeError):
            S.load(path)  # says why CUDA is unusable; map_location='cpu' is the way out


def _rewrite_header(raw, path, edit):
    """Copy archive `raw` to `path` with its JSON header edited by `edit(header_dict)`."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    with zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "__tensorgrad__.npy":
                h = np.load(io.BytesIO(data))
                header = json.loads(h.tobytes())
                edit(header)
                b = io.BytesIO()
                np.save(b, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
                data = b.getvalue()
            dst.writestr(name, data)


# ---------------------------------------------------------------- atomicity
def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.tg"
    S.save({"epoch": 1, "w": tg.ones(1000)}, path)
    before = path.read_bytes()

    def crashing_writer(fh, arrays, header):
        fh.write(b"PK\x03\x04 partial archive bytes")  # some bytes reach the disk, then the process dies
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(S, "_write_archive", crashing_writer)
    with pytest.raises(KeyboardInterrupt):
        S.save({"epoch": 2, "w": tg.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert S.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.tg"]  # the temporary file was removed


def test_atomic_write_uses_same_directory_fsync_and_replace(tmp_path, monkeypatch):
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", os.path.dirname(a), b)),
                                                     real_replace(a, b)))
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync",)), real_fsync(fd)))
    S.save({"a": 1}, tmp_path / "x.tg")
    kinds = [c[0] for c in calls]
    assert kinds == ["fsync", "replace", "fsync"]  # file fsynced, renamed, directory fsynced
    assert calls[1][1] == str(tmp_path)
    assert S.load(tmp_path / "x.tg") == {"a": 1}


def test_file_mode_like_open(tmp_path):
    with open(tmp_path / "ref", "wb"):
        pass
    S.save([1], tmp_path / "new.tg")
    assert os.stat(tmp_path / "new.tg").st_mode == os.stat(tmp_path / "ref").st_mode
    os.chmod(tmp_path / "new.tg", 0o640)
    S.save([2], tmp_path / "new.tg")  # overwriting keeps the existing file's mode
    assert os.stat(tmp_path / "new.tg").st_mode & 0o777 == 0o640


def test_saving_a_module_says_to_save_its_state_dict(tmp_path):
    with pytest.raises(TypeError, match=r"Linear at obj: .*save its state_dict\(\) instead"):
        tg.save(tg.nn.Linear(2, 3), tmp_path / "m.tg")
    assert not (tmp_path / "m.tg").exists()


def test_unsupported_type_names_its_path(tmp_path):
    with pytest.raises(TypeError, match=r"at obj\['layers'\]\[2\]"):
        S.save({"layers": [1, 2, object()]}, tmp_path / "bad.tg")
    with pytest.raises(TypeError, match=r"numpy.ndarray at obj\['opt'\]\['state'\]"):
        S.save({"opt": {"state": np.zeros(2)}}, tmp_path / "bad.tg")
    with pytest.raises(TypeError, match="unsupported dict key"):
        S.save({frozenset(): 1}, tmp_path / "bad.tg")
    assert not (tmp_path / "bad.tg").exists()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- corrupt, foreign and hostile files
def test_truncated_file(tmp_path):
    path = tmp_path / "t.tg"
    S.save({"w": tg.randn(100, 10), "b": tg.randn(10)}, path)
    raw = path.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 10, 10):
        (tmp_path / "cut.tg").write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match="truncated or corrupt"):
            S.load(tmp_path / "cut.tg")
    (tmp_path / "empty.tg").write_bytes(b"")
    with pytest.raises(RuntimeError, match="empty"):
        S.load(tmp_path / "empty.tg")


def test_corrupted_tensor_bytes(tmp_path):
    path = tmp_path / "c.tg"
    S.save({"w": tg.ones(1000)}, path)
    raw = bytearray(path.read_bytes())
    i = raw.index(b"\x00\x00\x80\x3f" * 4)  # inside the float32 ones: the zip CRC no longer matches
    raw[i:i + 4] = b"\x00\x00\x00\x40"
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        S.load(path)


def test_foreign_files(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(RuntimeError, match="not a tensorgrad checkpoint"):
        S.load(tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(RuntimeError, match="not a tensorgrad checkpoint"):
        S.load(tmp_path / "other.zip")
    (tmp_path / "text.tg").write_text("definitely not a checkpoint")
    with pytest.raises(RuntimeError, match="not a tensorgrad checkpoint"):
        S.load(tmp_path / "text.tg")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(RuntimeError, match="not a tensorgrad checkpoint"):
        S.load(tmp_path / "arr.npy")
    # an npz whose header entry claims another format
    np.savez(tmp_path / "fake.npz", __tensorgrad__=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(RuntimeError, match="not a tensorgrad checkpoint"):
        S.load(tmp_path / "fake.npz")


class _Boom:
    def __reduce__(self):  # what a malicious pickle would run on load
        return (os.system, ("echo pwned > /tmp/tensorgrad_pwned",))


def test_object_array_in_archive_is_refused(tmp_path):
    buf = io.BytesIO()
    S.save({"w": tg.ones(2)}, buf)
    path = tmp_path / "evil.tg"
    raw = buf.getvalue()
    src = zipfile.ZipFile(io.BytesIO(raw))
    evil = io.BytesIO()
    np.save(evil, np.array([_Boom()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, evil.getvalue() if name == "t0.npy" else src.read(name))
    with pytest.raises(RuntimeError, match="object array"):
        S.load(path)
    assert not os.path.exists("/tmp/tensorgrad_pwned")


def test_header_dtype_mismatch_is_refused(tmp_path):
    buf = io.BytesIO()
    S.save({"w": tg.ones(2)}, buf)
    path = tmp_path / "m.tg"
    _rewrite_header(buf.getvalue(), path, lambda h: h["root"]["v"][0][1].update(dtype="float64"))
    with pytest.raises(RuntimeError, match="not a valid tensorgrad checkpoint"):
        S.load(path)
    _rewrite_header(buf.getvalue(), path, lambda h: h["root"]["v"][0][1].update(dtype="object"))
    with pytest.raises(RuntimeError, match="unsupported dtype"):
        S.load(path)


def test_model_like_state_dict_round_trip(tmp_path):
    sd = OrderedDict([("0.weight", Parameter(tg.randn(4, 3)).detach()), ("0.bias", tg.zeros(4)),
                      ("bn.num_batches_tracked", tg.tensor(5))])
    opt = {"state": {0: {"step": tg.tensor(3.0), "exp_avg": tg.randn(4, 3)}},
           "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1],
                             "amsgrad": False, "foreach": None}]}
    S.save({"model": sd, "optimizer": opt, "epoch": 7}, tmp_path / "full.tg")
    out = S.load(tmp_path / "full.tg", weights_only=True)
    _walk_equal({"model": sd, "optimizer": opt, "epoch": 7}, out)
    assert out["model"]["bn.num_batches_tracked"].dtype == tg.int64
