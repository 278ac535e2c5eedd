"""Image captioning with a vanilla RNN or an LSTM, in NumPy."""
import numpy as np

from cs231n.rnn_layers import (affine_backward, affine_forward, lstm_backward,
                               lstm_forward, lstm_step_forward, rnn_backward,
                               rnn_forward, rnn_step_forward, temporal_affine_backward,
                               temporal_affine_forward, temporal_softmax_loss,
                               word_embedding_backward, word_embedding_forward)


class CaptioningRNN:
    """Produce captions from image features with a recurrent network.

    The image feature vector (dimension D = input_dim) is projected by an affine
    layer to the initial hidden state. The network then reads a caption one word
    at a time: each word index is embedded (dimension W = wordvec_dim), fed to the
    RNN or LSTM (hidden dimension H = hidden_dim), and the hidden state is scored
    against the vocabulary of V = len(word_to_idx) words by a second affine layer.

    Attributes:
    - params: dict of the learnable arrays (all of dtype `dtype`), which callers
      may read and overwrite:
      W_embed (V, W); W_proj (D, H), b_proj (H,); Wx (W, G), Wh (H, G), b (G,);
      W_vocab (H, V), b_vocab (V,), where G = H for 'rnn' and 4H for 'lstm'.
    - word_to_idx, idx_to_word, cell_type, dtype

    The model does no regularization.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        """
        Inputs:
        - word_to_idx: dict from each word of the vocabulary to an integer index.
          It must contain '<NULL>' (padding; masked out of the loss). '<START>'
          is needed by sample(); '<END>' lets sample() stop a caption early.
        - input_dim: dimension D of the image feature vectors
        - wordvec_dim: dimension W of the word vectors
        - hidden_dim: dimension H of the hidden state
        - cell_type: 'rnn' or 'lstm'
        - dtype: NumPy floating-point dtype of the parameters and of the features
          the model accepts; float32 for training, float64 for gradient checks.
        """
        if cell_type not in ("rnn", "lstm"):
            raise ValueError(f"CaptioningRNN: cell_type is {cell_type!r}; expected one of "
                             "('rnn', 'lstm')")
        if not isinstance(word_to_idx, dict) or "<NULL>" not in word_to_idx:
            raise ValueError("CaptioningRNN: word_to_idx must be a dict from words to "
                             "indices that contains the padding token '<NULL>'")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"CaptioningRNN: dtype is {np.dtype(dtype)}; expected a "
                            "floating-point dtype (np.float32 or np.float64)")
        self.cell_type = cell_type
        self.dtype = np.dtype(dtype)
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}

        vocab_size = len(word_to_idx)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")

        # Word vectors, then the projection of the image feature to h0, then the
        # recurrent weights (4H columns for the four LSTM gates), then the output
        # layer. Weights are scaled by 1/sqrt(fan_in) so activations start at unit
        # scale; word vectors start small.
        gate_dim = {"rnn": 1, "lstm": 4}[cell_type] * hidden_dim
        self.params["W_embed"] = np.random.randn(vocab_size, wordvec_dim) / 100
        self.params["W_proj"] = np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim)
        self.params["b_proj"] = np.zeros(hidden_dim)
        self.params["Wx"] = np.random.randn(wordvec_dim, gate_dim) / np.sqrt(wordvec_dim)
        self.params["Wh"] = np.random.randn(hidden_dim, gate_dim) / np.sqrt(hidden_dim)
        self.params["b"] = np.zeros(gate_dim)
        self.params["W_vocab"] = np.random.randn(hidden_dim, vocab_size) / np.sqrt(hidden_dim)
        self.params["b_vocab"] = np.zeros(vocab_size)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    # -- input validation (provided) ------------------------------------------

    def _check_features(self, func, features):
        if not isinstance(features, np.ndarray):
            raise TypeError(f"{func}: features must be a NumPy array; got "
                            f"{type(features).__name__}")
        D = self.params["W_proj"].shape[0]
        if features.ndim != 2 or features.shape[1] != D:
            raise ValueError(f"{func}: features have shape {features.shape}; expected "
                             f"(N, D) with D = input_dim = {D}")
        if not np.issubdtype(features.dtype, np.floating):
            raise TypeError(f"{func}: features have dtype {features.dtype}; expected a "
                            f"floating-point dtype, usually the model's {self.dtype} (convert "
                            f"with features.astype(np.{self.dtype}))")

    def _check_captions(self, func, captions, N):
        V = self.params["W_embed"].shape[0]
        if not isinstance(captions, np.ndarray):
            raise TypeError(f"{func}: captions must be a NumPy array; got "
                            f"{type(captions).__name__}")
        if not np.issubdtype(captions.dtype, np.integer):
            raise TypeError(f"{func}: captions have dtype {captions.dtype}; expected an "
                            f"integer dtype (word indices in [0, {V}))")
        if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
            raise ValueError(f"{func}: captions have shape {captions.shape}; expected "
                             f"(N, T + 1) with N = {N} (the number of feature rows) and "
                             "T + 1 >= 2 (one input and one target word at least)")
        if captions.min() < 0 or captions.max() >= V:
            raise ValueError(f"{func}: captions have values in [{captions.min()}, "
                             f"{captions.max()}]; expected word indices in [0, V) = "
                             f"[0, {V})")

    # -- training -------------------------------------------------------------

    def loss(self, features, captions):
        """Training loss and gradients on a minibatch.

        The model reads captions[:, :-1] and is scored on predicting
        captions[:, 1:]; target positions holding '<NULL>' are ignored.

        Inputs:
        - features: image features, shape (N, D), floating point (usually of the
          model's dtype)
        - captions: integer word indices in [0, V), shape (N, T + 1); usually each
          row is <START> word ... <END> followed by <NULL> padding

        Returns a tuple of:
        - loss: scalar, the softmax loss summed over time, averaged over N
        - grads: dict with the keys of self.params, each gradient of its shape
        """
        self._check_features("CaptioningRNN.loss", features)
        self._check_captions("CaptioningRNN.loss", captions, features.shape[0])

        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null

        W_embed = self.params["W_embed"]
        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        loss, grads = 0.0, {}
        # TODO: forward pass: project the features to the initial hidden state (an
        # affine layer, no nonlinearity), embed captions_in, run the RNN or LSTM
        # (self.cell_type), score every hidden state against the vocabulary and
        # compute the masked softmax loss against captions_out. Then backward
        # through the same layers in reverse, filling grads[name] for every name
        # in self.params.
        raise NotImplementedError("CaptioningRNN.loss: replace this line with your code")
        return loss, grads

    # -- test time ------------------------------------------------------------

    def sample(self, features, max_length=30):
        """Greedy captions for a minibatch of image features.

        Starting from the projected feature as hidden state and the '<START>'
        word, each step embeds the previous word, advances the RNN/LSTM one step
        and picks the highest-scoring word, which becomes the next input.

        The returned captions do not contain '<START>': column 0 is the first
        generated word. Once a caption has produced '<END>' (if the vocabulary has
        one), that '<END>' is kept and every later position of the caption is
        '<NULL>', so the array keeps its shape and decodes to the clean caption.

        Inputs:
        - features: image features, shape (N, D), floating point
        - max_length: number of words to generate per caption (a positive int)

        Returns:
        - captions: int32 array of word indices, shape (N, max_length)
        """
        self._check_features("CaptioningRNN.sample", features)
        if isinstance(max_length, (bool, np.bool_)) or not isinstance(
                max_length, (int, np.integer)) or max_length < 1:
            raise ValueError(f"CaptioningRNN.sample: max_length is {max_length!r}; "
                             "expected a positive integer")
        if self._start is None:
            raise ValueError("CaptioningRNN.sample: the vocabulary (word_to_idx) has no "
                             "'<START>' token; sampling needs it as the first input word")
        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)

        W_embed = self.params["W_embed"]
        W_proj, b_proj = self.params["W_proj"], self.params["b_proj"]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        W_vocab, b_vocab = self.params["W_vocab"], self.params["b_vocab"]

        # TODO: greedy decoding. Start from h = the projected features (and a zero
        # cell state for the LSTM) and the <START> word. At each step embed the
        # current word, take one RNN/LSTM step, score the vocabulary with the new
        # hidden state and choose the best word: write it to captions[:, t] and
        # feed it at the next step. Captions that have produced <END> (self._end)
        # get <NULL> (self._null) from then on; stop once all have.
        raise NotImplementedError("CaptioningRNN.sample: replace this line with your code")
        return captions
