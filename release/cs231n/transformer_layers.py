"""Building blocks of the captioning Transformer: positional encoding and
multi-head attention.

Shapes use N for the batch, S for the length of the query sequence, T for the
length of the key/value sequence, E for the embedding size and H for the number
of heads. Every layer works in float32 and float64 (``module.double()``) and
keeps the dtype of its input.

Notebooks reach ``torch``, ``nn`` and ``F`` through
``from cs231n.transformer_layers import *``, so they are imported here.
"""
import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class PositionalEncoding(nn.Module):
    """Adds a fixed sinusoidal code of each position to a sequence of embeddings."""

    def __init__(self, embed_dim, dropout=0.1, max_len=5000):
        """
        Inputs:
         - embed_dim: the size E of the embeddings.
         - dropout: dropout probability applied after adding the code.
         - max_len: the longest sequence this layer can encode.

        The table is stored in the buffer ``pe`` of shape (1, max_len, E), so it
        moves with ``.to(device)`` / ``.double()`` but is not a parameter. Row i,
        even column 2j holds sin(i * 10000^(-2j/E)); odd column 2j+1 holds
        cos(i * 10000^(-2j/E)).
        """
        super().__init__()
        if int(embed_dim) != embed_dim or embed_dim < 1:
            raise ValueError(f"PositionalEncoding: embed_dim must be a positive integer; got {embed_dim}")
        if int(max_len) != max_len or max_len < 1:
            raise ValueError(f"PositionalEncoding: max_len must be a positive integer; got {max_len}")
        self.embed_dim = int(embed_dim)
        self.max_len = int(max_len)
        self.dropout = nn.Dropout(p=dropout)

        pe = torch.zeros(1, self.max_len, self.embed_dim)
        # TODO: fill pe[0, i, 2j] with sin(i * 10000^(-2j/E)) and pe[0, i, 2j+1]
        # with cos(i * 10000^(-2j/E)), for every position i < max_len. Build it
        # with whole-tensor operations (no Python loop over positions).
        raise NotImplementedError("PositionalEncoding.__init__: replace this line with your code")

        # A buffer: saved with the module and moved by .to()/.double(), not trained.
        self.register_buffer("pe", pe)

    def forward(self, x):
        """
        Inputs:
         - x: embeddings, tensor of shape (N, S, E) with S <= max_len.

        Returns:
         - output: x plus the codes of positions 0..S-1, then dropout; (N, S, E),
           same dtype as x.
        """
        # Sizes from the buffer (the one attribute every implementation of __init__ sets).
        max_len, embed_dim = self.pe.shape[1], self.pe.shape[2]
        MultiHeadAttention._check_sequence("x", x, embed_dim, "PositionalEncoding.forward")
        N, S, E = x.shape
        if S > max_len:
            raise ValueError(
                f"PositionalEncoding.forward: sequence length S = {S} exceeds "
                f"max_len = {max_len}"
            )
        # A placeholder of the right shape, dtype and device (you may fill it in place).
        output = torch.empty((N, S, E), dtype=x.dtype, device=x.device)
        # TODO: add the first S rows of the table to x (broadcast over the batch)
        # and apply dropout. Keep x's dtype.
        raise NotImplementedError("PositionalEncoding.forward: replace this line with your code")
        return output


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention split over several heads.

    Each head works on its own slice of E/H features of the projected query, key
    and value. A head's weights are softmax(Q K^T / sqrt(E/H)) over the keys;
    dropout is applied to those weights; the heads' outputs are concatenated and
    mixed by a final linear layer ``proj``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.1):
        """
        Inputs:
         - embed_dim: the size E of the embeddings (query, key and value alike).
         - num_heads: the number H of heads; must divide embed_dim.
         - dropout: dropout probability on the attention weights.
        """
        super().__init__()
        if int(num_heads) != num_heads or num_heads < 1:
            raise ValueError(f"MultiHeadAttention: num_heads must be a positive integer; got {num_heads}")
        if int(embed_dim) != embed_dim or embed_dim < 1:
            raise ValueError(f"MultiHeadAttention: embed_dim must be a positive integer; got {embed_dim}")
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"MultiHeadAttention: embed_dim = {embed_dim} is not divisible by "
                f"num_heads = {num_heads}"
            )
        # The creation order (key, query, value, proj, attn_drop) fixes the order
        # of .parameters(), which checks rely on.
        self.key = nn.Linear(embed_dim, embed_dim)
        self.query = nn.Linear(embed_dim, embed_dim)
        self.value = nn.Linear(embed_dim, embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.attn_drop = nn.Dropout(dropout)

        self.n_head = int(num_heads)
        self.emd_dim = int(embed_dim)
        self.head_dim = self.emd_dim // self.n_head

    @staticmethod
    def _check_sequence(name, x, embed_dim, caller):
        """Raise a clear error unless ``x`` is a floating (N, L, embed_dim) tensor."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{caller}: {name} must be a torch.Tensor; got {type(x).__name__}")
        if x.dim() != 3:
            raise ValueError(
                f"{caller}: {name} has shape {tuple(x.shape)}; expected a 3-D tensor "
                f"(N, L, E) with E = {embed_dim}"
            )
        if x.shape[2] != embed_dim:
            raise ValueError(
                f"{caller}: {name} has shape {tuple(x.shape)}; expected its last "
                f"dimension to be embed_dim = {embed_dim}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{caller}: {name} has dtype {x.dtype}; expected a floating dtype")

    def _check_inputs(self, query, key, value, attn_mask):
        """Validate shapes and dtypes; return attn_mask as a bool tensor or None."""
        caller = "MultiHeadAttention.forward"
        E = self.emd_dim
        for name, x in (("query", query), ("key", key), ("value", value)):
            self._check_sequence(name, x, E, caller)
        N, S, _ = query.shape
        if key.shape != value.shape:
            raise ValueError(
                f"{caller}: key has shape {tuple(key.shape)} but value has shape "
                f"{tuple(value.shape)}; expected both (N, T, E)"
            )
        if key.shape[0] != N:
            raise ValueError(
                f"{caller}: query has batch size {N} but key/value have batch size "
                f"{key.shape[0]}; expected the same N"
            )
        weight_dtype = self.query.weight.dtype
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dtype != weight_dtype:
                raise TypeError(
                    f"{caller}: {name} has dtype {x.dtype} but the layer's parameters are "
                    f"{weight_dtype}; convert the input or the module (.float() / .double())"
                )
        if attn_mask is None:
            return None
        T = key.shape[1]
        if not isinstance(attn_mask, torch.Tensor):
            raise TypeError(f"{caller}: attn_mask must be a torch.Tensor or None; got {type(attn_mask).__name__}")
        if tuple(attn_mask.shape) != (S, T):
            raise ValueError(
                f"{caller}: attn_mask has shape {tuple(attn_mask.shape)}; expected "
                f"(S, T) = ({S}, {T})"
            )
        if attn_mask.dtype != torch.bool:
            # Guard against additive float masks (0 / -inf, the nn.MultiheadAttention
            # convention), which would silently mean the opposite here.
            if not bool(((attn_mask == 0) | (attn_mask == 1)).all()):
                raise ValueError(
                    f"{caller}: attn_mask must be boolean or hold only 0/1 "
                    f"(1 = may attend, 0 = may not); got other values (dtype {attn_mask.dtype})"
                )
            attn_mask = attn_mask != 0
        return attn_mask.to(query.device)

    def forward(self, query, key, value, attn_mask=None):
        """
        Inputs:
         - query: tensor of shape (N, S, E)
         - key: tensor of shape (N, T, E)
         - value: tensor of shape (N, T, E)
         - attn_mask: None, or a tensor of shape (S, T), boolean or 0/1, where
           attn_mask[i, j] False/0 means query position i may not attend to key
           position j. (A row with no allowed key gives NaN, as in PyTorch.)

        Returns:
         - output: tensor of shape (N, S, E), same dtype as query.
        """
        attn_mask = self._check_inputs(query, key, value, attn_mask)
        N, S, E = query.shape
        N, T, E = value.shape
        H = self.n_head
        # A placeholder of the right shape, dtype and device (you may fill it in place).
        output = torch.empty((N, S, E), dtype=query.dtype, device=query.device)
        # TODO: project query, key and value with self.query / self.key /
        # self.value and split each into H heads of size E/H, giving (N, H, S, E/H)
        # and (N, H, T, E/H) (a reshape and a transpose, no loop over heads).
        # Scores = Q K^T / sqrt(E/H), shape (N, H, S, T); where attn_mask is False/0
        # set the score to -inf (or a large negative number); softmax over the last
        # axis; apply self.attn_drop to these weights (one call on the whole
        # (N, H, S, T) tensor); multiply by V; put the heads back side by side to
        # (N, S, E) and apply self.proj.
        raise NotImplementedError("MultiHeadAttention.forward: replace this line with your code")
        return output
