"""Tests of cs231n/transformer_layers.py: PositionalEncoding and MultiHeadAttention.

Oracles are independent computations run on this machine: the sinusoid formula
in float64 NumPy, explicit per-head loops, and torch.nn.MultiheadAttention with
copied weights. Checks with dropout on re-seed and make the same random draws in
the same order as the specification (one dropout call on the whole (N, H, S, T)
tensor of attention weights), so they hold on any CPU or GPU; no expected number
here depends on one platform's random stream.
"""
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cs231n.transformer_layers import MultiHeadAttention, PositionalEncoding

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64]


def tolerances(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


# ----------------------------------------------------------------------------
# Oracles
# ----------------------------------------------------------------------------
def sinusoid_table(max_len, embed_dim):
    """float64 (max_len, E): column c uses j = c // 2; sin for even c, cos for odd c."""
    table = np.zeros((max_len, embed_dim))
    positions = np.arange(max_len, dtype=np.float64)
    for c in range(embed_dim):
        j = c // 2
        rate = 10000.0 ** (-(2.0 * j) / embed_dim)
        table[:, c] = np.sin(positions * rate) if c % 2 == 0 else np.cos(positions * rate)
    return table


def loop_attention(layer, query, key, value, mask=None, dropout_p=None):
    """Multi-head attention with an explicit loop over heads, using layer's weights.

    mask: None or bool (S, T), True = may attend. dropout_p: None for no dropout,
    else one F.dropout call on the stacked (N, H, S, T) weights (the specified
    order of random draws).
    """
    H = layer.n_head
    N, S, E = query.shape
    D = E // H

    def lin(x, m):
        return x @ m.weight.t() + m.bias

    q, k, v = lin(query, layer.query), lin(key, layer.key), lin(value, layer.value)
    weights = []
    for h in range(H):
        cols = slice(h * D, (h + 1) * D)
        scores = q[:, :, cols] @ k[:, :, cols].transpose(1, 2) / math.sqrt(D)  # (N, S, T)
        if mask is not None:
            scores = torch.where(mask, scores, torch.full_like(scores, -math.inf))
        scores = scores - scores.max(dim=-1, keepdim=True).values
        e = torch.exp(scores)
        weights.append(e / e.sum(dim=-1, keepdim=True))
    weights = torch.stack(weights, dim=1)  # (N, H, S, T)
    if dropout_p is not None:
        weights = F.dropout(weights, p=dropout_p, training=True)
    heads = [weights[:, h] @ v[:, :, h * D:(h + 1) * D] for h in range(H)]
    return lin(torch.cat(heads, dim=-1), layer.proj)


def torch_mha_copy(layer):
    """torch.nn.MultiheadAttention with the same weights as our layer (eval use)."""
    E, H = layer.emd_dim, layer.n_head
    ref = torch.nn.MultiheadAttention(E, H, dropout=0.0, batch_first=True)
    ref = ref.to(dtype=layer.query.weight.dtype, device=layer.query.weight.device)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([layer.query.weight, layer.key.weight, layer.value.weight]))
        ref.in_proj_bias.copy_(torch.cat([layer.query.bias, layer.key.bias, layer.value.bias]))
        ref.out_proj.weight.copy_(layer.proj.weight)
        ref.out_proj.bias.copy_(layer.proj.bias)
    return ref.eval()


def make_layer(E, H, dtype, device, dropout=0.1, seed=0):
    torch.manual_seed(seed)
    layer = MultiHeadAttention(E, H, dropout=dropout).to(device=device, dtype=dtype)
    # Larger biases than the default init, so that a swapped projection shows.
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


def random_inputs(N, S, T, E, dtype, device, seed=1):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(N, S, E, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    kv = torch.randn(N, T, E, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    value = torch.randn(N, T, E, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    mask = torch.rand(S, T, generator=g) < 0.6
    mask[:, 0] = True  # every query may attend somewhere (a fully masked row is NaN)
    return query, kv, value, mask.to(device)


# ----------------------------------------------------------------------------
# PositionalEncoding
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("embed_dim", [1, 6, 7, 30, 256])
def test_positional_table_matches_formula(embed_dim):
    layer = PositionalEncoding(embed_dim, max_len=5000)
    assert isinstance(layer.pe, torch.Tensor)
    assert tuple(layer.pe.shape) == (1, 5000, embed_dim)
    assert layer.pe.dtype == torch.float32
    expected = sinusoid_table(5000, embed_dim)
    got = layer.pe[0].double().numpy()
    # Positions a caption uses: float32-exact. Far positions: sin of a large
    # angle is only good to about 1e-3 when the angle itself is float32.
    np.testing.assert_allclose(got[:64], expected[:64], rtol=0, atol=1e-5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)


def test_positional_table_is_a_buffer_not_a_parameter():
    layer = PositionalEncoding(8, max_len=20)
    assert list(layer.parameters()) == []
    assert "pe" in dict(layer.named_buffers())
    assert "pe" in layer.state_dict()
    assert layer.double().pe.dtype == torch.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_positional_forward_eval_adds_first_rows(dtype, device):
    N, S, E = 3, 11, 10
    layer = PositionalEncoding(E, dropout=0.5, max_len=40).to(device=device, dtype=dtype).eval()
    x = torch.randn(N, S, E, dtype=torch.float64).to(device=device, dtype=dtype)
    out = layer(x)
    assert out.dtype == dtype and tuple(out.shape) == (N, S, E)
    expected = x.double().cpu().numpy() + sinusoid_table(S, E)[None]
    np.testing.assert_allclose(out.double().cpu().numpy(), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_positional_forward_dropout_same_seed(dtype, device):
    N, S, E = 4, 9, 12
    p = 0.3
    layer = PositionalEncoding(E, dropout=p, max_len=50).to(device=device, dtype=dtype)
    assert layer.training  # modules start in train mode
    x = torch.randn(N, S, E, dtype=torch.float64).to(device=device, dtype=dtype)
    # The buffer is built in float32 (the default dtype) and then converted.
    table = torch.tensor(sinusoid_table(S, E).astype(np.float32)).to(device=device, dtype=dtype)

    torch.manual_seed(231)
    out = layer(x)
    torch.manual_seed(231)
    expected = F.dropout(x + table, p=p, training=True)

    # Loose enough for a float32-built table; a wrong draw order is off by O(1).
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    dropped = (out == 0).double().mean().item()
    assert 0.1 < dropped < 0.5  # dropout really was applied


def test_positional_rejects_bad_input():
    layer = PositionalEncoding(8, max_len=10)
    with pytest.raises(ValueError, match="max_len = 10"):
        layer(torch.zeros(2, 11, 8))
    with pytest.raises(ValueError, match="embed_dim = 8"):
        layer(torch.zeros(2, 5, 7))
    with pytest.raises(ValueError, match="3-D"):
        layer(torch.zeros(5, 8))
    with pytest.raises(ValueError):
        PositionalEncoding(0)


# ----------------------------------------------------------------------------
# MultiHeadAttention: structure
# ----------------------------------------------------------------------------
def test_attention_submodules_and_parameter_order():
    layer = MultiHeadAttention(12, 3, dropout=0.25)
    assert [name for name, _ in layer.named_children()] == ["key", "query", "value", "proj", "attn_drop"]
    assert [name for name, _ in layer.named_parameters()] == [
        "key.weight", "key.bias", "query.weight", "query.bias",
        "value.weight", "value.bias", "proj.weight", "proj.bias",
    ]
    for name in ("key", "query", "value", "proj"):
        linear = getattr(layer, name)
        assert isinstance(linear, torch.nn.Linear)
        assert (linear.in_features, linear.out_features) == (12, 12)
    assert isinstance(layer.attn_drop, torch.nn.Dropout) and layer.attn_drop.p == 0.25


# ----------------------------------------------------------------------------
# MultiHeadAttention: values, dropout off
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("S,T", [(5, 5), (4, 7), (6, 1)])
@pytest.mark.parametrize("use_mask", [False, True])
def test_attention_eval_matches_loop_oracle(dtype, device, S, T, use_mask):
    N, E, H = 3, 12, 3
    layer = make_layer(E, H, dtype, device).eval()
    query, key, value, mask = random_inputs(N, S, T, E, dtype, device)
    if S == T and not use_mask:
        key = value = query  # plain self-attention
    mask = mask if use_mask else None
    out = layer(query, key, value, attn_mask=mask)
    assert out.dtype == dtype and tuple(out.shape) == (N, S, E)
    with torch.no_grad():
        expected = loop_attention(layer, query, key, value, mask)
    torch.testing.assert_close(out, expected, **tolerances(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("use_mask", [False, True])
def test_attention_eval_matches_torch_multihead_attention(device, use_mask):
    N, S, T, E, H = 2, 6, 8, 16, 4
    layer = make_layer(E, H, torch.float64, device).eval()
    query, key, value, mask = random_inputs(N, S, T, E, torch.float64, device)
    ref = torch_mha_copy(layer)
    with torch.no_grad():
        # torch's boolean mask means the opposite: True = may NOT attend.
        expected, _ = ref(query, key, value, attn_mask=~mask if use_mask else None, need_weights=False)
    out = layer(query, key, value, attn_mask=mask if use_mask else None)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_attention_uses_per_head_scale():
    # With one head the scale is 1/sqrt(E); with 4 heads it must be 1/sqrt(E/4):
    # compare against torch's implementation, which uses the per-head size.
    N, S, E = 2, 5, 16
    for H in (1, 4, 16):
        layer = make_layer(E, H, torch.float64, "cpu").eval()
        x = torch.randn(N, S, E, dtype=torch.float64)
        with torch.no_grad():
            expected, _ = torch_mha_copy(layer)(x, x, x, need_weights=False)
        torch.testing.assert_close(layer(x, x, x), expected, rtol=1e-10, atol=1e-12)


def test_masked_keys_have_no_influence():
    N, S, T, E, H = 2, 4, 6, 8, 2
    layer = make_layer(E, H, torch.float64, "cpu").eval()
    query, key, value, _ = random_inputs(N, S, T, E, torch.float64, "cpu")
    mask = torch.ones(S, T, dtype=torch.bool)
    mask[:, 3] = False  # nobody may look at key/value position 3
    out = layer(query, key, value, attn_mask=mask)
    key2, value2 = key.clone(), value.clone()
    key2[:, 3] += 5.0
    value2[:, 3] -= 7.0
    torch.testing.assert_close(layer(query, key2, value2, attn_mask=mask), out, rtol=0, atol=1e-12)
    # ... while without the mask the same change does matter.
    assert not torch.allclose(layer(query, key2, value2), layer(query, key, value))


def test_bool_and_01_masks_agree():
    N, S, T, E, H = 2, 5, 4, 8, 2
    layer = make_layer(E, H, torch.float32, "cpu").eval()
    query, key, value, mask = random_inputs(N, S, T, E, torch.float32, "cpu")
    out_bool = layer(query, key, value, attn_mask=mask)
    for as_01 in (mask.long(), mask.int(), mask.float(), mask.double()):
        torch.testing.assert_close(layer(query, key, value, attn_mask=as_01), out_bool, rtol=0, atol=0)
    assert not torch.allclose(layer(query, key, value), out_bool)  # the mask matters


def test_attention_gradients_float64():
    N, S, T, E, H = 2, 3, 4, 6, 2
    layer = make_layer(E, H, torch.float64, "cpu").eval()
    query, key, value, mask = random_inputs(N, S, T, E, torch.float64, "cpu")
    for x in (query, key, value):
        x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda q, k, v: layer(q, k, v, attn_mask=mask), (query, key, value))


# ----------------------------------------------------------------------------
# MultiHeadAttention: dropout on (train mode), same seed as an oracle
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("S,T,use_mask", [(5, 5, False), (5, 5, True), (3, 7, True), (4, 6, False)])
def test_attention_dropout_same_seed_as_oracle(dtype, device, S, T, use_mask):
    N, E, H, p = 2, 12, 3, 0.2
    layer = make_layer(E, H, dtype, device, dropout=p)
    assert layer.training  # modules start in train mode
    query, key, value, mask = random_inputs(N, S, T, E, dtype, device)
    mask = mask if use_mask else None

    torch.manual_seed(1234)
    out = layer(query, key, value, attn_mask=mask)
    torch.manual_seed(1234)
    with torch.no_grad():
        expected = loop_attention(layer, query, key, value, mask, dropout_p=p)
    torch.testing.assert_close(out, expected, **tolerances(dtype))

    with torch.no_grad():
        no_dropout = loop_attention(layer, query, key, value, mask)
    assert not torch.allclose(out, no_dropout)  # dropout really was applied


def test_attention_eval_mode_is_deterministic():
    layer = make_layer(8, 2, torch.float32, "cpu", dropout=0.5).eval()
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(layer(x, x, x), layer(x, x, x), rtol=0, atol=0)


# ----------------------------------------------------------------------------
# MultiHeadAttention: bad input
# ----------------------------------------------------------------------------
def test_attention_embed_dim_not_divisible():
    with pytest.raises(ValueError, match=r"embed_dim = 10.*num_heads = 3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError):
        MultiHeadAttention(8, 0)


def test_attention_mask_of_wrong_shape():
    layer = MultiHeadAttention(8, 2)
    q = torch.zeros(2, 3, 8)
    kv = torch.zeros(2, 4, 8)
    for bad in (torch.ones(4, 3, dtype=torch.bool), torch.ones(3, 3, dtype=torch.bool),
                torch.ones(2, 3, 4, dtype=torch.bool)):
        with pytest.raises(ValueError, match=r"\(S, T\) = \(3, 4\)"):
            layer(q, kv, kv, attn_mask=bad)


def test_attention_rejects_additive_float_mask():
    layer = MultiHeadAttention(8, 2)
    x = torch.zeros(1, 3, 8)
    additive = torch.triu(torch.full((3, 3), float("-inf")), diagonal=1)
    with pytest.raises(ValueError, match="0/1"):
        layer(x, x, x, attn_mask=additive)


def test_attention_rejects_mismatched_shapes():
    layer = MultiHeadAttention(8, 2)
    q = torch.zeros(2, 3, 8)
    with pytest.raises(ValueError, match="embed_dim = 8"):
        layer(torch.zeros(2, 3, 6), q, q)
    with pytest.raises(ValueError, match="key has shape"):
        layer(q, torch.zeros(2, 4, 8), torch.zeros(2, 5, 8))
    with pytest.raises(ValueError, match="batch size"):
        layer(q, torch.zeros(3, 4, 8), torch.zeros(3, 4, 8))
    with pytest.raises(ValueError, match="3-D"):
        layer(torch.zeros(3, 8), q, q)
    with pytest.raises(TypeError, match="float64"):
        layer(q.double(), q.double(), q.double())
    with pytest.raises(TypeError):
        layer(np.zeros((2, 3, 8)), q, q)


def test_star_import_provides_torch():
    # Canonical notebooks reach torch only through this star import.
    namespace = {}
    exec("from cs231n.transformer_layers import *", namespace)
    for name in ("torch", "nn", "F", "math", "MultiHeadAttention", "PositionalEncoding"):
        assert name in namespace, name
    assert namespace["torch"] is torch


def test_module_defines_only_the_canonical_top_level_names():
    # Students hand in the canonical file: anything the kit adds at top level
    # (a helper a notebook or a check imports) would be missing there.
    from pathlib import Path

    import cs231n.transformer_layers as layers
    from fairness.alternative import strip_to_names
    from fairness.transformer import CANONICAL_NAMES

    text = Path(layers.__file__).read_text()
    assert strip_to_names(text, CANONICAL_NAMES["cs231n/transformer_layers.py"]) == text


def test_provided_placeholders_can_be_filled_in_place():
    # The canonical starter code hands out `output = torch.empty(...)` to be
    # overwritten; ours has the input's dtype and device, so filling it in place works.
    import inspect

    for method in (PositionalEncoding.forward, MultiHeadAttention.forward):
        source = inspect.getsource(method)
        region = source[:source.index("### BEGIN SOLUTION")]
        assert "output = torch.empty(" in region and "dtype=" in region and "device=" in region
