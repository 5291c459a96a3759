// Fused cross entropy / NLL over class indices: log-softmax and the weighted NLL in one pass
// forward, softmax minus the target weights in one pass backward. With log_softmax == 0 the
// same kernels are nll_loss of log-probabilities x: lse is taken as 0 and the softmax term dropped.
// dtypes: float16 float32 float64
//
// Layout: x is (N, C, S) in C order (S = the product of the dims after the class dim; 1 for
// (N, C)), and a "row" r = n * S + s is one position: x[n, c, s] = x[n * C * S + c * S + s].
// target[r] is a class index (int64); weight (C) is used when has_weight. Per row, with
// q_c = valid * w_c * ((1 - eps) [c == t] + eps / C)   (valid: t != ignore_index):
//   lse  = log sum_c exp(x_c)          (max-shifted; an infinite max gives NaN, as log_softmax)
//   loss = -sum_{c: q_c != 0} q_c (x_c - lse)   (terms with q_c == 0 skipped: -inf logits of other
//                                               classes give no NaN, as PyTorch's gather)
//   wt   = valid * w_t                  (the denominator of reduction='mean')
//   sumq = sum_c q_c                    (saved for backward)
//   dx_c = g_r (exp(x_c - lse) sumq - q_c)      (nll_loss: dx_c = -g_r q_c)
// The math matches class_loss_forward_ref / class_loss_backward_ref in tensorgrad/fused/loss.py.
// A target outside [0, C) that is not ignore_index gives a NaN loss row (the op checks it without
// a host sync: tensorgrad/device_checks.py).
// One thread per row forward: the op uses this kernel for C <= 1024 only (classifier heads),
// where a row is a few cache lines; wider rows take the composed CuPy path.
#include "common.cuh"

__device__ __forceinline__ float tg_log(float x) { return logf(x); }
__device__ __forceinline__ double tg_log(double x) { return log(x); }

__device__ __forceinline__ acc_t tg_class_weight(const scalar_t* weight, long long c, int has_weight) {
    return has_weight ? tg_load(weight[c]) : (acc_t)1;
}

extern "C" __global__ void class_loss_forward(const scalar_t* __restrict__ x, const long long* __restrict__ target,
                                              const scalar_t* __restrict__ weight, acc_t* __restrict__ loss,
                                              acc_t* __restrict__ wt, acc_t* __restrict__ lse,
                                              acc_t* __restrict__ sumq, long long rows, long long C,
                                              long long S, long long ignore_index, acc_t eps, int has_weight,
                                              int log_softmax) {
    TG_FOR_EACH(r, rows) {
        const scalar_t* xr = x + (r / S) * C * S + r % S;
        acc_t l = 0;
        if (log_softmax) {
            acc_t m = -TG_INF;
            for (long long c = 0; c < C; ++c) {
                acc_t v = tg_load(xr[c * S]);
                if (v > m || v != v) m = v;  // NaN wins and stays
            }
            if (tg_isinf(m)) m = TG_NAN;  // all -inf, or a +inf logit: NaN, as log_softmax
            acc_t s = 0;
            for (long long c = 0; c < C; ++c) s += tg_exp(tg_load(xr[c * S]) - m);
            l = m + tg_log(s);
        }
        long long t = target[r];
        acc_t out = 0, w_t = 0, q_sum = 0;
        if (t != ignore_index) {
            if (t < 0 || t >= C) {
                out = TG_NAN;  // out of range: reported by the op's deferred check
            } else {
                w_t = tg_class_weight(weight, t, has_weight);
                acc_t smooth = eps / (acc_t)C;
                for (long long c = 0; c < C; ++c) {
                    acc_t q = tg_class_weight(weight, c, has_weight) * ((c == t ? (acc_t)1 - eps : (acc_t)0) + smooth);
                    q_sum += q;
                    if (q != 0) out -= q * (tg_load(xr[c * S]) - l);
                }
            }
        }
        loss[r] = out;
        wt[r] = w_t;
        lse[r] = l;
        sumq[r] = q_sum;
    }
}

// One thread per element of x (n = N * C * S); g has one value per row (g_stride 1) or one in all
// (g_stride 0: reduction 'mean' or 'sum', with the mean's 1/denominator already applied).
extern "C" __global__ void class_loss_backward(const scalar_t* __restrict__ x, const long long* __restrict__ target,
                                               const scalar_t* __restrict__ weight, const acc_t* __restrict__ lse,
                                               const acc_t* __restrict__ sumq, const acc_t* __restrict__ g,
                                               scalar_t* __restrict__ dx, long long n, long long C, long long S,
                                               long long ignore_index, long long g_stride, acc_t eps,
                                               int has_weight, int log_softmax) {
    TG_FOR_EACH(i, n) {
        long long s = i % S, c = (i / S) % C, r = (i / (S * C)) * S + s;
        long long t = target[r];
        acc_t q = 0;
        if (t != ignore_index && t >= 0 && t < C)
            q = tg_class_weight(weight, c, has_weight) * ((c == t ? (acc_t)1 - eps : (acc_t)0) + eps / (acc_t)C);
        acc_t p = log_softmax ? tg_exp(tg_load(x[i]) - lse[r]) * sumq[r] : (acc_t)0;
        dx[i] = tg_store(g[r * g_stride] * (p - q));
    }
}
