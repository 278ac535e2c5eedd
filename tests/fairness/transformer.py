"""Fairness corpus, transformer part: see tests/fairness/__init__.py.

Correct code the way students write it against the canonical starter files:
einsum or matmul with transposes/permutes, view or reshape, the softmax scale
as a float32 tensor (``torch.sqrt(torch.tensor(d))``, ``torch.Tensor([d])``),
``math.sqrt``, ``** 0.5`` or applied to the queries, masked scores set to -inf,
-1e9 or -1e20 with ``== 0`` / ``logical_not`` / ``== False`` on boolean, 0/1
float or integer masks, ``F.softmax`` or a hand-written one, the canonical
float32 placeholder filled in place; the table built with exp/log, pow,
``torch.outer``, a loop over columns or NumPy; masks built with tril, triu or
comparisons of aranges; keyword or positional calls.
"""
from fairness.alternative import Alternative, Degenerate

LAYERS = "cs231n/transformer_layers.py:"
ATTN = LAYERS + "MultiHeadAttention.forward"
PE_INIT = LAYERS + "PositionalEncoding.__init__"
PE_FORWARD = LAYERS + "PositionalEncoding.forward"
MODEL = "cs231n/classifiers/transformer.py:CaptioningTransformer.forward"

# Top-level names of the official starter files (2022-2024): student files hold
# only these. classifiers/transformer.py star-imports transformer_layers, whose
# public names (torch, nn, F, math and the two layers) it therefore defines too.
CANONICAL_NAMES = {
    "cs231n/transformer_layers.py": {"torch", "nn", "F", "math", "PositionalEncoding", "MultiHeadAttention"},
    "cs231n/classifiers/transformer.py": {
        "np", "copy", "torch", "nn", "F", "math", "PositionalEncoding", "MultiHeadAttention",
        "CaptioningTransformer", "TransformerDecoderLayer", "clones", "TransformerDecoder"},
}

ALTERNATIVES = [
    # ---- MultiHeadAttention.forward ------------------------------------------------
    Alternative("mha_einsum_tensor_sqrt", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            N, T, E = value.shape
            H = self.n_head
            d = E // H
            q = self.query(query).reshape(N, S, H, d)
            k = self.key(key).reshape(N, T, H, d)
            v = self.value(value).reshape(N, T, H, d)
            # the scale as a float32 tensor: sqrt of an integer tensor
            scores = torch.einsum("nshd,nthd->nhst", q, k) / torch.sqrt(torch.tensor(d))
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask == 0, float("-inf"))
            weights = self.attn_drop(F.softmax(scores, dim=-1))
            mixed = torch.einsum("nhst,nthd->nshd", weights, v).reshape(N, S, E)
            return self.proj(mixed)
    ''', "einsum for both products, reshape, scale sqrt(torch.tensor(d)) in float32, mask == 0"),
    Alternative("mha_permute_scaled_queries_big_negative", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            _, T, _ = value.shape
            h, hd = self.n_head, self.head_dim
            q = self.query(query).view(N, S, h, hd).permute(0, 2, 1, 3)   # N h S hd
            k = self.key(key).view(N, T, h, hd).permute(0, 2, 3, 1)       # N h hd T
            v = self.value(value).view(N, T, h, hd).permute(0, 2, 1, 3)   # N h T hd
            q = q / math.sqrt(hd)  # scale the queries instead of the scores
            scores = q @ k
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask.logical_not(), -1e9)
            att = self.attn_drop(torch.softmax(scores, dim=3))
            out = (att @ v).permute(0, 2, 1, 3).contiguous().view(N, S, E)
            return self.proj(out)
    ''', "permute, queries divided by math.sqrt before the product, -1e9 via logical_not, view"),
    Alternative("mha_handwritten_softmax_pow_half", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            T = key.shape[1]
            H = self.n_head
            D = E // H

            def heads(x, length):
                return x.reshape(N, length, H, D).transpose(1, 2)

            Q, K, V = heads(self.query(query), S), heads(self.key(key), T), heads(self.value(value), T)
            logits = torch.matmul(Q, K.transpose(2, 3)) / D ** 0.5
            if attn_mask is not None:
                logits = logits.masked_fill(attn_mask == False, -1e20)  # noqa: E712
            logits = logits - logits.max(dim=-1, keepdim=True).values
            e = torch.exp(logits)
            A = self.attn_drop(e / e.sum(dim=-1, keepdim=True))
            Y = torch.matmul(A, V).transpose(1, 2).reshape(N, S, E)
            return self.proj(Y)
    ''', "a hand-written stable softmax, ** 0.5, -1e20 where mask == False"),
    Alternative("mha_canonical_placeholder_in_place", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            N, S, D = query.shape
            N, T, D = value.shape
            # the canonical float32 placeholder, filled in place at the end
            output = torch.empty((N, S, D), device=query.device)
            H = self.n_head
            q = self.query(query).reshape((N, S, H, int(D / H))).permute((0, 2, 1, 3))
            k = self.key(key).reshape((N, T, H, int(D / H))).permute((0, 2, 3, 1))
            v = self.value(value).reshape((N, T, H, int(D / H))).permute((0, 2, 1, 3))
            scores = torch.matmul(q, k)
            scores /= torch.sqrt(torch.Tensor([D / H])).to(scores.device)
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask == 0, value=-float("inf"))
            attn = self.attn_drop(F.softmax(scores, dim=-1))
            y = attn.matmul(v).permute((0, 2, 1, 3)).reshape((N, S, -1))
            output[:, :, :] = self.proj(y)
            return output
    ''', "in-place division by torch.sqrt(torch.Tensor([D / H])), result written into torch.empty"),
    Alternative("mha_split_stack_numpy_scale", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            d = self.head_dim

            def split(x):  # (N, L, E) -> (N, H, L, d), one head per chunk of columns
                return torch.stack(x.split(d, dim=-1), dim=1)

            q, k, v = split(self.query(query)), split(self.key(key)), split(self.value(value))
            scores = q.matmul(k.transpose(-1, -2)) / np.sqrt(d)
            if attn_mask is not None:
                scores = torch.where(attn_mask.bool(), scores, torch.full_like(scores, float("-inf")))
            p = self.attn_drop(scores.softmax(dim=-1))
            heads = p.matmul(v)  # (N, H, S, d)
            return self.proj(torch.cat(heads.unbind(dim=1), dim=-1))
    ''', "heads by split/stack and cat/unbind, np.sqrt scale, torch.where for the mask",
        extra_imports=("import numpy as np",)),
    Alternative("mha_float_division_explicit_broadcast", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            N, T, E = value.shape
            H = self.n_head
            Q = self.query(query).view(N, S, H, E // H).transpose(1, 2)
            K = self.key(key).view(N, T, H, E // H).transpose(1, 2)
            V = self.value(value).view(N, T, H, E // H).transpose(1, 2)
            energy = Q @ K.transpose(-2, -1) / math.sqrt(E / H)
            if attn_mask is not None:
                mask = attn_mask.bool()[None, None, :, :]  # (1, 1, S, T)
                energy = energy.masked_fill(~mask, float("-inf"))
            energy = torch.nn.functional.softmax(energy, dim=-1)
            energy = self.attn_drop(energy)
            context = (energy @ V).transpose(1, 2).contiguous().view(N, S, E)
            return self.proj(context)
    ''', "math.sqrt(E / H), a (1, 1, S, T) boolean mask inverted with ~"),

    # ---- PositionalEncoding.__init__ ----------------------------------------------
    Alternative("pe_exp_log_div_term", PE_INIT, '''
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            assert embed_dim % 2 == 0
            pe = torch.zeros(1, max_len, embed_dim)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, embed_dim, 2).float() * (-math.log(10000.0) / embed_dim))
            pe[0, :, 0::2] = torch.sin(position * div_term)
            pe[0, :, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)
    ''', "frequencies as exp(-2j log(10000) / E), all in float32"),
    Alternative("pe_pow_outer", PE_INIT, '''
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            assert embed_dim % 2 == 0
            pe = torch.zeros(1, max_len, embed_dim)
            freq = 10000 ** (-torch.arange(0, embed_dim, 2) / embed_dim)
            angles = torch.outer(torch.arange(max_len).float(), freq)
            pe[:, :, 0::2] = torch.sin(angles)
            pe[:, :, 1::2] = torch.cos(angles)
            self.register_buffer("pe", pe)
    ''', "10000 ** (-2j / E) with torch.outer"),
    Alternative("pe_loop_over_column_pairs", PE_INIT, '''
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            assert embed_dim % 2 == 0
            pe = torch.zeros(1, max_len, embed_dim)
            positions = torch.arange(max_len, dtype=torch.float32)
            for j in range(0, embed_dim, 2):
                rate = 1.0 / math.pow(10000, j / embed_dim)
                pe[0, :, j] = torch.sin(positions * rate)
                pe[0, :, j + 1] = torch.cos(positions * rate)
            self.register_buffer("pe", pe)
    ''', "a Python loop over the column pairs, math.pow"),
    Alternative("pe_numpy_table", PE_INIT, '''
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            assert embed_dim % 2 == 0
            pe = torch.zeros(1, max_len, embed_dim)
            i = np.arange(max_len)[:, None]
            exponent = np.arange(0, embed_dim, 2)[None, :] / embed_dim
            table = np.zeros((max_len, embed_dim))
            table[:, 0::2] = np.sin(i / 10000 ** exponent)
            table[:, 1::2] = np.cos(i / 10000 ** exponent)
            pe[0] = torch.from_numpy(table)
            self.register_buffer("pe", pe)
    ''', "a float64 NumPy table copied into the float32 buffer", extra_imports=("import numpy as np",)),

    # ---- PositionalEncoding.forward -----------------------------------------------
    Alternative("pe_forward_functional_dropout", PE_FORWARD, '''
        def forward(self, x):
            N, S, D = x.shape
            output = x + self.pe[:, :S, :]
            output = F.dropout(output, p=self.dropout.p, training=self.training)
            return output
    ''', "F.dropout with the layer's p and training flag"),
    Alternative("pe_forward_in_place", PE_FORWARD, '''
        def forward(self, x):
            N, S, D = x.shape
            output = torch.empty_like(x)
            output[:] = x + self.pe[0, :S]
            return self.dropout(output)
    ''', "a placeholder like x filled in place, pe indexed as pe[0, :S]"),

    # ---- CaptioningTransformer.forward --------------------------------------------
    Alternative("model_float_mask_keywords", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            scores = torch.empty((N, T, self.vocab_size))
            caption_embeddings = self.positional_encoding(self.embedding(captions))
            projected = self.visual_projection(features).unsqueeze(1)
            # a 0/1 mask in the embeddings' dtype, as the canonical solution builds it
            tgt_mask = torch.tril(torch.ones(T, T, device=caption_embeddings.device,
                                             dtype=caption_embeddings.dtype))
            decoded = self.transformer(tgt=caption_embeddings, memory=projected, tgt_mask=tgt_mask)
            scores = self.output(decoded)
            return scores
    ''', "float 0/1 tril mask, keyword call of the decoder"),
    Alternative("model_inverted_triu_positional", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            memory = self.visual_projection(features)[:, None, :]
            x = self.embedding(captions)
            x = self.positional_encoding(x)
            future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
            x = self.transformer(x, memory, ~future)
            return self.output(x)
    ''', "mask as ~triu(diagonal=1), memory by [:, None, :], positional call"),
    Alternative("model_arange_int_mask", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            img = self.visual_projection(features).view(N, 1, -1)
            steps = torch.arange(T, device=captions.device)
            allowed = (steps[None, :] <= steps[:, None]).long()  # 1 where key <= query
            out = self.transformer(self.positional_encoding(self.embedding(captions)), img, tgt_mask=allowed)
            return self.output(out)
    ''', "an integer 0/1 mask from comparing aranges, view(N, 1, -1)"),
]

DEGENERATE = [
    Degenerate("mha_returns_zeros", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            return torch.zeros_like(query)
    ''', zero=("multihead_attention", "transformer_forward", "transformer_overfit"),
        what="attention that outputs zeros"),
    Degenerate("mha_returns_query", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            return query
    ''', zero=("multihead_attention", "transformer_forward", "transformer_overfit"),
        what="attention that returns its query input unchanged"),
    Degenerate("mha_constant", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            return torch.full_like(query, 0.5)
    ''', zero=("multihead_attention", "transformer_forward", "transformer_overfit"),
        what="attention that outputs a constant"),
    Degenerate("mha_projected_query", ATTN, '''
        def forward(self, query, key, value, attn_mask=None):
            return self.proj(self.value(query))
    ''', zero=("transformer_forward",),
        what="no attention at all: each position keeps its own value, so nothing ever leaks"),
    Degenerate("pe_zero_table", PE_INIT, '''
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            self.register_buffer("pe", torch.zeros(1, max_len, embed_dim))
    ''', zero=("positional_encoding", "transformer_forward", "transformer_overfit"),
        what="a pe buffer left at zero"),
    Degenerate("pe_forward_identity", PE_FORWARD, '''
        def forward(self, x):
            return x
    ''', zero=("positional_encoding", "transformer_forward", "transformer_overfit"),
        what="a positional encoding that returns its input"),
    Degenerate("model_zero_scores", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            return torch.zeros(N, T, self.vocab_size)
    ''', zero=("transformer_forward", "transformer_overfit"), what="all-zero scores"),
    Degenerate("model_constant_scores_with_grad", MODEL, '''
        def forward(self, features, captions):
            N, T = captions.shape
            return self.output.bias.expand(N, T, -1) * 1.0
    ''', zero=("transformer_forward", "transformer_overfit"),
        what="the same scores at every position, whatever the image and words"),
]
