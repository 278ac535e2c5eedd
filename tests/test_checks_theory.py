"""The theory part: its provided simulators on hand-worked examples, its claims
proved by exhaustion, the trusted decoders against the model, and the hidden
checks (full marks for the reference; each single-bug mutant loses points in
its own check and nowhere it should not)."""
import itertools
import types

import numpy as np
import pytest

from autograder.checks import theory as checks
from autograder.checks import REGISTRY
from autograder.checks.local import grade, make_inputs
from autograder.checks.rnn import vocabulary
from cs231n import rnn_theory as th
from cs231n.classifiers.rnn import CaptioningRNN
from mutation import assert_loses_only_covering_checks, known_mutants

THEORY_CHECKS = ["step_rnn_weights", "step_rnn_impossible", "parity_lstm", "beam_search", "gradient_flow"]

# ---------------------------------------------------------------------------
# Provided simulators against examples worked by hand


def test_step_convention_and_bit_strings():
    assert th.step(np.array([-1.0, 0.0, 1e-12, 3.0])).tolist() == [0, 0, 1, 1]
    assert th.all_binary_strings(2).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert th.all_binary_strings(0).shape == (1, 0)
    x = np.array([[1, 0, 1, 1, 0]])
    assert th.at_least_k_ones(x, 2).tolist() == [[0, 0, 1, 1, 1]]
    assert th.running_parity(x).tolist() == [[1, 1, 0, 1, 1]]


def test_step_rnn_delay_network_by_hand():
    # unit 1 copies x_t, unit 2 copies unit 1 one step later; y reads unit 2:
    # the output is the input delayed by one step.
    w = {"W_hh": np.array([[0.0, 0.0], [1.0, 0.0]]), "W_xh": np.array([[1.0], [0.0]]),
         "b_h": np.array([-0.5, -0.5]), "W_yh": np.array([[0.0, 1.0]]), "b_y": np.array([-0.5])}
    y, h = th.step_rnn_forward(w, np.array([[1, 0, 1, 1, 0]]))
    assert y.tolist() == [[0, 1, 0, 1, 1]]
    assert h[0].tolist() == [[1, 0], [0, 1], [1, 0], [1, 1], [0, 1]]


def test_step_rnn_toggle_ignores_input_and_zero_is_off():
    # h_t = step(0.5 - h_{t-1}) toggles 1, 0, 1, ...; the output bias makes
    # W_yh h + b_y exactly 0 when h = 1, which step maps to 0.
    w = {"W_hh": np.array([[-1.0]]), "W_xh": np.array([[0.0]]), "b_h": np.array([0.5]),
         "W_yh": np.array([[1.0]]), "b_y": np.array([-1.0])}
    y, h = th.step_rnn_forward(w, np.array([[1, 1, 0, 0]]))
    assert h[0, :, 0].tolist() == [1, 0, 1, 0]
    assert y.tolist() == [[0, 0, 0, 0]]


def test_step_lstm_cell_counts_ones_by_hand():
    # i = f = o = 1 always, g = x_t: the cell counts the ones, h = [count > 0].
    w = {"Wx": np.array([[0.0, 0.0, 0.0, 1.0]]), "Wh": np.zeros((1, 4)),
         "b": np.array([0.5, 0.5, 0.5, -0.5]), "W_y": np.array([[1.0]]), "b_y": np.array([-0.5])}
    y, h, c = th.step_lstm_forward(w, np.array([[0, 1, 0, 1, 1]]))
    assert c[0, :, 0].tolist() == [0, 1, 1, 2, 3]
    assert h[0, :, 0].tolist() == [0, 1, 1, 1, 1]
    assert y.tolist() == [[0, 1, 1, 1, 1]]
    # closing the output gate hides the cell; closing the forget gate resets it
    w_closed = dict(w, b=np.array([0.5, 0.5, -0.5, -0.5]))
    assert th.step_lstm_forward(w_closed, np.array([[1, 1]]))[1].sum() == 0
    w_forget = dict(w, b=np.array([0.5, -0.5, 0.5, -0.5]))
    assert th.step_lstm_forward(w_forget, np.array([[1, 1, 0]]))[2][0, :, 0].tolist() == [1, 1, 0]


def test_simulators_validate_weights_with_clear_errors():
    w = th.count_rnn_weights(2)
    with pytest.raises(ValueError, match=r"weights\['b_h'\] has shape \(3,\); expected \(H,\) = \(2,\)"):
        th.step_rnn_forward(dict(w, b_h=np.zeros(3)), np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match="lack the keys"):
        th.step_lstm_forward({"Wh": np.zeros((1, 4))}, np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match="other than 0 and 1"):
        th.step_rnn_forward(w, np.array([[0, 2]]))


@pytest.mark.parametrize("seed", range(5))
def test_trusted_simulators_agree_with_the_provided_ones(seed):
    rng = np.random.default_rng(seed)
    x = th.all_binary_strings(7)
    H = int(rng.integers(1, 5))
    w = {k: rng.integers(-4, 5, size=s) + 0.5 for k, s in checks.step_rnn_shapes(H).items()}
    assert np.array_equal(checks.simulate_step_rnn(w, x), th.step_rnn_forward(w, x)[0])
    w = {k: rng.integers(-4, 5, size=s) + 0.5 for k, s in checks.step_lstm_shapes(H).items()}
    assert np.array_equal(checks.simulate_step_lstm(w, x), th.step_lstm_forward(w, x)[0])


# ---------------------------------------------------------------------------
# The reference answers, verified independently


def test_reference_weights_solve_their_tasks_on_all_strings():
    for k in range(1, 8):
        right, tried = checks.fraction_right(checks.simulate_step_rnn, th.count_rnn_weights(k),
                                             checks.count_target(k), 11)
        assert right == tried, k
    right, tried = checks.fraction_right(checks.simulate_step_lstm, th.parity_lstm_weights(),
                                         checks.parity_target, 12)
    assert right == tried == 2 ** 13 - 2


def one_unit_behaviours():
    """Every distinct (transition table, output table) a one-unit step RNN can have.

    The transition h_t = step(w h + u x + b) is a threshold function of the two
    bits (h, x); half-integer weights in [-2, 2] realize all 14 such functions
    (asserted), so this grid covers every behaviour real weights can have."""
    grid = np.arange(-2.0, 2.5, 0.5)
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1)]
    transitions = {tuple(int(w * h + u * x + b > 0) for h, x in pairs): (w, u, b)
                   for w, u, b in itertools.product(grid, grid, grid)}
    assert len(transitions) == 14  # all 16 boolean functions but XOR and XNOR
    outputs = [(0.0, -0.5), (0.0, 0.5), (1.0, -0.5), (-1.0, 0.5)]  # 0, 1, h, not h
    return [{"W_hh": np.array([[w]]), "W_xh": np.array([[u]]), "b_h": np.array([b]),
             "W_yh": np.array([[v]]), "b_y": np.array([c])}
            for (w, u, b) in transitions.values() for v, c in outputs]


def test_one_unit_claims_hold_by_exhaustion():
    targets = {"seen_a_one": checks.count_target(1), "at_least_two_ones": checks.count_target(2),
               "running_parity": checks.parity_target}
    behaviours = one_unit_behaviours()
    found = {}
    for task, target in targets.items():
        found[task] = any(np.array_equal(*checks.fraction_right(checks.simulate_step_rnn, w, target, 6))
                          for w in behaviours)
    assert found == th.one_unit_step_rnn_can_compute()


def test_two_step_units_do_compute_parity():
    # the impossibility is about ONE unit: two units (p AND NOT x, NOT p AND x) suffice
    w = {"W_hh": np.array([[1.0, 1.0], [-1.0, -1.0]]), "W_xh": np.array([[-1.0], [1.0]]),
         "b_h": np.array([-0.5, -0.5]), "W_yh": np.array([[1.0, 1.0]]), "b_y": np.array([-0.5])}
    right, tried = checks.fraction_right(checks.simulate_step_rnn, w, checks.parity_target, 10)
    assert right == tried


# ---------------------------------------------------------------------------
# Beam search: trusted decoders against the model, the reference against them


def random_model(rng, V, cell_type, H=4, D=6, W=5, scale=1.2):
    model = CaptioningRNN(vocabulary(V), input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell_type, dtype=np.float64)
    for name, value in model.params.items():
        model.params[name] = rng.standard_normal(value.shape) * scale
    return model


def brute_force(model, features, max_length):
    """Best caption per image by scoring every word sequence with teacher forcing."""
    V = model.params["W_embed"].shape[0]
    best = np.full(len(features), -np.inf)
    for length in range(1, max_length + 1):
        for words in itertools.product(range(V), repeat=length):
            if checks.END in words[:-1] or (length < max_length and words[-1] != checks.END):
                continue  # not a complete hypothesis
            captions = np.tile(np.array(words + (0,) * (max_length - length)), (len(features), 1))
            lp = teacher_forced_log_prob(model, features, captions)
            best = np.maximum(best, lp)
    return best


def teacher_forced_log_prob(model, features, captions):
    from cs231n.rnn_layers import lstm_step_forward, rnn_step_forward
    p, N = model.params, len(features)
    h = features @ p["W_proj"] + p["b_proj"]
    c, words, total, alive = np.zeros_like(h), np.ones(N, dtype=int), np.zeros(N), np.ones(N, dtype=bool)
    for t in range(captions.shape[1]):
        x = p["W_embed"][words]
        if model.cell_type == "rnn":
            h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
        else:
            h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
        lp = th.log_softmax(h @ p["W_vocab"] + p["b_vocab"])
        words = captions[:, t]
        total += np.where(alive, lp[np.arange(N), words], 0.0)
        alive &= words != checks.END
    return total


@pytest.mark.parametrize("seed", range(4))
def test_trusted_greedy_and_scoring_match_the_model(seed):
    rng = np.random.default_rng(seed)
    model = random_model(rng, int(rng.integers(6, 12)), "rnn")
    features = rng.standard_normal((4, 6))
    captions, lp = checks.trusted_greedy(model.params, features, 7)
    assert np.array_equal(captions, model.sample(features, max_length=7))
    assert np.allclose(lp, teacher_forced_log_prob(model, features, captions), rtol=1e-12)
    assert np.allclose(checks.trusted_log_prob(model.params, features, captions), lp, rtol=1e-12)


def test_trusted_exhaustive_is_the_brute_force_optimum():
    rng = np.random.default_rng(3)
    model = random_model(rng, 5, "rnn")
    features = rng.standard_normal((3, 6))
    captions, lp = checks.trusted_exhaustive(model.params, features, 3)
    assert np.allclose(lp, brute_force(model, features, 3), rtol=1e-12)
    assert np.allclose(teacher_forced_log_prob(model, features, captions), lp, rtol=1e-12)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_reference_beam_search_greedy_and_exhaustive(cell_type):
    rng = np.random.default_rng(7)
    model = random_model(rng, 5, cell_type)
    features = rng.standard_normal((3, 6))
    captions, lp = th.beam_search(model, features, 1, 4)
    assert np.array_equal(captions, model.sample(features, max_length=4))
    assert captions.dtype == np.int32 and lp.dtype == np.float64
    assert np.allclose(lp, teacher_forced_log_prob(model, features, captions))
    captions, lp = th.beam_search(model, features, 5 ** 3, 4)  # never prunes
    assert np.allclose(lp, brute_force(model, features, 4), rtol=1e-12)
    assert np.allclose(lp, teacher_forced_log_prob(model, features, captions))


def test_beam_search_in_float32_and_without_end_token():
    rng = np.random.default_rng(1)
    words = ["<NULL>", "<START>", "w_a", "<UNK>", "w_b", "w_c", "w_d"]  # no <END>
    model = CaptioningRNN({w: i for i, w in enumerate(words)}, input_dim=6, wordvec_dim=5,
                          hidden_dim=4, dtype=np.float64)
    for name, value in model.params.items():
        model.params[name] = rng.standard_normal(value.shape) * 1.2
    features = rng.standard_normal((2, 6))
    captions, lp = th.beam_search(model, features, 1, 6)
    assert np.array_equal(captions, model.sample(features, max_length=6))  # never stops early
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}
    captions, lp = th.beam_search(model, features.astype(np.float32), 3, 5)
    assert lp.dtype == np.float64 and captions.dtype == np.int32 and np.all(np.isfinite(lp))


def test_beam_search_validates_arguments():
    model = random_model(np.random.default_rng(0), 6, "rnn")
    with pytest.raises(ValueError, match="beam_size is 0"):
        th.beam_search(model, np.zeros((1, 6)), 0, 3)
    with pytest.raises(ValueError, match=r"features have shape \(1, 5\)"):
        th.beam_search(model, np.zeros((1, 5)), 2, 3)


# ---------------------------------------------------------------------------
# Gradient flow: against finite differences and the r**t law


def test_jacobian_norms_one_unit_by_hand():
    Wh, h0, u = np.array([[0.5]]), np.array([0.3]), np.array([[0.1], [-0.2], [0.4]])
    assert np.allclose(th.jacobian_norms(Wh, h0, u, "linear"), [0.5, 0.25, 0.125])
    h, slope = 0.3, 1.0
    expected = []
    for ut in (0.1, -0.2, 0.4):
        h = np.tanh(0.5 * h + ut)
        slope *= 0.5 * (1 - h * h)
        expected.append(abs(slope))
    assert np.allclose(th.jacobian_norms(Wh, h0, u, "tanh"), expected, rtol=1e-12)


def test_jacobian_norms_match_finite_differences():
    rng = np.random.default_rng(0)
    H, T = 4, 6
    Wh, h0, u = rng.standard_normal((H, H)) * 0.6, rng.standard_normal(H), rng.standard_normal((T, H))

    def final_state(h, steps):
        for t in range(steps):
            h = np.tanh(h @ Wh + u[t])
        return h

    norms = th.jacobian_norms(Wh, h0, u, "tanh")
    for steps in (1, 3, T):
        eps = 1e-6
        J = np.stack([(final_state(h0 + eps * e, steps) - final_state(h0 - eps * e, steps)) / (2 * eps)
                      for e in np.eye(H)], axis=1)
        assert abs(np.linalg.norm(J, 2) - norms[steps - 1]) < 1e-7


def test_recurrent_matrix_and_sweep_follow_theory():
    W = th.recurrent_matrix(6, 1.3, np.random.default_rng(0))
    assert np.allclose(W @ W.T, 1.69 * np.eye(6)) and np.allclose(np.abs(np.linalg.eigvals(W)), 1.3)
    radii = [0.8, 1.0, 1.2]
    lin = th.gradient_flow_experiment(radii, 20, H=8, nonlinearity="linear")
    assert np.allclose(lin, np.array(radii)[:, None] ** np.arange(1, 21), rtol=1e-9)
    tanh = th.gradient_flow_experiment(radii, 20, H=8, nonlinearity="tanh")
    assert np.all(tanh <= lin * (1 + 1e-9))


# ---------------------------------------------------------------------------
# The hidden checks

MUTANTS = known_mutants("theory")


@pytest.mark.parametrize("name", THEORY_CHECKS)
def test_reference_gets_full_marks(name):
    result = grade(name)
    assert result.fraction == 1.0, result.message


@pytest.mark.parametrize("name", THEORY_CHECKS)
def test_reference_gets_full_marks_on_other_seeds(name):
    for seed in range(1, 6):
        result = grade(name, seed=seed)
        assert result.fraction == 1.0, (seed, result.message)


@pytest.mark.parametrize("primary, mutant", MUTANTS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(MUTANTS)])
def test_single_bug_mutants_lose_only_their_checks(primary, mutant, tmp_path):
    assert_loses_only_covering_checks(mutant, tmp_path, THEORY_CHECKS, primary)


def test_every_theory_check_has_a_mutant():
    assert {p for p, _ in MUTANTS} == set(THEORY_CHECKS)


def fake(**functions):
    return types.SimpleNamespace(rnn_theory=types.SimpleNamespace(**functions))


def test_wrong_answers_get_partial_credit_and_clear_messages():
    ks = make_inputs(REGISTRY["step_rnn_weights"])["ks"]
    one = th.count_rnn_weights(1)  # "seen a one": right only for k = 1
    result = grade("step_rnn_weights", student=fake(
        count_rnn_weights=lambda k: th.count_rnn_weights(k) if k == ks[0] else one))
    assert result.fraction == pytest.approx(1 / 3) and "bit strings" in result.message
    result = grade("step_rnn_weights", student=fake(
        count_rnn_weights=lambda k: th.count_rnn_weights(k + 1) if k == ks[0] else th.count_rnn_weights(k)))
    assert result.fraction == pytest.approx(2 / 3) and f"at most k = {ks[0]}" in result.message
    result = grade("step_rnn_impossible", student=fake(one_unit_step_rnn_can_compute=lambda: {
        "seen_a_one": True, "at_least_two_ones": "no", "running_parity": False}))
    assert result.fraction == 0.75 and "missing or not True/False" in result.message


def test_wrong_types_are_errors_not_crashes():
    result = grade("parity_lstm", student=fake(parity_lstm_weights=lambda: [1, 2]))
    assert result.fraction == 0 and "dict of arrays" in result.message
    result = grade("parity_lstm", student=fake(parity_lstm_weights=lambda: {
        k: v.tolist() for k, v in th.parity_lstm_weights().items()}))
    assert result.fraction == 0 and "numpy array" in result.message
    two_units = {k: np.zeros(s) for k, s in checks.step_lstm_shapes(2).items()}
    result = grade("parity_lstm", student=fake(parity_lstm_weights=lambda: two_units))
    assert result.fraction == 0 and "one (H = 1)" in result.message


def test_simulators_reject_malformed_recurrent_matrices():
    with pytest.raises(ValueError, match=r"weights\['W_hh'\] has shape \(2, 3\); expected a square"):
        th.step_rnn_forward(dict(th.count_rnn_weights(2), W_hh=np.zeros((2, 3))), np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match=r"weights\['Wh'\] has shape \(1, 3\); expected \(H, 4H\)"):
        th.step_lstm_forward(dict(th.parity_lstm_weights(), Wh=np.zeros((1, 3))), np.zeros((1, 2), dtype=int))


# ---------------------------------------------------------------------------
# Fair grading: degenerate answers earn nothing, properties count only next
# to right values, and the hidden problems tell the algorithm from shortcuts


def test_trusted_beam_matches_the_reference_and_the_greedy_floor():
    rng = np.random.default_rng(11)
    for V, L in ((9, 6), (12, 8), (5, 4)):
        model = random_model(rng, V, "rnn", scale=0.8)
        features = rng.standard_normal((12, 6))
        for K in (1, 2, 3, 5, V ** (L - 1) if V == 5 else 4):
            captions, lp = checks.trusted_beam(model.params, features, K, L)
            ref_captions, ref_lp = th.beam_search(model, features, K, L)
            assert np.array_equal(captions, ref_captions), (V, K)
            assert np.allclose(lp, ref_lp, rtol=1e-12)


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_hidden_beam_problems_discriminate_on_every_seed(seed):
    inputs = make_inputs(REGISTRY["beam_search"], seed)
    L = int(inputs["a_max_length"])
    floor, widen, early = checks.discriminating_images(checks._params(inputs, "a_"), inputs["a_features"], L,
                                                       checks.BeamSearch.beam_sizes)
    assert floor.any() and widen.any() and early.any()
    pb, fb, Lb = checks._params(inputs, "b_"), inputs["b_features"], int(inputs["b_max_length"])
    assert not np.array_equal(checks.trusted_exhaustive(pb, fb, Lb)[0], checks.trusted_greedy(pb, fb, Lb)[0])


def greedy_everywhere(model, features, beam_size, max_length):
    return th.beam_search(model, features, 1, max_length)


def beam_module(beam_search):
    from cs231n import rnn_layers
    from cs231n.classifiers import rnn
    return types.SimpleNamespace(rnn_layers=rnn_layers, rnn=rnn,
                                 rnn_theory=types.SimpleNamespace(beam_search=beam_search))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_for_every_beam_size_earns_nothing(seed):
    # beam 1, consistent log-probs and "never below greedy" all hold for it
    result = grade("beam_search", student=beam_module(greedy_everywhere), seed=seed)
    assert result.fraction == 0 and "greedy's captions" in result.message


def test_beam_properties_count_only_next_to_right_values():
    def shuffled_images(model, features, beam_size, max_length):
        captions, lp = th.beam_search(model, features, beam_size, max_length)
        return np.roll(captions, 1, axis=0), np.roll(lp, 1)  # consistent? no: a shuffled answer
    result = grade("beam_search", student=beam_module(shuffled_images))
    assert result.fraction == 0
    parts = {p.label: p for p in result.parts}
    assert not parts["not below greedy"].ok and not parts["log-probs"].ok

    def zeros(model, features, beam_size, max_length):
        return np.zeros((len(features), max_length), np.int32), np.zeros(len(features))
    result = grade("beam_search", student=beam_module(zeros))
    assert result.fraction == 0 and "all zeros" in result.message


def test_constant_claims_earn_nothing_and_impossibility_needs_possibility():
    for value in (True, False):
        result = grade("step_rnn_impossible", student=fake(
            one_unit_step_rnn_can_compute=lambda v=value: dict.fromkeys(th.ONE_UNIT_TASKS, v)))
        assert result.fraction == 0 and "constant answer" in result.message
    result = grade("step_rnn_impossible", student=fake(one_unit_step_rnn_can_compute=lambda: {
        "seen_a_one": False, "at_least_two_ones": True, "running_parity": False}))
    assert result.fraction == 0  # parity's "impossible" stands next to a wrong "possible"


def test_gradient_flow_gates_and_degenerates():
    def theory(**overrides):
        functions = {"jacobian_norms": th.jacobian_norms, "recurrent_matrix": th.recurrent_matrix}
        functions.update(overrides)
        return fake(**functions)
    # radius times the identity: orthogonal, not random; the sweep it feeds is not credited
    result = grade("gradient_flow", student=theory(recurrent_matrix=lambda H, r, rng: r * np.eye(H)))
    parts = {p.label: p for p in result.parts}
    assert result.fraction == pytest.approx(0.5) and "rng" in result.message
    assert not parts["sweep"].ok and parts["jacobian_norms"].ok
    # ||Wh||**t ignores the trajectory, yet follows r**t on the sweep: not credited there
    result = grade("gradient_flow", student=theory(jacobian_norms=lambda Wh, h0, u, nl="tanh": np.linalg.norm(
        Wh, 2) ** np.arange(1, len(u) + 1)))
    assert result.fraction == pytest.approx(0.25)
    # constant norms or matrices: nothing at all
    result = grade("gradient_flow", student=theory(jacobian_norms=lambda Wh, h0, u, nl="tanh": np.ones(len(u))))
    assert result.fraction == 0
    result = grade("gradient_flow", student=theory(recurrent_matrix=lambda H, r, rng: np.zeros((H, H))))
    assert result.fraction == 0


# The fairness corpus of this part (tests/fairness/theory.py) on a few seeds;
# the suite's corpus tests take every part over 50 seeds.

def _corpus_root(edit, tmp_path):
    import shutil

    from autograder.reference import REFERENCE_ROOT
    from fairness.alternative import apply_edits
    shutil.copytree(REFERENCE_ROOT / "cs231n", tmp_path / "cs231n",
                    ignore=shutil.ignore_patterns("__pycache__", "datasets"))
    return apply_edits(tmp_path, [edit])


def _covering(target):
    from autograder.assignment import load_assignment
    return [c.name for c in load_assignment().checks.values() if target in c.covers]


def _corpus():
    from fairness import theory as corpus
    return corpus


@pytest.mark.parametrize("alternative", _corpus().ALTERNATIVES, ids=lambda a: a.id)
def test_alternatives_get_full_marks(alternative, tmp_path):
    from autograder.reference import package_modules
    root = _corpus_root(alternative, tmp_path)
    for name in _covering(alternative.target):
        for seed in (0, 7):
            result = grade(name, student=package_modules(root, REGISTRY[name].modules), seed=seed)
            assert result.fraction == 1.0, (name, seed, result.message)


@pytest.mark.parametrize("degenerate", _corpus().DEGENERATE, ids=lambda d: d.id)
def test_degenerate_answers_get_zero(degenerate, tmp_path):
    from autograder.reference import package_modules
    root = _corpus_root(degenerate, tmp_path)
    assert degenerate.zero
    for name in degenerate.zero:
        for seed in (0, 7):
            result = grade(name, student=package_modules(root, REGISTRY[name].modules), seed=seed)
            assert result.fraction == 0, (name, seed, result.message)


def test_known_mistakes_carry_hints():
    for primary, mistake in MUTANTS:
        assert mistake.hint and primary in THEORY_CHECKS


def test_canonical_names_are_the_kit_files_top_level_names():
    import ast
    from pathlib import Path
    tree = ast.parse(Path(th.__file__).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    assert _corpus().CANONICAL_NAMES == {"cs231n/rnn_theory.py": names}


def test_beam_check_accepts_either_caption_of_an_exact_tie():
    # words 5 and 6 made identical: every caption with a 5 has a twin with a 6 of
    # exactly the same log-prob; the reference picks 5, a student may pick 6
    from autograder.checks.local import expected_outputs
    check = REGISTRY["beam_search"]
    inputs = make_inputs(check, 0)
    for key, axis in (("a_W_embed", 0), ("a_W_vocab", 1), ("a_b_vocab", 0)):
        np.moveaxis(inputs[key], axis, 0)[6] = np.moveaxis(inputs[key], axis, 0)[5]
    expected = expected_outputs(check, inputs)
    assert any(np.any(expected[f"a{K}_captions"] == 5) for K in (1, 2, 3, 5))
    got = {k: np.where(v == 5, 6, v) if k.startswith("a") and k.endswith("captions") else v
           for k, v in expected.items()}
    from autograder.checks.core import score_parts
    assert score_parts("beam_search", check.score(got, expected, inputs)).fraction == 1.0
