// Fused pointwise math of one LSTM / GRU step, forward and backward.
// dtypes: float16 float32 float64
//
// Same math as the NumPy references in tensorgrad/rnn_cells.py (read that docstring for the
// formulas). One thread per (batch row b, hidden unit j), n = B * H threads in all: a thread
// reads its unit's gate pre-activations from every block (PyTorch's order: LSTM i, f, g, o;
// GRU r, z, n), so outputs may overwrite inputs at the same index (act == z, dc_prev == dc).
// All arrays are C-contiguous (B, k*H). sigmoid(x) = (1 + tanh(x/2)) / 2, as on the CPU.
#include "common.cuh"

__device__ __forceinline__ acc_t tg_sigmoid(acc_t x) {
    return (acc_t)0.5 + (acc_t)0.5 * tg_tanh((acc_t)0.5 * x);
}

extern "C" __global__ void lstm_cell_forward(const scalar_t* z, const scalar_t* __restrict__ c_prev,
                                             scalar_t* act, scalar_t* __restrict__ h,
                                             scalar_t* __restrict__ c, long long n, long long hid) {
    TG_FOR_EACH(k, n) {
        long long b = k / hid, j = k - b * hid;
        long long base = b * 4 * hid + j;
        acc_t i = tg_sigmoid(tg_load(z[base]));
        acc_t f = tg_sigmoid(tg_load(z[base + hid]));
        acc_t g = tg_tanh(tg_load(z[base + 2 * hid]));
        acc_t o = tg_sigmoid(tg_load(z[base + 3 * hid]));
        acc_t cv = f * tg_load(c_prev[k]) + i * g;
        act[base] = tg_store(i);
        act[base + hid] = tg_store(f);
        act[base + 2 * hid] = tg_store(g);
        act[base + 3 * hid] = tg_store(o);
        c[k] = tg_store(cv);
        h[k] = tg_store(o * tg_tanh(cv));
    }
}

extern "C" __global__ void lstm_cell_backward(const scalar_t* __restrict__ act, const scalar_t* __restrict__ c_prev,
                                              const scalar_t* __restrict__ c, const scalar_t* __restrict__ dh,
                                              const scalar_t* dc, scalar_t* __restrict__ dz, scalar_t* dc_prev,
                                              long long n, long long hid) {
    TG_FOR_EACH(k, n) {
        long long b = k / hid, j = k - b * hid;
        long long base = b * 4 * hid + j;
        acc_t i = tg_load(act[base]), f = tg_load(act[base + hid]);
        acc_t g = tg_load(act[base + 2 * hid]), o = tg_load(act[base + 3 * hid]);
        acc_t tc = tg_tanh(tg_load(c[k]));
        acc_t gh = tg_load(dh[k]);
        acc_t dct = tg_load(dc[k]) + gh * o * ((acc_t)1 - tc * tc);
        dz[base] = tg_store(dct * g * i * ((acc_t)1 - i));
        dz[base + hid] = tg_store(dct * tg_load(c_prev[k]) * f * ((acc_t)1 - f));
        dz[base + 2 * hid] = tg_store(dct * i * ((acc_t)1 - g * g));
        dz[base + 3 * hid] = tg_store(gh * tc * o * ((acc_t)1 - o));
        dc_prev[k] = tg_store(dct * f);
    }
}

extern "C" __global__ void gru_cell_forward(const scalar_t* gi, const scalar_t* __restrict__ gh,
                                            const scalar_t* __restrict__ h_prev, scalar_t* act,
                                            scalar_t* __restrict__ h, long long n, long long hid) {
    TG_FOR_EACH(k, n) {
        long long b = k / hid, j = k - b * hid;
        long long base = b * 3 * hid + j;
        acc_t r = tg_sigmoid(tg_load(gi[base]) + tg_load(gh[base]));
        acc_t z = tg_sigmoid(tg_load(gi[base + hid]) + tg_load(gh[base + hid]));
        acc_t nv = tg_tanh(tg_load(gi[base + 2 * hid]) + r * tg_load(gh[base + 2 * hid]));
        act[base] = tg_store(r);
        act[base + hid] = tg_store(z);
        act[base + 2 * hid] = tg_store(nv);
        h[k] = tg_store(nv + z * (tg_load(h_prev[k]) - nv));
    }
}

extern "C" __global__ void gru_cell_backward(const scalar_t* __restrict__ act, const scalar_t* __restrict__ gh_n,
                                             const scalar_t* __restrict__ h_prev, const scalar_t* dh,
                                             scalar_t* __restrict__ dgi, scalar_t* __restrict__ dgh,
                                             scalar_t* dh_prev, long long n, long long hid) {
    TG_FOR_EACH(k, n) {
        long long b = k / hid, j = k - b * hid;
        long long base = b * 3 * hid + j;
        acc_t r = tg_load(act[base]), z = tg_load(act[base + hid]), nv = tg_load(act[base + 2 * hid]);
        acc_t g = tg_load(dh[k]);
        acc_t dn = g * ((acc_t)1 - z) * ((acc_t)1 - nv * nv);
        acc_t dz = g * (tg_load(h_prev[k]) - nv) * z * ((acc_t)1 - z);
        acc_t dr = dn * tg_load(gh_n[k]) * r * ((acc_t)1 - r);
        dgi[base] = tg_store(dr);
        dgi[base + hid] = tg_store(dz);
        dgi[base + 2 * hid] = tg_store(dn);
        dgh[base] = tg_store(dr);
        dgh[base + hid] = tg_store(dz);
        dgh[base + 2 * hid] = tg_store(dn * r);
        dh_prev[k] = tg_store(g * z);
    }
}
