"""gradcheck / gradgradcheck: compare backward against float64 central differences."""
from __future__ import annotations

import itertools

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(out):
    from ..tensor import Tensor
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.is_floating_point()]


def _to_numpy(a):
    return a if isinstance(a, np.ndarray) else a.get()


def _numerical_jacobians(func, inputs, diff_idx, eps):
    """J[i][k] has shape (numel of input i, numel of output k), by central differences."""
    from .grad_mode import no_grad
    jac = []
    with no_grad():
        outs0 = _float_outputs(func(*inputs))
        for i in diff_idx:
            arr = inputs[i]._data  # perturbed in place, element by element (works for any strides);
            # outputs are copied (np.array) because views of the input change with it
            rows = np.zeros((arr.size, sum(o._data.size for o in outs0)))
            for r, idx in enumerate(itertools.product(*[range(n) for n in arr.shape])):
                orig = arr[idx].item()
                arr[idx] = orig + eps
                plus = [np.array(_to_numpy(o._data)).ravel() for o in _float_outputs(func(*inputs))]
                arr[idx] = orig - eps
                minus = [np.array(_to_numpy(o._data)).ravel() for o in _float_outputs(func(*inputs))]
                arr[idx] = orig
                if plus:
                    rows[r] = (np.concatenate(plus) - np.concatenate(minus)) / (2 * eps)
            jac.append(rows)
    return jac, outs0


def _analytical_jacobians(func, inputs, diff_idx, create_graph=False):
    from . import grad as autograd_grad
    from ..backend import xp_of
    from ..tensor import Tensor
    outs = _float_outputs(func(*inputs))
    n_out = sum(o._data.size for o in outs)
    jac = [np.zeros((inputs[i]._data.size, n_out)) for i in diff_idx]
    col = 0
    for k, o in enumerate(outs):
        xp = xp_of(o._data)
        for j in range(o._data.size):
            seed = xp.zeros(o._data.shape, dtype=o._data.dtype)
            seed.reshape(-1)[j] = 1
            if o.requires_grad:
                grads = autograd_grad([o], [inputs[i] for i in diff_idx],
                                      [Tensor._make(seed, None, 0, None)], retain_graph=True,
                                      allow_unused=True)
                for r, g in enumerate(grads):
                    if g is not None:
                        if g._data.shape != inputs[diff_idx[r]]._data.shape:
                            raise GradcheckError(f"gradient for input {diff_idx[r]} has shape "
                                                 f"{list(g._data.shape)}, expected "
                                                 f"{list(inputs[diff_idx[r]]._data.shape)}")
                        jac[r][:, col] = _to_numpy(g._data).ravel()
            col += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """True when the analytical gradients of `func` at `inputs` match finite differences.

    Inputs that require grad should be float64. On a mismatch raises GradcheckError
    (or returns False with ``raise_exception=False``) naming the input and the worst entry.
    """
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor with requires_grad=True")
    for i in diff_idx:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; finite differences "
                          f"will be inaccurate", stacklevel=2)
    numerical, outs0 = _numerical_jacobians(func, inputs, diff_idx, eps)
    analytical = _analytical_jacobians(func, inputs, diff_idx)
    bounds = np.cumsum([o._data.size for o in outs0])  # column ranges of the outputs
    for r, i in enumerate(diff_idx):
        a, n = analytical[r], numerical[r]
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            err = np.abs(a - n)
            row, col = np.unravel_index(np.argmax(err), err.shape)
            k = int(np.searchsorted(bounds, col, side="right"))
            col_in_k = int(col - (bounds[k - 1] if k else 0))
            msg = (f"Jacobian mismatch for output {k} with respect to input {i}:\n"
                   f"numerical:{n}\nanalytical:{a}\nworst at input element {int(row)}, output {k} element "
                   f"{col_in_k}: numerical {float(n[row, col])!r} vs analytical {float(a[row, col])!r}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, gen_non_contig_grad_outputs=False, **_ignored):
    """gradcheck of the gradient itself: checks second derivatives through create_graph=True."""
    from ..tensor import Tensor
    from . import grad as autograd_grad
    from .. import creation
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _float_outputs(func(*inputs))
    if grad_outputs is None:
        grad_outputs = [creation.randn(o.shape, dtype=o.dtype, device=o.device).requires_grad_()
                        for o in outs if o.requires_grad]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_grads(*args):
        from .grad_mode import enable_grad
        ins, gos = args[:n_in], args[n_in:]
        with enable_grad():  # also when called for finite differences (under no_grad)
            outs = [o for o in _float_outputs(func(*ins)) if o.requires_grad]
            grads = autograd_grad(outs, [ins[i] for i in diff_idx], gos, create_graph=True,
                                  allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grads, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
