"""im2col / col2im gathers (kernels/im2col.cu) against the NumPy reference in ops/conv.py: compiled
for the host (tests/test_kernels_on_host.py's harness) here, and on a GPU through CuPy."""
from __future__ import annotations

import numpy as np
import pytest

from tensorgrad.ops.conv import Geometry, _col2im, _im2col
from oracle import rand
from test_kernels_on_host import _call, host_library  # noqa: F401  (host_library is a fixture)

# (N, C, H, W), kernel, stride, dilation, pads (top, bottom, left, right), groups
CASES = [((2, 3, 7, 6), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1),
         ((2, 4, 8, 9), (3, 2), (2, 3), (1, 1), (1, 2, 0, 1), 2),
         ((1, 2, 9, 9), (3, 3), (1, 2), (2, 1), (2, 2, 1, 1), 1),
         ((3, 1, 5, 5), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),
         ((1, 2, 4, 4), (4, 4), (3, 3), (1, 1), (3, 3, 3, 3), 1)]


def _geometry(shape, k, s, d, pads, groups):
    n, c, h, w = shape
    oh = (h + pads[0] + pads[1] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + pads[2] + pads[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return Geometry(k, s, d, pads, groups, (oh, ow))


def _args(shape, g):
    n, c, h, w = shape
    return (n, c, h, w, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pads[0], g.pads[2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_host_kernels_match_the_reference(host_library, dtype, case):
    lib = host_library("im2col", dtype)
    shape = case[0]
    g = _geometry(*case)
    x = rand(*shape, dtype=dtype)
    for pad_value in (0.0, -np.inf):
        want = _im2col(x, g, pad_value)
        cols = np.empty((shape[1], g.kh, g.kw, shape[0], g.oh, g.ow), dtype)
        _call(lib, "im2col", [x, cols], cols.size, *_args(shape, g), reals=(pad_value,))
        np.testing.assert_array_equal(cols.reshape(want.shape), want)
    c = rand(*want.shape, dtype=dtype)
    back = np.empty(shape, dtype)
    _call(lib, "col2im", [np.ascontiguousarray(c), back], back.size, *_args(shape, g))
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(back, _col2im(c, g, shape), **tol)
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>
    assert np.isclose((_im2col(x, g) * c).sum(), (x * back).sum(), rtol=1e-5)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_cuda_kernels_match_the_reference(device, dtype, case):
    if device != "cuda":
        pytest.skip("CUDA kernels: the cpu case is the reference itself")
    import cupy as cp
    from tensorgrad.fused import im2col as F
    shape = case[0]
    g = _geometry(*case)
    x = rand(*shape, dtype=dtype)
    np.testing.assert_array_equal(F.im2col(cp.asarray(x), g, 0.0).get(), _im2col(x, g))
    c = rand(*_im2col(x, g).shape, dtype=dtype)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(F.col2im(cp.asarray(c), g, shape).get().astype(np.float64),
                               _col2im(c, g, shape).astype(np.float64), **tol)
    out = cp.zeros(shape, dtype)
    assert F.col2im(cp.asarray(c), g, shape, out=out) is out
