"""scaled_dot_product_attention, MultiheadAttention and the Transformer modules against PyTorch:
the same weights (state_dicts load across), outputs, attention weights and every gradient, over
masks, layouts and options; float64 gradchecks with second order; the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, to_tg, torch

_rng = np.random.default_rng(4)
E, H = 8, 2


def _pair(make, device="cpu"):
    """(tensorgrad module, torch module) with the tensorgrad weights in both, float64, eval mode."""
    ours = make(tg.nn).double()
    theirs = make(torch.nn).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v.cpu().numpy().copy()) for k, v in ours.state_dict().items()})
    ours.to(device).eval()
    theirs.eval()
    return ours, theirs


def _compare(ours, theirs, args, n_pos, kwargs_of, device, rtol=1e-9, atol=1e-10):
    """Outputs, input gradients and parameter gradients for a random upstream gradient: the first
    n_pos arrays are positional arguments (differentiated), kwargs_of(xs) builds the keywords from
    the rest (masks)."""
    grad = [a.dtype.kind == "f" and i < n_pos for i, a in enumerate(args)]   # masks: constants
    xs_t = [to_tg(a, device, requires_grad=r) for a, r in zip(args, grad)]
    xs_p = [torch.tensor(a, requires_grad=r) for a, r in zip(args, grad)]
    out_t = ours(*xs_t[:n_pos], **kwargs_of(xs_t))
    out_p = theirs(*xs_p[:n_pos], **kwargs_of(xs_p))
    out_t = out_t[0] if isinstance(out_t, tuple) else out_t
    out_p = out_p[0] if isinstance(out_p, tuple) else out_p
    np.testing.assert_allclose(out_t.detach().cpu().numpy(), out_p.detach().numpy(), rtol=rtol, atol=atol)
    g = _rng.normal(size=tuple(out_p.shape))
    out_t.backward(to_tg(g, device, requires_grad=False))
    out_p.backward(torch.tensor(g))
    for a, b in zip(xs_t, xs_p):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-9)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-9, err_msg=name)


# ---------------------------------------------------------------- scaled_dot_product_attention
SDPA = [dict(), dict(is_causal=True), dict(scale=0.3), dict(mask="bool"), dict(mask="float")]


@needs_torch
@pytest.mark.parametrize("opts", SDPA, ids=["plain", "causal", "scale", "bool-mask", "float-mask"])
def test_sdpa_matches_torch(device, opts):
    q, k, v = _rng.normal(size=(2, 3, 4, 6)), _rng.normal(size=(2, 3, 5, 6)), _rng.normal(size=(2, 3, 5, 7))
    opts = dict(opts)
    mask = opts.pop("mask", None)
    m = None
    if mask == "bool":
        m = _rng.random((4, 5)) < 0.7
        m[:, 0] = True                                      # every query attends to something
    elif mask == "float":
        m = _rng.normal(size=(1, 3, 4, 5))
    args = [q, k, v] + ([m] if m is not None else [])
    check_torch(lambda lib, *t: lib.nn.functional.scaled_dot_product_attention(
        *t[:3], attn_mask=t[3] if len(t) > 3 else None, **opts), args, device, grad_inputs=[0, 1, 2], rtol=1e-9,
        atol=1e-10)


def test_sdpa_gradcheck_and_second_order(device):
    check_grad(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
               [_rng.normal(size=(2, 3, 4)), _rng.normal(size=(2, 3, 4)), _rng.normal(size=(2, 3, 2))], device)


def test_sdpa_errors():
    q = tg.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tg.ones(3, 3), is_causal=True)
    with pytest.raises(RuntimeError, match="must share E"):
        F.scaled_dot_product_attention(q, tg.randn(2, 3, 5), q)


# ---------------------------------------------------------------- MultiheadAttention
def _masks(kind, n, l_len, s_len):
    kpm = np.zeros((n, s_len), bool)
    kpm[-1, s_len - 2:] = True
    am = np.triu(np.ones((l_len, s_len), bool), 2)
    return {"none": {}, "bool": dict(key_padding_mask=kpm, attn_mask=am),
            "float": dict(key_padding_mask=np.where(kpm, -1e9, 0.0), attn_mask=_rng.normal(size=(l_len, s_len))),
            "3d": dict(attn_mask=_rng.normal(size=(n * H, l_len, s_len)))}[kind]


@needs_torch
@pytest.mark.parametrize("masks", ["none", "bool", "float", "3d"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(device, masks, batch_first):
    ours, theirs = _pair(lambda nn: nn.MultiheadAttention(E, H, batch_first=batch_first), device)
    n, l_len, s_len = 3, 4, 5
    q = _rng.normal(size=(n, l_len, E) if batch_first else (l_len, n, E))
    kv = _rng.normal(size=(n, s_len, E) if batch_first else (s_len, n, E))
    extra = _masks(masks, n, l_len, s_len)
    names = list(extra)

    def kwargs(xs):
        return {name: xs[3 + i] for i, name in enumerate(names)}
    _compare(ours, theirs, [q, kv, kv] + [extra[k] for k in names], 3, kwargs, device)


@needs_torch
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_weights_and_unbatched_input(device, average):
    ours, theirs = _pair(lambda nn: nn.MultiheadAttention(E, H), device)
    q, kv = _rng.normal(size=(4, 2, E)), _rng.normal(size=(6, 2, E))
    a = ours(to_tg(q, device), to_tg(kv, device), to_tg(kv, device), average_attn_weights=average)
    b = theirs(torch.tensor(q), torch.tensor(kv), torch.tensor(kv), average_attn_weights=average)
    np.testing.assert_allclose(a[1].detach().cpu().numpy(), b[1].detach().numpy(), rtol=1e-9, atol=1e-12)
    a = ours(to_tg(q[:, 0], device), to_tg(kv[:, 0], device), to_tg(kv[:, 0], device), need_weights=False)
    b = theirs(torch.tensor(q[:, 0]), torch.tensor(kv[:, 0]), torch.tensor(kv[:, 0]), need_weights=False)
    assert a[1] is None and b[1] is None and tuple(a[0].shape) == (4, E)
    np.testing.assert_allclose(a[0].detach().cpu().numpy(), b[0].detach().numpy(), rtol=1e-9, atol=1e-12)


@needs_torch
def test_multihead_attention_with_other_key_and_value_sizes(device):
    ours, theirs = _pair(lambda nn: nn.MultiheadAttention(E, H, kdim=5, vdim=3, bias=False), device)
    assert set(ours.state_dict()) == {"q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"}
    q, k, v = _rng.normal(size=(4, 2, E)), _rng.normal(size=(6, 2, 5)), _rng.normal(size=(6, 2, 3))
    _compare(ours, theirs, [q, k, v], 3, lambda xs: {}, device)


def test_multihead_attention_init_and_errors():
    m = tg.nn.MultiheadAttention(E, H)
    bound = (6 / (E + 3 * E)) ** 0.5                       # xavier_uniform_ over (3E, E)
    assert float(m.in_proj_weight.abs().max()) <= bound and float(m.in_proj_bias.abs().sum()) == 0
    assert float(m.out_proj.bias.abs().sum()) == 0
    with pytest.raises(AssertionError, match="divisible"):
        tg.nn.MultiheadAttention(10, 3)
    x = tg.randn(4, 2, E)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"shape of the 2D attn_mask is \(3, 3\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=tg.zeros(3, 3))


# ---------------------------------------------------------------- Transformer layers and stacks
@needs_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(device, norm_first, activation):
    ours, theirs = _pair(lambda nn: nn.TransformerEncoderLayer(E, H, 16, dropout=0.1, activation=activation,
                                                               batch_first=True, norm_first=norm_first), device)
    x = _rng.normal(size=(3, 5, E))
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    _compare(ours, theirs, [x, kpm], 1, lambda xs: dict(src_key_padding_mask=xs[1]), device)


@needs_torch
def test_transformer_matches_torch(device):
    ours, theirs = _pair(lambda nn: nn.Transformer(E, H, 2, 2, 16), device)
    src, tgt = _rng.normal(size=(5, 2, E)), _rng.normal(size=(4, 2, E))
    mask = tg.nn.Transformer.generate_square_subsequent_mask(4).double().numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(4).double().numpy())
    _compare(ours, theirs, [src, tgt, mask], 2, lambda xs: dict(tgt_mask=xs[2]), device, rtol=1e-8, atol=1e-9)


@needs_torch
def test_encoder_stack_with_a_causal_mask_matches_torch(device):
    ours, theirs = _pair(lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, 16), 2,
                                                          norm=nn.LayerNorm(E)), device)
    x = _rng.normal(size=(6, 2, E))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6).double().numpy()
    _compare(ours, theirs, [x, mask], 1, lambda xs: dict(mask=xs[1], is_causal=True), device)


def test_encoder_layer_trains():
    tg.manual_seed(0)
    layer = tg.nn.TransformerEncoderLayer(E, H, 16, dropout=0.1, batch_first=True)
    head = tg.nn.Linear(E, 1)
    opt = tg.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=1e-2)
    x = tg.randn(16, 5, E)
    y = x.sum((1, 2)).reshape(16, 1) * 0.1
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((head(layer(x).mean(1)) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


@needs_torch
def test_fully_masked_rows_give_zeros_not_nan_as_torch(device):
    """A padded-out sequence (every key masked): PyTorch's SDPA path (need_weights=False, which the
    Transformer layers take) returns zeros with zero gradients; NaN would reach every parameter."""
    ours, theirs = _pair(lambda nn: nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, batch_first=True), device)
    ours.train()
    theirs.train()
    kpm = np.zeros((2, 4), bool)
    kpm[1] = True
    _compare(ours, theirs, [_rng.normal(size=(2, 4, E)), kpm], 1, lambda xs: dict(src_key_padding_mask=xs[1]),
             device)
    q, k = _rng.normal(size=(1, 2, 3, 4)), _rng.normal(size=(1, 2, 5, 4))
    mask = np.ones((3, 5), bool)
    mask[0] = False                                        # query 0 may attend to nothing
    check_torch(lambda lib, a, b: lib.nn.functional.scaled_dot_product_attention(a, b, b, attn_mask=lib.tensor(mask)
                                                                                  .to(a.device)),
                [q, k], device, rtol=1e-9, atol=1e-12)


def test_sdpa_float_mask_of_another_dtype_is_refused():
    q = tg.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or tensorgrad.float32"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tg.zeros(3, 3, dtype=tg.float64))
