"""Linear algebra: matmul and its strict forms (mm, bmm, dot), outer, linear, einsum.

Like PyTorch, the products do not promote dtypes: mixed operands raise. Backward
passes are products themselves (matmul of the gradient with the other operand,
einsum for einsum), so second derivatives come for free; gradients over
broadcast batch dims are returned at full size and reduced by the engine.
"""
from __future__ import annotations

import math
import string

import numpy as np

from .. import autocast_mode as _autocast
from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def _name(arr) -> str:
    return dtypes.from_numpy_dtype(arr.dtype).name


def _check_dtypes(op: str, a, b) -> None:
    """Products of mixed dtypes raise (PyTorch does not promote them); bool products are not implemented."""
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected m1 and m2 to have the same dtype, but got: {_name(a)} != "
                           f"{_name(b)}; convert one operand with .to(dtype) first")
    if a.dtype == np.bool_:
        raise NotImplementedError(f"{op}: not implemented for 'Bool' tensors; convert them with .int() or "
                                  f".float() first")


def _xp_matmul(a, b):
    """xp.matmul; a stack of matrices times one matrix or vector is one large product, not a loop."""
    if a.ndim > 2 and b.ndim <= 2:
        rows = math.prod(a.shape[:-1])
        return xp_of(a).matmul(a.reshape(rows, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[1:])
    return xp_of(a).matmul(a, b)


# ---------------------------------------------------------------- matmul
class Matmul(Op):
    """input @ other with PyTorch's matmul semantics (vectors, broadcast batch dims)."""

    save_inputs = (0, 1)

    def forward(self, a, b):
        return _xp_matmul(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        g = grad
        if a_vec or b_vec:  # a vector is a 1-row (left) or 1-column (right) matrix: give grad those dims
            shape = tuple(grad.shape) + ((1,) if b_vec else ())
            if a_vec:
                shape = shape[:-1] + (1,) + shape[-1:]
            g = grad.reshape(shape)
            a = a.reshape(1, a.shape[0]) if a_vec else a
            b = b.reshape(b.shape[0], 1) if b_vec else b
        ga = gb = None
        if na:
            ga = Matmul()(g, b.mT)
            if a_vec:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if nb:
            if g.ndim > 2 and b.ndim == 2:  # b was shared by the whole batch: one product over all rows
                rows = math.prod(g.shape[:-1])
                gb = Matmul()(a.reshape(rows, a.shape[-1]).mT, g.reshape(rows, g.shape[-1]))
            else:
                gb = Matmul()(a.mT, g)
            if b_vec:
                gb = gb.reshape(gb.shape[:-1])
        return ga, gb


@_autocast.policy(cuda="lower", cpu="lower")
def matmul(input, other):
    """Matrix product with PyTorch's rules: 1-D·1-D is a dot product, a 1-D operand is a row (left) or
    column (right) vector whose dim is removed from the result, and batch dims broadcast."""
    check_tensor("matmul", input, "input")
    check_tensor("matmul", other, "other")
    a, b = input._data, other._data
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and "
                           f"{b.ndim}D")
    _check_dtypes("matmul", a, b)
    k = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if a.shape[-1] != k:
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError(f"matmul: inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                               f"[{k}] to have the same number of elements, but got {a.shape[0]} and {k} "
                               f"elements respectively")
        raise RuntimeError(f"matmul: mat1 and mat2 shapes cannot be multiplied ({_dims(a.shape)} and "
                           f"{_dims(b.shape)})")
    if a.ndim > 2 and b.ndim > 2 and not all(x == y or x == 1 or y == 1
                                             for x, y in zip(a.shape[-3::-1], b.shape[-3::-1])):
        raise RuntimeError(f"matmul: the batch dimensions {list(a.shape[:-2])} and {list(b.shape[:-2])} "
                           f"do not broadcast (shapes {_dims(a.shape)} and {_dims(b.shape)})")
    return Matmul()(input, other)


@_autocast.policy(cuda="lower", cpu="lower")
def mm(input, mat2):
    """Product of two matrices (2-D only, no broadcasting)."""
    check_tensor("mm", input, "input")
    check_tensor("mm", mat2, "mat2")
    a, b = input._data, mat2._data
    for name, x in (("self", a), ("mat2", b)):
        if x.ndim != 2:
            raise RuntimeError(f"mm: {name} must be a matrix, got a {x.ndim}-D tensor of shape {list(x.shape)}")
    _check_dtypes("mm", a, b)
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({_dims(a.shape)} and "
                           f"{_dims(b.shape)})")
    return Matmul()(input, mat2)


@_autocast.policy(cuda="lower", cpu="lower")
def bmm(input, mat2):
    """Batched product of two 3-D tensors with the same batch size (no broadcasting)."""
    check_tensor("bmm", input, "input")
    check_tensor("bmm", mat2, "mat2")
    a, b = input._data, mat2._data
    for name, x in (("batch1", a), ("batch2", b)):
        if x.ndim != 3:
            raise RuntimeError(f"bmm: {name} must be a 3D tensor, got a {x.ndim}-D tensor of shape "
                               f"{list(x.shape)}")
    _check_dtypes("bmm", a, b)
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(f"bmm: expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}] (shapes "
                           f"{_dims(a.shape)} and {_dims(b.shape)})")
    return Matmul()(input, mat2)


@_autocast.policy(cuda="promote")
def dot(input, tensor):
    """Dot product of two 1-D tensors of the same size."""
    check_tensor("dot", input, "input")
    check_tensor("dot", tensor, "tensor")
    a, b = input._data, tensor._data
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot: expected both vectors to have same dtype, but found {_name(a)} and "
                           f"{_name(b)}")
    _check_dtypes("dot", a, b)
    if a.shape != b.shape:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got {a.shape[0]} and "
                           f"{b.shape[0]} elements respectively")
    return Matmul()(input, tensor)


def outer(input, vec2):
    """Outer product of two 1-D tensors; dtypes promote as for `mul` (as in PyTorch)."""
    check_tensor("outer", input, "input")
    check_tensor("outer", vec2, "vec2")
    for name, x in (("input", input), ("vec2", vec2)):
        if x._data.ndim != 1:
            raise RuntimeError(f"outer: expected 1-D argument {name}, but got {x._data.ndim}-D")
    return input.reshape(input._data.shape[0], 1) * vec2


# ---------------------------------------------------------------- linear
class Linear(Op):
    """input @ weight.T (+ bias) in one op: the forward and backward of a dense layer."""

    save_inputs = (0, 1)

    def forward(self, x, w, b=None):
        y = _xp_matmul(x, w.T)
        if b is not None:
            y += b  # y is a fresh array
        return y

    def backward(self, grad):
        x, w = self.saved_tensors
        needs = self.needs_input_grad
        gx = Matmul()(grad, w) if needs[0] else None
        gw = None
        if needs[1]:  # the sum over every leading dim is one product of the flattened rows
            rows = math.prod(x.shape[:-1])
            gw = Matmul()(grad.reshape(rows, w.shape[0]).mT, x.reshape(rows, w.shape[1]))
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (grad if needs[2] else None)  # the engine sums it to the bias's shape


@_autocast.policy(cuda="lower", cpu="lower")
def linear(input, weight, bias=None):
    """y = input @ weight.T + bias (torch.nn.functional.linear): input (*, in), weight (out, in),
    bias broadcastable to (*, out)."""
    check_tensor("linear", input, "input")
    check_tensor("linear", weight, "weight")
    x, w = input._data, weight._data
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {x.ndim}D and "
                           f"{w.ndim}D")
    if w.ndim > 2:
        raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), got shape "
                           f"{list(w.shape)}")
    if w.ndim == 1:  # a weight vector: the product with it has no out_features dim
        if bias is not None:
            raise RuntimeError(f"linear: a bias needs a 2-D weight (out_features, in_features), got weight "
                               f"of shape {list(w.shape)}")
        return matmul(input, weight)
    _check_dtypes("linear", x, w)
    if x.shape[-1] != w.shape[1]:
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({math.prod(x.shape[:-1])}x"
                           f"{x.shape[-1]} and {w.shape[1]}x{w.shape[0]}): input of shape {list(x.shape)} "
                           f"and weight of shape {list(w.shape)}")
    if bias is None:
        return Linear()(input, weight)
    check_tensor("linear", bias, "bias")
    b = bias._data
    if b.dtype != x.dtype:
        raise RuntimeError(f"linear: expected bias to have the same dtype as input and weight, but got "
                           f"{_name(b)} and {_name(x)}")
    out_shape = x.shape[:-1] + (w.shape[0],)
    if b.ndim > len(out_shape) or not all(n == 1 or n == m for n, m in zip(b.shape[::-1], out_shape[::-1])):
        raise RuntimeError(f"linear: bias of shape {list(b.shape)} cannot be broadcast to the output shape "
                           f"{list(out_shape)}")
    return Linear()(input, weight, bias)


# ---------------------------------------------------------------- einsum
_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # label order of sublists (and of sorting)
_EINSUM_OPTIMIZE_MIN = 4096  # total operand elements from which finding a contraction order pays off


def _fresh_labels(used, n: int) -> list:
    free = [c for c in _LETTERS if c not in used]
    if len(free) < n:
        raise RuntimeError(f"einsum(): the equation needs more than {len(_LETTERS)} distinct subscripts "
                           f"(ellipsis dims and diagonals count too)")
    return free[:n]


class Einsum(Op):
    """xp.einsum over operands whose labels are letters only (ellipsis already expanded).

    ``sizes`` maps every label to its size. The gradient for an operand is the einsum of the output
    gradient with the other operands; a label repeated in the operand (a diagonal) is renamed and tied
    to its first occurrence by an identity matrix, and a label only that operand has (summed away)
    is broadcast back.
    """

    def __init__(self, terms, out, sizes):
        self.terms, self.out, self.sizes = terms, out, sizes
        self.equation = ",".join(terms) + "->" + out
        self.save_inputs = tuple(range(len(terms)))

    def forward(self, *arrays):
        xp = xp_of(arrays[0])
        if len(arrays) == 1:
            y = xp.einsum(self.equation, arrays[0])
            return y.copy() if xp.may_share_memory(y, arrays[0]) else y  # a permuted/diagonal view
        optimize = sum(a.size for a in arrays) >= _EINSUM_OPTIMIZE_MIN
        return xp.einsum(self.equation, *arrays, optimize=optimize)

    def backward(self, grad):
        ops = self.saved_tensors
        return tuple(self._grad_for(k, grad, ops) if need else None
                     for k, need in enumerate(self.needs_input_grad))

    def _grad_for(self, k, grad, ops):
        term, sizes = self.terms[k], dict(self.sizes)
        terms = [self.out] + [t for j, t in enumerate(self.terms) if j != k]
        tensors = [grad] + [o for j, o in enumerate(ops) if j != k]
        fresh = iter(_fresh_labels(set(self.equation), len(term) - len(set(term))))
        target = ""
        for c in term:
            if c in target:  # a diagonal: a new label f, with an identity operand 'cf'
                f = next(fresh)
                sizes[f] = n = sizes[c]
                xp = xp_of(grad._data)
                eye = xp.zeros_like(grad._data, shape=(n, n))
                xp.fill_diagonal(eye, 1)
                terms.append(c + f)
                tensors.append(Tensor._make(eye, None, 0, None))
                c = f
            target += c
        have = set("".join(terms))
        kept = "".join(c for c in target if c in have)
        g = Einsum(terms, kept, sizes)(*tensors)
        if len(kept) < len(target):  # labels summed away in this operand alone: broadcast back
            g = g.reshape(tuple(sizes[c] if c in have else 1 for c in target))
            g = g.expand(tuple(sizes[c] for c in target))
        return g


def _parse_equation(equation: str, n_ops: int):
    """Split an equation into per-operand label lists ('.' marks an ellipsis) and the output list
    (None when implicit), with PyTorch's errors."""
    terms, out = [[]], None
    i = 0
    while i < len(equation):
        c = equation[i]
        cur = terms[-1] if out is None else out
        where = f"operand {len(terms) - 1}" if out is None else "the output"
        if c == ".":
            if "." in cur:
                raise RuntimeError(f"einsum(): found '.' for {where} for which an ellipsis was already found")
            if equation[i:i + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for {where} that is not part of any ellipsis")
            cur.append(".")
            i += 3
            continue
        if c == "," and out is None:
            terms.append([])
        elif c == "-" and out is None and equation[i + 1:i + 2] == ">":
            out = []
            i += 1
        elif c in _LETTERS:
            cur.append(c)
        elif c != " ":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, "
                               f"subscripts must be in [a-zA-Z]")
        i += 1
    if len(terms) > n_ops:
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < n_ops:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    return terms, out


def _from_sublists(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]) to an equation and operands."""
    def letters(sub):
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < len(_LETTERS):
                out += _LETTERS[s]
            else:
                raise ValueError(f"einsum(): subscripts in a sublist must be integers in [0, {len(_LETTERS)}) "
                                 f"or Ellipsis, got {s!r}")
        return out
    n = len(args) // 2
    eq = ",".join(letters(s) for s in args[1:2 * n:2])
    if len(args) % 2:
        eq += "->" + letters(args[-1])
    return eq, tuple(args[0:2 * n:2])


@_autocast.policy(cuda="lower", cpu="lower")
def einsum(equation, *operands):
    """Einstein summation, torch.einsum's rules: implicit or explicit ('->') output, repeated
    subscripts (diagonals, traces), '...' for broadcast dims, size-1 dims broadcasting; operands
    may also be passed as one list, or in the sublist format einsum(op0, [0, 1], op1, [1, 2], [0, 2])."""
    if not isinstance(equation, str):
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, or at least "
                         "one operand and its subscripts list")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor as operand {i}, but got {type(t).__name__}")
    dt = operands[0]._data.dtype
    for t in operands[1:]:
        if t._data.dtype != dt:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, but found "
                               f"{_name(operands[0]._data)} and {_name(t._data)}; convert them with "
                               f".to(dtype) first")
    raw, out = _parse_equation(equation, len(operands))

    # expand each ellipsis into letters the equation does not use, right-aligned across operands
    n_ell = 0
    for k, (term, t) in enumerate(zip(raw, operands)):
        nd, nl = t._data.ndim, len(term) - ("." in term)
        if "." in term:
            if nl > nd:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) is more than "
                                   f"the number of dimensions ({nd}) for operand {k}")
            n_ell = max(n_ell, nd - nl)
        elif nl != nd:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) does not match "
                               f"the number of dimensions ({nd}) for operand {k} and no ellipsis was given")
    used = set(equation)
    ell = "".join(_fresh_labels(used, n_ell))
    terms = []
    for term, t in zip(raw, operands):
        e = t._data.ndim - len(term) + 1
        terms.append("".join(ell[n_ell - e:] if c == "." else c for c in term))

    # label sizes: equal within an operand, equal or 1 (broadcast) across operands
    sizes = {}
    for k, (term, t) in enumerate(zip(terms, operands)):
        mine = {}
        for c, n in zip(term, t._data.shape):
            if mine.setdefault(c, n) != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't "
                                   f"match, {mine[c]} != {n}")
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                what = (f"dimension {ell.index(c)} covered by ellipsis" if c in ell else f"subscript {c}")
                raise RuntimeError(f"einsum(): {what} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {seen}")
            if n != 1:
                sizes[c] = n
            sizes.setdefault(c, 1)

    letters = "".join(terms)
    if out is None:  # implicit: ellipsis dims, then the subscripts seen once, sorted
        out = ell + "".join(sorted(c for c in set(letters) if c not in ell and letters.count(c) == 1))
    else:
        for c in out:
            if c != "." and c not in letters:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any "
                                   f"input operand")
            if c != "." and out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
        out = "".join(ell if c == "." else c for c in out)

    # size-1 dims broadcast against a larger size: drop them (the operand is constant along them)
    tensors = list(operands)
    for k, (term, t) in enumerate(zip(terms, operands)):
        keep = [i for i, c in enumerate(term) if t._data.shape[i] == sizes[c]]
        if len(keep) < len(term):
            terms[k] = "".join(term[i] for i in keep)
            tensors[k] = t.reshape(tuple(t._data.shape[i] for i in keep))

    summed = any(c not in out for c in "".join(terms))
    if dt.kind in "biu" and summed:
        if len(tensors) > 1 and dt == np.bool_:
            raise NotImplementedError("einsum(): a contraction of bool tensors is not implemented; convert "
                                      "them with .int() or .float() first")
        if len(tensors) == 1:  # a plain sum: bool and integers sum in int64, as in PyTorch
            tensors[0] = tensors[0].to(dtypes.int64)
    return Einsum(terms, out, sizes)(*tensors)


__all__ = ['matmul', 'mm', 'bmm', 'dot', 'outer', 'linear', 'einsum']
