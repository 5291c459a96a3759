"""torch.distributed for one process: a world of size 1, so scripts written for torchrun run unchanged.

tensorgrad has no communication backend, so there can be no group of several processes. A one-process
group (world_size=1, rank=0) is supported: ``init_process_group`` records it, ``get_rank()`` is 0,
``get_world_size()`` is 1, and every collective is what it is over a single rank: all_reduce, reduce,
broadcast and barrier leave the tensor as it is (SUM, AVG, MAX, MIN and PRODUCT of one value is that
value); all_gather / all_gather_into_tensor / reduce_scatter copy the input into the single output slot.
Without an initialized group the query functions raise torch's ValueError.
"""
from __future__ import annotations

import enum
import os

from .autograd.grad_mode import no_grad
from .tensor import Tensor

_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."
_BACKENDS = ("gloo", "nccl", "mpi", "ucc", "xccl", "cpu:gloo,cuda:nccl")


def is_available() -> bool:
    """False: tensorgrad has no process-group backend (gloo/NCCL/MPI). A one-process group still works
    (see the module docstring); `is_available()` says False so code that wants real multi-process
    communication takes its single-process path."""
    return False


def is_nccl_available() -> bool:
    return False


def is_gloo_available() -> bool:
    return False


def is_mpi_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    """True when started by torchrun (it sets TORCHELASTIC_RUN_ID), as torch reports."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


class ReduceOp(enum.Enum):
    """The reduction of all_reduce / reduce / reduce_scatter (over one rank every one is the identity)."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ProcessGroup:
    """The one-process group: rank 0 of a world of size 1."""

    def __init__(self, backend: str):
        self._backend = backend

    def rank(self) -> int:
        return 0

    def size(self) -> int:
        return 1

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, rank=0, size=1)"


class Work:
    """What an ``async_op=True`` collective returns; the work is already done."""

    def wait(self, timeout=None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True


class group:  # noqa: N801 - torch.distributed.group.WORLD
    WORLD = None


_WORLD_HOLDERS = (group,)  # `group` is shadowed by the parameter of the same name below


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


class Backend(str):
    """A backend name ('gloo', 'nccl', ...), lower-cased as torch does."""
    GLOO, NCCL, MPI, UCC = "gloo", "nccl", "mpi", "ucc"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got {type(name).__name__}")
        return super().__new__(cls, name.lower())


_default_group: ProcessGroup | None = None


def is_initialized() -> bool:
    return _default_group is not None


def _world(group_arg=None) -> ProcessGroup:
    """The default group (or `group_arg`, which must be it); torch's ValueError when there is none."""
    if _default_group is None:
        raise ValueError(_NOT_INIT)
    if group_arg is not None and group_arg is not _default_group:
        raise ValueError(f"Group {group_arg} is not registered, please create group with "
                         f"torch.distributed.new_group API")
    return _default_group


def _env_int(name: str, given: int) -> int:
    if given != -1:
        return int(given)
    value = os.environ.get(name)
    # Without torchrun's variables the only world there can be is one process, rank 0.
    return int(value) if value is not None else (1 if name == "WORLD_SIZE" else 0)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Start the one-process group. world_size / rank default to $WORLD_SIZE / $RANK (as torchrun sets
    them), else 1 / 0. Any world larger than one process raises: tensorgrad cannot communicate."""
    global _default_group
    if _default_group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    size, r = _env_int("WORLD_SIZE", world_size), _env_int("RANK", rank)
    if size != 1:
        raise RuntimeError(f"init_process_group(): world_size={size} is not possible: tensorgrad runs in one "
                           f"process and has no communication backend; only world_size=1, rank=0 is supported "
                           f"(run with one process, e.g. torchrun --nproc_per_node=1)")
    if r != 0:
        raise ValueError(f"init_process_group(): invalid rank {r} for world_size 1; rank should be 0")
    name = "gloo" if backend is None else Backend(str(backend))
    if name not in _BACKENDS:
        raise ValueError(f"init_process_group(): invalid backend {backend!r}; expected one of {list(_BACKENDS)}")
    _default_group = ProcessGroup(name)
    for holder in _WORLD_HOLDERS + (GroupMember,):
        holder.WORLD = _default_group


def destroy_process_group(group=None) -> None:
    global _default_group
    if _default_group is None:
        raise AssertionError("Process group cannot be None")
    _world(group)
    _default_group = None
    for holder in _WORLD_HOLDERS + (GroupMember,):
        holder.WORLD = None


def get_rank(group=None) -> int:
    return _world(group).rank()


def get_world_size(group=None) -> int:
    return _world(group).size()


def get_node_local_rank(fallback_rank=None) -> int:
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
                       "and want the code to run locally instead.")


def get_backend(group=None) -> str:
    return _world(group)._backend


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """Only the whole (one-process) world can be a group: returns the default group."""
    g = _world()
    if ranks is not None and sorted(ranks) != [0]:
        raise ValueError(f"new_group(): ranks {list(ranks)} are not in the one-process world; only [0] is valid")
    return g


# ---------------------------------------------------------------- collectives over one rank
def _done(async_op):
    return Work() if async_op else None


def _check_tensor(op: str, name: str, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): {name} must be a tensorgrad Tensor, got {type(t).__name__}")


def _check_op(op_name: str, op) -> None:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{op_name}(): op must be a torch.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, ...), "
                        f"got {op!r}")


def _check_root(op: str, what: str, root) -> None:
    if root not in (None, 0):
        raise RuntimeError(f"{op}(): invalid {what} rank {root}: the one-process world has only rank 0")


def _copy_into(op: str, dst, src) -> None:
    _check_tensor(op, "output", dst)
    if tuple(dst.shape) != tuple(src.shape):
        raise RuntimeError(f"{op}(): invalid tensor size (expected {tuple(src.shape)}, got {tuple(dst.shape)})")
    with no_grad():  # collectives are not differentiable (torch.distributed.nn has those)
        dst.copy_(src)


def _check_list(op: str, name: str, lst) -> None:
    if not isinstance(lst, (list, tuple)) or len(lst) != 1:
        got = f"length {len(lst)}" if isinstance(lst, (list, tuple)) else type(lst).__name__
        raise RuntimeError(f"{op}(): invalid {name} (expected a list of length 1 = world size, got {got})")


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    _world(group)
    return _done(async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _world(group)
    _check_tensor("all_reduce", "tensor", tensor)
    _check_op("all_reduce", op)
    return _done(async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _world(group)
    _check_tensor("reduce", "tensor", tensor)
    _check_op("reduce", op)
    _check_root("reduce", "destination", dst if group_dst is None else group_dst)
    return _done(async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    _world(group)
    _check_tensor("broadcast", "tensor", tensor)
    _check_root("broadcast", "source", src if group_src is None else group_src)
    return _done(async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _world(group)
    _check_tensor("all_gather", "tensor", tensor)
    _check_list("all_gather", "output tensor list", tensor_list)
    _copy_into("all_gather", tensor_list[0], tensor)
    return _done(async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """`output_tensor` is the inputs concatenated along dim 0, or stacked (world_size, *shape): for one
    rank that is the input itself, or the input with a leading 1."""
    _world(group)
    _check_tensor("all_gather_into_tensor", "input_tensor", input_tensor)
    _check_tensor("all_gather_into_tensor", "output_tensor", output_tensor)
    src = input_tensor
    if tuple(output_tensor.shape) == (1,) + tuple(input_tensor.shape):
        src = input_tensor.unsqueeze(0)
    _copy_into("all_gather_into_tensor", output_tensor, src)
    return _done(async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    _world(group)
    _check_op("reduce_scatter", op)
    _check_list("reduce_scatter", "input list", input_list)
    _check_tensor("reduce_scatter", "input", input_list[0])
    _copy_into("reduce_scatter", output, input_list[0])
    return _done(async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    _world(group)
    _check_op("reduce_scatter_tensor", op)
    _check_tensor("reduce_scatter_tensor", "input", input)
    _copy_into("reduce_scatter_tensor", output, input)
    return _done(async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    _world(group)
    _check_tensor("gather", "tensor", tensor)
    _check_root("gather", "destination", dst if group_dst is None else group_dst)
    if gather_list is not None:
        _check_list("gather", "gather_list", gather_list)
        _copy_into("gather", gather_list[0], tensor)
    return _done(async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    _world(group)
    _check_tensor("scatter", "tensor", tensor)
    _check_root("scatter", "source", src if group_src is None else group_src)
    if scatter_list is not None:
        _check_list("scatter", "scatter_list", scatter_list)
        _copy_into("scatter", tensor, scatter_list[0])
    return _done(async_op)


def all_gather_object(object_list, obj, group=None):
    _world(group)
    if not isinstance(object_list, list) or len(object_list) != 1:
        raise RuntimeError("all_gather_object(): object_list must be a list of length 1 (the world size)")
    object_list[0] = obj


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    _world(group)
    _check_root("broadcast_object_list", "source", src if group_src is None else group_src)


__all__ = ["is_available", "is_initialized", "is_nccl_available", "is_gloo_available", "is_mpi_available",
           "is_torchelastic_launched", "init_process_group", "destroy_process_group", "get_rank",
           "get_world_size", "get_node_local_rank", "get_backend", "new_group", "ReduceOp", "Backend",
           "ProcessGroup", "Work", "group", "GroupMember", "barrier", "all_reduce", "reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter",
           "all_gather_object", "broadcast_object_list"]
