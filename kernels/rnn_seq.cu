// A whole recurrent layer's time loop (one layer, one direction) in one launch each way: LSTM, GRU.
// dtypes: float16 float32 float64
//
// Same math and layouts as the NumPy references in tensorgrad/fused/rnn_seq.py (read that
// docstring). One block per batch row (grid-stride over rows), the block's threads over the hidden
// units (block-stride over units); the steps run in order inside the block, so a step's recurrent
// product h_{t-1} W_hh^T needs only the row's own previous state, kept in shared memory.
//   T, B, H     steps, batch rows, hidden units; G gate columns in PyTorch's order: LSTM 4H
//               (i, f, g, o), GRU 3H (r, z, n)
//   sizes[t]    rows running at step t (non-increasing in t; a row b >= sizes[t] skips step t and
//               keeps its state); `reverse` walks the steps from T-1 down to 0
// Running states live where one thread owns them (c_n, dh, dc: element (b, j) is only ever touched
// by the thread of unit j), stored as scalar_t between steps as the per-step op stores them;
// every sum is in acc_t. Dynamic shared memory: forward 2H acc_t (h double-buffered), backward
// G acc_t (the step's gradients of the recurrent gate part). __launch_bounds__(1024): a block of 1024 threads (H up to
// 1024) must fit the registers of one SM, whatever the dtype.
#include "common.cuh"

extern __shared__ double tg_smem[];  // dynamic shared memory, 8-byte aligned, used as acc_t

__device__ __forceinline__ acc_t seq_sigmoid(acc_t x) {
    return (acc_t)0.5 + (acc_t)0.5 * tg_tanh((acc_t)0.5 * x);
}

// pre (T, B, G): in, x_t W_ih^T + b_ih + b_hh; out, the activated gates of the rows each step ran
// w_hh_t (H, G): W_hh transposed, C-contiguous (thread j reads column g*H + j: coalesced)
// h0, c0 (B, H); y, c_seq (T, B, H): each step's h and c (rows a step skips are not written)
// h_n, c_n (B, H): the final states (c_n also the running cell state)
extern "C" __global__ __launch_bounds__(1024) void lstm_seq_forward(scalar_t* pre, const scalar_t* __restrict__ w_hh_t,
                                            const scalar_t* __restrict__ h0, const scalar_t* __restrict__ c0,
                                            const long long* __restrict__ sizes, scalar_t* __restrict__ y,
                                            scalar_t* __restrict__ c_seq, scalar_t* __restrict__ h_n,
                                            scalar_t* __restrict__ c_n, long long t_len, long long batch,
                                            long long hid, int reverse) {
    acc_t* hbuf = reinterpret_cast<acc_t*>(tg_smem);
    const long long gates = 4 * hid;
    for (long long b = blockIdx.x; b < batch; b += gridDim.x) {
        __syncthreads();  // the previous row's last reads of hbuf are done
        for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
            hbuf[j] = tg_load(h0[b * hid + j]);
            c_n[b * hid + j] = c0[b * hid + j];
        }
        __syncthreads();
        int cur = 0;
        for (long long s = 0; s < t_len; ++s) {
            const long long t = reverse ? t_len - 1 - s : s;
            if (b >= sizes[t]) continue;  // the same for the whole block
            const acc_t* hc = hbuf + cur * hid;
            acc_t* hn = hbuf + (1 - cur) * hid;
            const long long row = t * batch + b;
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                scalar_t* z = pre + row * gates + j;
                acc_t zi = tg_load(z[0]), zf = tg_load(z[hid]), zg = tg_load(z[2 * hid]), zo = tg_load(z[3 * hid]);
                const scalar_t* w = w_hh_t + j;
                for (long long k = 0; k < hid; ++k, w += gates) {
                    const acc_t hk = hc[k];
                    zi += hk * tg_load(w[0]);
                    zf += hk * tg_load(w[hid]);
                    zg += hk * tg_load(w[2 * hid]);
                    zo += hk * tg_load(w[3 * hid]);
                }
                const acc_t i = seq_sigmoid(zi), f = seq_sigmoid(zf), g = tg_tanh(zg), o = seq_sigmoid(zo);
                z[0] = tg_store(i);
                z[hid] = tg_store(f);
                z[2 * hid] = tg_store(g);
                z[3 * hid] = tg_store(o);
                const acc_t cv = f * tg_load(c_n[b * hid + j]) + i * g;
                const scalar_t cs = tg_store(cv);
                c_seq[row * hid + j] = cs;
                c_n[b * hid + j] = cs;
                const scalar_t hs = tg_store(o * tg_tanh(cv));
                y[row * hid + j] = hs;
                hn[j] = tg_load(hs);  // the stored value: the next product sees what y holds
            }
            __syncthreads();  // the new h is complete; nobody reads the old one any more
            cur = 1 - cur;
        }
        for (long long j = threadIdx.x; j < hid; j += blockDim.x)
            h_n[b * hid + j] = tg_store(hbuf[cur * hid + j]);
    }
}

// act (T, B, G): the activated gates; c_seq (T, B, H), c0 (B, H): as the forward left them
// gy (T, B, H): the gradient of y; w_hh (G, H) C-contiguous (thread j reads column j: coalesced)
// dz (T, B, G): out, the gradients of the gate pre-activations (rows a step skips are not written:
//   the caller zeroes them for a packed batch)
// dh, dc (B, H): in, the gradients of h_n and c_n; out, those of h0 and c0 (also the running state)
extern "C" __global__ __launch_bounds__(1024) void lstm_seq_backward(const scalar_t* __restrict__ act, const scalar_t* __restrict__ c_seq,
                                             const scalar_t* __restrict__ c0, const scalar_t* __restrict__ gy,
                                             const scalar_t* __restrict__ w_hh, const long long* __restrict__ sizes,
                                             scalar_t* __restrict__ dz, scalar_t* __restrict__ dh,
                                             scalar_t* __restrict__ dc, long long t_len, long long batch,
                                             long long hid, int reverse) {
    acc_t* dzs = reinterpret_cast<acc_t*>(tg_smem);
    const long long gates = 4 * hid;
    for (long long b = blockIdx.x; b < batch; b += gridDim.x) {
        for (long long s = t_len - 1; s >= 0; --s) {
            const long long t = reverse ? t_len - 1 - s : s;
            if (b >= sizes[t]) continue;  // the same for the whole block
            // the cell state this step started from: the step before's, if this row ran it, else c0
            const long long tp = reverse ? t + 1 : t - 1;
            const scalar_t* cp = (s > 0 && b < sizes[tp]) ? c_seq + (tp * batch + b) * hid : c0 + b * hid;
            const long long row = t * batch + b;
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                const scalar_t* a = act + row * gates + j;
                const acc_t i = tg_load(a[0]), f = tg_load(a[hid]), g = tg_load(a[2 * hid]), o = tg_load(a[3 * hid]);
                const acc_t tc = tg_tanh(tg_load(c_seq[row * hid + j]));
                const acc_t gh = tg_load(dh[b * hid + j]) + tg_load(gy[row * hid + j]);
                const acc_t dct = tg_load(dc[b * hid + j]) + gh * o * ((acc_t)1 - tc * tc);
                const acc_t d[4] = {dct * g * i * ((acc_t)1 - i), dct * tg_load(cp[j]) * f * ((acc_t)1 - f),
                                    dct * i * ((acc_t)1 - g * g), gh * tc * o * ((acc_t)1 - o)};
                scalar_t* out = dz + row * gates + j;
                for (int q = 0; q < 4; ++q) {
                    const scalar_t v = tg_store(d[q]);
                    out[q * hid] = v;
                    dzs[q * hid + j] = tg_load(v);  // the stored value, as the weight products see it
                }
                dc[b * hid + j] = tg_store(dct * f);
            }
            __syncthreads();  // the step's gate gradients are complete
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                acc_t sum = 0;
                const scalar_t* w = w_hh + j;
                for (long long m = 0; m < gates; ++m, w += hid) sum += dzs[m] * tg_load(*w);
                dh[b * hid + j] = tg_store(sum);
            }
            __syncthreads();  // nobody reads dzs any more before the next step writes it
        }
    }
}

// GRU (gates r, z, n, PyTorch's order; G = 3H): n = tanh(gi_n + r * (W_hn h + b_hn)).
// pre (T, B, G): in, gi = x_t W_ih^T + b_ih; out, the activated gates (r, z, n) of the rows each
// step ran. w_hh_t (H, G) as the LSTM's; b_hh (G) (zeros for a layer without biases).
// y (T, B, H): each step's h; ghn (T, B, H): each step's W_hn h + b_hn; h_n (B, H): the final state.
extern "C" __global__ __launch_bounds__(1024) void gru_seq_forward(scalar_t* pre, const scalar_t* __restrict__ w_hh_t,
                                           const scalar_t* __restrict__ b_hh, const scalar_t* __restrict__ h0,
                                           const long long* __restrict__ sizes, scalar_t* __restrict__ y,
                                           scalar_t* __restrict__ ghn, scalar_t* __restrict__ h_n,
                                           long long t_len, long long batch, long long hid, int reverse) {
    acc_t* hbuf = reinterpret_cast<acc_t*>(tg_smem);
    const long long gates = 3 * hid;
    for (long long b = blockIdx.x; b < batch; b += gridDim.x) {
        __syncthreads();  // the previous row's last reads of hbuf are done
        for (long long j = threadIdx.x; j < hid; j += blockDim.x) hbuf[j] = tg_load(h0[b * hid + j]);
        __syncthreads();
        int cur = 0;
        for (long long s = 0; s < t_len; ++s) {
            const long long t = reverse ? t_len - 1 - s : s;
            if (b >= sizes[t]) continue;  // the same for the whole block
            const acc_t* hc = hbuf + cur * hid;
            acc_t* hn = hbuf + (1 - cur) * hid;
            const long long row = t * batch + b;
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                acc_t ar = tg_load(b_hh[j]), az = tg_load(b_hh[hid + j]), an = tg_load(b_hh[2 * hid + j]);
                const scalar_t* w = w_hh_t + j;
                for (long long k = 0; k < hid; ++k, w += gates) {
                    const acc_t hk = hc[k];
                    ar += hk * tg_load(w[0]);
                    az += hk * tg_load(w[hid]);
                    an += hk * tg_load(w[2 * hid]);
                }
                scalar_t* gi = pre + row * gates + j;
                const scalar_t ns = tg_store(an);
                const acc_t r = seq_sigmoid(tg_load(gi[0]) + ar), z = seq_sigmoid(tg_load(gi[hid]) + az);
                const acc_t nv = tg_tanh(tg_load(gi[2 * hid]) + r * tg_load(ns));
                gi[0] = tg_store(r);
                gi[hid] = tg_store(z);
                gi[2 * hid] = tg_store(nv);
                ghn[row * hid + j] = ns;
                const scalar_t hs = tg_store(nv + z * (hc[j] - nv));
                y[row * hid + j] = hs;
                hn[j] = tg_load(hs);
            }
            __syncthreads();  // the new h is complete; nobody reads the old one any more
            cur = 1 - cur;
        }
        for (long long j = threadIdx.x; j < hid; j += blockDim.x)
            h_n[b * hid + j] = tg_store(hbuf[cur * hid + j]);
    }
}

// act (T, B, G), ghn, y (T, B, H), h0 (B, H): as the forward left them; gy (T, B, H); w_hh (G, H).
// dgi, dgh (T, B, G): out, the gradients of gi and of gh = h W_hh^T + b_hh (rows a step skips are
// not written); dh (B, H): in, the gradient of h_n; out, that of h0 (also the running state).
extern "C" __global__ __launch_bounds__(1024) void gru_seq_backward(const scalar_t* __restrict__ act, const scalar_t* __restrict__ ghn,
                                            const scalar_t* __restrict__ y, const scalar_t* __restrict__ h0,
                                            const scalar_t* __restrict__ gy, const scalar_t* __restrict__ w_hh,
                                            const long long* __restrict__ sizes, scalar_t* __restrict__ dgi,
                                            scalar_t* __restrict__ dgh, scalar_t* __restrict__ dh,
                                            long long t_len, long long batch, long long hid, int reverse) {
    acc_t* ds = reinterpret_cast<acc_t*>(tg_smem);
    const long long gates = 3 * hid;
    for (long long b = blockIdx.x; b < batch; b += gridDim.x) {
        for (long long s = t_len - 1; s >= 0; --s) {
            const long long t = reverse ? t_len - 1 - s : s;
            if (b >= sizes[t]) continue;  // the same for the whole block
            // the state this step started from: the step before's output, if this row ran it, else h0
            const long long tp = reverse ? t + 1 : t - 1;
            const scalar_t* hp = (s > 0 && b < sizes[tp]) ? y + (tp * batch + b) * hid : h0 + b * hid;
            const long long row = t * batch + b;
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                const scalar_t* a = act + row * gates + j;
                const acc_t r = tg_load(a[0]), z = tg_load(a[hid]), nv = tg_load(a[2 * hid]);
                const acc_t g = tg_load(dh[b * hid + j]) + tg_load(gy[row * hid + j]);
                const acc_t dn = g * ((acc_t)1 - z) * ((acc_t)1 - nv * nv);
                const acc_t dzv = g * (tg_load(hp[j]) - nv) * z * ((acc_t)1 - z);
                const acc_t dr = dn * tg_load(ghn[row * hid + j]) * r * ((acc_t)1 - r);
                const scalar_t sr = tg_store(dr), sz = tg_store(dzv), sn = tg_store(dn), snr = tg_store(dn * r);
                scalar_t* oi = dgi + row * gates + j;
                scalar_t* oh = dgh + row * gates + j;
                oi[0] = sr; oi[hid] = sz; oi[2 * hid] = sn;
                oh[0] = sr; oh[hid] = sz; oh[2 * hid] = snr;
                ds[j] = tg_load(sr);
                ds[hid + j] = tg_load(sz);
                ds[2 * hid + j] = tg_load(snr);
                dh[b * hid + j] = tg_store(g * z);  // the direct path; the product is added below
            }
            __syncthreads();  // the step's gradients of gh are complete
            for (long long j = threadIdx.x; j < hid; j += blockDim.x) {
                acc_t sum = tg_load(dh[b * hid + j]);
                const scalar_t* w = w_hh + j;
                for (long long m = 0; m < gates; ++m, w += hid) sum += ds[m] * tg_load(*w);
                dh[b * hid + j] = tg_store(sum);
            }
            __syncthreads();  // nobody reads ds any more before the next step writes it
        }
    }
}
