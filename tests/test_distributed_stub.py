"""torch.distributed in one process, nn.parallel wrappers and DistributedSampler (torch as the oracle
for errors without a process group, state_dict keys and the sampler's unshuffled index arithmetic)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.distributed as dist
from tensorgrad import nn
from tensorgrad.utils.data import DataLoader, DistributedSampler, TensorDataset
from oracle import needs_torch, torch

_NOT_INIT = "Default process group has not been initialized"


@pytest.fixture(autouse=True)
def _no_group(monkeypatch):
    """Each test starts and ends without a process group and without torchrun's variables."""
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    if dist.is_initialized():
        dist.destroy_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- process group
def test_without_group_queries_raise_like_torch():
    assert dist.is_available() is False and dist.is_initialized() is False
    for fn in (dist.get_rank, dist.get_world_size, dist.get_backend, dist.barrier):
        with pytest.raises(ValueError, match=_NOT_INIT):
            fn()
    with pytest.raises(ValueError, match=_NOT_INIT):
        dist.all_reduce(tg.ones(2))
    with pytest.raises(AssertionError, match="cannot be None"):
        dist.destroy_process_group()


@needs_torch
def test_without_group_errors_match_torch():
    import torch.distributed as tdist
    for ours, theirs in [(dist.get_rank, tdist.get_rank), (dist.get_world_size, tdist.get_world_size)]:
        with pytest.raises(Exception) as e_ours:
            ours()
        with pytest.raises(Exception) as e_theirs:
            theirs()
        assert type(e_ours.value) is type(e_theirs.value) and str(e_ours.value) == str(e_theirs.value)


def test_one_process_group_lifecycle():
    dist.init_process_group("gloo", world_size=1, rank=0)
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_backend() == "gloo" and dist.group.WORLD is not None
    assert dist.get_rank(dist.group.WORLD) == 0 and dist.new_group([0]) is dist.group.WORLD
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("gloo", world_size=1, rank=0)
    with pytest.raises(ValueError, match="not registered"):
        dist.get_rank(group=object())
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.group.WORLD is None
    with pytest.raises(ValueError, match=_NOT_INIT):
        dist.get_rank()


def test_init_reads_torchrun_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    dist.init_process_group(backend="NCCL")
    assert dist.get_world_size() == 1 and dist.get_backend() == "nccl"


def test_init_rejects_more_than_one_process(monkeypatch):
    with pytest.raises(RuntimeError, match="world_size=2.*one process"):
        dist.init_process_group("gloo", world_size=2, rank=0)
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(RuntimeError, match="world_size=4"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="invalid rank 1"):
        dist.init_process_group("gloo", world_size=1, rank=1)
    with pytest.raises(ValueError, match="invalid backend"):
        dist.init_process_group("carrier-pigeon", world_size=1, rank=0)
    assert not dist.is_initialized()  # a failed init leaves no group behind


def test_collectives_over_one_rank():
    dist.init_process_group("gloo", world_size=1, rank=0)
    t = tg.tensor([1.0, -2.0, 3.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT):
        assert dist.all_reduce(t, op=op) is None
        assert dist.reduce(t, dst=0, op=op) is None
        assert t.tolist() == [1.0, -2.0, 3.0]
    assert dist.broadcast(t, src=0) is None and dist.barrier() is None
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()

    out = [tg.zeros(3)]
    dist.all_gather(out, t)
    assert out[0].tolist() == t.tolist()
    flat, stacked = tg.zeros(3), tg.zeros(1, 3)
    dist.all_gather_into_tensor(flat, t)
    dist.all_gather_into_tensor(stacked, t)
    assert flat.tolist() == t.tolist() and stacked.tolist() == [t.tolist()]
    rs = tg.zeros(3)
    dist.reduce_scatter(rs, [t])
    assert rs.tolist() == t.tolist()
    objs = [None]
    dist.all_gather_object(objs, {"loss": 0.5})
    assert objs == [{"loss": 0.5}]


def test_collectives_reject_bad_arguments_without_touching_tensors():
    dist.init_process_group("gloo", world_size=1, rank=0)
    t = tg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"broadcast\(\): invalid source rank 1"):
        dist.broadcast(t, src=1)
    with pytest.raises(RuntimeError, match=r"reduce\(\): invalid destination rank 1"):
        dist.reduce(t, dst=1)
    with pytest.raises(TypeError, match=r"all_reduce\(\): op must be"):
        dist.all_reduce(t, op="sum")
    with pytest.raises(TypeError, match=r"all_reduce\(\): tensor must be a tensorgrad Tensor"):
        dist.all_reduce(np.ones(2))
    out = [tg.zeros(2), tg.zeros(2)]
    with pytest.raises(RuntimeError, match=r"all_gather\(\).*length 2"):
        dist.all_gather(out, t)
    wrong = tg.full((3,), 7.0)
    with pytest.raises(RuntimeError, match=r"all_gather\(\): invalid tensor size.*\(2,\).*\(3,\)"):
        dist.all_gather([wrong], t)
    assert wrong.tolist() == [7.0] * 3 and out[0].tolist() == [0.0, 0.0]


def test_all_gather_is_not_recorded_by_autograd():
    dist.init_process_group("gloo", world_size=1, rank=0)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    out = [tg.zeros(2)]
    dist.all_gather(out, x * 2)
    assert out[0].tolist() == [2.0, 4.0] and not out[0].requires_grad


# ---------------------------------------------------------------- nn.parallel
def _model():
    tg.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))


def _train(model, steps=3):
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = tg.tensor(rng.standard_normal((6, 4)), dtype=tg.float32)
        y = tg.tensor(rng.standard_normal((6, 2)), dtype=tg.float32)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def test_data_parallel_wraps_module():
    inner = _model()
    dp = nn.parallel.DataParallel(inner)
    assert dp.module is inner and dp.dim == 0
    assert list(dp.state_dict()) == ["module." + k for k in inner.state_dict()]
    x = tg.randn(3, 4)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    with pytest.raises(TypeError, match="DataParallel"):
        nn.parallel.DataParallel(lambda x: x)


def test_ddp_requires_group_and_trains_like_bare_module():
    with pytest.raises(ValueError, match=_NOT_INIT):
        nn.parallel.DistributedDataParallel(_model())
    dist.init_process_group("gloo", world_size=1, rank=0)
    bare, wrapped = _model(), nn.parallel.DistributedDataParallel(_model())
    _train(bare)
    with wrapped.no_sync():
        assert wrapped.require_backward_grad_sync is False
    assert wrapped.require_backward_grad_sync is True
    _train(wrapped)
    for (k, a), (k2, b) in zip(bare.state_dict().items(), wrapped.state_dict().items()):
        assert k2 == "module." + k
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())

    # The usual checkpoint round trip: strip DDP's prefix, load into a bare model.
    sd = copy.copy(wrapped.state_dict())
    nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, "module.")
    fresh = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    fresh.load_state_dict(sd)
    x = tg.randn(2, 4)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), bare(x).detach().numpy())


def test_ddp_argument_errors():
    dist.init_process_group("gloo", world_size=1, rank=0)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        nn.parallel.DistributedDataParallel(frozen)
    with pytest.raises(ValueError, match="device_ids"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2), device_ids=[0])


@needs_torch
def test_wrapper_state_dict_keys_match_torch():
    dp = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5)))
    ours = nn.parallel.DataParallel(nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5)))
    assert list(ours.state_dict()) == list(dp.state_dict())


@pytest.mark.cuda
def test_data_parallel_moves_inputs_to_first_gpu():
    if not tg.cuda.is_available():
        pytest.skip(f"needs a CUDA GPU: {tg.cuda.unavailable_reason()}")
    inner = _model().to("cuda")
    dp = nn.parallel.DataParallel(inner)
    x = tg.randn(3, 4)
    out = dp(x)
    assert dp.device_ids[0] == 0 and str(out.device) == "cuda:0"
    np.testing.assert_allclose(out.detach().cpu().numpy(), inner(x.to("cuda")).detach().cpu().numpy())
    with pytest.raises(RuntimeError, match="parameters and buffers on device cuda:0"):
        nn.parallel.DataParallel(_model())(x)


# ---------------------------------------------------------------- DistributedSampler
def test_sampler_defaults_come_from_the_group():
    with pytest.raises(ValueError, match=_NOT_INIT):
        DistributedSampler(range(10))
    dist.init_process_group("gloo", world_size=1, rank=0)
    s = DistributedSampler(range(10), shuffle=False)
    assert (s.num_replicas, s.rank, len(s)) == (1, 0, 10) and list(s) == list(range(10))
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(10), num_replicas=2, rank=2)


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_shards_are_disjoint_and_reshuffle_per_epoch(drop_last):
    n, replicas = 23, 4
    samplers = [DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=5, drop_last=drop_last)
                for r in range(replicas)]
    orders = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [list(s) for s in samplers]
        assert all(len(sh) == len(samplers[0]) for sh in shards)
        flat = [i for sh in shards for i in sh]
        if drop_last:  # 20 distinct indices, 3 dropped
            assert len(flat) == 20 and len(set(flat)) == 20
        else:  # all 23 covered, one padded up to 24 by repetition
            assert set(flat) == set(range(n)) and len(flat) == 24
        orders.append(flat)
        assert shards == [list(s) for s in samplers]  # same epoch, same order
    assert orders[0] != orders[1] != orders[2]


@needs_torch
@pytest.mark.parametrize("n,replicas", [(10, 3), (7, 7), (3, 5), (1, 4), (16, 4), (11, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_indices_match_torch(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchDS
    for rank in range(replicas):
        kw = dict(num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours, theirs = DistributedSampler(range(n), **kw), TorchDS(range(n), **kw)
        assert (len(ours), ours.total_size) == (len(theirs), theirs.total_size)
        assert list(ours) == list(theirs)


def test_sampler_drives_dataloader():
    ds = TensorDataset(tg.arange(10.0))
    loaders = [DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, num_replicas=2, rank=r, shuffle=False))
               for r in range(2)]
    got = [[b[0].tolist() for b in dl] for dl in loaders]
    assert got == [[[0.0, 2.0], [4.0, 6.0], [8.0]], [[1.0, 3.0], [5.0, 7.0], [9.0]]]
