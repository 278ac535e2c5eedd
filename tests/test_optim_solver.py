"""Tests of cs231n/optim.py, cs231n/gradient_check.py and cs231n/captioning_solver.py."""
import numpy as np
import pytest

from cs231n import optim
from cs231n.captioning_solver import CaptioningSolver
from cs231n.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                   rel_error)

W = np.array([[1.0, -2.0], [0.5, 0.0]])
DW = np.array([[0.2, -0.4], [1.0, -3.0]])


# --- update rules: single steps computed by hand -----------------------------------------

def test_sgd_step_and_default():
    next_w, config = optim.sgd(W, DW, {"learning_rate": 0.1})
    assert np.allclose(next_w, [[0.98, -1.96], [0.4, 0.3]], rtol=0, atol=1e-15)
    next_w, config = optim.sgd(W, DW)
    assert config["learning_rate"] == 1e-2
    assert np.allclose(next_w, [[0.998, -1.996], [0.49, 0.03]], rtol=0, atol=1e-15)
    assert np.array_equal(W, [[1.0, -2.0], [0.5, 0.0]])  # input untouched


def test_sgd_momentum_two_steps():
    config = {"learning_rate": 0.1}
    w1, config = optim.sgd_momentum(W, DW, config)
    # v1 = -0.1 dw
    assert config["momentum"] == 0.9
    assert np.allclose(config["velocity"], [[-0.02, 0.04], [-0.1, 0.3]], atol=1e-15)
    assert np.allclose(w1, [[0.98, -1.96], [0.4, 0.3]], atol=1e-15)
    w2, config = optim.sgd_momentum(w1, DW, config)
    # v2 = 0.9 v1 - 0.1 dw = -0.19 dw
    assert np.allclose(config["velocity"], [[-0.038, 0.076], [-0.19, 0.57]], atol=1e-15)
    assert np.allclose(w2, [[0.942, -1.884], [0.21, 0.87]], atol=1e-15)


def test_rmsprop_first_step():
    next_w, config = optim.rmsprop(W, DW, {"learning_rate": 0.1})
    # cache = 0.01 dw^2, step = 0.1 dw / (0.1 |dw| + 1e-8) ~ sign(dw)
    assert config["decay_rate"] == 0.99 and config["epsilon"] == 1e-8
    assert np.allclose(config["cache"], 0.01 * DW ** 2, atol=1e-17)
    expected_step = np.array([[0.02 / (0.02 + 1e-8), -0.04 / (0.04 + 1e-8)],
                              [0.1 / (0.1 + 1e-8), -0.3 / (0.3 + 1e-8)]])
    assert np.allclose(next_w, W - expected_step, rtol=1e-14, atol=1e-15)


def test_adam_first_two_steps_and_step_count():
    config = {"learning_rate": 0.1}
    w1, config = optim.adam(W, DW, config)
    assert config["t"] == 1
    assert (config["beta1"], config["beta2"], config["epsilon"]) == (0.9, 0.999, 1e-8)
    # m = 0.1 dw, v = 0.001 dw^2; bias-corrected: m_hat = dw, v_hat = dw^2.
    assert np.allclose(config["m"], 0.1 * DW, atol=1e-16)
    assert np.allclose(config["v"], 0.001 * DW ** 2, atol=1e-18)
    assert np.allclose(w1, W - 0.1 * DW / (np.abs(DW) + 1e-8), rtol=1e-14, atol=1e-15)

    dw2 = np.array([[1.0, 1.0], [0.0, 2.0]])
    w2, config = optim.adam(w1, dw2, config)
    assert config["t"] == 2
    m = 0.9 * 0.1 * DW + 0.1 * dw2
    v = 0.999 * 0.001 * DW ** 2 + 0.001 * dw2 ** 2
    step = 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    assert np.allclose(w2, w1 - step, rtol=1e-13, atol=1e-15)


def test_update_rules_match_canonical_values():
    """First rows of the expected values printed by the canonical notebooks."""
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, _ = optim.adam(w, dw, {"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    assert rel_error(next_w[0], [-0.40094747, -0.34836187, -0.29577703, -0.24319299,
                                 -0.19060977]) < 1e-7
    next_w, _ = optim.rmsprop(w, dw, {"learning_rate": 1e-2, "cache": m})
    assert rel_error(next_w[0], [-0.39223849, -0.34037513, -0.28849239, -0.23659121,
                                 -0.18467247]) < 1e-7
    next_w, _ = optim.sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": m})
    assert rel_error(next_w[0], [0.1406, 0.20738947, 0.27417895, 0.34096842,
                                 0.40775789]) < 1e-7


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_update_rules_keep_float32(rule):
    w, dw = W.astype(np.float32), DW.astype(np.float32)
    next_w, config = getattr(optim, rule)(w, dw)
    next_w, config = getattr(optim, rule)(next_w, dw, config)
    assert next_w.dtype == np.float32


# --- gradient_check -------------------------------------------------------------------------

def test_eval_numerical_gradient_perturbs_in_place_and_restores():
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    original = x.copy()
    # f ignores its argument and reads x through the closure (the canonical usage).
    f = lambda _: np.sum(x ** 3) + x[0, 1] * x[1, 2]  # noqa: E731
    grad = eval_numerical_gradient(f, x, verbose=False)
    expected = 3 * original ** 2
    expected[0, 1] += original[1, 2]
    expected[1, 2] += original[0, 1]
    assert rel_error(grad, expected) < 1e-8
    assert np.array_equal(x, original)


def test_eval_numerical_gradient_verbose_prints(capsys):
    eval_numerical_gradient(lambda v: np.sum(v), np.zeros(2))
    out = capsys.readouterr().out
    assert "(0,)" in out and "(1,)" in out


def test_eval_numerical_gradient_array_through_upstream_gradient():
    x = np.array([0.3, -1.2, 2.0])
    original = x.copy()
    A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    df = np.array([0.5, -2.0])
    # f returns the same buffer each time: the function must copy the outputs.
    buf = np.empty(2)

    def f(_):
        np.matmul(A, np.sin(x), out=buf)
        return buf
    grad = eval_numerical_gradient_array(f, x, df)
    assert rel_error(grad, (A.T @ df) * np.cos(original)) < 1e-8
    assert np.array_equal(x, original)


def test_rel_error():
    assert rel_error(1.0, 1.0) == 0
    assert np.isclose(rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])), 0.2 / 4.2)


# --- CaptioningSolver ----------------------------------------------------------------------

class QuadraticModel:
    """loss = 0.5 * sum(w^2) per parameter; records the minibatches it sees."""

    def __init__(self):
        self.params = {"a": np.ones(3), "b": np.full((2, 2), 2.0)}
        self.batches = []

    def loss(self, features, captions):
        self.batches.append((features.copy(), captions.copy()))
        loss = sum(0.5 * np.sum(w ** 2) for w in self.params.values())
        return loss, {k: w.copy() for k, w in self.params.items()}


def fake_data(num_train, D=3, T=5):
    r = np.random.default_rng(0)
    return {
        "train_captions": r.integers(4, size=(num_train, T)).astype(np.int32),
        "train_image_idxs": np.arange(num_train, dtype=np.int32) % 4,
        "train_features": r.standard_normal((4, D)).astype(np.float32),
        "train_urls": np.array([f"http://example.com/{i}.jpg" for i in range(4)]),
    }


@pytest.mark.parametrize("num_train,batch_size,epochs,expected", [
    (100, 25, 3, 12),  # 4 iterations per epoch
    (10, 25, 3, 3),    # fewer captions than a batch: still 1 iteration per epoch
    (99, 25, 2, 6),    # 99 // 25 = 3
])
def test_solver_iterations_batches_and_lr_decay(num_train, batch_size, epochs, expected):
    np.random.seed(0)
    model = QuadraticModel()
    solver = CaptioningSolver(model, fake_data(num_train), update_rule="sgd",
                              optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                              batch_size=batch_size, num_epochs=epochs, verbose=False)
    solver.train()
    assert len(solver.loss_history) == len(model.batches) == expected
    assert solver.epoch == epochs
    assert all(f.shape == (batch_size, 3) and c.shape == (batch_size, 5)
               for f, c in model.batches)
    # Learning rates decay once per epoch, for every parameter separately.
    for p in model.params:
        assert solver.optim_configs[p]["learning_rate"] == pytest.approx(0.1 * 0.5 ** epochs)
    # sgd on 0.5 w^2: w <- (1 - lr) w, lr halving each epoch.
    per_epoch = expected // epochs
    factor = np.prod([(1 - 0.1 * 0.5 ** e) ** per_epoch for e in range(epochs)])
    assert np.allclose(model.params["a"], factor)
    assert solver.loss_history[0] == pytest.approx(0.5 * 3 + 0.5 * 16)


def test_solver_keeps_separate_adam_state_per_parameter():
    model = QuadraticModel()
    solver = CaptioningSolver(model, fake_data(20), update_rule="adam", batch_size=10,
                              num_epochs=1, verbose=False, optim_config={"learning_rate": 1e-2})
    solver.train()
    a, b = solver.optim_configs["a"], solver.optim_configs["b"]
    assert a["t"] == b["t"] == 2
    assert a["m"].shape == (3,) and b["m"].shape == (2, 2)
    assert a is not b


def test_solver_prints_progress(capsys):
    CaptioningSolver(QuadraticModel(), fake_data(30), batch_size=10, num_epochs=2,
                     print_every=2).train()
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(")")[0] for line in lines] == ["(Iteration 1 / 6", "(Iteration 3 / 6",
                                                     "(Iteration 5 / 6"]
    assert lines[0] == "(Iteration 1 / 6) loss: 9.500000"


def test_solver_rejects_unknown_update_rule():
    with pytest.raises(ValueError, match=r"update_rule is 'adagrad'; expected the name of a "
                                         r"rule in cs231n.optim"):
        CaptioningSolver(QuadraticModel(), fake_data(10), update_rule="adagrad")
    with pytest.raises(ValueError, match=r"batch_size is 0; expected a positive integer"):
        CaptioningSolver(QuadraticModel(), fake_data(10), batch_size=0)
