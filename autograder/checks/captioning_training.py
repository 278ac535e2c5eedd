"""Hidden training checks for the RNN and LSTM parts: can the student's
CaptioningRNN, trained with the provided CaptioningSolver and update rules,
overfit a small captioning problem?

The problem is synthetic and hidden: a handful of "images" (random feature
vectors), each with one caption of random words from a small vocabulary. A
model whose loss and gradients are right memorises it in a few dozen Adam
steps; a wrong gradient (a sign, a missing path through time, a gate in the
wrong place) leaves the loss high. Dimensions are small, so one run takes
about a second on a CPU.

Training is made reproducible by seeding NumPy's global random state (the
model's initialisation and the solver's minibatches draw from it) inside
``run``; the caller's random state is restored afterwards. The score does not
compare loss histories with the reference's step by step (floating-point
differences between correct implementations grow during training): it asks
that the loss went down and ended below a threshold calibrated with the
reference, with a wide margin.
"""
import numpy as np

from autograder.checks.core import Check, Part, register
from autograder.checks.rnn import vocabulary

# Hyperparameters of the hidden training runs (not drawn: the thresholds below
# were calibrated for them).
NUM_IMAGES = 8
WORDVEC_DIM = 16
HIDDEN_DIM = 48
NUM_EPOCHS = 150
LEARNING_RATE = 2e-2

# Final-loss thresholds (loss summed over a caption's words, averaged over the
# batch). The reference ends near 0.01-0.1 on these problems; the loss starts
# near 20 (about 8 words times log V).
FINAL_LOSS = {"rnn": 0.5, "lstm": 0.5}
# "Decreasing": the mean of the last 5 losses is below this fraction of the
# mean of the first 5.
DECREASE_FRACTION = 0.25


def training_problem(rng):
    """A small captioning problem: features (n, D) float64, captions (n, T + 1).

    Every caption starts with the same few words and ends with words of its own
    image: to predict those the network must carry what it saw in the features
    through several time steps (teacher forcing alone gives away nothing), so
    training tests backpropagation through time, not just the last layer.
    """
    V = int(rng.integers(14, 19))
    D = int(rng.integers(8, 13))
    shared = int(rng.integers(3, 5))  # words every caption starts with
    own = int(rng.integers(2, 4))  # words of each caption's own
    T = shared + own + 1  # words, <END>
    features = rng.standard_normal((NUM_IMAGES, D))
    captions = np.zeros((NUM_IMAGES, T + 1), dtype=np.int64)
    captions[:, 0] = 1  # <START>
    captions[:, 1:shared + 1] = rng.integers(4, V, size=shared)
    captions[:, shared + 1:T] = rng.integers(4, V, size=(NUM_IMAGES, own))
    captions[:, T] = 2  # <END>
    return {"features": features, "captions": captions, "vocab_size": np.array(V),
            "seed": np.array(int(rng.integers(2**31)))}


class _TrainingCheck(Check):
    modules = ("rnn_layers", "classifiers.rnn", "captioning_solver")
    cell_type = None

    def inputs(self, rng):
        return training_problem(rng)

    def run(self, cs231n, problem):
        features, captions = problem["features"], problem["captions"]
        n = features.shape[0]
        data = {  # the layout of load_coco_data, one caption per image
            "train_captions": captions.astype(np.int32),
            "train_image_idxs": np.arange(n, dtype=np.int32),
            "train_features": features.astype(np.float64),
            "train_urls": np.array([f"image{k}" for k in range(n)]),
        }
        saved = np.random.get_state()
        np.random.seed(int(problem["seed"]))
        try:
            model = cs231n.rnn.CaptioningRNN(
                vocabulary(int(problem["vocab_size"])), input_dim=features.shape[1],
                wordvec_dim=WORDVEC_DIM, hidden_dim=HIDDEN_DIM, cell_type=self.cell_type,
                dtype=np.float64)
            solver = cs231n.captioning_solver.CaptioningSolver(
                model, data, update_rule="adam", optim_config={"learning_rate": LEARNING_RATE},
                lr_decay=1.0, batch_size=n, num_epochs=NUM_EPOCHS, verbose=False)
            solver.train()
        finally:
            np.random.set_state(saved)
        return {"loss_history": np.asarray(solver.loss_history, dtype=np.float64)}

    def score(self, got, expected, inputs):
        history = np.asarray(got.get("loss_history"), dtype=np.float64)
        want = np.asarray(expected["loss_history"])
        if history.shape != want.shape:
            detail = f"loss history has {history.size} entries, expected {want.size}"
            return [Part("decreasing loss", False, detail), Part("final loss", False, detail)]
        if not np.all(np.isfinite(history)):
            detail = "the training loss became NaN or inf"
            return [Part("decreasing loss", False, detail), Part("final loss", False, detail)]
        first, last = history[:5].mean(), history[-5:].mean()
        decreasing = last < DECREASE_FRACTION * first
        threshold = FINAL_LOSS[self.cell_type]
        final = history[-1]
        return [
            Part("decreasing loss", decreasing,
                 f"training loss went from {first:.3g} to {last:.3g} (mean of the first and last "
                 f"5 iterations)" + ("" if decreasing else f"; expected below {DECREASE_FRACTION:g} "
                                     "times the start: check the gradients of your model")),
            Part("final loss", final < threshold,
                 f"final training loss {final:.3g}" + ("" if final < threshold else
                                                       f"; expected below {threshold:g} "
                                                       "when overfitting a tiny dataset")),
        ]


@register
class RnnOverfit(_TrainingCheck):
    name = "rnn_overfit"
    cell_type = "rnn"


@register
class LstmOverfit(_TrainingCheck):
    name = "lstm_overfit"
    cell_type = "lstm"
