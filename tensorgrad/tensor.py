"""Tensor: an array (NumPy on the CPU, CuPy on CUDA) plus its place on the tape.

A tensor produced by a recorded op points at that op's node (``grad_fn``) and
its output index. Leaves that require grad have no node; the engine reaches
them through an AccumulateGrad node. Tensors that alias one memory (views,
``detach()``) share one version counter (``_vc``), bumped by in-place ops, so a
backward that needs a value that was later overwritten can say so.

Operators and methods are thin: each delegates to a functional op in
``tensorgrad.ops`` (``Tensor.exp`` *is* ``tensorgrad.exp``).
"""
from __future__ import annotations

import numpy as np

from . import backend, device_checks, dtypes
from .autograd import grad_mode
from .autograd.engine import run_backward


class Tensor:
    __slots__ = ("_data", "_requires_grad", "_grad", "_node", "_out_idx", "_vc", "_base",
                 "_hooks", "_accum", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators
    __array_ufunc__ = None  # ... and never converts a Tensor silently inside a ufunc

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """PyTorch's legacy constructor, in the default dtype: ``Tensor(2, 3)`` an uninitialized
        tensor of that shape, ``Tensor([1, 2])`` a copy of the data, ``Tensor()`` an empty one."""
        from .creation import empty as _empty, tensor as _tensor
        dtype = dtype if dtype is not None else dtypes.get_default_dtype()
        if len(args) == 1 and isinstance(args[0], Size):  # Tensor(x.shape): a shape, as in PyTorch
            args = tuple(args[0])
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            src = _empty(*args, dtype=dtype, device=device, requires_grad=requires_grad)
        elif len(args) <= 1:
            src = _tensor(args[0] if args else (), dtype=dtype, device=device, requires_grad=requires_grad)
        else:
            raise TypeError(f"Tensor(): expected sizes (ints) or one sequence of data, got "
                            f"{', '.join(type(a).__name__ for a in args)}; use tensorgrad.tensor(data, dtype=...) "
                            f"for data of a given dtype")
        Tensor._init_from(self, src._data, requires_grad)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _make(data, node, idx, vc, view_of=None):
        """The fast internal constructor: wrap an array as an op output or a constant."""
        t = _new(Tensor)
        t._data = data
        t._node = node
        t._out_idx = idx
        t._requires_grad = False
        t._grad = None
        t._hooks = None
        t._accum = None
        if view_of is not None and (data.base is not None or backend.is_view_of(data, view_of._data)):
            t._vc = view_of._vc
            t._base = view_of._base if view_of._base is not None else view_of
        else:
            t._vc = vc if vc is not None else [0, 0]  # [version, recorded in-place ops]
            t._base = None
        return t

    def _init_from(self, data, requires_grad=False):
        self._data = data
        self._node = None
        self._out_idx = 0
        self._requires_grad = False
        self._grad = None
        self._hooks = None
        self._accum = None
        self._vc = [0, 0]
        self._base = None
        if requires_grad:
            self.requires_grad = True

    def _detached_copy(self):
        return Tensor._make(self._data.copy(), None, 0, None)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return dtypes.from_numpy_dtype(self._data.dtype)

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def device(self):
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self._data.__class__ is not np.ndarray

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format=None) -> bool:
        """C-contiguity; tensorgrad keeps no channels_last layout, so asking about one is True only
        where the two layouts coincide (one channel, or one spatial position)."""
        c_order = bool(self._data.flags.c_contiguous)
        if memory_format is None or not c_order:
            return c_order
        from .memory_format import is_laid_out
        return is_laid_out(self._data.shape, memory_format)

    def stride(self, dim=None):
        d = self._data
        if d.size == 0:  # NumPy's strides of empty arrays are arbitrary; PyTorch reports contiguous ones
            st, n = [], 1
            for s in reversed(d.shape):
                st.append(n)
                n *= max(s, 1)
            st = tuple(reversed(st))
        else:
            st = tuple(s // d.itemsize for s in d.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim, "stride")]

    @property
    def _version(self) -> int:
        return self._vc[0]

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self._node is not None

    @requires_grad.setter
    def requires_grad(self, value) -> None:
        value = bool(value)
        if self._node is not None:
            if value:
                return
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                               "use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got {self.dtype}; convert with .float() first")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The accumulated gradient (leaves, and non-leaves with retain_grad()), or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            d, v = self._data, value._data
            if v.shape != d.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(v.shape)}' to a tensor of "
                                   f"size '{list(d.shape)}'. Please ensure that the gradient and the tensor are "
                                   f"the same size")
            if v.dtype != d.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to a tensor with "
                                   f"dtype {self.dtype}; the gradient must have the tensor's dtype")
            if v.__class__ is not d.__class__ or (v.__class__ is not np.ndarray and v.device.id != d.device.id):
                raise RuntimeError(f"assigned grad has data located on a different device ({value.device}) "
                                   f"than the tensor ({self.device})")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def data(self):
        """The same memory, detached and untracked (changes through it bump no version)."""
        return Tensor._make(self._data, None, 0, None)

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data

    def detach(self):
        """The same memory and version counter, cut from the graph."""
        return Tensor._make(self._data, None, 0, self._vc)

    def detach_(self):
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError("detach_(): cannot detach a view of a tensor that requires grad in place; "
                               "use detach() instead")
        self._node = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self._node is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        node = self._node
        if node._retained is None:
            node._retained = {}
        import weakref
        node._retained[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self._node
        return bool(node is not None and node._retained and self._out_idx in node._retained)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._node
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch's Tensor.backward)."""
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            from .autograd import grad as _grad
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            if not inputs:
                raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
            grads = _grad(self, inputs, gradient, retain_graph=retain_graph, create_graph=create_graph,
                          allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is not None:
                    t.grad = (g.clone() if create_graph else g._detached_copy()) if t.grad is None else t.grad + g
            return
        if gradient is None and self._data.size == 1 and self._data.dtype.kind == "f":
            gradient = Tensor._make(backend.ones_like(self._data), None, 0, None)
        else:
            from .autograd import _make_grads
            (gradient,) = _make_grads((self,), (gradient,))
        run_backward((self,), (gradient,), retain_graph, create_graph)

    # ------------------------------------------------------------------ conversion
    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``; differentiable."""
        from .ops.convert import parse_to_args, to
        device, dtype, copy, non_blocking = parse_to_args(self, args, kwargs)
        return to(self, device, dtype, copy, non_blocking)

    def pin_memory(self):
        """A copy in page-locked host memory (this tensor if already pinned); needs CUDA."""
        from .ops.convert import pin_memory
        return pin_memory(self)

    def is_pinned(self) -> bool:
        return backend.is_pinned(self._data)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def type(self, dtype=None):
        """No argument: the legacy type name, e.g. 'tensorgrad.FloatTensor'; else ``to(dtype)`` (a
        dtype, a legacy type name, or a legacy type such as tensorgrad.FloatTensor)."""
        if hasattr(dtype, "_device_type") and hasattr(dtype, "_dtype"):  # tensorgrad.FloatTensor, cuda.FloatTensor
            return self.to(dtype._dtype, device="cuda" if dtype._device_type == "cuda" else None)
        if dtype is None:
            name = _LEGACY_TYPE_NAMES[self._data.dtype.name]
            return f"tensorgrad.cuda.{name}" if self.is_cuda else f"tensorgrad.{name}"
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            legacy = dtype.rsplit(".", 1)[-1]
            for np_name, n in _LEGACY_TYPE_NAMES.items():
                if n == legacy:
                    return self.to(dtypes.as_dtype(np_name), device="cuda" if ".cuda." in dtype else None)
            raise TypeError(f"type(): invalid type {dtype!r}")
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    # new_*: tensors of this one's dtype and device unless told otherwise (PyTorch's Tensor.new_*)
    def _new(self, fn, *args, dtype=None, device=None, requires_grad=False):
        from . import creation
        return getattr(creation, fn)(*args, dtype=self.dtype if dtype is None else dtype,
                                     device=self.device if device is None else device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("zeros", *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("ones", *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("empty", *size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new("full", size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A copy of `data` with this tensor's dtype and device (unless given), as PyTorch."""
        return self._new("tensor", data, dtype=dtype, device=device, requires_grad=requires_grad)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def numpy(self, force: bool = False):
        """The NumPy array itself (shared memory); CPU tensors only."""
        if self._data.__class__ is not np.ndarray:
            if force:
                device_checks.flush()
                return self._data.get()
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                            f"to copy the tensor to host memory first.")
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar; "
                               f"item() needs exactly one element")
        if self._data.__class__ is not np.ndarray:
            device_checks.flush()  # this read synchronizes anyway: raise what earlier ops deferred
        return self._data.item()

    def tolist(self):
        d = self._data
        if d.__class__ is np.ndarray:
            return d.tolist()
        device_checks.flush()
        return d.get().tolist()

    def __array__(self, dtype=None, copy=None):
        if self._data.__class__ is not np.ndarray:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy; call .cpu() first")
        a = self._data
        return a if dtype is None else a.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        if self.requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    # ------------------------------------------------------------------ Python protocol
    def __repr__(self):
        from ._format import format_tensor
        if self._data.__class__ is not np.ndarray:
            device_checks.flush()
        return format_tensor(self)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous; "
                               f"use .any() or .all()")
        if self._data.__class__ is not np.ndarray:
            device_checks.flush()
        return bool(self._data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        if self._data.__class__ is not np.ndarray:
            device_checks.flush()
        return int(self._data.item())

    def __complex__(self):
        return complex(self.item())

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    __hash__ = object.__hash__

    def __reduce_ex__(self, proto):
        raise TypeError("tensorgrad tensors are not pickled (pickle can execute code on load); use "
                        "tensorgrad.save / tensorgrad.load, or .numpy()")

    def __deepcopy__(self, memo):
        t = Tensor._make(self._data.copy(), None, 0, None)
        t._requires_grad = self._requires_grad and self._node is None
        if self.grad is not None:
            t.grad = self.grad._detached_copy()
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ in-place
    def _inplace(self, fn, *args, **kwargs):
        """Run out-of-place `fn(self, ...)` and write the result into self's memory.

        When recorded, the op sees a snapshot of the old value as its input and
        self takes the result's place in the graph.
        """
        _check_writable(self)
        enabled = grad_mode._state.enabled
        if enabled and self._requires_grad and self._node is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation; "
                               "wrap the update in `with tensorgrad.no_grad():` or operate on a clone()")
        recording = enabled and (self._node is not None or any(
            isinstance(a, Tensor) and a.requires_grad for a in args))
        if recording:
            if self._base is not None:
                # the base would see the new values but not the op on its tape: refuse, don't mislead
                raise RuntimeError("a recorded in-place operation on a view is not supported by tensorgrad (the "
                                   "tensor it views would not track the change); modify the base tensor, "
                                   "clone() the view, or use the out-of-place op")
            old = Tensor._make(self._data.copy(), self._node, self._out_idx, None)
            result = fn(old, *args, **kwargs)
            if result._data.dtype != self._data.dtype:
                _check_inplace_cast(result._data.dtype, self._data.dtype, fn)
                result = result.to(self.dtype)
        else:
            with grad_mode.no_grad():
                result = fn(self, *args, **kwargs)
            if result._data.dtype != self._data.dtype:
                _check_inplace_cast(result._data.dtype, self._data.dtype, fn)
        if result._data.shape != self._data.shape:
            raise RuntimeError(f"{getattr(fn, '__name__', 'in-place op')}_: output with shape "
                               f"{list(self._data.shape)} doesn't match the broadcast shape "
                               f"{list(result._data.shape)}")
        if result._data is not self._data:
            backend.xp_of(self._data).copyto(self._data, result._data, casting="unsafe")
        self._vc[0] += 1
        if recording:
            self._vc[1] += 1  # views taken before now point at the old graph (engine checks)
            old_node, old_idx = self._node, self._out_idx
            self._node, self._out_idx = result._node, result._out_idx
            retained = old_node._retained if old_node is not None else None
            if retained and old_idx in retained and retained[old_idx]() is self:
                # retain_grad() follows the tensor to its new version (hooks stay with the old one)
                del retained[old_idx]
                self.retain_grad()
        return self

    def add_(self, other, alpha=1):
        return self._inplace(_ar.add, other, alpha=alpha)

    def sub_(self, other, alpha=1):
        return self._inplace(_ar.sub, other, alpha=alpha)

    def mul_(self, other):
        return self._inplace(_ar.mul, other)

    def div_(self, other, rounding_mode=None):
        return self._inplace(_ar.div, other, rounding_mode=rounding_mode)

    def pow_(self, exponent):
        return self._inplace(_ar.pow, exponent)

    def clamp_(self, min=None, max=None):
        return self._inplace(_ar.clamp, min, max)

    def clamp_min_(self, min):
        return self._inplace(_ar.clamp, min, None)

    def clamp_max_(self, max):
        return self._inplace(_ar.clamp, None, max)

    def masked_fill_(self, mask, value):
        return self._inplace(_ix.masked_fill, mask, value)

    def fill_(self, value):
        if not grad_mode._state.enabled or (self._node is None and not self._requires_grad and not (
                isinstance(value, Tensor) and value.requires_grad)):
            _check_writable(self)
            self._data.fill(value.item() if isinstance(value, Tensor) else value)
            self._vc[0] += 1
            return self
        return self._inplace(_fill_like, value)

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """Copy `src` into self (broadcast, cast, and across devices: an explicit copy)."""
        if not isinstance(src, Tensor):
            raise TypeError(f"copy_(): expected a Tensor as src, got {type(src).__name__}")
        return self._inplace(_copy_from, src)

    def exp_(self):
        return self._inplace(_ew.exp)

    def log_(self):
        return self._inplace(_ew.log)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(_ix.index_add, dim, index, source, alpha=alpha)

    def index_copy_(self, dim, index, source):
        return self._inplace(_ix.index_copy, dim, index, source)

    def index_fill_(self, dim, index, value):
        return self._inplace(_ix.index_fill, dim, index, value)

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with draws from Exp(lambd): -log(1 - u) / lambd, u uniform in [0, 1) drawn in float32
        at least, and never exactly 0 (as PyTorch: -log of a draw, Gumbel noise, must stay finite)."""
        from .creation import _random
        wide = dtypes.float64 if self._data.dtype == np.float64 else dtypes.float32
        least = float(np.finfo(self._data.dtype).smallest_subnormal)

        def draw(t):
            u = _random("exponential_", (t.shape,), wide, t.device, False, backend.random_uniform, generator)
            return (-(-u).log1p() / lambd).clamp_min(least).to(t.dtype)
        return self._inplace(draw)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with exp of draws from N(mean, std^2)."""
        from .creation import _random
        return self._inplace(lambda t: (_random("log_normal_", (t.shape,), t.dtype, t.device, False,
                                                backend.random_normal, generator) * std + mean).exp())

    def ndimension(self) -> int:
        return self.dim()

    def byte(self):
        return self.to(dtypes.uint8)

    def char(self):
        return self.to(dtypes.int8)

    def short(self):
        return self.to(dtypes.int16)

    def get_device(self) -> int:
        """The CUDA device index, -1 for the CPU (PyTorch's)."""
        return -1 if self.device.type == "cpu" else self.device.index

    def data_ptr(self) -> int:
        """The address of the first element (host memory, or device memory on CUDA)."""
        d = self._data
        return d.ctypes.data if d.__class__ is np.ndarray else d.data.ptr

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def mH(self):
        """The conjugate transpose of the last two dims: mT for real tensors."""
        return self.mT

    @property
    def H(self):
        return self.mH if self.dim() == 2 else self.T

    def neg_(self):
        return self._inplace(_ar.neg)

    def relu_(self):
        return self._inplace(_act.relu)

    def sigmoid_(self):
        return self._inplace(_ew.sigmoid)

    def tanh_(self):
        return self._inplace(_ew.tanh)

    def sqrt_(self):
        return self._inplace(_ew.sqrt)

    def abs_(self):
        return self._inplace(_ew.abs)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from .creation import _random
        return self._inplace(lambda t: _random("uniform_", (t.shape,), t.dtype, t.device, False,
                                               backend.random_uniform, generator) * (b - a) + a)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from .creation import _random
        return self._inplace(lambda t: _random("normal_", (t.shape,), t.dtype, t.device, False,
                                               backend.random_normal, generator) * std + mean)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from .creation import multinomial
        return multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, *, generator=None):
        from .creation import bernoulli
        return bernoulli(self, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 draws, each 1 with probability p (a number or a floating tensor); any dtype."""
        from .creation import _bernoulli_mask
        mask = _bernoulli_mask("bernoulli_()", self.shape, p, self.dtype, self.device, generator)
        return self._inplace(lambda t: Tensor._make(mask, None, 0, None))

    def __setitem__(self, index, value):
        if grad_mode._state.enabled and (self._requires_grad or self._node is not None or (
                isinstance(value, Tensor) and value.requires_grad)):
            self._inplace(_ix.index_put, index, value)  # recorded (or the leaf error)
        else:
            _ix.setitem_(self, index, value)

    def index_put_(self, indices, values, accumulate=False):
        return self._inplace(_ix.index_put, indices, values, accumulate)

    def scatter_(self, dim, index, src=None, *, value=None):
        return self._inplace(_ix.scatter, dim, index, src, value=value)

    def scatter_add_(self, dim, index, src):
        return self._inplace(_ix.scatter_add, dim, index, src)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self._inplace(_sx.scatter_reduce, dim, index, src, reduce, include_self=include_self)

    def masked_scatter_(self, mask, source):
        return self._inplace(_sx.masked_scatter, mask, source)

    def put_(self, index, source, accumulate=False):
        return self._inplace(_sx.put, index, source, accumulate)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ------------------------------------------------------------------ operators
    def __radd__(self, other):
        return _ar.add(other, self)

    def __rsub__(self, other):
        return _ar.sub(other, self)

    def __rmul__(self, other):
        return _ar.mul(other, self)

    def __rtruediv__(self, other):
        return _ar.div(other, self)

    def __floordiv__(self, other):
        return _ar.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ar.floor_divide(other, self)

    def __mod__(self, other):
        return _ar.remainder(self, other)

    def __rmod__(self, other):
        return _ar.remainder(other, self)

    def __pow__(self, other):
        return _ar.pow(self, other)

    def __rpow__(self, other):
        return _ar.pow(other, self)

    def __neg__(self):
        return _ar.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __rmatmul__(self, other):
        return _la.matmul(other, self)

    def __eq__(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex, np.generic, np.ndarray)):
            return NotImplemented  # t == None is False, as in PyTorch
        return _cmp.eq(self, other)

    def __ne__(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex, np.generic, np.ndarray)):
            return NotImplemented
        return _cmp.ne(self, other)

    def __lt__(self, other):
        return _cmp.lt(self, other)

    def __le__(self, other):
        return _cmp.le(self, other)

    def __gt__(self, other):
        return _cmp.gt(self, other)

    def __ge__(self, other):
        return _cmp.ge(self, other)

    def __and__(self, other):
        return _cmp.bitwise_and(self, other)

    def __rand__(self, other):
        return _cmp.bitwise_and(other, self)

    def __or__(self, other):
        return _cmp.bitwise_or(self, other)

    def __ror__(self, other):
        return _cmp.bitwise_or(other, self)

    def __xor__(self, other):
        return _cmp.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _cmp.bitwise_xor(other, self)

    def __invert__(self):
        if self._data.dtype.kind == "f":
            raise TypeError(f"~ (bitwise_not) is only supported for integer and bool tensors, got {self.dtype}")
        return _cmp.bitwise_not(self)

    # ------------------------------------------------------------------ shape sugar
    @property
    def T(self):
        return _sh.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return _sh.transpose(self, -2, -1)

    def t(self):
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D; "
                               f"use transpose(dim0, dim1) or mT")
        return self.T

    def where(self, condition, other):
        """``x.where(cond, y)`` is ``where(cond, x, y)``."""
        return _ar.where(condition, self, other)

    def apply_(self, callable):
        """Apply a Python function to every element in place (CPU only, and slow, as in PyTorch)."""
        if self.is_cuda:
            raise TypeError("apply_ is only implemented on CPU tensors")
        _check_writable(self)
        with np.nditer(self._data, op_flags=[["readwrite"]]) as it:  # in place, views included
            for a in it:
                a[...] = callable(a.item())
        self._vc[0] += 1
        return self

    def map_(self, tensor, callable):
        """self[i] = callable(self[i], tensor[i]) for every element, tensor broadcast to self (CPU only)."""
        if self.is_cuda or tensor.is_cuda:
            raise TypeError("map_ is only implemented on CPU tensors")
        _check_writable(self)
        other = backend.broadcast_to(tensor._data, self._data.shape)
        with np.nditer([self._data, other], op_flags=[["readwrite"], ["readonly"]]) as it:
            for a, b in it:
                a[...] = callable(a.item(), b.item())
        self._vc[0] += 1
        return self

    def clone(self, *, memory_format=None):
        if memory_format is not None:  # accepted: the copy is in C order whatever is asked
            from .memory_format import check
            check(memory_format, "clone()", self.dim())
        return _sh.clone(self)

    def expand_as(self, other):
        return _sh.expand(self, other.shape)

    def view_as(self, other):
        return _sh.view(self, other.shape)

    def reshape_as(self, other):
        return _sh.reshape(self, other.shape)


class Size(tuple):
    """A tensor's shape: a tuple that prints like ``tensorgrad.Size([2, 3])``."""

    def __repr__(self):
        return f"tensorgrad.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_new = object.__new__
_LEGACY_TYPE_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
                      "int8": "CharTensor", "uint8": "ByteTensor", "int16": "ShortTensor",
                      "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


def _wrap_dim(dim, ndim, op) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


def _check_writable(t) -> None:
    """Refuse writes into broadcast memory (a stride-0 dim of size > 1), on every device alike."""
    d = t._data
    if d.size > 1 and 0 in d.strides and any(st == 0 and n > 1 for st, n in zip(d.strides, d.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location (an expanded / broadcast tensor). Please clone() the "
                           "tensor before performing the operation.")


def _check_inplace_cast(src, dst, fn) -> None:
    order = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    if order[src.kind] > order[dst.kind]:
        raise RuntimeError(f"{getattr(fn, '__name__', 'in-place op')}_: result type "
                           f"{dtypes.from_numpy_dtype(src)} can't be cast to the desired output type "
                           f"{dtypes.from_numpy_dtype(dst)} of the in-place op")


def _fill_like(t, value):
    mask = Tensor._make(backend.xp_of(t._data).ones(t._data.shape, dtype=bool), None, 0, None)
    return _ix.masked_fill(t, mask, value)


def _copy_from(t, src):
    out = src.to(t.device, t.dtype)
    if out.shape != t.shape:
        return _sh.expand(out, t.shape)
    return _sh.clone(out) if out is src else out  # self must not take over src's place in the graph


from .autograd import engine as _engine, function as _function  # noqa: E402

_function._tensor_cls.append(Tensor)
_engine._tensor_cls.append(Tensor)

# Functional ops double as methods: Tensor.exp is tensorgrad.exp, with the tensor as `input`.
from .ops import comparison as _cmp  # noqa: E402
from .ops import activation as _act  # noqa: E402
from .ops import arithmetic as _ar  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import index as _ix  # noqa: E402
from .ops import linalg as _la  # noqa: E402
from .ops import reduce as _rd  # noqa: E402
from .ops import shape as _sh  # noqa: E402
from .ops import sort as _so  # noqa: E402
from .ops import special as _sp  # noqa: E402
from .ops import arrange as _arr  # noqa: E402
from .ops import scatter_extra as _sx  # noqa: E402


# the hottest operators are the functional ops themselves: one Python call less per op
Tensor.__add__, Tensor.__sub__, Tensor.__mul__ = _ar.add, _ar.sub, _ar.mul
Tensor.__truediv__, Tensor.__matmul__, Tensor.__getitem__ = _ar.div, _la.matmul, _ix.getitem


def _bind(module, names: str) -> None:
    for name in names.split():
        setattr(Tensor, name, getattr(module, name))


_bind(_ar, "add sub mul div true_divide floor_divide remainder fmod pow neg negative square clamp clip "
           "clamp_min clamp_max maximum minimum floor_divide lerp addcmul addcdiv")
_bind(_ew, "exp exp2 log log2 log10 log1p expm1 sqrt rsqrt reciprocal abs sign sin cos tan tanh sigmoid "
           "floor ceil round trunc frac")
_bind(_act, "relu leaky_relu elu gelu silu softplus")
_bind(_cmp, "eq ne lt le gt ge equal isclose allclose isnan isinf isfinite logical_and logical_or "
            "logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not")
_bind(_rd, "sum mean prod max min amax amin argmax argmin var std norm logsumexp softmax log_softmax "
           "all any cumsum")
_bind(_la, "matmul mm bmm dot outer")
_bind(_sh, "reshape view flatten unflatten permute transpose swapaxes swapdims squeeze unsqueeze "
           "expand broadcast_to repeat flip split chunk unbind narrow movedim moveaxis tile contiguous")
_bind(_ix, "gather scatter scatter_add index_select index_put masked_fill masked_select nonzero tril triu "
           "take_along_dim index_add index_copy index_fill argwhere")
_bind(_so, "sort argsort msort topk kthvalue unique")
from .ops import stats as _st  # noqa: E402
_bind(_st, "median bincount")
_bind(_sp, "erf erfc erfinv sinh cosh asin acos atan asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh "
           "atan2 arctan2 logaddexp hypot xlogy logit nan_to_num")
_bind(_arr, "cumprod logcumsumexp count_nonzero diff roll repeat_interleave diag diagonal trace tensor_split rot90 "
            "addmm baddbmm kron")
_bind(_sx, "scatter_reduce masked_scatter put")
from .ops import gamma as _gm  # noqa: E402
_bind(_gm, "lgamma digamma mvlgamma")


def _polygamma_method(self, n):
    return _gm.polygamma(n, self)  # Tensor.polygamma(n): torch's method takes n first too


Tensor.polygamma = _polygamma_method
from .linalg import decomp as _ld, matfn as _lm  # noqa: E402
Tensor.pinverse, Tensor.svd, Tensor.qr = _ld.pinverse, _ld.svd_legacy, _ld.qr_legacy
Tensor.matrix_exp, Tensor.matrix_power, Tensor.cross = _lm.matrix_exp, _lm.matrix_power, _lm.cross_legacy
def _bind_inplace(module, names: str) -> None:
    """Tensor.name_: module.name computed out of place and written into self; Tensor._inplace records
    it on the tape and refuses a result dtype self can't hold, as PyTorch."""
    for name in names.split():
        if hasattr(Tensor, name + "_"):  # a hand-written one (a fast path or a special case) stays
            continue

        def method(self, *args, _fn=getattr(module, name), **kwargs):
            if kwargs.get("dtype") is not None and dtypes.as_dtype(kwargs["dtype"]) != self.dtype:
                raise RuntimeError(f"Bad in-place call: input tensor dtype {self.dtype} and output tensor dtype "
                                   f"{dtypes.as_dtype(kwargs['dtype'])} should match")
            return self._inplace(_fn, *args, **kwargs)
        method.__name__ = method.__qualname__ = name + "_"
        setattr(Tensor, name + "_", method)


_bind_inplace(_ar, "square lerp addcmul addcdiv fmod remainder floor_divide true_divide negative clip")
_bind_inplace(_ew, "exp2 log2 log10 log1p expm1 rsqrt reciprocal sign floor ceil round trunc frac sin cos tan")
_bind_inplace(_sp, "erf erfc erfinv sinh cosh asin acos atan asinh acosh atanh arcsin arccos arctan arcsinh "
                   "arccosh arctanh atan2 arctan2 hypot xlogy logit nan_to_num")
_bind_inplace(_gm, "lgamma digamma mvlgamma")
_bind_inplace(_cmp, "eq ne lt le gt ge logical_and logical_or logical_xor logical_not bitwise_and bitwise_or "
                    "bitwise_xor bitwise_not")
_bind_inplace(_rd, "cumsum")
from .ops import pointwise_extra as _pwx  # noqa: E402
_bind_inplace(_pwx, "copysign ldexp gcd lcm heaviside nextafter rad2deg deg2rad sgn fix i0 sinc")
_bind_inplace(_arr, "cumprod")


def _polygamma_inplace(self, n):
    return self._inplace(lambda t: _gm.polygamma(n, t))


Tensor.polygamma_ = _polygamma_inplace


from .ops import stats_extra as _sxa, shape_extra as _shx, pointwise_extra as _pwx  # noqa: E402
from .ops import histogram as _hst  # noqa: E402
from .linalg import legacy as _llg  # noqa: E402
for _m in (_sxa, _hst, _shx, _pwx, _llg):
    _bind(_m, _m.TENSOR_METHODS)
_bind_inplace(_sxa, "renorm")  # the max-norm constraint idiom: w.renorm_(2, 0, 3.0)
_bind(_so, "unique_consecutive")
