"""A small Transformer decoder that writes captions for image features.

The image feature vector is projected to the word-vector size W and used as a
one-token "memory" that every caption position can attend to. Caption tokens
are embedded, given positional codes, and decoded with a causal mask (position t
sees positions 0..t only); a final linear layer scores every vocabulary word.
"""
import copy

import numpy as np
import torch
import torch.nn as nn

from cs231n.transformer_layers import MultiHeadAttention, PositionalEncoding


class TransformerDecoderLayer(nn.Module):
    """One post-norm decoder layer: masked self-attention, attention to the
    memory, then a two-layer feed-forward network; each followed by dropout, a
    residual connection and layer normalisation."""

    def __init__(self, input_dim, num_heads, dim_feedforward=2048, dropout=0.1):
        """
        Inputs:
         - input_dim: the size W of the token vectors.
         - num_heads: number of attention heads (must divide input_dim).
         - dim_feedforward: hidden size of the feed-forward network.
         - dropout: dropout probability used everywhere in the layer.
        """
        super().__init__()
        # Registration order is part of the interface (.parameters() order).
        self.self_attn = MultiHeadAttention(input_dim, num_heads, dropout)
        self.multihead_attn = MultiHeadAttention(input_dim, num_heads, dropout)
        self.linear1 = nn.Linear(input_dim, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, input_dim)

        self.norm1 = nn.LayerNorm(input_dim)
        self.norm2 = nn.LayerNorm(input_dim)
        self.norm3 = nn.LayerNorm(input_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

        self.activation = nn.ReLU()

    def forward(self, tgt, memory, tgt_mask=None):
        """
        Inputs:
         - tgt: the token sequence, (N, T, W)
         - memory: what the tokens attend to (here the projected image), (N, M, W)
         - tgt_mask: (T, T) mask for self-attention, True/1 = may attend

        Returns:
         - out: (N, T, W)
        """
        # The order of the dropout calls below fixes the order of random draws.
        # The attention layers are called by keyword, as in the canonical kit.
        x = tgt
        x = self.norm1(x + self.dropout1(self.self_attn(query=x, key=x, value=x, attn_mask=tgt_mask)))
        x = self.norm2(x + self.dropout2(self.multihead_attn(query=x, key=memory, value=memory)))
        ff = self.linear2(self.dropout(self.activation(self.linear1(x))))
        x = self.norm3(x + self.dropout3(ff))
        return x


class TransformerDecoder(nn.Module):
    """A stack of ``num_layers`` independent copies of one decoder layer."""

    def __init__(self, decoder_layer, num_layers):
        super().__init__()
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"TransformerDecoder: num_layers must be a positive integer; got {num_layers}")
        # Deep copies: each layer gets its own parameters, all starting equal.
        self.layers = nn.ModuleList([copy.deepcopy(decoder_layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)

    def forward(self, tgt, memory, tgt_mask=None):
        """tgt (N, T, W), memory (N, M, W), tgt_mask (T, T) -> (N, T, W)."""
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask)
        return out


class CaptioningTransformer(nn.Module):
    """Transformer decoder that turns an image feature vector into a caption.

    The vocabulary has V words; ``word_to_idx`` must contain ``<NULL>`` (padding)
    and, for ``sample``, ``<START>``. Modules start in train mode (dropout on).
    """

    def __init__(self, word_to_idx, input_dim, wordvec_dim, num_heads=4,
                 num_layers=2, max_length=50):
        """
        Inputs:
         - word_to_idx: dict from each of the V words to an index in [0, V).
         - input_dim: size D of the image feature vectors.
         - wordvec_dim: size W of word vectors (and of the whole decoder).
         - num_heads: attention heads per attention layer (must divide W).
         - num_layers: number of decoder layers.
         - max_length: longest caption (in tokens) the model can process.
        """
        super().__init__()
        if "<NULL>" not in word_to_idx:
            raise ValueError("CaptioningTransformer: word_to_idx must contain '<NULL>' (the padding word)")
        if wordvec_dim % num_heads != 0:
            raise ValueError(
                f"CaptioningTransformer: wordvec_dim = {wordvec_dim} is not divisible "
                f"by num_heads = {num_heads}"
            )
        vocab_size = len(word_to_idx)
        self.vocab_size = vocab_size
        self.word_to_idx = word_to_idx
        self.input_dim = int(input_dim)
        self.wordvec_dim = int(wordvec_dim)
        self.max_length = int(max_length)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

        # Registration order is part of the interface (.parameters() order).
        self.visual_projection = nn.Linear(input_dim, wordvec_dim)
        self.embedding = nn.Embedding(vocab_size, wordvec_dim, padding_idx=self._null)
        self.positional_encoding = PositionalEncoding(wordvec_dim, max_len=max_length)

        decoder_layer = TransformerDecoderLayer(input_dim=wordvec_dim, num_heads=num_heads)
        self.transformer = TransformerDecoder(decoder_layer, num_layers=num_layers)
        self.apply(self._init_weights)

        # Created after the custom init on purpose: it keeps PyTorch's default init.
        self.output = nn.Linear(wordvec_dim, vocab_size)

    def _init_weights(self, module):
        """Small normal weights, zero biases, identity LayerNorm."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                # The padding word stays the zero vector (no random draw involved).
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    def _check_inputs(self, features, captions):
        caller = "CaptioningTransformer.forward"
        if not isinstance(features, torch.Tensor) or not isinstance(captions, torch.Tensor):
            raise TypeError(
                f"{caller}: features and captions must be torch tensors; got "
                f"{type(features).__name__} and {type(captions).__name__}"
            )
        if features.dim() != 2 or features.shape[1] != self.input_dim:
            raise ValueError(
                f"{caller}: features has shape {tuple(features.shape)}; expected "
                f"(N, D) with D = input_dim = {self.input_dim}"
            )
        if features.dtype != self.visual_projection.weight.dtype:
            raise TypeError(
                f"{caller}: features has dtype {features.dtype} but the model's parameters "
                f"are {self.visual_projection.weight.dtype}; convert one (.float() / .double())"
            )
        if captions.dim() != 2 or captions.shape[0] != features.shape[0]:
            raise ValueError(
                f"{caller}: captions has shape {tuple(captions.shape)}; expected "
                f"(N, T) with N = {features.shape[0]} (the batch size of features)"
            )
        if captions.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{caller}: captions has dtype {captions.dtype}; expected integer word indices")
        if captions.shape[1] > self.max_length:
            raise ValueError(
                f"{caller}: captions have T = {captions.shape[1]} tokens; this model "
                f"handles at most max_length = {self.max_length}"
            )
        if captions.numel() and (captions.min() < 0 or captions.max() >= self.vocab_size):
            raise ValueError(
                f"{caller}: captions hold word indices outside [0, V) = [0, {self.vocab_size})"
            )

    def forward(self, features, captions):
        """
        Inputs:
         - features: image features, tensor of shape (N, D), same dtype as the model.
         - captions: ground-truth (or partial) captions, int tensor of shape (N, T).

        Returns:
         - scores: tensor of shape (N, T, V): scores[n, t] are the scores of the
           word that follows captions[n, :t+1].
        """
        self._check_inputs(features, captions)
        N, T = captions.shape
        # A placeholder of the right shape, dtype and device (you may fill it in place).
        scores = torch.empty((N, T, self.vocab_size), dtype=features.dtype, device=features.device)
        # TODO: project the image features to W and use them as a memory of one
        # token, shape (N, 1, W). Embed the captions and add positional codes
        # (N, T, W). Build a (T, T) causal mask that lets position t attend only
        # to positions <= t, run the decoder, and score the words with self.output.
        raise NotImplementedError("CaptioningTransformer.forward: replace this line with your code")
        return scores

    def sample(self, features, max_length=30):
        """
        Greedy decoding: start every caption with <START> and repeatedly append
        the highest-scoring next word. Runs in eval mode (no dropout) and puts the
        model back in the mode it was in.

        Inputs:
         - features: image features, array or tensor of shape (N, D).
         - max_length: number of words to generate (at most the model's max_length).

        Returns:
         - captions: int32 numpy array of shape (N, max_length) of word indices
           (the <START> token is not included; words after <END> are kept).
        """
        if self._start is None:
            raise ValueError("CaptioningTransformer.sample: word_to_idx has no '<START>' word to start from")
        if int(max_length) != max_length or not 1 <= max_length <= self.max_length:
            raise ValueError(
                f"CaptioningTransformer.sample: max_length = {max_length}; expected an "
                f"integer in [1, {self.max_length}] (the model's max_length)"
            )
        reference = self.output.weight
        features = torch.as_tensor(features, dtype=reference.dtype, device=reference.device)
        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)

        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                partial = torch.full((N, 1), self._start, dtype=torch.long, device=reference.device)
                for t in range(max_length):
                    scores = self.forward(features, partial)[:, -1, :]  # (N, V)
                    word = torch.argmax(scores, dim=1)  # (N,)
                    captions[:, t] = word.cpu().numpy()
                    partial = torch.cat([partial, word.unsqueeze(1)], dim=1)
        finally:
            self.train(was_training)
        return captions
