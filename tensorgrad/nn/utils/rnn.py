"""Variable-length sequences for recurrent layers (torch.nn.utils.rnn).

A batch of sequences of different lengths is held either padded, as one (T, B, *) tensor
(B, T, * with ``batch_first``), or packed, as a `PackedSequence`: the rows that are not
padding, time step after time step. With the sequences sorted by decreasing length, step t
holds the first ``batch_sizes[t]`` of them, so its rows directly follow step t-1's:

    lengths 3, 2, 1 (sorted)   data rows: a0 b0 c0 | a1 b1 | a2      batch_sizes: [3, 2, 1]

``sorted_indices[i]`` is the original batch position of the i-th sequence in that order and
``unsorted_indices`` its inverse (both None when packed with ``enforce_sorted=True``).

Every conversion is one gather (`index_select`) or one scatter-write (`index_put`) over rows,
with the row positions worked out on the host with NumPy from the lengths and moved to the
data's device, so they record on the tape like any indexing: gradients flow between packed
data and padded tensors both ways, and padding positions get no gradient.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ... import backend
from ...creation import _leaf, full
from ...creation import tensor as _tensor
from ...ops.index import index_put, index_select
from ...ops.shape import cat, reshape, split, unbind
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]

_CPU = backend.Device("cpu")


# ---------------------------------------------------------------- PackedSequence
class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor]
    unsorted_indices: Optional[Tensor]


class PackedSequence(_PackedSequenceFields):
    """The packed rows of a batch of sequences (a named tuple, as in PyTorch).

    data: (sum(lengths), *) on any device; batch_sizes: int64 CPU tensor, the number of
    sequences still running at each step; sorted_indices / unsorted_indices: int64 tensors on
    data's device (or None), the permutation to decreasing length and its inverse.

    Build one with pack_padded_sequence or pack_sequence. As in PyTorch the constructor also
    takes ``PackedSequence((data, batch_sizes), sorted_indices=...)``, and when only
    sorted_indices is given, unsorted_indices is its inverse.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif isinstance(batch_sizes, Tensor) and batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn. "
                             "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data.to(*args, **kwargs) (Tensor.to's forms); the indices follow data's device and
        batch_sizes stays on the CPU. Returns self when data is unchanged."""
        from ...ops.convert import parse_to_args
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        non_blocking = parse_to_args(self.data, args, dict(kwargs))[3]

        def follow(t):
            return None if t is None else t.to(data.device, non_blocking=non_blocking)

        return type(self)(data, self.batch_sizes, follow(self.sorted_indices), follow(self.unsorted_indices))

    def cuda(self, device=None, non_blocking=False):
        target = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
        return self.to(target, non_blocking=non_blocking)

    def cpu(self):
        return self.to("cpu")

    def pin_memory(self):
        def pin(t):
            return None if t is None else t.pin_memory()

        return type(self)(self.data.pin_memory(), self.batch_sizes, pin(self.sorted_indices),
                          pin(self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        """Whether data is on a GPU."""
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """Whether data is in pinned host memory."""
        return self.data.is_pinned()


def _dtypes():
    from ... import dtypes
    return dtypes


def _cast_method(name: str, dtype_name: str):
    def cast(self):
        return self.to(dtype=getattr(_dtypes(), dtype_name))
    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"data as {dtype_name} (Tensor.{name}()); batch_sizes and indices unchanged."
    return cast


for _name, _dtype in (("double", "float64"), ("float", "float32"), ("half", "float16"), ("long", "int64"),
                      ("int", "int32"), ("short", "int16"), ("char", "int8"), ("byte", "uint8")):
    setattr(PackedSequence, _name, _cast_method(_name, _dtype))
del _name, _dtype


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None for None), on its device."""
    if permutation is None:
        return None
    arr = permutation._data
    return _leaf(backend.xp_of(arr).argsort(arr).astype(np.int64, copy=False))


# ---------------------------------------------------------------- row positions (host side)
def _host_ints(t) -> np.ndarray:
    return np.asarray(backend.to_device(t._data, _CPU), dtype=np.int64)


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """How many of the (decreasing, positive) lengths exceed each step 0..max-1."""
    steps = np.arange(sorted_lengths[0] if sorted_lengths.size else 0)
    return np.count_nonzero(sorted_lengths[None, :] > steps[:, None], axis=1).astype(np.int64)


def _packed_positions(batch_sizes: np.ndarray):
    """(step, sorted batch position) of every packed row, in packed order."""
    width = int(batch_sizes.max()) if batch_sizes.size else 0
    return np.nonzero(np.arange(width)[None, :] < batch_sizes[:, None])


def _check_batch_sizes(op: str, batch_sizes: np.ndarray, rows: int) -> None:
    """The invariants of batch_sizes that the row positions rely on, and data's row count."""
    bs = batch_sizes
    if bs.ndim != 1 or (bs.size and (bs.min() <= 0 or np.any(bs[1:] > bs[:-1]))):
        raise ValueError(f"{op}: batch_sizes must be a 1-D sequence of positive, non-increasing counts, "
                         f"got {bs.tolist()}")
    if int(bs.sum()) != rows:
        raise ValueError(f"{op}: the packed data has {rows} rows but batch_sizes {bs.tolist()} sum to "
                         f"{int(bs.sum())}")


def _lengths_arg(op: str, lengths) -> np.ndarray:
    """lengths (a list/tuple of ints or a 1-D CPU integer tensor) as a NumPy int64 vector."""
    if isinstance(lengths, Tensor):
        if lengths.is_cuda or lengths.ndim != 1:
            raise RuntimeError(f"{op}: 'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D {lengths.device} {lengths.dtype} tensor")
        return _host_ints(lengths)
    try:
        arr = np.asarray(lengths)
    except (TypeError, ValueError):
        arr = np.asarray(lengths, dtype=object)
    if arr.dtype.kind not in "biuf" and not (arr.size == 0 and arr.dtype.kind != "O"):
        raise TypeError(f"{op}: 'lengths' must be a list of ints or a 1D CPU int64 tensor, got {lengths!r}")
    if arr.ndim != 1:
        raise RuntimeError(f"{op}: 'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{arr.ndim}D lengths {arr.tolist()}")
    return arr.astype(np.int64)


def _pack_plan(op: str, lengths: np.ndarray, batch_size: int, max_len: int, empty: bool, enforce_sorted: bool):
    """Check lengths as PyTorch does, then (order or None, batch_sizes, step and original batch
    position of every packed row)."""
    if empty:
        raise RuntimeError(f"{op}: Cannot pack empty tensors.")
    if lengths.size != batch_size:
        raise RuntimeError(f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={batch_size})")
    if lengths.min() <= 0:
        raise RuntimeError(f"{op}: Length of all samples has to be greater than 0, but found an element in "
                           f"'lengths' that is <= 0 (lengths={lengths.tolist()})")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError(f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` "
                               f"is True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                               f"pack_sequence to sidestep this requirement if you do not need ONNX "
                               f"exportability. (lengths={lengths.tolist()})")
        order = None
        sorted_lengths = lengths
    else:
        order = np.argsort(-lengths, kind="stable")  # ties keep their order, as torch.sort does
        sorted_lengths = lengths[order]
    if sorted_lengths[0] > max_len:
        raise RuntimeError(f"{op}: a length is larger than the sequences: the longest length is "
                           f"{int(sorted_lengths[0])} but the input holds {max_len} steps "
                           f"(lengths={lengths.tolist()})")
    batch_sizes = _batch_sizes(sorted_lengths)
    steps, pos = _packed_positions(batch_sizes)
    return order, batch_sizes, steps, (pos if order is None else order[pos])


def _packed(data, batch_sizes: np.ndarray, order):
    device = data.device
    sorted_indices = unsorted_indices = None
    if order is not None:
        sorted_indices = _tensor(order.astype(np.int64), device=device)
        unsorted_indices = _tensor(np.argsort(order).astype(np.int64), device=device)
    return PackedSequence(data, _tensor(batch_sizes), sorted_indices, unsorted_indices)


# ---------------------------------------------------------------- row gather / scatter (recorded)
def _take_rows(x, rows: np.ndarray):
    """x[rows] along dim 0 (one gather; its gradient scatters back)."""
    return index_select(x, 0, _tensor(rows.astype(np.int64, copy=False), device=x.device))


def _place_rows(values, rows: np.ndarray, n: int, padding_value):
    """An (n, *) tensor with values' rows at `rows` and padding_value elsewhere (one scatter-write;
    its gradient gathers back, the padding gets none)."""
    base = full((n,) + tuple(values.shape[1:]), padding_value, dtype=values.dtype, device=values.device)
    return index_put(base, (_tensor(rows.astype(np.int64, copy=False), device=values.device),), values)


def _flat(step, batch, steps: int, batch_size: int, batch_first: bool):
    """Row of (step, batch) in a (T, B, *) tensor flattened to (T*B, *), or (B, T, *) with batch_first."""
    return batch * steps + step if batch_first else step * batch_size + batch


def _offsets(lengths: np.ndarray):
    """(owner of each concatenated row, its position in its sequence) for pieces of `lengths`."""
    owner = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return owner, np.arange(owner.size) - starts[owner]


# ---------------------------------------------------------------- padded <-> packed
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch: input (T, B, *) (or (B, T, *) with batch_first) holding sequences of
    `lengths` (a list of ints or a 1-D CPU tensor).

    With enforce_sorted the lengths must be decreasing; otherwise the sequences are sorted by
    decreasing length (stably) and the PackedSequence records the permutation.
    """
    op = "pack_padded_sequence()"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, not {type(input).__name__}")
    lengths = _lengths_arg(op, lengths)
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise IndexError(f"{op}: input must have at least 2 dims ({'B, T' if batch_first else 'T, B'}, *), "
                         f"got shape {list(shape)}")
    steps, batch_size = (shape[1], shape[0]) if batch_first else shape[:2]
    order, batch_sizes, t, b = _pack_plan(op, lengths, batch_size, steps, input.numel() == 0, enforce_sorted)
    rows = reshape(input, (steps * batch_size,) + shape[2:])
    data = _take_rows(rows, _flat(t, b, steps, batch_size, batch_first))
    return _packed(data, batch_sizes, order)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Pad a PackedSequence back: (padded (T, B, *) or (B, T, *), lengths as an int64 CPU tensor),
    in the original batch order. T is the longest length, or total_length when given."""
    op = "pad_packed_sequence()"
    data, batch_sizes_t, _, unsorted_indices = sequence
    batch_sizes = _host_ints(batch_sizes_t)
    max_len = batch_sizes.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(f"{op}: Expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being "
                             f"{max_len}")
        steps = int(total_length)
    else:
        steps = max_len
    _check_batch_sizes(op, batch_sizes, data.shape[0])
    batch_size = int(batch_sizes[0]) if max_len else 0
    t, pos = _packed_positions(batch_sizes)
    lengths = np.bincount(pos, minlength=batch_size).astype(np.int64)  # in sorted order
    if unsorted_indices is not None:
        unsorted = _host_ints(unsorted_indices)
        pos = np.argsort(unsorted)[pos]  # column of sorted position s: the j with unsorted[j] == s
        lengths = lengths[unsorted]
    flat = _place_rows(data, _flat(t, pos, steps, batch_size, batch_first), steps * batch_size, padding_value)
    lead = (batch_size, steps) if batch_first else (steps, batch_size)
    return reshape(flat, lead + tuple(data.shape[1:])), _tensor(lengths)


def _packed_to_padded(packed):
    """For the recurrent layers: packed -> (padded, batch_sizes).

    padded: (T, B, *), T = len(batch_sizes), B = batch_sizes[0], time-major, with the
    sequences in SORTED order (packed.sorted_indices / unsorted_indices are not applied),
    zeros at padding positions; differentiable with respect to packed.data.
    batch_sizes: packed.batch_sizes as a list of Python ints.
    """
    data, batch_sizes_t = packed[0], packed[1]
    batch_sizes = _host_ints(batch_sizes_t)
    _check_batch_sizes("_packed_to_padded()", batch_sizes, data.shape[0])
    steps = batch_sizes.size
    batch_size = int(batch_sizes[0]) if steps else 0
    t, pos = _packed_positions(batch_sizes)
    flat = _place_rows(data, t * batch_size + pos, steps * batch_size, 0)
    return reshape(flat, (steps, batch_size) + tuple(data.shape[1:])), batch_sizes.tolist()


def _padded_to_packed(padded, batch_sizes):
    """For the recurrent layers, the inverse of _packed_to_padded: the packed data rows.

    padded: (T, B, *) time-major in sorted order, with T >= len(batch_sizes) and
    B >= batch_sizes[0] (anything past them is ignored); batch_sizes: a list of ints or a
    1-D CPU int tensor. Returns (sum(batch_sizes), *), differentiable with respect to padded.
    """
    bs = _host_ints(batch_sizes) if isinstance(batch_sizes, Tensor) else np.asarray(batch_sizes, dtype=np.int64)
    _check_batch_sizes("_padded_to_packed()", bs, int(bs.sum()) if bs.ndim == 1 else -1)
    shape = tuple(padded.shape)
    if len(shape) < 2 or shape[0] < bs.size or (bs.size and shape[1] < bs[0]):
        raise ValueError(f"_padded_to_packed(): padded of shape {list(shape)} is too small for batch_sizes "
                         f"{bs.tolist()}: expected at least ({bs.size}, {int(bs[0]) if bs.size else 0}, *)")
    t, pos = _packed_positions(bs)
    rows = reshape(padded, (shape[0] * shape[1],) + shape[2:])
    return _take_rows(rows, t * shape[1] + pos)


# ---------------------------------------------------------------- lists of sequences
def _sequence_list(op: str, sequences) -> list:
    """The sequences as a list of tensors of one device, one dtype (the first's) and one trailing shape."""
    if isinstance(sequences, Tensor):
        seqs = list(unbind(sequences, 0)) if sequences.ndim else None
    else:
        try:
            seqs = list(sequences)
        except TypeError:
            seqs = None
    if seqs is None:
        raise RuntimeError(f"{op.rstrip('()')}: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    if not seqs:
        raise RuntimeError(f"{op}: received an empty list of sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: expected Tensor as element {i} in argument 0, but got {type(s).__name__}")
    first = seqs[0]
    if first.ndim == 0:
        raise RuntimeError(f"{op}: sequences must have at least 1 dim (length, *), got a 0-dim tensor")
    for i, s in enumerate(seqs):
        if tuple(s.shape[1:]) != tuple(first.shape[1:]) or s.ndim == 0:
            raise RuntimeError(f"{op}: all sequences must have the same trailing dims: sequence 0 has shape "
                               f"{list(first.shape)} and sequence {i} has shape {list(s.shape)}")
        if s.device != first.device:
            raise RuntimeError(f"{op}: expected all sequences to be on the same device, but found {first.device} "
                               f"and {s.device}")
    return [s if s.dtype == first.dtype else s.to(first.dtype) for s in seqs]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *) with batch_first),
    filled with padding_value after (padding_side='right') or before ('left') each sequence."""
    op = "pad_sequence()"
    seqs = _sequence_list(op, sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"{op}: Expected padding_side to be one of left or right, but got {padding_side}.")
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    steps, batch_size = int(lengths.max()), lengths.size
    owner, t = _offsets(lengths)
    if padding_side == "left":
        t = t + (steps - lengths)[owner]
    flat = _place_rows(cat(seqs), _flat(t, owner, steps, batch_size, batch_first), steps * batch_size,
                       padding_value)
    lead = (batch_size, steps) if batch_first else (steps, batch_size)
    return reshape(flat, lead + tuple(seqs[0].shape[1:]))


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch (T, B, *) (or (B, T, *)) into the list of its B sequences (L_i, *).

    lengths: a tensor (on any device) or a list of ints; as in PyTorch, a length is clipped to
    [0, T]. Unlike PyTorch, padded_sequences is not transposed in place.
    """
    op = "unpad_sequence()"
    if not isinstance(padded_sequences, Tensor):
        raise TypeError(f"{op}: argument 'padded_sequences' must be a Tensor, not "
                        f"{type(padded_sequences).__name__}")
    shape = tuple(padded_sequences.shape)
    if len(shape) < 2:
        raise IndexError(f"{op}: padded_sequences must have at least 2 dims, got shape {list(shape)}")
    lengths = _host_ints(lengths) if isinstance(lengths, Tensor) else _lengths_arg(op, lengths)
    if lengths.ndim != 1:
        raise ValueError(f"{op}: lengths must be 1-D, got shape {list(lengths.shape)}")
    steps, batch_size = (shape[1], shape[0]) if batch_first else shape[:2]
    if lengths.size != batch_size:
        raise ValueError(f"{op}: got {lengths.size} lengths for a batch of {batch_size} sequences "
                         f"(padded_sequences of shape {list(shape)}, batch_first={batch_first})")
    lengths = np.clip(lengths, 0, steps)
    owner, t = _offsets(lengths)
    rows = reshape(padded_sequences, (steps * batch_size,) + shape[2:])
    picked = _take_rows(rows, _flat(t, owner, steps, batch_size, batch_first))
    return list(split(picked, lengths.tolist(), 0)) if batch_size else []


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (decreasing lengths unless enforce_sorted=False);
    the same as pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=...)."""
    op = "pack_sequence()"
    seqs = _sequence_list(op, sequences)
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    steps = int(lengths.max())
    empty = steps * len(seqs) * int(np.prod(seqs[0].shape[1:], dtype=np.int64)) == 0
    order, batch_sizes, t, b = _pack_plan(op, lengths, lengths.size, steps, empty, enforce_sorted)
    starts = np.cumsum(lengths) - lengths
    data = _take_rows(cat(seqs), starts[b] + t)
    return _packed(data, batch_sizes, order)


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) of a PackedSequence, in the original order."""
    op = "unpack_sequence()"
    data, batch_sizes_t, _, unsorted_indices = packed_sequences
    batch_sizes = _host_ints(batch_sizes_t)
    _check_batch_sizes(op, batch_sizes, data.shape[0])
    batch_size = int(batch_sizes[0]) if batch_sizes.size else 0
    sorted_lengths = np.bincount(_packed_positions(batch_sizes)[1], minlength=batch_size)
    pos = _host_ints(unsorted_indices) if unsorted_indices is not None else np.arange(batch_size)
    lengths = sorted_lengths[pos]  # sequence j is the pos[j]-th in sorted order
    owner, t = _offsets(lengths)
    step_starts = np.cumsum(batch_sizes) - batch_sizes
    picked = _take_rows(data, step_starts[t] + pos[owner])
    return list(split(picked, lengths.tolist(), 0)) if batch_size else []
