// im2col and col2im of a 2-D convolution as gathers: one thread per output element, no atomics,
// so the result is deterministic. The padding is read (im2col) or cropped (col2im) in place.
// dtypes: float16 float32 float64
//
// Layouts (C order): x is (N, C, H, W); the columns are (C, KH, KW, N, OH, OW), the layout of
// _im2col / _col2im in tensorgrad/ops/conv.py, whose NumPy code is these kernels' reference.
// Window (oy, ox) with kernel offset (i, j) reads x at
//   y = oy * sh + i * dh - pad_top,  x = ox * sw + j * dw - pad_left,
// or pad_value where that is outside the image.
#include "common.cuh"

extern "C" __global__ void im2col(const scalar_t* __restrict__ x, scalar_t* __restrict__ cols, long long total,
                                  long long N, long long C, long long H, long long W, long long KH, long long KW,
                                  long long OH, long long OW, long long sh, long long sw, long long dh, long long dw,
                                  long long pad_top, long long pad_left, acc_t pad_value) {
    TG_FOR_EACH(e, total) {
        long long ox = e % OW, oy = (e / OW) % OH, n = (e / (OW * OH)) % N;
        long long j = (e / (OW * OH * N)) % KW, i = (e / (OW * OH * N * KW)) % KH, c = e / (OW * OH * N * KW * KH);
        long long y = oy * sh + i * dh - pad_top, xx = ox * sw + j * dw - pad_left;
        cols[e] = (y >= 0 && y < H && xx >= 0 && xx < W) ? x[((n * C + c) * H + y) * W + xx] : tg_store(pad_value);
    }
}

// Each input element sums the column entries that read it: for kernel row i, the window row is
// oy = (y + pad_top - i * dh) / sh where that divides exactly and lands in [0, OH); same for x.
extern "C" __global__ void col2im(const scalar_t* __restrict__ cols, scalar_t* __restrict__ x, long long total,
                                  long long N, long long C, long long H, long long W, long long KH, long long KW,
                                  long long OH, long long OW, long long sh, long long sw, long long dh, long long dw,
                                  long long pad_top, long long pad_left) {
    TG_FOR_EACH(e, total) {
        long long xx = e % W, y = (e / W) % H, c = (e / (W * H)) % C, n = e / (W * H * C);
        acc_t s = 0;
        for (long long i = 0; i < KH; ++i) {
            long long ty = y + pad_top - i * dh;
            if (ty < 0 || ty % sh != 0 || ty / sh >= OH) continue;
            long long oy = ty / sh;
            for (long long j = 0; j < KW; ++j) {
                long long tx = xx + pad_left - j * dw;
                if (tx < 0 || tx % sw != 0 || tx / sw >= OW) continue;
                s += tg_load(cols[((((c * KH + i) * KW + j) * N + n) * OH + oy) * OW + tx / sw]);
            }
        }
        x[e] = tg_store(s);
    }
}
