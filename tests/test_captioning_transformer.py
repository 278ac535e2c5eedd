"""Tests of the captioning Transformer (cs231n/classifiers/transformer.py) and its
solver (cs231n/captioning_solver_transformer.py).

The oracle is an independent forward pass written with torch primitives (matrix
products, einsum, exp, a hand-written layer norm) from the model's named
parameters. With dropout on, the oracle re-seeds and draws its dropout masks in
the order the specification fixes, so the comparison holds on any CPU or GPU.
"""
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cs231n.classifiers.transformer import (
    CaptioningTransformer,
    TransformerDecoder,
    TransformerDecoderLayer,
)
from cs231n.transformer_layers import MultiHeadAttention, PositionalEncoding

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# The canonical small configuration of the fixed-parameter check.
SMALL = dict(N=3, D=20, W=30, T=4, heads=2, layers=2, max_length=30)
SMALL_VOCAB = {"<NULL>": 0, "cat": 2, "dog": 3}  # V = 3; no <START>/<END>
OVERFIT_FINAL_LOSS = 0.03  # the notebook's bar for the overfitting run


# ----------------------------------------------------------------------------
# The oracle
# ----------------------------------------------------------------------------
def sinusoid_table(max_len, embed_dim):
    positions = np.arange(max_len, dtype=np.float64)[:, None]
    cols = np.arange(embed_dim)
    rates = 10000.0 ** (-(2.0 * (cols // 2)) / embed_dim)
    angles = positions * rates[None, :]
    return np.where(cols % 2 == 0, np.sin(angles), np.cos(angles))


def reference_forward(model, features, captions, num_heads, dropout_p=None):
    """Scores (N, T, V) from model's named parameters, without calling its modules.

    dropout_p None: no dropout (eval). Otherwise F.dropout(p, training=True) in the
    specified order: positional encoding; then per layer self-attention weights,
    dropout1, cross-attention weights, dropout2, feed-forward hidden, dropout3.
    """
    P = dict(model.named_parameters())
    num_layers = len(model.transformer.layers)
    dtype, device = P["embedding.weight"].dtype, P["embedding.weight"].device
    N, T = captions.shape

    def drop(x):
        return x if dropout_p is None else F.dropout(x, p=dropout_p, training=True)

    def lin(x, name):
        return x @ P[name + ".weight"].t() + P[name + ".bias"]

    def layer_norm(x, name, eps=1e-5):
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps) * P[name + ".weight"] + P[name + ".bias"]

    def attention(name, x_q, x_kv, allowed):
        n, s, e = x_q.shape
        t = x_kv.shape[1]
        d = e // num_heads
        q = lin(x_q, name + ".query").reshape(n, s, num_heads, d)
        k = lin(x_kv, name + ".key").reshape(n, t, num_heads, d)
        v = lin(x_kv, name + ".value").reshape(n, t, num_heads, d)
        scores = torch.einsum("nshd,nthd->nhst", q, k) / math.sqrt(d)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, -math.inf)
        e_scores = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
        weights = drop(e_scores / e_scores.sum(dim=-1, keepdim=True))  # (n, H, s, t)
        heads = torch.einsum("nhst,nthd->nshd", weights, v).reshape(n, s, e)
        return lin(heads, name + ".proj")

    W = P["embedding.weight"].shape[1]
    # The model's table is a float32 buffer; round the oracle's the same way.
    table = torch.tensor(sinusoid_table(T, W).astype(np.float32)).to(device=device, dtype=dtype)
    memory = lin(features, "visual_projection").unsqueeze(1)  # (N, 1, W)
    x = drop(P["embedding.weight"][captions] + table)
    causal = torch.arange(T, device=device)[:, None] >= torch.arange(T, device=device)[None, :]
    for layer in range(num_layers):
        pre = f"transformer.layers.{layer}."
        x = layer_norm(x + drop(attention(pre + "self_attn", x, x, causal)), pre + "norm1")
        x = layer_norm(x + drop(attention(pre + "multihead_attn", x, memory, None)), pre + "norm2")
        hidden = drop(torch.clamp(lin(x, pre + "linear1"), min=0))
        x = layer_norm(x + drop(lin(hidden, pre + "linear2")), pre + "norm3")
    return lin(x, "output")


def expected_parameter_names():
    """The .parameters() order SPEC.md implies for num_layers = 2, written out."""
    return [
        "visual_projection.weight", "visual_projection.bias",
        "embedding.weight",
        "transformer.layers.0.self_attn.key.weight", "transformer.layers.0.self_attn.key.bias",
        "transformer.layers.0.self_attn.query.weight", "transformer.layers.0.self_attn.query.bias",
        "transformer.layers.0.self_attn.value.weight", "transformer.layers.0.self_attn.value.bias",
        "transformer.layers.0.self_attn.proj.weight", "transformer.layers.0.self_attn.proj.bias",
        "transformer.layers.0.multihead_attn.key.weight", "transformer.layers.0.multihead_attn.key.bias",
        "transformer.layers.0.multihead_attn.query.weight", "transformer.layers.0.multihead_attn.query.bias",
        "transformer.layers.0.multihead_attn.value.weight", "transformer.layers.0.multihead_attn.value.bias",
        "transformer.layers.0.multihead_attn.proj.weight", "transformer.layers.0.multihead_attn.proj.bias",
        "transformer.layers.0.linear1.weight", "transformer.layers.0.linear1.bias",
        "transformer.layers.0.linear2.weight", "transformer.layers.0.linear2.bias",
        "transformer.layers.0.norm1.weight", "transformer.layers.0.norm1.bias",
        "transformer.layers.0.norm2.weight", "transformer.layers.0.norm2.bias",
        "transformer.layers.0.norm3.weight", "transformer.layers.0.norm3.bias",
        "transformer.layers.1.self_attn.key.weight", "transformer.layers.1.self_attn.key.bias",
        "transformer.layers.1.self_attn.query.weight", "transformer.layers.1.self_attn.query.bias",
        "transformer.layers.1.self_attn.value.weight", "transformer.layers.1.self_attn.value.bias",
        "transformer.layers.1.self_attn.proj.weight", "transformer.layers.1.self_attn.proj.bias",
        "transformer.layers.1.multihead_attn.key.weight", "transformer.layers.1.multihead_attn.key.bias",
        "transformer.layers.1.multihead_attn.query.weight", "transformer.layers.1.multihead_attn.query.bias",
        "transformer.layers.1.multihead_attn.value.weight", "transformer.layers.1.multihead_attn.value.bias",
        "transformer.layers.1.multihead_attn.proj.weight", "transformer.layers.1.multihead_attn.proj.bias",
        "transformer.layers.1.linear1.weight", "transformer.layers.1.linear1.bias",
        "transformer.layers.1.linear2.weight", "transformer.layers.1.linear2.bias",
        "transformer.layers.1.norm1.weight", "transformer.layers.1.norm1.bias",
        "transformer.layers.1.norm2.weight", "transformer.layers.1.norm2.bias",
        "transformer.layers.1.norm3.weight", "transformer.layers.1.norm3.bias",
        "output.weight", "output.bias",
    ]


def small_model(seed=231):
    torch.manual_seed(seed)
    return CaptioningTransformer(SMALL_VOCAB, input_dim=SMALL["D"], wordvec_dim=SMALL["W"],
                                 num_heads=SMALL["heads"], num_layers=SMALL["layers"],
                                 max_length=SMALL["max_length"])


def set_linspace_parameters(model):
    """The canonical fixed-parameter setting: each parameter from np.linspace, in order."""
    for _, v in model.named_parameters():
        v.data = torch.tensor(np.linspace(-1.4, 1.3, num=v.numel()).reshape(*v.shape))


def small_inputs():
    N, D, T, V = SMALL["N"], SMALL["D"], SMALL["T"], len(SMALL_VOCAB)
    features = torch.tensor(np.linspace(-1.5, 0.3, num=N * D).reshape(N, D))
    captions = torch.tensor((np.arange(N * T) % V).reshape(N, T))
    return features, captions


def vocab(V):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(V - 4)]
    return {w: i for i, w in enumerate(words)}


def random_model(V=15, D=10, W=16, heads=4, layers=2, max_length=12, seed=0, device="cpu", dtype=torch.float32):
    torch.manual_seed(seed)
    model = CaptioningTransformer(vocab(V), input_dim=D, wordvec_dim=W, num_heads=heads,
                                  num_layers=layers, max_length=max_length)
    # Fresh init has tiny weights; spread them so every part shows in the output.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.to(device=device, dtype=dtype)


# ----------------------------------------------------------------------------
# Structure and initialisation
# ----------------------------------------------------------------------------
def test_parameter_registration_order():
    model = small_model()
    assert [name for name, _ in model.named_parameters()] == expected_parameter_names()
    assert [name for name, _ in model.named_children()] == [
        "visual_projection", "embedding", "positional_encoding", "transformer", "output"]
    layer = model.transformer.layers[0]
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2",
        "norm1", "norm2", "norm3", "dropout1", "dropout2", "dropout3", "activation"]
    assert [name for name, _ in model.named_buffers()] == ["positional_encoding.pe"]


def test_submodule_types_and_sizes():
    model = small_model()
    W, D, V = SMALL["W"], SMALL["D"], len(SMALL_VOCAB)
    assert isinstance(model.visual_projection, torch.nn.Linear)
    assert (model.visual_projection.in_features, model.visual_projection.out_features) == (D, W)
    assert isinstance(model.embedding, torch.nn.Embedding)
    assert tuple(model.embedding.weight.shape) == (V, W) and model.embedding.padding_idx == 0
    assert isinstance(model.positional_encoding, PositionalEncoding)
    assert tuple(model.positional_encoding.pe.shape) == (1, SMALL["max_length"], W)
    assert isinstance(model.transformer, TransformerDecoder) and len(model.transformer.layers) == 2
    for layer in model.transformer.layers:
        assert isinstance(layer, TransformerDecoderLayer)
        assert isinstance(layer.self_attn, MultiHeadAttention) and layer.self_attn.n_head == 2
        assert isinstance(layer.multihead_attn, MultiHeadAttention)
        assert (layer.linear1.in_features, layer.linear1.out_features) == (W, 2048)
        assert (layer.linear2.in_features, layer.linear2.out_features) == (2048, W)
        assert isinstance(layer.activation, torch.nn.ReLU)
        for name in ("dropout", "dropout1", "dropout2", "dropout3"):
            assert getattr(layer, name).p == 0.1
        assert layer.self_attn.attn_drop.p == 0.1
    assert model.positional_encoding.dropout.p == 0.1
    # Deep copies: the layers do not share parameters.
    first, second = model.transformer.layers
    assert first.linear1.weight.data_ptr() != second.linear1.weight.data_ptr()
    assert (model.output.in_features, model.output.out_features) == (W, V)
    assert model.training


def test_weight_initialisation():
    torch.manual_seed(0)
    W, V = 256, 40
    model = CaptioningTransformer(vocab(V), input_dim=64, wordvec_dim=W, num_heads=4)
    for name, module in model.named_modules():
        if name == "output":
            continue
        if isinstance(module, torch.nn.Linear):
            assert abs(module.weight.std().item() - 0.02) < 0.004, name
            assert abs(module.weight.mean().item()) < 0.004, name
            assert torch.count_nonzero(module.bias) == 0, name
        elif isinstance(module, torch.nn.LayerNorm):
            assert torch.all(module.weight == 1) and torch.count_nonzero(module.bias) == 0, name
    rows = model.embedding.weight[1:]
    assert abs(rows.std().item() - 0.02) < 0.004
    assert torch.count_nonzero(model.embedding.weight[0]) == 0  # <NULL> row
    # output is made after the custom init: PyTorch's default (uniform within
    # 1/sqrt(W), non-zero bias), not N(0, 0.02) with zero bias.
    bound = 1 / math.sqrt(W)
    assert model.output.weight.abs().max().item() <= bound
    assert abs(model.output.weight.std().item() - bound / math.sqrt(3)) < 0.004
    assert torch.count_nonzero(model.output.bias) > 0


def test_initialisation_draws_in_spec_order():
    # Rebuild the whole initialisation from torch primitives with the same seed:
    # modules are created in registration order with PyTorch's default init (one
    # decoder layer, then deep copies), then every Linear/Embedding weight is
    # redrawn from N(0, 0.02) in module order, and only then is `output` made.
    D, W, V, H, F_DIM = 6, 8, 11, 2, 2048
    torch.manual_seed(7)
    model = CaptioningTransformer(vocab(V), input_dim=D, wordvec_dim=W, num_heads=H, num_layers=2)

    torch.manual_seed(7)
    torch.nn.Linear(D, W)
    torch.nn.Embedding(V, W)
    for _ in range(8):  # key, query, value, proj of the two attention layers
        torch.nn.Linear(W, W)
    torch.nn.Linear(W, F_DIM)
    torch.nn.Linear(F_DIM, W)
    expected = {
        "visual_projection.weight": torch.empty(W, D).normal_(0.0, 0.02),
        "embedding.weight": torch.empty(V, W).normal_(0.0, 0.02),
    }
    for layer in range(2):
        for attn in ("self_attn", "multihead_attn"):
            for lin in ("key", "query", "value", "proj"):
                expected[f"transformer.layers.{layer}.{attn}.{lin}.weight"] = torch.empty(W, W).normal_(0.0, 0.02)
        expected[f"transformer.layers.{layer}.linear1.weight"] = torch.empty(F_DIM, W).normal_(0.0, 0.02)
        expected[f"transformer.layers.{layer}.linear2.weight"] = torch.empty(W, F_DIM).normal_(0.0, 0.02)
    output = torch.nn.Linear(W, V)
    expected["embedding.weight"][0] = 0.0  # the <NULL> row
    expected["output.weight"], expected["output.bias"] = output.weight, output.bias

    params = dict(model.named_parameters())
    for name, value in expected.items():
        torch.testing.assert_close(params[name], value, rtol=0, atol=0, msg=name)


def test_same_seed_same_model():
    a, b = small_model(seed=5), small_model(seed=5)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), name


# ----------------------------------------------------------------------------
# Values: fixed parameters and random parameters against the oracle
# ----------------------------------------------------------------------------
def test_linspace_parameters_eval_matches_oracle():
    model = small_model()
    set_linspace_parameters(model)
    features, captions = small_inputs()
    model.eval()
    scores = model(features, captions)
    assert tuple(scores.shape) == (SMALL["N"], SMALL["T"], len(SMALL_VOCAB))
    assert scores.dtype == torch.float64
    with torch.no_grad():
        expected = reference_forward(model, features, captions, SMALL["heads"])
    torch.testing.assert_close(scores, expected, rtol=1e-7, atol=1e-7)
    # Deterministic in eval mode.
    torch.testing.assert_close(model(features, captions), scores, rtol=0, atol=0)


def test_linspace_parameters_train_mode_same_seed_as_oracle():
    # The canonical check runs in train mode; its printed numbers depend on the
    # platform's random stream, so compare with the oracle's draws on this machine.
    model = small_model()
    set_linspace_parameters(model)
    features, captions = small_inputs()
    assert model.training
    torch.manual_seed(231)
    scores = model(features, captions)
    torch.manual_seed(231)
    with torch.no_grad():
        expected = reference_forward(model, features, captions, SMALL["heads"], dropout_p=0.1)
    torch.testing.assert_close(scores, expected, rtol=1e-7, atol=1e-7)
    with torch.no_grad():
        assert not torch.allclose(scores, reference_forward(model, features, captions, SMALL["heads"]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("train", [False, True])
def test_random_parameters_match_oracle(device, dtype, train):
    model = random_model(device=device, dtype=dtype)
    model.train(train)
    N, T = 5, 9
    g = torch.Generator().manual_seed(3)
    features = torch.randn(N, 10, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    captions = torch.randint(0, 15, (N, T), generator=g).to(device)
    torch.manual_seed(11)
    scores = model(features, captions)
    assert scores.dtype == dtype and tuple(scores.shape) == (N, T, 15)
    torch.manual_seed(11)
    with torch.no_grad():
        expected = reference_forward(model, features, captions, 4, dropout_p=0.1 if train else None)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}
    torch.testing.assert_close(scores, expected, **tol)


def test_float64_model_agrees_with_float32():
    model32 = random_model().eval()
    model64 = random_model().double().eval()
    features = torch.randn(4, 10)
    captions = torch.randint(0, 15, (4, 7))
    s32 = model32(features, captions)
    s64 = model64(features.double(), captions)
    assert s32.dtype == torch.float32 and s64.dtype == torch.float64
    torch.testing.assert_close(s32.double(), s64, rtol=1e-4, atol=1e-4)


def test_int32_captions_accepted():
    model = random_model().eval()
    features = torch.randn(2, 10)
    captions = torch.randint(0, 15, (2, 5))
    torch.testing.assert_close(model(features, captions.int()), model(features, captions))


# ----------------------------------------------------------------------------
# Causal masking and padding
# ----------------------------------------------------------------------------
def test_later_tokens_never_change_earlier_scores():
    model = random_model().eval()
    N, T = 4, 10
    features = torch.randn(N, 10)
    captions = torch.randint(0, 15, (N, T))
    scores = model(features, captions)
    for k in (1, 4, T - 1):
        changed = captions.clone()
        changed[:, k:] = (changed[:, k:] + 1 + torch.randint(0, 13, (N, T - k))) % 15
        new_scores = model(features, changed)
        torch.testing.assert_close(new_scores[:, :k], scores[:, :k], rtol=1e-6, atol=1e-6)
        assert not torch.allclose(new_scores[:, k:], scores[:, k:], atol=1e-4)
        # A prefix alone gives the same scores as the prefix of the full caption.
        torch.testing.assert_close(model(features, captions[:, :k]), scores[:, :k], rtol=1e-5, atol=1e-5)


def test_image_features_reach_every_position():
    model = random_model().eval()
    captions = torch.randint(0, 15, (3, 6))
    a = model(torch.randn(3, 10), captions)
    b = model(torch.randn(3, 10), captions)
    assert not torch.allclose(a[:, 0], b[:, 0]) and not torch.allclose(a[:, -1], b[:, -1])


def test_null_embedding_is_zero_and_gets_no_gradient():
    torch.manual_seed(0)
    model = CaptioningTransformer(vocab(12), input_dim=6, wordvec_dim=8, num_heads=2, max_length=10)
    null = model._null
    assert torch.count_nonzero(model.embedding.weight[null]) == 0
    captions = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0]])
    model(torch.randn(2, 6), captions).sum().backward()
    grad = model.embedding.weight.grad
    assert torch.count_nonzero(grad[null]) == 0
    assert torch.count_nonzero(grad[5]) > 0 and torch.count_nonzero(grad[1]) > 0
    assert torch.count_nonzero(grad[9]) == 0  # unused word


# ----------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------
def test_sample_shape_dtype_and_mode():
    model = random_model(max_length=12)
    features = np.random.RandomState(0).randn(5, 10).astype(np.float32)
    captions = model.sample(features, max_length=7)
    assert isinstance(captions, np.ndarray) and captions.shape == (5, 7)
    assert np.issubdtype(captions.dtype, np.integer)
    assert captions.min() >= 0 and captions.max() < 15
    assert model.training  # mode restored
    np.testing.assert_array_equal(model.sample(features, max_length=7), captions)  # no dropout
    model.eval()
    model.sample(torch.from_numpy(features), max_length=3)
    assert not model.training


def test_sample_is_greedy_decoding():
    model = random_model(max_length=12).eval()
    features = torch.randn(4, 10)
    captions = model.sample(features, max_length=6)
    start = model.word_to_idx["<START>"]
    partial = torch.full((4, 1), start, dtype=torch.long)
    for t in range(6):
        with torch.no_grad():
            best = model(features, partial)[:, -1].argmax(dim=1)
        np.testing.assert_array_equal(captions[:, t], best.numpy())
        partial = torch.cat([partial, best[:, None]], dim=1)


def test_sample_float64_model():
    model = random_model(max_length=8).double()
    captions = model.sample(np.random.randn(3, 10), max_length=8)
    assert captions.shape == (3, 8)


def test_sample_errors():
    model = random_model(max_length=12)
    with pytest.raises(ValueError, match="max_length"):
        model.sample(np.zeros((2, 10)), max_length=30)
    no_start = small_model()
    with pytest.raises(ValueError, match="<START>"):
        no_start.sample(np.zeros((2, SMALL["D"])))


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------
def test_bad_construction():
    with pytest.raises(ValueError, match=r"wordvec_dim = 30.*num_heads = 4"):
        CaptioningTransformer(vocab(10), input_dim=5, wordvec_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="<NULL>"):
        CaptioningTransformer({"a": 0, "b": 1}, input_dim=5, wordvec_dim=8, num_heads=2)


def test_bad_forward_input():
    model = random_model(max_length=12)
    features = torch.randn(3, 10)
    captions = torch.randint(0, 15, (3, 5))
    with pytest.raises(ValueError, match="input_dim = 10"):
        model(torch.randn(3, 9), captions)
    with pytest.raises(ValueError, match=r"N = 3"):
        model(features, captions[:2])
    with pytest.raises(ValueError, match="max_length = 12"):
        model(features, torch.randint(0, 15, (3, 13)))
    with pytest.raises(TypeError, match="integer"):
        model(features, captions.float())
    with pytest.raises(TypeError, match="float64"):
        model(features.double(), captions)
    with pytest.raises(ValueError, match=r"\[0, 15\)"):
        model(features, captions + 15)
    with pytest.raises(TypeError):
        model(features.numpy(), captions)


def test_decoder_layer_mask_of_wrong_shape():
    layer = TransformerDecoderLayer(8, 2)
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 1, 8)
    with pytest.raises(ValueError, match=r"\(S, T\) = \(5, 5\)"):
        layer(x, memory, tgt_mask=torch.ones(4, 4, dtype=torch.bool))


# ----------------------------------------------------------------------------
# The solver and its loss
# ----------------------------------------------------------------------------
def test_transformer_loss_against_numpy():
    from cs231n.captioning_solver_transformer import (
        CaptioningSolverTransformer,
        transformer_temporal_softmax_loss,
    )

    rng = np.random.RandomState(0)
    N, T, V = 4, 6, 9
    x = rng.randn(N, T, V)
    y = rng.randint(0, V, size=(N, T))
    mask = rng.rand(N, T) < 0.7
    log_probs = x - x.max(axis=2, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, y[:, :, None], axis=2)[:, :, 0]
    expected = -(picked * mask).sum() / (N * T)  # every position in the denominator
    for m in (torch.tensor(mask), torch.tensor(mask.astype(np.int64))):
        loss = transformer_temporal_softmax_loss(torch.tensor(x), torch.tensor(y), m)
        assert loss.dim() == 0
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
        loss2 = CaptioningSolverTransformer.transformer_temporal_softmax_loss(torch.tensor(x), torch.tensor(y), m)
        np.testing.assert_allclose(loss2.item(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="expected x"):
        transformer_temporal_softmax_loss(torch.tensor(x), torch.tensor(y[:, :-1]), torch.tensor(mask))


def tiny_caption_data(num_images=6, D=10, V=15, L=8, seed=0):
    """A minimal data dict of the load_coco_data kind: one caption per image."""
    rng = np.random.RandomState(seed)
    captions = np.zeros((num_images, L), dtype=np.int32)
    for i in range(num_images):
        n = rng.randint(2, L - 2)
        captions[i, 0] = 1  # <START>
        captions[i, 1:n + 1] = rng.randint(4, V, size=n)
        captions[i, n + 1] = 2  # <END>
    return {
        "train_captions": captions,
        "train_image_idxs": np.arange(num_images, dtype=np.int32),
        "train_features": rng.randn(num_images, D).astype(np.float32),
        "train_urls": np.array([f"http://example.com/{i}.jpg" for i in range(num_images)]),
    }


def test_solver_trains_and_prints(capsys):
    from cs231n.captioning_solver_transformer import CaptioningSolverTransformer

    data = tiny_caption_data()
    torch.manual_seed(0)
    np.random.seed(0)
    model = CaptioningTransformer(vocab(15), input_dim=10, wordvec_dim=32, num_heads=2,
                                  num_layers=1, max_length=10)
    solver = CaptioningSolverTransformer(model, data, idx_to_word=list(vocab(15)), num_epochs=30,
                                         batch_size=6, learning_rate=1e-2, print_every=10)
    solver.train()
    assert len(solver.loss_history) == 30  # one iteration per epoch
    assert all(isinstance(v, float) for v in solver.loss_history)
    assert np.mean(solver.loss_history[-5:]) < 0.7 * np.mean(solver.loss_history[:5])
    out = capsys.readouterr().out
    assert "(Iteration 1 / 30) loss: " in out and "(Iteration 21 / 30) loss: " in out
    assert "(Iteration 2 / 30)" not in out
    assert solver.epoch == 30


def test_solver_rejects_unknown_arguments():
    from cs231n.captioning_solver_transformer import CaptioningSolverTransformer

    model = random_model()
    with pytest.raises(TypeError, match="update_rule"):
        CaptioningSolverTransformer(model, tiny_caption_data(), idx_to_word=[], update_rule="sgd")
    with pytest.raises(ValueError, match="batch_size"):
        CaptioningSolverTransformer(model, tiny_caption_data(), idx_to_word=[], batch_size=0)


# ----------------------------------------------------------------------------
# The notebook's overfitting run on the generated COCO sample
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def overfit_run(coco_sample_dir):
    """The notebook's run: 50 captions, wordvec 256, 2 heads, 2 layers, lr 1e-3,
    batch 25, 100 epochs, seeds 231. Trained once for the tests below."""
    from cs231n.captioning_solver_transformer import CaptioningSolverTransformer
    from cs231n.coco_utils import load_coco_data

    torch.manual_seed(231)
    np.random.seed(231)
    data = load_coco_data(base_dir=coco_sample_dir, max_train=50)
    model = CaptioningTransformer(word_to_idx=data["word_to_idx"], input_dim=data["train_features"].shape[1],
                                  wordvec_dim=256, num_heads=2, num_layers=2, max_length=30)
    solver = CaptioningSolverTransformer(model, data, idx_to_word=data["idx_to_word"], num_epochs=100,
                                         batch_size=25, learning_rate=0.001, verbose=False)
    solver.train()
    return data, model, solver


@pytest.mark.slow
def test_overfit_fifty_captions(overfit_run):
    from cs231n.captioning_solver_transformer import transformer_temporal_softmax_loss
    from cs231n.coco_utils import decode_captions

    data, model, solver = overfit_run
    assert len(solver.loss_history) == 200
    assert np.isfinite(solver.loss_history).all()
    assert solver.loss_history[-1] < 0.1

    # Noise-free measure of memorisation: the eval-mode loss over all 50
    # training captions (the last minibatch loss also carries dropout noise and
    # the irreducible loss of images that have two different captions).
    captions = data["train_captions"]
    features = torch.from_numpy(data["train_features"][data["train_image_idxs"]])
    targets = torch.from_numpy(captions[:, 1:]).long()
    model.eval()
    with torch.no_grad():
        scores = model(features, torch.from_numpy(captions[:, :-1]).long())
        loss = transformer_temporal_softmax_loss(scores, targets, targets != model._null).item()
    model.train()
    assert loss < OVERFIT_FINAL_LOSS

    # Greedy sampling writes back the caption of every image that has only one
    # caption among the 50 (allowing one miss for platform differences).
    sampled = model.sample(features.numpy(), max_length=30)
    assert sampled.shape == (50, 30) and np.issubdtype(sampled.dtype, np.integer)
    got = decode_captions(sampled, data["idx_to_word"])
    want = decode_captions(captions[:, 1:], data["idx_to_word"])
    image_counts = np.bincount(data["train_image_idxs"])
    single = [i for i, image in enumerate(data["train_image_idxs"]) if image_counts[image] == 1]
    assert len(single) >= 40
    assert sum(got[i] == want[i] for i in single) >= len(single) - 1


@pytest.mark.slow
def test_overfit_final_minibatch_loss_meets_notebook_bar(overfit_run):
    _, _, solver = overfit_run
    assert solver.loss_history[-1] < OVERFIT_FINAL_LOSS


def test_module_defines_only_the_canonical_top_level_names():
    from pathlib import Path

    import cs231n.classifiers.transformer as module
    from fairness.alternative import strip_to_names
    from fairness.transformer import CANONICAL_NAMES

    text = Path(module.__file__).read_text()
    assert strip_to_names(text, CANONICAL_NAMES["cs231n/classifiers/transformer.py"]) == text


def test_decoder_layer_calls_attention_by_keyword():
    # As the canonical decoder layer does: hooks and wrappers around the attention
    # layers (notebooks, checks) must accept keyword calls.
    layer = TransformerDecoderLayer(8, 2)
    calls = []
    for attention in (layer.self_attn, layer.multihead_attn):
        attention.register_forward_pre_hook(
            lambda module, args, kwargs: calls.append((len(args), sorted(kwargs))), with_kwargs=True)
    layer(torch.randn(2, 5, 8), torch.randn(2, 1, 8), tgt_mask=torch.ones(5, 5, dtype=torch.bool))
    assert calls == [(0, ["attn_mask", "key", "query", "value"]), (0, ["key", "query", "value"])]
