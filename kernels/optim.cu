// Optimizer updates fused: one pass over a parameter's elements per step, and the *_multi forms
// that update many parameters (same dtype and hyper-parameters) in one launch.
// dtypes: float16 float32 float64
//
// Same math as the NumPy references in tensorgrad/optim/_fused.py, which follow torch.optim's
// single-tensor SGD and Adam/AdamW step by step. Hyper-parameters come in as acc_t (float for
// float16 and float32: no double math on the device), with the host forming 1 - beta and the
// like; flags are ints. Every array is C-contiguous with n elements; state buffers (momentum,
// exp_avg, ...) are updated in place, then the parameter.
#include "common.cuh"

// SGD: d = grad (negated when maximizing) + weight_decay * p; with momentum, buf = d on the first
// step, else momentum * buf + (1 - dampening) * d, and d = buf (or d + momentum * buf, Nesterov);
// p -= lr * d.  `use_buf` 0: no momentum (buf is not read).
__device__ __forceinline__ void sgd_element(scalar_t* p, const scalar_t* g, scalar_t* buf, long long i, acc_t lr,
                                            acc_t momentum, acc_t one_minus_dampening, acc_t weight_decay,
                                            int use_buf, int first, int nesterov, int maximize) {
    acc_t pv = tg_load(p[i]);
    acc_t d = tg_load(g[i]);
    if (maximize) d = -d;
    if (weight_decay != (acc_t)0) d += weight_decay * pv;
    if (use_buf) {
        acc_t b = first ? d : momentum * tg_load(buf[i]) + one_minus_dampening * d;
        buf[i] = tg_store(b);
        d = nesterov ? d + momentum * b : b;
    }
    p[i] = tg_store(pv - lr * d);
}

extern "C" __global__ void sgd_step(scalar_t* __restrict__ p, const scalar_t* __restrict__ g,
                                    scalar_t* __restrict__ buf, long long n, acc_t lr, acc_t momentum,
                                    acc_t one_minus_dampening, acc_t weight_decay, int use_buf, int first,
                                    int nesterov, int maximize) {
    TG_FOR_EACH(i, n) {
        sgd_element(p, g, buf, i, lr, momentum, one_minus_dampening, weight_decay, use_buf, first, nesterov,
                    maximize);
    }
}

// Many parameters in one launch: `table` holds, per parameter t, the addresses of p, g and buf
// (3 int64 each) and `sizes` its element count; blockIdx.y walks the parameters (stride
// gridDim.y), blockIdx.x and the threads walk one parameter's elements.
extern "C" __global__ void sgd_step_multi(const long long* __restrict__ table, const long long* __restrict__ sizes,
                                          long long tensors, acc_t lr, acc_t momentum, acc_t one_minus_dampening,
                                          acc_t weight_decay, int use_buf, int first, int nesterov, int maximize) {
    for (long long t = blockIdx.y; t < tensors; t += gridDim.y) {
        scalar_t* p = (scalar_t*)table[3 * t];
        const scalar_t* g = (const scalar_t*)table[3 * t + 1];
        scalar_t* buf = (scalar_t*)table[3 * t + 2];
        TG_FOR_EACH(i, sizes[t]) {
            sgd_element(p, g, buf, i, lr, momentum, one_minus_dampening, weight_decay, use_buf, first, nesterov,
                        maximize);
        }
    }
}

// Adam / AdamW: g (negated when maximizing); decoupled decay p *= 1 - lr * wd (`decay_factor`),
// else g += wd * p; m = lerp(m, g, 1 - beta1) (PyTorch's two-sided lerp formula);
// v = beta2 v + (1 - beta2) g^2; amsgrad: vmax = max(vmax, v), used for v;
// p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), with step_size = lr / (1 - beta1^t) and
// bc2_sqrt = sqrt(1 - beta2^t) from the host.
__device__ __forceinline__ void adam_element(scalar_t* p, const scalar_t* g, scalar_t* m, scalar_t* v,
                                             scalar_t* vmax, long long i, acc_t one_minus_beta1, acc_t beta2,
                                             acc_t one_minus_beta2, acc_t eps, acc_t weight_decay,
                                             acc_t decay_factor, acc_t step_size, acc_t bc2_sqrt, int decoupled,
                                             int amsgrad, int maximize) {
    acc_t pv = tg_load(p[i]);
    acc_t gr = tg_load(g[i]);
    if (maximize) gr = -gr;
    if (weight_decay != (acc_t)0) {
        if (decoupled) pv *= decay_factor;
        else gr += weight_decay * pv;
    }
    acc_t w = one_minus_beta1;
    acc_t mv = tg_load(m[i]);
    mv = (w < (acc_t)0.5) ? mv + w * (gr - mv) : gr - (gr - mv) * ((acc_t)1 - w);
    acc_t vv = tg_load(v[i]) * beta2 + one_minus_beta2 * (gr * gr);
    m[i] = tg_store(mv);
    v[i] = tg_store(vv);
    if (amsgrad) {
        vv = tg_max(tg_load(vmax[i]), vv);
        vmax[i] = tg_store(vv);
    }
    acc_t denom = tg_sqrt(vv) / bc2_sqrt + eps;
    p[i] = tg_store(pv - step_size * mv / denom);
}

extern "C" __global__ void adam_step(scalar_t* __restrict__ p, const scalar_t* __restrict__ g,
                                     scalar_t* __restrict__ m, scalar_t* __restrict__ v,
                                     scalar_t* __restrict__ vmax, long long n, acc_t one_minus_beta1,
                                     acc_t beta2, acc_t one_minus_beta2, acc_t eps, acc_t weight_decay,
                                     acc_t decay_factor, acc_t step_size, acc_t bc2_sqrt, int decoupled,
                                     int amsgrad, int maximize) {
    TG_FOR_EACH(i, n) {
        adam_element(p, g, m, v, vmax, i, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                     step_size, bc2_sqrt, decoupled, amsgrad, maximize);
    }
}

// Many parameters in one launch, as sgd_step_multi: 5 addresses per parameter (p, g, m, v, vmax).
extern "C" __global__ void adam_step_multi(const long long* __restrict__ table, const long long* __restrict__ sizes,
                                           long long tensors, acc_t one_minus_beta1, acc_t beta2,
                                           acc_t one_minus_beta2, acc_t eps, acc_t weight_decay, acc_t decay_factor,
                                           acc_t step_size, acc_t bc2_sqrt, int decoupled, int amsgrad,
                                           int maximize) {
    for (long long t = blockIdx.y; t < tensors; t += gridDim.y) {
        const long long* a = table + 5 * t;
        TG_FOR_EACH(i, sizes[t]) {
            adam_element((scalar_t*)a[0], (const scalar_t*)a[1], (scalar_t*)a[2], (scalar_t*)a[3], (scalar_t*)a[4], i,
                         one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor, step_size,
                         bc2_sqrt, decoupled, amsgrad, maximize);
        }
    }
}
