"""Hidden checks for the RNN/LSTM theory part (cs231n/rnn_theory.py).

Graded by simulation, never by matching text: the student's functions hand back
weights, captions, log-probabilities and norms as arrays, and the trusted side
runs them through its OWN simulators and decoders (below), written
independently of the student's file (whose "provided" simulators a student
could have edited). Hidden inputs vary what is asked (the k of the counting
task, captioning models, Jacobian problems), so numbers fitted to the
notebook's visible cases earn nothing.
"""
import numpy as np

from autograder.checks.core import (F32_TOL, Check, Criterion, Spec, compare_arrays, degenerate_reason,
                                    not_degenerate, numpy_output, register)
from autograder.checks.rnn import vocabulary

MODULES = ("rnn_theory",)
END = 2  # vocabulary(): <NULL>=0, <START>=1, <END>=2, <UNK>=3
# Weights whose size the student chooses (H hidden units): any shape, few elements;
# a key the student's dict lacks is left out, and the score says which.
WEIGHT_SIZE = 4096


def weight_spec():
    return Spec(("float", "int"), max_size=WEIGHT_SIZE, optional=True)


# ---------------------------------------------------------------------------
# Trusted simulators of the threshold networks

def _bits(T):
    """All bit strings of length T, (2**T, T); row r = binary digits of r."""
    return np.array([[(r >> (T - 1 - j)) & 1 for j in range(T)] for r in range(2 ** T)],
                    dtype=np.float64).reshape(2 ** T, T)


def _heaviside(z):
    return np.where(z > 0, 1.0, 0.0)


def _weights_or_reason(got, prefix, shapes, size_key):
    """({key: float64 array}, None) if the arrays under ``prefix`` have the
    shapes ``shapes(H)``, H = rows of ``size_key``; else (None, reason)."""
    keys = list(shapes(1))
    arrays = {k: np.asarray(got.get(prefix + k), dtype=np.float64) for k in keys if prefix + k in got}
    if len(arrays) != len(keys):
        return None, f"weights lack {[k for k in keys if k not in arrays]}"
    if arrays[size_key].ndim != 2:
        return None, f"{size_key} has shape {arrays[size_key].shape}; expected 2 dimensions"
    H = arrays[size_key].shape[0]
    for key, shape in shapes(H).items():
        if arrays[key].shape != shape:
            return None, f"{key} has shape {arrays[key].shape}; expected {shape} (H = {H})"
        if not np.all(np.isfinite(arrays[key])):
            return None, f"{key} contains NaN or inf"
    return arrays, None


def step_rnn_shapes(H):
    return {"W_hh": (H, H), "W_xh": (H, 1), "b_h": (H,), "W_yh": (1, H), "b_y": (1,)}


def step_lstm_shapes(H):
    return {"Wx": (1, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "W_y": (H, 1), "b_y": (1,)}


def simulate_step_rnn(w, x):
    """Outputs (N, T) of the step RNN h_t = step(W_hh h + W_xh x_t + b_h),
    y_t = step(W_yh h_t + b_y), h_0 = 0, column vectors one sequence per column."""
    x = np.asarray(x, dtype=np.float64)
    N, T = x.shape
    h = np.zeros((w["W_hh"].shape[0], N))
    y = np.zeros((N, T))
    for t in range(T):
        h = _heaviside(w["W_hh"] @ h + w["W_xh"] @ x[None, :, t] + w["b_h"][:, None])
        y[:, t] = _heaviside(w["W_yh"] @ h + w["b_y"][:, None])[0]
    return y


def simulate_step_lstm(w, x):
    """Outputs (N, T) of the step LSTM (gates i, f, o, g = step of x Wx + h Wh + b;
    c = f c + i g; h = o step(c); y = step(h W_y + b_y); h_0 = c_0 = 0)."""
    x = np.asarray(x, dtype=np.float64)
    N, T = x.shape
    H = w["Wh"].shape[0]
    h, c = np.zeros((N, H)), np.zeros((N, H))
    y = np.zeros((N, T))
    for t in range(T):
        a = np.outer(x[:, t], w["Wx"][0]) + h @ w["Wh"] + w["b"]
        i, f, o, g = (_heaviside(a[:, q * H:(q + 1) * H]) for q in range(4))
        c = f * c + i * g
        h = o * _heaviside(c)
        y[:, t] = _heaviside(h @ w["W_y"][:, 0] + w["b_y"][0])
    return y


def fraction_right(simulate, w, target, max_len):
    """(strings right, strings tried) over every bit string of length 1..max_len;
    a string is right when every one of its outputs matches the target's."""
    right = tried = 0
    for T in range(1, max_len + 1):
        x = _bits(T)
        ok = np.all(simulate(w, x) == target(x), axis=1)
        right, tried = right + int(ok.sum()), tried + len(x)
    return right, tried


def count_target(k):
    return lambda x: (np.cumsum(x, axis=1) >= k).astype(np.float64)


def parity_target(x):
    return np.cumsum(x, axis=1) % 2


# ---------------------------------------------------------------------------
# Part A: the counting step RNN and the one-unit claims

@register
class StepRnnWeights(Check):
    """count_rnn_weights(k) for hidden k: simulated on every bit string up to
    length max_len. One part per k; a part counts only if every string is right."""

    name = "step_rnn_weights"
    modules = MODULES

    def inputs(self, rng):
        return {"ks": np.sort(rng.choice(np.arange(1, 7), size=3, replace=False)),
                "max_len": np.array(10)}

    def output_specs(self, inputs):
        return {f"k{index}_{key}": weight_spec() for index in range(len(inputs["ks"])) for key in step_rnn_shapes(1)}

    def run(self, cs231n, inputs):
        out = {}
        for index, k in enumerate(inputs["ks"]):
            weights = cs231n.rnn_theory.count_rnn_weights(int(k))
            if not isinstance(weights, dict):
                raise TypeError(f"count_rnn_weights({k}) should return a dict of arrays, "
                                f"got {type(weights).__name__}")
            for key in step_rnn_shapes(1):
                if key in weights:
                    out[f"k{index}_{key}"] = numpy_output(weights[key], f"count_rnn_weights({k})[{key!r}]")
        return out

    def score(self, got, expected, inputs):
        parts = []
        for index, k in enumerate(int(k) for k in inputs["ks"]):
            label = f"count_rnn_weights({k})"
            w, reason = _weights_or_reason(got, f"k{index}_", step_rnn_shapes, "W_hh")
            if w is None:
                parts.append(Criterion(label, False, f"{label}: {reason}"))
                continue
            H = w["W_hh"].shape[0]
            if H > k:
                parts.append(Criterion(label, False, f"{label}: uses H = {H} hidden units; at most k = {k} allowed"))
                continue
            right, tried = fraction_right(simulate_step_rnn, w, count_target(k), int(inputs["max_len"]))
            ok = right == tried
            parts.append(Criterion(label, ok, f"{label}: {right} of {tried} bit strings (lengths 1-"
                                         f"{int(inputs['max_len'])}) get every output right"))
        return parts


@register
class StepRnnImpossible(Check):
    """The three one-unit claims; parity (the one argued in writing) weighs double.

    A claim of impossibility is something an answer that claims nothing is
    possible also makes: it counts only when the possibility claims are right,
    and an answer that is the same for every task earns nothing."""

    name = "step_rnn_impossible"
    modules = MODULES
    tasks = {"seen_a_one": 1.0, "at_least_two_ones": 1.0, "running_parity": 2.0}
    outputs = {task: Spec("int", shape=()) for task in tasks}  # 1 True, 0 False, -1 not a boolean

    def inputs(self, rng):
        return {}

    def run(self, cs231n, inputs):
        claims = cs231n.rnn_theory.one_unit_step_rnn_can_compute()
        if not isinstance(claims, dict):
            raise TypeError("one_unit_step_rnn_can_compute() should return a dict from task "
                            f"names to booleans, got {type(claims).__name__}")
        # -1: missing or not a boolean (scored as wrong, with a message)
        return {task: np.array(int(claims[task]) if isinstance(claims.get(task), (bool, np.bool_)) else -1)
                for task in self.tasks}

    def score(self, got, expected, inputs):
        values = {task: int(got.get(task, -1)) for task in self.tasks}
        # One answer for every task (all True, all False) tells the tasks apart
        # no better than a constant: it earns nothing, though it hits some claims.
        uniform = -1 not in values.values() and len(set(values.values())) == 1
        parts = [Criterion("claims differ", not uniform, "your claims are all "
                      f"{bool(next(iter(values.values())))}: a constant answer earns no points; "
                      "decide each task on its own" if uniform else "", weight=0.0, fatal=True)]
        possible = [t for t in self.tasks if int(expected[t]) == 1]
        for task, weight in self.tasks.items():
            value = values[task]
            # an impossibility claim counts only next to a right possibility claim
            needs = () if task in possible else tuple(possible)
            if value == -1:
                parts.append(Criterion(task, False, f"claim {task!r}: missing or not True/False", weight, needs))
            else:
                ok = value == int(expected[task])
                parts.append(Criterion(task, ok, f"claim {task!r}: " + ("right" if ok else "wrong"), weight, needs))
        return parts


# ---------------------------------------------------------------------------
# Part B: the parity step LSTM

@register
class ParityLstm(Check):
    """parity_lstm_weights(): one unit; every bit string up to length 12, then
    hidden long random strings."""

    name = "parity_lstm"
    modules = MODULES
    outputs = {key: weight_spec() for key in step_lstm_shapes(1)}

    def inputs(self, rng):
        return {"max_len": np.array(12), "long": rng.integers(0, 2, size=(64, int(rng.integers(100, 200))))}

    def run(self, cs231n, inputs):
        weights = cs231n.rnn_theory.parity_lstm_weights()
        if not isinstance(weights, dict):
            raise TypeError(f"parity_lstm_weights() should return a dict of arrays, got {type(weights).__name__}")
        return {key: numpy_output(weights[key], f"parity_lstm_weights()[{key!r}]")
                for key in step_lstm_shapes(1) if key in weights}

    def score(self, got, expected, inputs):
        w, reason = _weights_or_reason(got, "", step_lstm_shapes, "Wh")
        if w is None or w["Wh"].shape[0] != 1:
            reason = reason or f"uses H = {w['Wh'].shape[0]} units; the task asks for one (H = 1)"
            return [Criterion("all strings", False, f"parity_lstm_weights(): {reason}", 3.0),
                    Criterion("long strings", False, "long strings: not run", 1.0)]
        max_len = int(inputs["max_len"])
        right, tried = fraction_right(simulate_step_lstm, w, parity_target, max_len)
        long_x = inputs["long"]
        long_ok = np.all(simulate_step_lstm(w, long_x) == parity_target(long_x), axis=1)
        return [Criterion("all strings", right == tried,
                     f"{right} of {tried} bit strings of lengths 1-{max_len} get every output right", 3.0),
                Criterion("long strings", bool(long_ok.all()),
                     f"{int(long_ok.sum())} of {len(long_ok)} random strings of length "
                     f"{long_x.shape[1]} get every output right", 1.0)]


# ---------------------------------------------------------------------------
# Part C: beam search. Trusted decoding of a tanh CaptioningRNN from its
# parameters alone (never the student's model code).

PARAM_SHAPES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def decoding_problem(rng, prefix, V, max_length, N=4, scale=(0.8, 1.6), end_bias=(1.5, 3.0)):
    D, W, H = 6, 5, int(rng.integers(3, 6))
    scale = rng.uniform(*scale)
    shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, H), "Wh": (H, H),
              "b": (H,), "W_vocab": (H, V), "b_vocab": (V,)}
    problem = {prefix + k: rng.standard_normal(s) * scale for k, s in shapes.items()}
    # a likelier <END>: most problems then mix captions that stop early with
    # captions that run to max_length, and both rules of the algorithm matter
    problem[prefix + "b_vocab"][END] += rng.uniform(*end_bias)
    problem[prefix + "features"] = rng.standard_normal((N, D))
    problem[prefix + "max_length"] = np.array(max_length)
    return problem


def _params(inputs, prefix):
    return {k: inputs[prefix + k] for k in PARAM_SHAPES}


def _log_softmax(s):
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def _next_log_probs(p, words, h):
    h = np.tanh(p["W_embed"][words] @ p["Wx"] + h @ p["Wh"] + p["b"])
    return _log_softmax(h @ p["W_vocab"] + p["b_vocab"]), h


def _initial_state(p, features):
    return features @ p["W_proj"] + p["b_proj"]


def trusted_greedy(p, features, max_length):
    """Greedy captions (N, max_length) (<NULL> after <END>) and their log-probs."""
    N = len(features)
    h, words = _initial_state(p, features), np.ones(N, dtype=int)
    captions = np.zeros((N, max_length), dtype=int)
    total, alive = np.zeros(N), np.ones(N, dtype=bool)
    for t in range(max_length):
        logp, h = _next_log_probs(p, words, h)
        words = np.argmax(logp, axis=1)
        captions[:, t] = np.where(alive, words, 0)
        total += np.where(alive, logp[np.arange(N), words], 0.0)
        alive &= words != END
    return captions, total


def trusted_log_prob(p, features, captions):
    """Log-probability of each caption: its words up to and including the first
    <END> (all of them if there is none). Raises ValueError for bad indices."""
    captions = np.asarray(captions)
    V = p["W_embed"].shape[0]
    if captions.ndim != 2 or captions.shape[0] != len(features) or captions.min() < 0 or captions.max() >= V:
        raise ValueError(f"captions of shape {captions.shape} are not word indices in [0, {V})")
    N = len(features)
    h, words = _initial_state(p, features), np.ones(N, dtype=int)
    total, alive = np.zeros(N), np.ones(N, dtype=bool)
    for t in range(captions.shape[1]):
        logp, h = _next_log_probs(p, words, h)
        words = captions[:, t].astype(int)
        total += np.where(alive, logp[np.arange(N), words], 0.0)
        alive &= words != END
    return total


def trusted_exhaustive(p, features, max_length):
    """The best caption of every image over ALL word sequences of at most
    max_length words (a sequence ends at its first <END>): (captions, log-probs)."""
    V = p["W_embed"].shape[0]
    captions = np.zeros((len(features), max_length), dtype=int)
    best = np.full(len(features), -np.inf)
    for n in range(len(features)):
        h = _initial_state(p, features[n:n + 1])
        prefixes, scores, words = np.zeros((1, 0), dtype=int), np.zeros(1), np.ones(1, dtype=int)
        for t in range(max_length):
            logp, h = _next_log_probs(p, words, h)
            scores = (scores[:, None] + logp).reshape(-1)
            prefixes = np.concatenate([np.repeat(prefixes, V, axis=0),
                                       np.tile(np.arange(V), len(prefixes))[:, None]], axis=1)
            h, words = np.repeat(h, V, axis=0), prefixes[:, -1]
            complete = (words == END) if t < max_length - 1 else np.ones(len(words), dtype=bool)
            if complete.any() and scores[complete].max() > best[n]:
                j = np.flatnonzero(complete)[np.argmax(scores[complete])]
                best[n], captions[n] = scores[j], 0
                captions[n, :t + 1] = prefixes[j]
            keep = ~complete
            prefixes, scores, words, h = prefixes[keep], scores[keep], words[keep], h[keep]
    return captions, best


def trusted_beam(p, features, beam_size, max_length, floor=True):
    """The beam search of the docstring for every image at once: (captions, log-probs).

    Slots of the beam that hold no hypothesis score -inf. A finished
    hypothesis is one candidate, in its first word column, with its own score.
    ``floor``: each image takes greedy's result where it is strictly better
    (the greedy floor); without it, the plain beam search."""
    N, V, K = len(features), p["W_embed"].shape[0], beam_size
    rows = np.arange(N)[:, None]
    score = np.full((N, K), -np.inf)
    score[:, 0] = 0.0
    done = np.zeros((N, K), dtype=bool)
    words = np.zeros((N, K, max_length), dtype=int)
    state = np.repeat(_initial_state(p, features)[:, None, :], K, axis=1)
    last = np.ones((N, K), dtype=int)  # <START>
    for t in range(max_length):
        logp, new_state = _next_log_probs(p, last.reshape(-1), state.reshape(N * K, -1))
        candidates = score[:, :, None] + logp.reshape(N, K, V)
        candidates[done] = -np.inf
        candidates[done, 0] = score[done]
        flat = candidates.reshape(N, K * V)
        pick = np.argsort(-flat, axis=1, kind="stable")[:, :K]
        parent, word = np.divmod(pick, V)
        was_done = done[rows, parent]
        score = flat[rows, pick]
        words = words[rows, parent]
        words[:, :, t] = np.where(was_done, 0, word)
        done = was_done | (word == END)
        state = new_state.reshape(N, K, -1)[rows, parent]
        last = word
    top = np.argmax(score, axis=1)
    captions, best = words[np.arange(N), top], score[np.arange(N), top]
    if floor:
        greedy_captions, greedy_lp = trusted_greedy(p, features, max_length)
        use = greedy_lp > best
        captions[use], best[use] = greedy_captions[use], greedy_lp[use]
    return captions, best


def discriminating_images(p, features, max_length, beam_sizes, margin=1e-6):
    """Boolean masks over the images, each true where some beam size shows it:
    ``floor``: the plain beam search ends below greedy (the greedy floor decides);
    ``widen``: the beam beats greedy with another caption;
    ``early``: the beam's caption is finished before the last step (so a
    finished hypothesis must be carried, unchanged, for steps)."""
    greedy_captions, greedy_lp = trusted_greedy(p, features, max_length)
    floor, widen, early = (np.zeros(len(features), dtype=bool) for _ in range(3))
    for K in beam_sizes:
        captions, lp = trusted_beam(p, features, K, max_length, floor=False)
        floor |= lp < greedy_lp - margin
        beats = lp > greedy_lp + margin
        widen |= beats & np.any(captions != greedy_captions, axis=1)
        early |= beats & np.any(captions[:, :-1] == END, axis=1)
    return floor, widen, early


def same_decoding(p, features, captions, log_probs, expected_captions, expected_lp):
    """The student's captions and log-probs are the expected ones: log-probs to
    1e-8 (float32 results to float32's bar), and every caption either the
    expected one or, where two captions tie, one whose own log-prob equals the
    expected to 1e-10 (tie order is a matter of rounding, never of the code)."""
    if not compare_arrays("", log_probs, expected_lp, 1e-8).ok:
        return False
    captions = np.asarray(captions)
    if captions.shape != np.shape(expected_captions):
        return False
    differ = np.any(captions != expected_captions, axis=1)
    if not differ.any():
        return True
    try:
        own = trusted_log_prob(p, features, captions)
    except (ValueError, TypeError):
        return False
    after_end = np.cumsum(captions == END, axis=1) - (captions == END) > 0
    padded = ~np.any(after_end & (captions != 0), axis=1)  # <NULL>s after the first <END>
    tie = np.abs(own - expected_lp) <= 1e-10 * (1 + np.abs(expected_lp))
    return bool(np.all((tie & padded)[differ]))


@register
class BeamSearch(Check):
    """beam_search on hidden tanh CaptioningRNNs: beam 1 is greedy; reported
    log-probs are the captions' own; the specified algorithm's result for
    K = 2, 3, 5; on a tiny vocabulary with a beam that never prunes, the
    exhaustive optimum; never below greedy (the greedy floor).

    Hidden problems are drawn until they discriminate (trusted decoders, on the
    trusted side): some wide beam beats greedy, a plain beam search without the
    floor falls below greedy on some image, and the exhaustive optimum differs
    from greedy. So an answer that returns greedy's captions for every beam
    size (it widens nothing) is told apart on every seed, and earns nothing.
    Properties (log-probs consistent, not below greedy) count only next to a
    right value (beam 1, the exhaustive optimum)."""

    name = "beam_search"
    modules = ("rnn_layers", "classifiers.rnn", "rnn_theory")
    beam_sizes = (2, 3, 5)
    attempts = 200  # models tried per seed (about 1 in 6 discriminates)
    images = 16

    def inputs(self, rng):
        # Problem a: a model and 16 of 64 drawn images: one where the greedy floor
        # decides, up to four where a caption finished early wins, then images
        # where a wider beam wins. Weights smaller and <END> less likely than in
        # problem b: the floor then matters for about one model in six (for a few
        # images in a thousand otherwise).
        for _ in range(self.attempts):
            pool = decoding_problem(rng, "a_", int(rng.integers(8, 13)), int(rng.integers(5, 9)), N=64,
                                    scale=(0.5, 1.0), end_bias=(0.0, 1.0))
            floor, widen, early = discriminating_images(_params(pool, "a_"), pool["a_features"],
                                                        int(pool["a_max_length"]), self.beam_sizes)
            if floor.any() and widen.any() and early.any():
                break
        # one image where the floor decides, then images where a finished caption
        # wins, then where the beam wins, then the others, in the order drawn
        order = [int(np.argmax(floor))] + [int(i) for i in np.flatnonzero(early)[:4]]
        order += [int(i) for i in np.flatnonzero(widen)] + list(range(64))
        chosen = sorted(list(dict.fromkeys(order))[:self.images])
        problem = dict(pool, a_features=pool["a_features"][chosen])
        # Problem b: a tiny vocabulary, where the exhaustive optimum beats greedy
        V, L = (5, 4) if rng.random() < 0.5 else (6, 3)
        for _ in range(self.attempts):
            b = decoding_problem(rng, "b_", V, L, N=6)
            pb, fb = _params(b, "b_"), b["b_features"]
            if not np.array_equal(trusted_exhaustive(pb, fb, L)[0], trusted_greedy(pb, fb, L)[0]):
                break
        problem.update(b)
        return problem

    def output_specs(self, inputs):
        """Captions (N, max_length) of word indices (integer-valued floats too) and
        their log-probabilities (N,), per beam size on problem a and for problem b."""
        specs = {}
        for key in self._keys():
            p = key[0]
            specs[f"{key}_captions"] = Spec(("int", "float"), shape=(f"{p}_features.shape[0]", f"{p}_max_length"))
            specs[f"{key}_log_probs"] = Spec("float", shape=(f"{p}_features.shape[0]",))
        return specs

    def _decode(self, cs231n, inputs, prefix, beam_size):
        p = _params(inputs, prefix)
        V, H = p["W_embed"].shape[0], p["Wh"].shape[0]
        model = cs231n.rnn.CaptioningRNN(vocabulary(V), input_dim=p["W_proj"].shape[0],
                                         wordvec_dim=p["W_embed"].shape[1], hidden_dim=H,
                                         cell_type="rnn", dtype=np.float64)
        for k, v in p.items():
            model.params[k] = v.copy()
        result = cs231n.rnn_theory.beam_search(model, inputs[prefix + "features"], beam_size,
                                               int(inputs[prefix + "max_length"]))
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError("beam_search should return a tuple (captions, log_probs)")
        return (numpy_output(result[0], "beam_search's captions"),
                numpy_output(result[1], "beam_search's log_probs"))

    def run(self, cs231n, inputs):
        out = {}
        for K in (1,) + self.beam_sizes:
            out[f"a{K}_captions"], out[f"a{K}_log_probs"] = self._decode(cs231n, inputs, "a_", K)
        V, L = inputs["b_W_embed"].shape[0], int(inputs["b_max_length"])
        out["b_captions"], out["b_log_probs"] = self._decode(cs231n, inputs, "b_", V ** (L - 1))
        return out

    def _keys(self):
        return [f"a{K}" for K in (1,) + self.beam_sizes] + ["b"]

    def _degenerate_parts(self, got, expected, inputs):
        parts = []
        for what in ("captions", "log_probs"):
            def flat(outputs):
                return np.concatenate([np.asarray(outputs[f"{k}_{what}"], dtype=np.float64).reshape(-1)
                                       for k in self._keys()])
            if not degenerate_reason(flat(expected)):  # the reference's never is; a guard
                parts.append(not_degenerate(what, flat(got)))
        # greedy's captions for every beam size: the beam never keeps a second hypothesis
        greedy = {"a": trusted_greedy(_params(inputs, "a_"), inputs["a_features"], int(inputs["a_max_length"]))[0],
                  "b": trusted_greedy(_params(inputs, "b_"), inputs["b_features"], int(inputs["b_max_length"]))[0]}
        wide = [f"a{K}" for K in self.beam_sizes] + ["b"]

        def all_greedy(outputs):
            return all(np.array_equal(outputs[f"{k}_captions"], greedy[k[0]]) for k in wide)
        if not all_greedy(expected):  # never all greedy: the problems are drawn for it; a guard
            only_greedy = all_greedy(got)
            parts.append(Criterion("beam widens", not only_greedy,
                              "every beam size returns greedy's captions, although a wider beam finds "
                              "likelier ones here: a search that never keeps a second hypothesis earns "
                              "no points" if only_greedy else "", weight=0.0, fatal=True))
        return parts

    def score(self, got, expected, inputs):
        pa, pb = _params(inputs, "a_"), _params(inputs, "b_")
        fa, fb = inputs["a_features"], inputs["b_features"]
        greedy_captions, greedy_lp = trusted_greedy(pa, fa, int(inputs["a_max_length"]))
        parts = self._degenerate_parts(got, expected, inputs)

        ok1 = same_decoding(pa, fa, got["a1_captions"], got["a1_log_probs"], greedy_captions, greedy_lp)
        parts.append(Criterion("beam 1", ok1, "beam_size=1 gives the greedy captions and their log-probs" if ok1
                          else "beam_size=1 does not reproduce greedy decoding (captions or log-probs)"))

        why = ""
        for key in self._keys():
            p, f = (pb, fb) if key == "b" else (pa, fa)
            try:
                own = trusted_log_prob(p, f, got[f"{key}_captions"])
            except (ValueError, TypeError) as exc:
                why = f"{key}: {exc}"
                break
            if not compare_arrays("", got[f"{key}_log_probs"], own, 1e-8).ok:
                why = f"{key}: the log_probs returned are not those of the captions"
                break
        parts.append(Criterion("log-probs", not why, "log_probs are the returned captions' log-probabilities"
                          if not why else f"log_probs: {why}", needs=("beam 1",)))

        below = []
        for K in self.beam_sizes:
            lp = np.asarray(got[f"a{K}_log_probs"])
            # greedy's own caption may come back rounded: to 1e-9 in float64, to float32's 1e-7 relative
            margin = 1e-9 if lp.dtype == np.float64 else 1e-5 * (1 + np.abs(greedy_lp))
            if lp.shape != greedy_lp.shape or not np.all(lp.astype(np.float64) >= greedy_lp - margin):
                below.append(K)
        parts.append(Criterion("not below greedy", not below, "beam results are never below greedy's log-prob"
                          if not below else f"beam sizes {below}: a caption with lower log-prob than greedy's "
                          "(see the docstring: the greedy floor)", needs=("exhaustive",)))

        differ = [K for K in self.beam_sizes
                  if not same_decoding(pa, fa, got[f"a{K}_captions"], got[f"a{K}_log_probs"],
                                       expected[f"a{K}_captions"], expected[f"a{K}_log_probs"])]
        parts.append(Criterion("beam K", not differ, "beam sizes 2, 3, 5 give the specified beam search's results"
                          if not differ else f"beam sizes {differ}: captions or log-probs differ from the "
                          "specified beam search (see the docstring: finished hypotheses compete unchanged)"))

        best_captions, best_lp = trusted_exhaustive(pb, fb, int(inputs["b_max_length"]))
        ok5 = same_decoding(pb, fb, got["b_captions"], got["b_log_probs"], best_captions, best_lp)
        parts.append(Criterion("exhaustive", ok5, "a beam that never prunes finds the exhaustive optimum" if ok5
                          else "with beam_size = V**(max_length-1) (no pruning) the result is not the "
                          "exhaustive search's best caption"))
        return parts


# ---------------------------------------------------------------------------
# Part D: gradient flow

@register
class GradientFlow(Check):
    """jacobian_norms against the reference on hidden general problems;
    recurrent_matrix has every singular value equal to the radius and depends
    on its rng (radius times the identity is not a random matrix); and the sweep
    built from both follows the theory: linear norms are exactly r**t
    (vanishing below 1, exploding above), tanh norms never exceed r**t. The
    sweep counts only when both functions are right (a shortcut such as
    ||Wh||**t also follows r**t). All-zero or constant norms or matrices earn
    nothing."""

    name = "gradient_flow"
    modules = MODULES
    # Bars on |log(norm) - log(reference)| and on the singular values' relative
    # error. One float32 bar whatever the result's dtype: a computation done in
    # float32 may land in the provided float64 `norms` array. Measured: float32
    # norms are off by up to 2e-6 (eps 6e-8, T <= 40 steps, H <= 16), float32
    # orthogonal matrices by 1e-6; the known mistakes move log norms by >= 0.26
    # and a missing scale moves singular values by >= 0.3 (radius in [0.3, 2]).
    log_tol = F32_TOL
    svd_rtol = 1e-5

    def output_specs(self, inputs):
        """Norms (T,) per Jacobian problem, matrices (H, H), and the sweep (radii, T) per nonlinearity."""
        specs = {f"j{case}": Spec("float", shape=(f"j{case}_u.shape[0]",)) for case in range(4)}
        H = [int(h) for h in inputs["m_H"]]
        specs.update({f"m{m}": Spec("float", shape=(h, h)) for m, h in enumerate(H)})
        specs["m_other"] = Spec("float", shape=(H[0], H[0]))
        specs.update({f"s_{nl}": Spec("float", shape=("s_radii.shape[0]", "s_T")) for nl in ("linear", "tanh")})
        return specs

    def inputs(self, rng):
        problem = {}
        for case in range(4):
            H, T = int(rng.integers(3, 9)), int(rng.integers(5, 16))
            problem[f"j{case}_Wh"] = rng.standard_normal((H, H)) * rng.uniform(0.6, 1.6) / np.sqrt(H)
            problem[f"j{case}_h0"] = rng.standard_normal(H)
            problem[f"j{case}_u"] = rng.standard_normal((T, H)) * 0.5
            problem[f"j{case}_tanh"] = np.array(case % 2)
        problem["m_H"] = rng.integers(3, 12, size=3)
        problem["m_radius"] = rng.uniform(0.3, 2.0, size=3)
        problem["m_seed"] = rng.integers(0, 2 ** 31, size=3)
        problem["s_radii"] = np.array([rng.uniform(0.5, 0.95), 1.0, rng.uniform(1.05, 1.5)])
        problem["s_T"] = np.array(int(rng.integers(20, 40)))
        problem["s_H"] = np.array(int(rng.integers(8, 17)))
        problem["s_seed"] = np.array(int(rng.integers(0, 2 ** 31)))
        return problem

    def run(self, cs231n, inputs):
        theory = cs231n.rnn_theory
        out = {}
        for case in range(4):
            nl = "tanh" if int(inputs[f"j{case}_tanh"]) else "linear"
            out[f"j{case}"] = numpy_output(theory.jacobian_norms(
                inputs[f"j{case}_Wh"], inputs[f"j{case}_h0"], inputs[f"j{case}_u"], nl), "jacobian_norms")
        for m, (H, radius, seed) in enumerate(zip(inputs["m_H"], inputs["m_radius"], inputs["m_seed"])):
            out[f"m{m}"] = numpy_output(theory.recurrent_matrix(int(H), float(radius),
                                                                np.random.default_rng(int(seed))), "recurrent_matrix")
        # the first problem again with another seed: a random matrix changes with its rng
        out["m_other"] = numpy_output(theory.recurrent_matrix(
            int(inputs["m_H"][0]), float(inputs["m_radius"][0]),
            np.random.default_rng(int(inputs["m_seed"][0]) + 1)), "recurrent_matrix")
        T, H = int(inputs["s_T"]), int(inputs["s_H"])
        for nl in ("linear", "tanh"):
            rows = []
            for radius in inputs["s_radii"]:
                rng = np.random.default_rng(int(inputs["s_seed"]))
                W = numpy_output(theory.recurrent_matrix(H, float(radius), rng), "recurrent_matrix")
                h0, u = rng.standard_normal(H), 0.5 * rng.standard_normal((T, H))
                rows.append(numpy_output(theory.jacobian_norms(W, h0, u, nl), "jacobian_norms"))
            out[f"s_{nl}"] = np.stack(rows)
        return out

    def _log_close(self, got, expected):
        """Positive norms of the right shape whose logs match to ``log_tol``."""
        got = np.asarray(got)
        if got.shape != np.shape(expected) or got.dtype.kind != "f":
            return False
        g = got.astype(np.float64)
        if not (np.all(np.isfinite(g)) and np.all(g > 0)):
            return False
        return bool(np.max(np.abs(np.log(g) - np.log(expected)), initial=0.0) <= self.log_tol)

    def score(self, got, expected, inputs):
        norms = [f"j{case}" for case in range(4)]
        parts = [not_degenerate("jacobian_norms", np.concatenate(
            [np.asarray(got[k], dtype=np.float64).reshape(-1) for k in norms]))]
        parts += [not_degenerate("recurrent_matrix", got[f"m{m}"]) for m in range(3)]

        bad = [case for case in range(4) if not self._log_close(got[f"j{case}"], expected[f"j{case}"])]
        parts.append(Criterion("jacobian_norms", not bad, "jacobian_norms match the reference" if not bad
                          else f"jacobian_norms differ from the reference on {len(bad)} of 4 hidden problems",
                          2.0))

        wrong = []
        for m, (H, radius) in enumerate(zip(inputs["m_H"], inputs["m_radius"])):
            W = np.asarray(got[f"m{m}"])
            if W.shape != (H, H) or not np.allclose(np.linalg.svd(W.astype(np.float64), compute_uv=False),
                                                    radius, rtol=self.svd_rtol, atol=0.0):
                wrong.append(f"H={H}, radius={radius:.3f}")
        same = np.shape(got["m_other"]) == np.shape(got["m0"]) and np.allclose(got["m_other"], got["m0"])
        detail = ("recurrent_matrix is radius * orthogonal" if not wrong else
                  "recurrent_matrix: not radius * an orthogonal matrix for " + "; ".join(wrong))
        if same and not wrong:
            detail = ("recurrent_matrix returns the same matrix for two different rngs: draw it from rng "
                      "(a random orthogonal matrix, not a fixed one)")
        parts.append(Criterion("recurrent_matrix", not wrong and not same, detail))

        radii, T = inputs["s_radii"], int(inputs["s_T"])
        theory = radii[:, None] ** np.arange(1, T + 1)[None, :]
        lin, tanh = np.asarray(got["s_linear"]), np.asarray(got["s_tanh"])
        ok = (self._log_close(lin, theory) and tanh.shape == theory.shape and np.all(np.isfinite(tanh))
              and np.all(tanh.astype(np.float64) <= theory * (1 + self.log_tol)))
        parts.append(Criterion("sweep", bool(ok), "linear norms are r**t (vanish for r < 1, explode for r > 1) and "
                          "tanh norms stay below r**t" if ok else
                          "the spectral-radius sweep does not follow r**t for the linear RNN (or tanh exceeds it)",
                          needs=("jacobian_norms", "recurrent_matrix")))
        return parts
