// Fused softmax / log_softmax over one dim: one launch forward, one launch backward.
// dtypes: float16 float32 float64
//
// Layout: x is (O, D, I) in C order, the dim to normalize being the middle one (O = the product of
// the dims before it, I = of the dims after it; any dim of a C-contiguous array, no transpose). A
// "row" r = o * I + i is one position: its elements are x[o * D * I + d * I + i], d = 0..D-1, at
// stride I. Per row, in acc_t (float for float16, the dtype itself otherwise):
//   m   = max_d x_d                  (NaN if any x_d is NaN; an infinite max, i.e. a +inf logit or
//                                     a row of -inf only, is replaced by NaN: the row is all NaN,
//                                     as PyTorch and the composed ops give, quietly)
//   s   = sum_d exp(x_d - m)
//   softmax      y_d = exp(x_d - m) / s
//   log_softmax  y_d = (x_d - m) - log(s)
// Backward from the saved output y and the incoming gradient g (same layout and dtype):
//   softmax      dx_d = y_d (g_d - sum_k g_k y_k)
//   log_softmax  dx_d = g_d - exp(y_d) sum_k g_k
// The math matches the references in tensorgrad/fused/softmax.py.
// One thread per row: the dispatcher uses these kernels for D <= 1024 only (classifier heads,
// attention rows of modest length), where a row is a few cache lines; for I > 1 neighbouring
// threads read neighbouring addresses. Wider rows take the references on CuPy arrays.
#include "common.cuh"

__device__ __forceinline__ float tg_log(float x) { return logf(x); }
__device__ __forceinline__ double tg_log(double x) { return log(x); }

// The row's max, NaN when the row has a NaN or its max is infinite.
__device__ __forceinline__ acc_t tg_row_shift(const scalar_t* xr, long long D, long long I) {
    acc_t m = -TG_INF;
    for (long long d = 0; d < D; ++d) m = tg_max(m, tg_load(xr[d * I]));  // NaN wins and stays
    return tg_isinf(m) ? TG_NAN : m;
}

__device__ __forceinline__ acc_t tg_row_sumexp(const scalar_t* xr, long long D, long long I, acc_t m) {
    acc_t s = 0;
    for (long long d = 0; d < D; ++d) s += tg_exp(tg_load(xr[d * I]) - m);
    return s;
}

extern "C" __global__ void softmax_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y,
                                           long long rows, long long D, long long I) {
    TG_FOR_EACH(r, rows) {
        long long base = (r / I) * D * I + r % I;
        const scalar_t* xr = x + base;
        scalar_t* yr = y + base;
        acc_t m = tg_row_shift(xr, D, I);
        acc_t s = tg_row_sumexp(xr, D, I, m);
        for (long long d = 0; d < D; ++d) yr[d * I] = tg_store(tg_exp(tg_load(xr[d * I]) - m) / s);
    }
}

extern "C" __global__ void log_softmax_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y,
                                               long long rows, long long D, long long I) {
    TG_FOR_EACH(r, rows) {
        long long base = (r / I) * D * I + r % I;
        const scalar_t* xr = x + base;
        scalar_t* yr = y + base;
        acc_t m = tg_row_shift(xr, D, I);
        acc_t l = tg_log(tg_row_sumexp(xr, D, I, m));
        for (long long d = 0; d < D; ++d) yr[d * I] = tg_store((tg_load(xr[d * I]) - m) - l);
    }
}

extern "C" __global__ void softmax_backward(const scalar_t* __restrict__ y, const scalar_t* __restrict__ g,
                                            scalar_t* __restrict__ dx, long long rows, long long D, long long I) {
    TG_FOR_EACH(r, rows) {
        long long base = (r / I) * D * I + r % I;
        const scalar_t* yr = y + base;
        const scalar_t* gr = g + base;
        acc_t s = 0;
        for (long long d = 0; d < D; ++d) s += tg_load(gr[d * I]) * tg_load(yr[d * I]);
        for (long long d = 0; d < D; ++d) dx[base + d * I] = tg_store(tg_load(yr[d * I]) * (tg_load(gr[d * I]) - s));
    }
}

extern "C" __global__ void log_softmax_backward(const scalar_t* __restrict__ y, const scalar_t* __restrict__ g,
                                                scalar_t* __restrict__ dx, long long rows, long long D,
                                                long long I) {
    TG_FOR_EACH(r, rows) {
        long long base = (r / I) * D * I + r % I;
        const scalar_t* yr = y + base;
        const scalar_t* gr = g + base;
        acc_t s = 0;
        for (long long d = 0; d < D; ++d) s += tg_load(gr[d * I]);
        for (long long d = 0; d < D; ++d) dx[base + d * I] = tg_store(tg_load(gr[d * I]) - tg_exp(tg_load(yr[d * I])) * s);
    }
}
