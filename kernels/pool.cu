// Max pooling 2-D: the forward with its argmax, and the backward as a gather (no atomics, so the
// result is deterministic).
// dtypes: float16 float32 float64
//
// Layouts (C order): x and dx are (N, C, H, W); y, argmax and dy are (N, C, OH, OW), one plane
// per (n, c). The argmax is the flat index h * W + w of the window's maximum in its input plane
// (PyTorch's return_indices), int64. Window (oy, ox) with kernel offset (i, j) reads
//   h = oy * sh + i * dh - pad_top,  w = ox * sw + j * dw - pad_left;
// positions outside the input are padding, which never wins. The NumPy reference with the same
// results is tensorgrad/fused/pool.py.
#include "common.cuh"

// One thread per output element. Ties keep the first maximum in row-major window order (only a
// strictly greater value replaces it); a NaN always replaces it (torch's `val > max || isnan(val)`,
// so the last NaN of a window wins). The search starts from -inf at the first in-bounds position,
// as torch does, so a window of -inf values points into the input, never at padding.
// y is copied from x at the argmax: bit-exact, NaN payloads included.
extern "C" __global__ void max_pool2d_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y,
                                              long long* __restrict__ argmax, long long total, long long H,
                                              long long W, long long OH, long long OW, long long KH, long long KW,
                                              long long sh, long long sw, long long dh, long long dw,
                                              long long pad_top, long long pad_left) {
    TG_FOR_EACH(e, total) {
        long long ox = e % OW, oy = (e / OW) % OH, plane = e / (OW * OH);
        const scalar_t* xp = x + plane * H * W;
        long long h0 = oy * sh - pad_top, w0 = ox * sw - pad_left;
        // the first kernel row / column inside the input: skip the padding in steps of the dilation
        long long i0 = h0 < 0 ? (-h0 + dh - 1) / dh : 0, j0 = w0 < 0 ? (-w0 + dw - 1) / dw : 0;
        long long best = (h0 + i0 * dh) * W + (w0 + j0 * dw);
        acc_t m = -TG_INF;
        for (long long i = i0; i < KH; ++i) {
            long long h = h0 + i * dh;
            if (h >= H) break;  // the rest of the window is bottom padding
            for (long long j = j0; j < KW; ++j) {
                long long w = w0 + j * dw;
                if (w >= W) break;
                acc_t v = tg_load(xp[h * W + w]);
                if (v > m || v != v) {
                    m = v;
                    best = h * W + w;
                }
            }
        }
        // a window with no input position (possible only with dilation: its taps straddle a tiny
        // input) is -inf, and its index is torch's search start, outside the plane; the backward,
        // which visits only windows that contain an element, never sends it a gradient
        bool empty = i0 >= KH || j0 >= KW || h0 + i0 * dh >= H || w0 + j0 * dw >= W;
        y[e] = empty ? tg_store(-TG_INF) : xp[best];
        argmax[e] = best;
    }
}

// One thread per input element: it sums dy over the windows whose argmax is this element. Only
// windows that contain it are visited: for kernel row i the window row is
// oy = (h + pad_top - i * dh) / sh, where that divides exactly and lands in [0, OH) (with dilation
// > 1, the rows between two taps are in no window of that offset); the same for columns. Kernel
// offsets are walked last to first, so the windows come in row-major order (oy, ox ascending):
// the order the reference adds them in.
extern "C" __global__ void max_pool2d_backward(const scalar_t* __restrict__ dy, const long long* __restrict__ argmax,
                                               scalar_t* __restrict__ dx, long long total, long long H, long long W,
                                               long long OH, long long OW, long long KH, long long KW, long long sh,
                                               long long sw, long long dh, long long dw, long long pad_top,
                                               long long pad_left) {
    TG_FOR_EACH(e, total) {
        long long w = e % W, h = (e / W) % H, plane = e / (W * H);
        long long here = h * W + w;
        const scalar_t* gp = dy + plane * OH * OW;
        const long long* ap = argmax + plane * OH * OW;
        acc_t s = 0;
        for (long long i = KH - 1; i >= 0; --i) {
            long long ty = h + pad_top - i * dh;
            if (ty < 0 || ty % sh != 0) continue;
            long long oy = ty / sh;
            if (oy >= OH) break;  // smaller i: later rows, also past the output
            for (long long j = KW - 1; j >= 0; --j) {
                long long tx = w + pad_left - j * dw;
                if (tx < 0 || tx % sw != 0) continue;
                long long ox = tx / sw;
                if (ox >= OW) break;
                long long o = oy * OW + ox;
                if (ap[o] == here) s += tg_load(gp[o]);
            }
        }
        dx[e] = tg_store(s);
    }
}
