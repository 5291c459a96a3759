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
// A target outside [0, C) that is not ignore_index gives a NaN loss row; class_loss_reduce below
// finds the first such target for the op's check (deferred, no host sync: tensorgrad/device_checks.py).
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

// The op's reduction of the forward's rows, and its target check, in one launch of ONE block of
// TG_REDUCE_THREADS threads (blockDim.x a power of two, at most that): each thread strides over
// the rows, then a tree in shared memory combines the threads.
//   reduction 1 ('sum'):  out = sum_r loss[r]
//   reduction 2 ('mean'): out = sum_r loss[r] / denom, scale = denom != 0 ? 1 / denom : 0
//                         (denom = sum_r wt[r]; all ignored: out 0/0 = NaN, scale 0, as PyTorch)
//   reduction 0 ('none'): no sums (the op returns the loss rows); only the check
//   check:   bad = whether some row's target is neither ignore_index nor in [0, C), bad_value =
//            the first such target in row order (the C order of the target array), else 0
// out is in the input's dtype, scale in acc_t. The sums are compensated (Neumaier) in acc_t, so
// a float32 total is as close as NumPy's pairwise float32 sum (the reference) or closer; a NaN
// or an infinite row gives the plain sum's NaN or inf (the compensation is then dropped).
// Pointers a call does not use (scale unless 'mean', bad and bad_value unless check) are never
// touched.
#define TG_REDUCE_THREADS 256

__device__ __forceinline__ acc_t tg_abs(acc_t v) { return v < 0 ? -v : v; }

// s + c += v, c collecting the low-order bits that s + v rounds off
__device__ __forceinline__ void tg_sum_add(acc_t& s, acc_t& c, acc_t v) {
    acc_t t = s + v;
    c += tg_abs(s) >= tg_abs(v) ? (s - t) + v : (v - t) + s;
    s = t;
}

__device__ __forceinline__ acc_t tg_sum_value(acc_t s, acc_t c) {
    return s - s == (acc_t)0 ? s + c : s;  // s NaN or inf: c may be NaN, s is the answer
}

extern "C" __global__ void class_loss_reduce(const acc_t* __restrict__ loss, const acc_t* __restrict__ wt,
                                             const long long* __restrict__ target, scalar_t* __restrict__ out,
                                             acc_t* __restrict__ scale, bool* __restrict__ bad,
                                             long long* __restrict__ bad_value, long long rows, long long C,
                                             long long ignore_index, int reduction, int check) {
    __shared__ acc_t s_loss[TG_REDUCE_THREADS], c_loss[TG_REDUCE_THREADS];
    __shared__ acc_t s_wt[TG_REDUCE_THREADS], c_wt[TG_REDUCE_THREADS];
    __shared__ long long s_first[TG_REDUCE_THREADS];
    const int tid = (int)threadIdx.x;
    acc_t ls = 0, lc = 0, ws = 0, wc = 0;
    long long first = rows;  // none yet; a thread's rows increase, so its first hit is its least
    for (long long r = tid; r < rows; r += blockDim.x) {
        if (reduction != 0) tg_sum_add(ls, lc, loss[r]);
        if (reduction == 2) tg_sum_add(ws, wc, wt[r]);
        if (check && first == rows) {
            long long t = target[r];
            if (t != ignore_index && (t < 0 || t >= C)) first = r;
        }
    }
    s_loss[tid] = ls;
    c_loss[tid] = lc;
    s_wt[tid] = ws;
    c_wt[tid] = wc;
    s_first[tid] = first;
    __syncthreads();
    for (int k = (int)blockDim.x / 2; k > 0; k >>= 1) {
        if (tid < k) {
            c_loss[tid] += c_loss[tid + k];
            tg_sum_add(s_loss[tid], c_loss[tid], s_loss[tid + k]);
            c_wt[tid] += c_wt[tid + k];
            tg_sum_add(s_wt[tid], c_wt[tid], s_wt[tid + k]);
            if (s_first[tid + k] < s_first[tid]) s_first[tid] = s_first[tid + k];
        }
        __syncthreads();
    }
    if (tid == 0) {
        acc_t total = tg_sum_value(s_loss[0], c_loss[0]), denom = tg_sum_value(s_wt[0], c_wt[0]);
        if (reduction == 1) {
            out[0] = tg_store(total);
        } else if (reduction == 2) {
            out[0] = tg_store(total / denom);
            scale[0] = denom != 0 ? (acc_t)1 / denom : (acc_t)0;
        }
        if (check) {
            bad[0] = s_first[0] < rows;
            bad_value[0] = s_first[0] < rows ? target[s_first[0]] : 0;
        }
    }
}
