"""Fairness corpus, rnn part: see tests/fairness/__init__.py.

Correct code for the vanilla RNN part written the ways students write it, and
degenerate code that must earn nothing. Alternatives of different functions end
up in one package (``bundles``), so every alternative keeps the reference's cache
layouts: a step cache is ``(x, prev_h, Wx, Wh, next_h)``, a sequence cache is the
list of its step caches, an embedding cache is ``(x, V)``.
"""
from fairness.alternative import Alternative, Degenerate

L = "cs231n/rnn_layers.py:"
M = "cs231n/classifiers/rnn.py:"

# Names every official starter file defines at top level (2021-2024 kits): the
# notebooks may import only these from student files.
CANONICAL_NAMES = {
    "cs231n/rnn_layers.py": {
        "np", "affine_forward", "affine_backward", "rnn_step_forward", "rnn_step_backward",
        "rnn_forward", "rnn_backward", "word_embedding_forward", "word_embedding_backward",
        "sigmoid", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
        "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss",
    },
    "cs231n/classifiers/rnn.py": {"np", "CaptioningRNN"},
}

ALTERNATIVES = [
    Alternative(
        "rnn-step-forward-einsum", L + "rnn_step_forward", '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            pre = np.einsum("...d,dh->...h", x, Wx) + np.einsum("...k,kh->...h", prev_h, Wh) + b
            next_h = np.tanh(pre)
            cache = (x, prev_h, Wx, Wh, next_h)
            return next_h, cache
        ''', "einsum for the two products, tanh of the sum"),
    Alternative(
        "rnn-step-backward-in-place", L + "rnn_step_backward", '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            dnext_h *= 1 - next_h ** 2  # the upstream array itself becomes d(pre-activation)
            dx = np.dot(dnext_h, Wx.T)
            dprev_h = np.dot(dnext_h, Wh.T)
            dWx = np.dot(x.T, dnext_h)
            dWh = np.dot(prev_h.T, dnext_h)
            db = np.sum(dnext_h, axis=0)
            return dx, dprev_h, dWx, dWh, db
        ''', "multiplies the tanh derivative into dnext_h in place"),
    Alternative(
        "rnn-step-backward-float32", L + "rnn_step_backward", '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = [a.astype(np.float32) for a in cache]
            dtanh = dnext_h.astype(np.float32) * (np.float32(1) - np.square(next_h))
            dx = dtanh.dot(Wx.T)
            dprev_h = dtanh.dot(Wh.T)
            dWx = x.T.dot(dtanh)
            dWh = prev_h.T.dot(dtanh)
            db = dtanh.sum(axis=0)
            return dx, dprev_h, dWx, dWh, db
        ''', "computes the step's gradients in float32"),
    Alternative(
        "rnn-forward-list-stack", L + "rnn_forward", '''
        def rnn_forward(x, h0, Wx, Wh, b):
            states, cache = [], []
            h_t = h0
            for t in range(x.shape[1]):
                h_t, step_cache = rnn_step_forward(x[:, t, :], h_t, Wx, Wh, b)
                states.append(h_t)
                cache.append(step_cache)
            h = np.stack(states, axis=1)
            return h, cache
        ''', "collects the hidden states in a list and stacks them"),
    Alternative(
        "rnn-forward-zeros-prealloc", L + "rnn_forward", '''
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, D = x.shape
            H = h0.shape[1]
            h = np.zeros((N, T, H))
            cache = []
            for t in range(T):
                prev = h0 if t == 0 else h[:, t - 1, :]
                h[:, t, :], c = rnn_step_forward(x[:, t, :], prev, Wx, Wh, b)
                cache.append(c)
            return h, cache
        ''', "preallocates h with np.zeros and reads the previous state back from it"),
    Alternative(
        "rnn-backward-step-loop-in-place", L + "rnn_backward", '''
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            dx = np.zeros((N, T, D))
            dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
            for t in range(T - 1, -1, -1):
                dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t], cache[t])
                if t > 0:
                    dh[:, t - 1] += dprev  # the upstream array collects the recurrent gradient
                dWx += dWx_t
                dWh += dWh_t
                db += db_t
            dh0 = dprev
            return dx, dh0, dWx, dWh, db
        ''', "adds the recurrent gradient into dh[:, t - 1] in place, accumulates with +="),
    Alternative(
        "rnn-backward-float32-accumulators", L + "rnn_backward", '''
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            dx = np.zeros((N, T, D), dtype=np.float32)
            dWx = np.zeros((D, H), dtype=np.float32)
            dWh = np.zeros((H, H), dtype=np.float32)
            db = np.zeros(H, dtype=np.float32)
            dnext = np.zeros((N, H), dtype=np.float32)
            for t in reversed(range(T)):
                grads = rnn_step_backward(dh[:, t] + dnext, cache[t])
                dx[:, t] = grads[0]
                dnext = grads[1].astype(np.float32)
                dWx += grads[2]
                dWh += grads[3]
                db += grads[4]
            return dx, dnext, dWx, dWh, db
        ''', "float32 accumulators, as for a float32 model"),
    Alternative(
        "word-embedding-forward-take", L + "word_embedding_forward", '''
        def word_embedding_forward(x, W):
            out = np.take(W, x, axis=0)
            cache = (x, W.shape[0])
            return out, cache
        ''', "np.take along the vocabulary axis"),
    Alternative(
        "word-embedding-backward-one-hot", L + "word_embedding_backward", '''
        def word_embedding_backward(dout, cache):
            x, V = cache
            D = dout.shape[-1]
            one_hot = (x.reshape(-1, 1) == np.arange(V)).astype(dout.dtype)  # (N*T, V)
            dW = one_hot.T @ dout.reshape(-1, D)
            return dW
        ''', "one-hot matrix product instead of np.add.at"),
    Alternative(
        "word-embedding-backward-float32-loop", L + "word_embedding_backward", '''
        def word_embedding_backward(dout, cache):
            x, V = cache
            dW = np.zeros((V, dout.shape[2]), dtype=np.float32)
            for t in range(x.shape[1]):
                np.add.at(dW, x[:, t], dout[:, t, :])
            return dW
        ''', "float32 dW, np.add.at one time step at a time"),
    Alternative(
        "captioning-loss-inline-softmax", M + "CaptioningRNN.loss", '''
        def loss(self, features, captions):
            captions_in = captions[:, :-1]
            captions_out = captions[:, 1:]
            mask = (captions_out != self._null).astype(features.dtype)
            N, T = captions_out.shape
            p = self.params
            h0 = features.dot(p["W_proj"]) + p["b_proj"]
            emb, emb_cache = word_embedding_forward(captions_in, p["W_embed"])
            if self.cell_type == "rnn":
                hs, rec_cache = rnn_forward(emb, h0, p["Wx"], p["Wh"], p["b"])
            else:
                hs, rec_cache = lstm_forward(emb, h0, p["Wx"], p["Wh"], p["b"])
            scores = np.einsum("nth,hv->ntv", hs, p["W_vocab"]) + p["b_vocab"]
            scores = scores - scores.max(axis=2, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=2, keepdims=True)
            picked = np.take_along_axis(probs, captions_out[:, :, None], axis=2)[:, :, 0]
            loss = -(np.log(picked) * mask).sum() / N
            dscores = probs.copy()
            np.put_along_axis(dscores, captions_out[:, :, None],
                              np.take_along_axis(dscores, captions_out[:, :, None], axis=2) - 1, axis=2)
            dscores *= mask[:, :, None] / N
            grads = {}
            grads["W_vocab"] = np.einsum("nth,ntv->hv", hs, dscores)
            grads["b_vocab"] = dscores.sum(axis=(0, 1))
            dhs = np.einsum("ntv,hv->nth", dscores, p["W_vocab"])
            if self.cell_type == "rnn":
                demb, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dhs, rec_cache)
            else:
                demb, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dhs, rec_cache)
            grads["W_embed"] = word_embedding_backward(demb, emb_cache)
            grads["W_proj"] = features.T.dot(dh0)
            grads["b_proj"] = dh0.sum(axis=0)
            return loss, grads
        ''', "softmax loss written inline (.sum() / N, float mask), einsum for the vocabulary layer"),
    Alternative(
        "captioning-loss-mean-over-captions", M + "CaptioningRNN.loss", '''
        def loss(self, features, captions):
            captions_in, captions_out = captions[:, :-1], captions[:, 1:]
            mask = np.where(captions_out == self._null, False, True)
            W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
            W_embed = self.params["W_embed"]
            Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
            W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]
            N, T = captions_out.shape
            V = W_vocab.shape[1]
            loss, grads = 0.0, {}
            h0, proj_cache = affine_forward(features, W_proj, b_proj)
            x, embed_cache = word_embedding_forward(captions_in, W_embed)
            forward = rnn_forward if self.cell_type == "rnn" else lstm_forward
            backward = rnn_backward if self.cell_type == "rnn" else lstm_backward
            h, rec_cache = forward(x, h0, Wx, Wh, b)
            H = h.shape[2]
            scores = (h.reshape(N * T, H) @ W_vocab + b_vocab).reshape(N, T, V)
            shifted = scores - np.max(scores, axis=-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
            per_word = -log_probs[n_idx, t_idx, captions_out] * mask
            loss = per_word.sum(axis=1).mean()
            dscores = np.exp(log_probs)
            dscores[n_idx, t_idx, captions_out] -= 1
            dscores = dscores * mask[..., None] / N
            flat = dscores.reshape(N * T, V)
            grads["W_vocab"] = h.reshape(N * T, H).T @ flat
            grads["b_vocab"] = flat.sum(axis=0)
            dh = (flat @ W_vocab.T).reshape(N, T, H)
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rec_cache)
            grads["W_embed"] = word_embedding_backward(dx, embed_cache)
            _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache)
            return loss, grads
        ''', "per-caption sums averaged with .mean(), mask from np.where, reshape for the vocabulary layer"),
    Alternative(
        "sample-embed-start-scalar-no-stop", M + "CaptioningRNN.sample", '''
        def sample(self, features, max_length=30):
            N = features.shape[0]
            captions = self._null * np.ones((N, max_length), dtype=np.int32)
            W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
            W_embed = self.params["W_embed"]
            Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
            W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]
            h, _ = affine_forward(features, W_proj, b_proj)
            c = np.zeros_like(h)
            word = self._start  # a scalar index: its embedding is shared by the batch
            for t in range(max_length):
                x, _ = word_embedding_forward(word, W_embed)
                if self.cell_type == "rnn":
                    h, _ = rnn_step_forward(x, h, Wx, Wh, b)
                else:
                    h, c, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
                scores, _ = affine_forward(h, W_vocab, b_vocab)
                word = scores.argmax(1)
                captions[:, t] = word
            return captions
        ''', "embeds a scalar <START> through word_embedding_forward; keeps generating after <END>"),
    Alternative(
        "sample-float32-break-when-done", M + "CaptioningRNN.sample", '''
        def sample(self, features, max_length=30):
            N = features.shape[0]
            captions = self._null * np.ones((N, max_length), dtype=np.int32)
            p = {k: v.astype(np.float32) for k, v in self.params.items()}
            h = features.astype(np.float32) @ p["W_proj"] + p["b_proj"]
            c = np.zeros_like(h)
            words = np.full(N, self._start)
            done = np.zeros(N, dtype=bool)
            for t in range(max_length):
                x = p["W_embed"][words]
                if self.cell_type == "lstm":
                    h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
                else:
                    h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
                words = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=-1)
                captions[~done, t] = words[~done]
                done = done | (words == self._end)
                if np.all(done):
                    break
            return captions
        ''', "float32 decoding; stops once every caption has its <END>"),
]

DEGENERATE = [
    Degenerate(
        "rnn-step-forward-zeros", L + "rnn_step_forward", '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            next_h = np.zeros_like(prev_h)
            return next_h, (x, prev_h, Wx, Wh, next_h)
        ''', zero=("rnn_step_forward", "rnn_forward", "captioning_rnn_sample"),
        what="a zero hidden state"),
    Degenerate(
        "rnn-step-forward-returns-prev-h", L + "rnn_step_forward", '''
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return prev_h, (x, prev_h, Wx, Wh, prev_h)
        ''', zero=("rnn_step_forward", "rnn_forward"), what="the previous hidden state, unchanged"),
    Degenerate(
        "rnn-forward-nan", L + "rnn_forward", '''
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, _ = x.shape
            return np.full((N, T, h0.shape[1]), np.nan), []
        ''', zero=("rnn_forward",), what="NaN hidden states"),
    Degenerate(
        "rnn-backward-zeros", L + "rnn_backward", '''
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            D = cache[0][0].shape[1]
            return np.zeros((N, T, D)), np.zeros((N, H)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
        ''', zero=("rnn_backward",), what="all-zero gradients"),
    Degenerate(
        "rnn-step-backward-returns-upstream", L + "rnn_step_backward", '''
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, _ = cache
            return np.zeros_like(x), dnext_h, np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
        ''', zero=("rnn_step_backward",), what="the upstream gradient passed through, zeros elsewhere"),
    Degenerate(
        "word-embedding-forward-zeros", L + "word_embedding_forward", '''
        def word_embedding_forward(x, W):
            return np.zeros(x.shape + (W.shape[1],)), (x, W.shape[0])
        ''', zero=("word_embedding_forward",), what="all-zero word vectors"),
    Degenerate(
        "word-embedding-backward-zeros", L + "word_embedding_backward", '''
        def word_embedding_backward(dout, cache):
            x, V = cache
            return np.zeros((V, dout.shape[-1]))
        ''', zero=("word_embedding_backward",), what="an all-zero gradient"),
    Degenerate(
        "captioning-loss-zero", M + "CaptioningRNN.loss", '''
        def loss(self, features, captions):
            return 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}
        ''', zero=("captioning_rnn_loss", "captioning_lstm_loss", "rnn_overfit", "lstm_overfit"),
        what="zero loss and zero gradients"),
    Degenerate(
        "captioning-loss-nan", M + "CaptioningRNN.loss", '''
        def loss(self, features, captions):
            return float("nan"), {k: np.full_like(v, np.nan) for k, v in self.params.items()}
        ''', zero=("captioning_rnn_loss", "captioning_lstm_loss", "rnn_overfit", "lstm_overfit"),
        what="NaN loss and gradients"),
    Degenerate(
        "sample-all-end", M + "CaptioningRNN.sample", '''
        def sample(self, features, max_length=30):
            return np.full((features.shape[0], max_length), self._end, dtype=np.int32)
        ''', zero=("captioning_rnn_sample", "captioning_lstm_sample"), what="<END> everywhere"),
    Degenerate(
        "sample-untouched", M + "CaptioningRNN.sample", '''
        def sample(self, features, max_length=30):
            return self._null * np.ones((features.shape[0], max_length), dtype=np.int32)
        ''', zero=("captioning_rnn_sample", "captioning_lstm_sample"),
        what="the <NULL>-filled array, untouched"),
    Degenerate(
        "sample-one-word", M + "CaptioningRNN.sample", '''
        def sample(self, features, max_length=30):
            return np.full((features.shape[0], max_length), 4, dtype=np.int32)
        ''', zero=("captioning_rnn_sample", "captioning_lstm_sample"), what="one word repeated"),
]
