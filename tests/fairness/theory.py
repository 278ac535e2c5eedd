"""Fairness corpus, theory part: see tests/fairness/__init__.py.

The contract is the kit's own cs231n/rnn_theory.py (no official counterpart):
weights are graded by simulation, so any network that computes the target is
right (other gate designs, integer weights that rely on the documented
step(0) = 0, float32 arrays); beam search may be written with lists and heapq
or vectorised, may stop as soon as the best hypothesis is finished, and may
take the greedy floor from CaptioningRNN.sample; Jacobian norms may be carried
in either layout, rebuilt from products, and measured by SVD or eigenvalues;
any random orthogonal matrix drawn from the rng will do.
"""
from fairness.alternative import Alternative, Degenerate  # noqa: F401

T_ = "cs231n/rnn_theory.py:"

ALTERNATIVES = [
    Alternative("theory-count-integer-weights", T_ + "count_rnn_weights", '''
def count_rnn_weights(k):
    """Integer weights; zero biases rely on step(0) = 0, as the docstring allows."""
    k = int(k)
    W_hh = np.zeros((k, k), dtype=np.int64)
    for j in range(k):
        W_hh[j, j] = 2          # once on, a unit stays on
        if j > 0:
            W_hh[j, j - 1] = 1  # unit j listens to unit j - 1
    W_xh = np.ones((k, 1), dtype=np.int64)
    b_h = -np.ones(k, dtype=np.int64)
    b_h[0] = 0
    # the units form a thermometer: their sum is min(count, k); fire at k
    W_yh = np.ones((1, k), dtype=np.int64)
    b_y = np.array([-(k - 1)], dtype=np.int64)
    return dict(W_hh=W_hh, W_xh=W_xh, b_h=b_h, W_yh=W_yh, b_y=b_y)
''', "integer weights relying on step(0) = 0; output reads the sum of all units"),

    Alternative("theory-count-reversed-float32", T_ + "count_rnn_weights", '''
def count_rnn_weights(k):
    k = int(k)
    # unit i means "at least k - i ones": unit 0 is the answer, unit k-1 the first one seen
    weights = {"W_hh": np.zeros((k, k), np.float32), "W_xh": np.ones((k, 1), np.float32),
               "b_h": np.full(k, -1.5, np.float32), "W_yh": np.zeros((1, k), np.float32),
               "b_y": np.array([-0.5], np.float32)}
    for i in range(k):
        weights["W_hh"][i, i] = 3.0
        if i + 1 < k:
            weights["W_hh"][i, i + 1] = 1.0
    weights["b_h"][k - 1] = -0.5
    weights["W_yh"][0, 0] = 1.0
    return weights
''', "units numbered the other way round, filled in loops, float32 arrays"),

    Alternative("theory-claims-numpy-bools", T_ + "one_unit_step_rnn_can_compute", '''
def one_unit_step_rnn_can_compute():
    claims = dict.fromkeys(ONE_UNIT_TASKS, np.False_)
    claims["seen_a_one"] = np.True_
    return claims
''', "numpy booleans built from the task list"),

    Alternative("theory-parity-forget-on-input", T_ + "parity_lstm_weights", '''
def parity_lstm_weights():
    # i and o always open; forget when the bit is 1, and then write 1 - parity
    # through g = [x = 1 and previous parity = 0]
    Wx = np.array([[0.0, -1.0, 0.0, 1.0]])
    Wh = np.array([[0.0, 0.0, 0.0, -1.0]])
    b = np.array([0.5, 0.5, 0.5, -0.5])
    W_y = np.array([[2.0]])
    b_y = np.array([-1.0])
    return {"Wx": Wx, "Wh": Wh, "b": b, "W_y": W_y, "b_y": b_y}
''', "another gate design: block input g carries the new bit, scaled output unit"),

    Alternative("theory-parity-integer-zero-bias", T_ + "parity_lstm_weights", '''
def parity_lstm_weights():
    """Integer weights; step(0) = 0 does the thresholding (i = step(x - h))."""
    return {"Wx": np.array([[1, -1, 0, 0]]), "Wh": np.array([[-1, 0, 0, 0]]),
            "b": np.array([0, 1, 1, 1]), "W_y": np.array([[1]]), "b_y": np.array([0])}
''', "integer arrays with zero biases, relying on step(0) = 0"),

    Alternative("theory-beam-lists-heapq", T_ + "beam_search", '''
def beam_search(model, features, beam_size, max_length):
    import heapq

    _check_decoding("beam_search", model, features, beam_size, max_length)
    p = model.params
    null, start = model.word_to_idx["<NULL>"], model.word_to_idx["<START>"]
    end = model.word_to_idx.get("<END>", -1)
    N, V = features.shape[0], p["W_embed"].shape[0]
    captions = np.full((N, max_length), null, dtype=np.int32)
    log_probs = np.zeros(N, dtype=np.float64)

    def one_image(feature, K):
        h = feature[None, :] @ p["W_proj"] + p["b_proj"]
        # hypothesis: (score, words, h, c, finished)
        beam = [(0.0, [], h, np.zeros_like(h), False)]
        for _ in range(max_length):
            candidates = []
            for score, words, h, c, finished in beam:
                if finished:
                    candidates.append((score, words, h, c, True))
                    continue
                x = p["W_embed"][[words[-1] if words else start]]
                if model.cell_type == "rnn":
                    h_new, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
                    c_new = c
                else:
                    h_new, c_new, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
                logp = log_softmax(h_new @ p["W_vocab"] + p["b_vocab"])[0]
                for w in range(V):
                    candidates.append((score + logp[w], words + [w], h_new, c_new, w == end))
            beam = heapq.nlargest(K, candidates, key=lambda cand: cand[0])  # stable on ties
            if all(cand[4] for cand in beam):
                break
        best = max(beam, key=lambda cand: cand[0])
        return best[1], best[0]

    for n in range(N):
        words, score = one_image(features[n], int(beam_size))
        if beam_size > 1:
            greedy_words, greedy_score = one_image(features[n], 1)
            if greedy_score > score:
                words, score = greedy_words, greedy_score
        captions[n, :len(words)] = words
        log_probs[n] = score
    return captions, log_probs
''', "per-image lists of hypotheses, heapq.nlargest, one rnn_step_forward per hypothesis"),

    Alternative("theory-beam-vectorised-early-stop", T_ + "beam_search", '''
def beam_search(model, features, beam_size, max_length):
    _check_decoding("beam_search", model, features, beam_size, max_length)
    p = model.params
    null, start = model.word_to_idx["<NULL>"], model.word_to_idx["<START>"]
    end = model.word_to_idx.get("<END>", -1)
    N, K, V = features.shape[0], int(beam_size), p["W_embed"].shape[0]
    H = p["Wh"].shape[0]

    h = np.repeat(features @ p["W_proj"] + p["b_proj"], K, axis=0).reshape(N, K, H)
    c = np.zeros_like(h)
    score = np.full((N, K), -np.inf)
    score[:, 0] = 0.0
    done = np.zeros((N, K), dtype=bool)
    seqs = np.full((N, K, max_length), null, dtype=np.int32)
    prev = np.full((N, K), start)
    n_idx = np.arange(N)[:, None]
    for t in range(max_length):
        x = p["W_embed"][prev].reshape(N * K, -1)
        if model.cell_type == "rnn":
            h2, _ = rnn_step_forward(x, h.reshape(N * K, H), p["Wx"], p["Wh"], p["b"])
            c2 = c.reshape(N * K, H)
        else:
            h2, c2, _ = lstm_step_forward(x, h.reshape(N * K, H), c.reshape(N * K, H),
                                          p["Wx"], p["Wh"], p["b"])
        total = score[..., None] + log_softmax(h2 @ p["W_vocab"] + p["b_vocab"]).reshape(N, K, V)
        # a finished hypothesis stays one candidate, filed under its <END> column
        total = np.where(done[..., None], -np.inf, total)
        total[done, max(end, 0)] = score[done]
        total = total.reshape(N, K * V)
        top = np.argpartition(-total, K - 1, axis=1)[:, :K] if K < K * V else np.tile(np.arange(K * V), (N, 1))
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(total, top, 1), axis=1, kind="stable"), 1)
        parent, word = top // V, top % V
        score = np.take_along_axis(total, top, axis=1)
        was_done = done[n_idx, parent]
        seqs = seqs[n_idx, parent]
        seqs[:, :, t] = np.where(was_done, null, word)
        done = was_done | (word == end)
        h, c = h2.reshape(N, K, H)[n_idx, parent], c2.reshape(N, K, H)[n_idx, parent]
        prev = word
        # the best hypothesis is finished: nothing later can beat it (log-probs <= 0)
        if np.all(done[np.arange(N), np.argmax(score, axis=1)]):
            break
    best = np.argmax(score, axis=1)
    captions = seqs[np.arange(N), best]
    log_probs = score[np.arange(N), best]

    # greedy floor from the model's own sampler, scored by teacher forcing
    greedy = model.sample(features, max_length=max_length)
    gh = features @ p["W_proj"] + p["b_proj"]
    gc = np.zeros_like(gh)
    words, greedy_lp, alive = np.full(N, start), np.zeros(N), np.ones(N, dtype=bool)
    for t in range(max_length):
        if model.cell_type == "rnn":
            gh, _ = rnn_step_forward(p["W_embed"][words], gh, p["Wx"], p["Wh"], p["b"])
        else:
            gh, gc, _ = lstm_step_forward(p["W_embed"][words], gh, gc, p["Wx"], p["Wh"], p["b"])
        words = greedy[:, t]
        greedy_lp += np.where(alive, log_softmax(gh @ p["W_vocab"] + p["b_vocab"])[np.arange(N), words], 0.0)
        alive &= words != end
    better = greedy_lp > log_probs
    captions = np.where(better[:, None], greedy, captions).astype(np.int32)
    log_probs = np.where(better, greedy_lp, log_probs).astype(np.float64)
    return captions, log_probs
''', "vectorised with argpartition, finished hypotheses filed under <END>, early stop when the best is "
        "finished, greedy floor from CaptioningRNN.sample"),

    Alternative("theory-jacobian-row-layout-svd", T_ + "jacobian_norms", '''
def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    # carry the transpose G_t = J_t^T = G_{t-1} Wh diag(phi'); same singular values
    T, H = u.shape
    G = np.eye(H)
    h = h0.copy()
    norms = []
    for t in range(T):
        a = h @ Wh + u[t]
        if nonlinearity == "tanh":
            h = np.tanh(a)
            G = G @ (Wh / np.cosh(a)[None, :] ** 2)
        else:
            h = a
            G = G @ Wh
        norms.append(np.linalg.svd(G, compute_uv=False)[0])
    return np.array(norms)
''', "transposed Jacobian in row layout, tanh' = 1/cosh^2, norm from np.linalg.svd"),

    Alternative("theory-jacobian-products-eigvalsh", T_ + "jacobian_norms", '''
def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    from functools import reduce

    steps, h = [], h0
    norms = np.zeros(len(u))
    for t in range(len(u)):
        pre = h @ Wh + u[t]
        h = np.tanh(pre) if nonlinearity == "tanh" else pre
        deriv = 1 - np.tanh(pre) ** 2 if nonlinearity == "tanh" else np.ones_like(pre)
        steps.append(np.diag(deriv) @ Wh.T)
        J = reduce(lambda acc, step: step @ acc, steps, np.eye(len(h0)))
        norms[t] = np.sqrt(np.max(np.linalg.eigvalsh(J.T @ J)))
    return norms
''', "rebuilds every J_t as a product of the stored step Jacobians; norm from eigvalsh(J^T J)"),

    Alternative("theory-jacobian-float32", T_ + "jacobian_norms", '''
def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    Wh, h, u = Wh.astype(np.float32), h0.astype(np.float32), u.astype(np.float32)
    J = np.eye(h.shape[0], dtype=np.float32)
    out = np.empty(u.shape[0], dtype=np.float32)
    for t, u_t in enumerate(u):
        h = h @ Wh + u_t
        if nonlinearity == "tanh":
            h = np.tanh(h)
            J = ((1 - h ** 2)[:, None] * Wh.T) @ J
        else:
            J = Wh.T @ J
        out[t] = np.linalg.norm(J, ord=2)
    return out
''', "computes and returns float32"),

    Alternative("theory-recurrent-qr-no-sign-fix", T_ + "recurrent_matrix", '''
def recurrent_matrix(H, spectral_radius, rng):
    Q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    return spectral_radius * Q
''', "plain QR without the sign correction (not Haar-uniform, still orthogonal)"),

    Alternative("theory-recurrent-polar-svd", T_ + "recurrent_matrix", '''
def recurrent_matrix(H, spectral_radius, rng):
    U, _, Vt = np.linalg.svd(rng.standard_normal((H, H)))
    return float(spectral_radius) * (U @ Vt)
''', "orthogonal factor of the polar decomposition, via SVD"),
]

DEGENERATE = [
    Degenerate("theory-count-zeros", T_ + "count_rnn_weights", '''
def count_rnn_weights(k):
    return {"W_hh": np.zeros((k, k)), "W_xh": np.zeros((k, 1)), "b_h": np.zeros(k),
            "W_yh": np.zeros((1, k)), "b_y": np.zeros(1)}
''', zero=("step_rnn_weights",), what="all-zero weights: the output is always 0"),

    Degenerate("theory-count-copies-input", T_ + "count_rnn_weights", '''
def count_rnn_weights(k):
    return {"W_hh": np.zeros((k, k)), "W_xh": np.ones((k, 1)), "b_h": np.full(k, -0.5),
            "W_yh": np.full((1, k), 1.0 / k), "b_y": np.array([-0.5 / k])}
''', zero=("step_rnn_weights",), what="the output copies the current bit (the unchanged input)"),

    Degenerate("theory-claims-all-false", T_ + "one_unit_step_rnn_can_compute", '''
def one_unit_step_rnn_can_compute():
    return {"seen_a_one": False, "at_least_two_ones": False, "running_parity": False}
''', zero=("step_rnn_impossible",), what="the same claim (impossible) for every task"),

    Degenerate("theory-claims-all-true", T_ + "one_unit_step_rnn_can_compute", '''
def one_unit_step_rnn_can_compute():
    return {task: True for task in ONE_UNIT_TASKS}
''', zero=("step_rnn_impossible",), what="the same claim (possible) for every task"),

    Degenerate("theory-parity-zeros", T_ + "parity_lstm_weights", '''
def parity_lstm_weights():
    return {"Wx": np.zeros((1, 4)), "Wh": np.zeros((1, 4)), "b": np.zeros(4),
            "W_y": np.zeros((1, 1)), "b_y": np.zeros(1)}
''', zero=("parity_lstm",), what="all-zero weights: the output is always 0"),

    Degenerate("theory-parity-copies-input", T_ + "parity_lstm_weights", '''
def parity_lstm_weights():
    # forget every step, write the bit, show it: y_t = x_t
    return {"Wx": np.array([[0.0, 0.0, 0.0, 1.0]]), "Wh": np.zeros((1, 4)),
            "b": np.array([0.5, -0.5, 0.5, -0.5]), "W_y": np.array([[1.0]]), "b_y": np.array([-0.5])}
''', zero=("parity_lstm",), what="the output copies the current bit (the unchanged input)"),

    Degenerate("theory-beam-untouched-template", T_ + "beam_search", '''
def beam_search(model, features, beam_size, max_length):
    N = features.shape[0]
    null = model.word_to_idx["<NULL>"]
    return np.full((N, max_length), null, dtype=np.int32), np.zeros(N, dtype=np.float64)
''', zero=("beam_search",), what="the provided arrays returned untouched: <NULL> captions, zero log-probs"),

    Degenerate("theory-beam-is-greedy", T_ + "beam_search", '''
def beam_search(model, features, beam_size, max_length):
    p = model.params
    end = model.word_to_idx.get("<END>", -1)
    N = features.shape[0]
    captions = model.sample(features, max_length=max_length)
    h, words = features @ p["W_proj"] + p["b_proj"], np.full(N, model.word_to_idx["<START>"])
    log_probs, alive = np.zeros(N), np.ones(N, dtype=bool)
    for t in range(max_length):
        h, _ = rnn_step_forward(p["W_embed"][words], h, p["Wx"], p["Wh"], p["b"])
        words = captions[:, t]
        log_probs += np.where(alive, log_softmax(h @ p["W_vocab"] + p["b_vocab"])[np.arange(N), words], 0.0)
        alive &= words != end
    return captions, log_probs
''', zero=("beam_search",), what="greedy decoding whatever the beam size, with honest log-probs (the beam "
                                  "never widens, so it is trivially never below greedy)"),

    Degenerate("theory-jacobian-ones", T_ + "jacobian_norms", '''
def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    return np.ones(u.shape[0])
''', zero=("gradient_flow",), what="a constant norm for every step"),

    Degenerate("theory-jacobian-untouched-template", T_ + "jacobian_norms", '''
def jacobian_norms(Wh, h0, u, nonlinearity="tanh"):
    return np.zeros(u.shape[0], dtype=np.float64)
''', zero=("gradient_flow",), what="the provided zeros returned untouched"),

    Degenerate("theory-recurrent-zeros", T_ + "recurrent_matrix", '''
def recurrent_matrix(H, spectral_radius, rng):
    return np.zeros((H, H))
''', zero=("gradient_flow",), what="an all-zero matrix"),

    Degenerate("theory-recurrent-constant", T_ + "recurrent_matrix", '''
def recurrent_matrix(H, spectral_radius, rng):
    return np.full((H, H), spectral_radius / H)
''', zero=("gradient_flow",), what="a constant matrix (rank one, spectral radius right)"),
]

# Every top-level name of the kit's own cs231n/rnn_theory.py (this part has no
# official counterpart: the kit's file is the canonical one; notebooks may
# import any of these).
CANONICAL_NAMES = {
    "cs231n/rnn_theory.py": {
        "np", "affine_forward", "lstm_step_forward", "rnn_step_forward",
        "STEP_RNN_KEYS", "STEP_LSTM_KEYS", "ONE_UNIT_TASKS", "NONLINEARITIES",
        "step", "all_binary_strings", "_check_bits", "at_least_k_ones", "running_parity",
        "_check_weights", "step_rnn_forward", "count_rnn_weights", "one_unit_step_rnn_can_compute",
        "step_lstm_forward", "parity_lstm_weights", "log_softmax", "_check_decoding", "beam_search",
        "_check_rng", "recurrent_matrix", "jacobian_norms", "gradient_flow_experiment",
    },
}
