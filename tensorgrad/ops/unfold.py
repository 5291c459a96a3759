"""unfold / fold (torch.nn.functional's, and nn.Unfold / nn.Fold): sliding local blocks of an
image as columns, and columns summed back into an image. The convolution's Im2col and Col2im ops
(ops/conv.py), which are each other's adjoints, so gradients and double backward come with them.
"""
from __future__ import annotations

from ._util import check_tensor
from .conv import Col2im, Geometry, Im2col, _tuple


def _geometry(op, size, kernel_size, dilation, padding, stride, channels):
    k = _tuple(kernel_size, 2, op, "kernel_size")
    d = _tuple(dilation, 2, op, "dilation")
    p = _tuple(padding, 2, op, "padding")
    s = _tuple(stride, 2, op, "stride")
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise RuntimeError(f"{op}: kernel_size, dilation and stride must be positive and padding non-negative, got "
                           f"kernel_size={list(k)}, dilation={list(d)}, padding={list(p)}, stride={list(s)}")
    out = [(size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if min(out) < 1:
        raise RuntimeError(f"{op}: Given input with spatial size {list(size)}, kernel_size={list(k)}, "
                           f"dilation={list(d)}, padding={list(p)}, calculated shape of the array of sliding blocks "
                           f"as {out}, but its components must be at least one.")
    return Geometry(k, s, d, (p[0], p[0], p[1], p[1]), 1, tuple(out))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kh * kw, L): each column one block, L the number of blocks (unbatched
    (C, H, W) -> (C * kh * kw, L))."""
    check_tensor("unfold", input)
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    x = input.unsqueeze(0) if input.dim() == 3 else input
    n, c, h, w = x.shape
    g = _geometry("unfold", (h, w), kernel_size, dilation, padding, stride, c)
    cols = Im2col(g)(x)                                   # (1, C*kh*kw, N*L)
    ck, blocks = cols.shape[1], g.oh * g.ow
    out = cols.reshape(ck, n, blocks).permute(1, 0, 2)
    return out[0] if input.dim() == 3 else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: (N, C * kh * kw, L) columns summed into (N, C, *output_size) images,
    overlapping blocks adding up (unbatched (C * kh * kw, L) -> (C, *output_size))."""
    check_tensor("fold", input)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                           f"(got {input.dim()}D)")
    x = input.unsqueeze(0) if input.dim() == 2 else input
    n, ck, blocks = x.shape
    size = _tuple(output_size, 2, "fold", "output_size")
    k = _tuple(kernel_size, 2, "fold", "kernel_size")
    if ck % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={ck} and kernel_size={tuple(k)}")
    c = ck // (k[0] * k[1])
    g = _geometry("fold", size, k, dilation, padding, stride, c)
    if blocks != g.oh * g.ow:
        raise RuntimeError(f"Given output_size={tuple(size)}, kernel_size={tuple(k)}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {g.oh} * {g.ow} = {g.oh * g.ow}, but got "
                           f"input.size(2)={blocks}.")
    cols = x.permute(1, 0, 2).reshape(1, ck, n * blocks)
    out = Col2im(g, (n, c) + tuple(size))(cols)
    return out[0] if input.dim() == 2 else out


__all__ = ["unfold", "fold"]
