"""Hidden training checks for the RNN and LSTM parts: can the student's
CaptioningRNN, trained with the provided CaptioningSolver and update rules,
overfit a small captioning problem?

The problem is synthetic and hidden: a handful of "images" (random feature
vectors), each with one caption of random words from a small vocabulary (all
captions share their first words, so the image must be remembered through
time). A model whose loss and gradients are right memorises it in 150
full-batch Adam steps; a wrong gradient (a sign, a missing path through time)
leaves the loss high. Dimensions are small: one run of the reference takes about
0.2 s (RNN) and 0.4 s (LSTM) on one CPU core. Fewer steps would save time but
not margin: with 100 steps (learning rate 3e-2) the worst of 100 grading seeds
ended at 0.08 (RNN) and 0.24 (LSTM), too near the threshold for correct code.

Training is made reproducible by seeding NumPy's global random state (the
model's initialisation and the solver's minibatches draw from it) inside
``run``; the caller's random state is restored afterwards. The score does not
compare loss histories with the reference's step by step (floating-point
differences between correct implementations grow during training): it asks
that the loss went down and ended below a threshold calibrated with the
reference, with a wide margin.

The loss that counts is never the one the student's code reports: ``run``
hands back the trained parameters, and ``score`` (outside the sandbox)
computes their loss with the reference CaptioningRNN. A ``loss`` that invents
a falling history therefore earns nothing unless its parameters really fit.
"""
import copy

import numpy as np

from autograder.checks.core import Check, Criterion, Spec, register
from autograder.checks.rnn import PARAM_NAMES, vocabulary
from autograder.reference import REFERENCE_LOCK, reference_modules

PARAM_PREFIX = "param_"  # outputs named param_<name> carry the trained model.params

# Hyperparameters of the hidden training runs (fixed: the thresholds below were
# calibrated for them). Full-batch Adam, one iteration per epoch.
NUM_IMAGES = 8
WORDVEC_DIM = 16
HIDDEN_DIM = 48
NUM_EPOCHS = 150
LEARNING_RATE = 2e-2

# The loss is summed over a caption's words and averaged over the batch; it
# starts between about 15 and 30. Calibration with the reference on 200 hidden problems: the
# lowest loss of the last 10 iterations was at most 0.021 (RNN) and 0.033 (LSTM),
# median 0.008 and 0.011; the mean of the last 5 iterations was at most 0.012
# times the mean of the first 5. The thresholds leave a margin of about 10x.
# Rechecked with the trusted loss of the trained parameters over 100 grading
# seeds: at most 0.017 (RNN) and 0.047 (LSTM); the fairness corpus (float32
# backward passes, step-by-step loops) stays below the thresholds on 50 seeds.
FINAL_LOSS = {"rnn": 0.3, "lstm": 0.3}  # the trained parameters' loss
DECREASE_FRACTION = 0.1  # trained parameters' loss / mean of the reference's first 5 losses


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

    def __init__(self):
        self._templates = {}  # (V, D) -> a reference CaptioningRNN whose params score replaces

    def inputs(self, rng):
        return training_problem(rng)

    def output_specs(self, inputs):
        """The solver's loss history (one full-batch iteration per epoch) and every trained parameter."""
        V, D = int(inputs["vocab_size"]), inputs["features"].shape[1]
        G = 4 * HIDDEN_DIM if self.cell_type == "lstm" else HIDDEN_DIM
        shapes = {"W_embed": (V, WORDVEC_DIM), "W_proj": (D, HIDDEN_DIM), "b_proj": (HIDDEN_DIM,),
                  "Wx": (WORDVEC_DIM, G), "Wh": (HIDDEN_DIM, G), "b": (G,), "W_vocab": (HIDDEN_DIM, V),
                  "b_vocab": (V,)}
        return {"loss_history": Spec("float", shape=(NUM_EPOCHS,)),
                **{PARAM_PREFIX + k: Spec("float", shape=shape) for k, shape in shapes.items()}}

    def prepare(self, inputs):
        self._template(inputs)

    def _template(self, problem):
        """The reference model for ``problem``'s sizes, built once: its initial weights
        draw from NumPy's global generator, so only under the reference lock."""
        key = (int(problem["vocab_size"]), problem["features"].shape[1])
        if key not in self._templates:
            with REFERENCE_LOCK:
                self._templates[key] = self._model(reference_modules(self.modules), problem)
        return self._templates[key]

    def _model(self, cs231n, problem):
        """A fresh CaptioningRNN for ``problem`` (its weights drawn from NumPy's global state)."""
        return cs231n.rnn.CaptioningRNN(
            vocabulary(int(problem["vocab_size"])), input_dim=problem["features"].shape[1],
            wordvec_dim=WORDVEC_DIM, hidden_dim=HIDDEN_DIM, cell_type=self.cell_type, dtype=np.float64)

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
            model = self._model(cs231n, problem)
            solver = cs231n.captioning_solver.CaptioningSolver(
                model, data, update_rule="adam", optim_config={"learning_rate": LEARNING_RATE},
                lr_decay=1.0, batch_size=n, num_epochs=NUM_EPOCHS, verbose=False)
            solver.train()
        finally:
            np.random.set_state(saved)
        return {"loss_history": np.asarray(solver.loss_history, dtype=np.float64),
                **{PARAM_PREFIX + k: np.asarray(v, dtype=np.float64) for k, v in model.params.items()
                   if k in PARAM_NAMES}}  # extra entries a model may keep are not graded

    def trusted_loss(self, got, problem):
        """The loss of the student's trained parameters under the reference model.

        Returns (loss, None), or (None, what is wrong with the parameters).
        """
        model = copy.copy(self._template(problem))  # its own params below: the template is shared
        trained = {k[len(PARAM_PREFIX):]: v for k, v in got.items() if k.startswith(PARAM_PREFIX)}
        for name, value in model.params.items():
            given = trained.get(name)
            if given is None or given.shape != value.shape:
                shape = "missing" if given is None else f"shape {given.shape}"
                return None, f"the trained parameter {name} is {shape}; expected shape {value.shape}"
            if not np.all(np.isfinite(given)):
                return None, f"the trained parameter {name} holds NaN or inf"
        model.params = {name: np.asarray(trained[name], dtype=np.float64) for name in model.params}
        loss, _ = model.loss(problem["features"], problem["captions"])
        return float(loss), None

    def score(self, got, expected, inputs):
        final, problem = self.trusted_loss(got, inputs)
        if problem is None and not np.isfinite(final):
            problem = "the trained parameters give a NaN or inf loss"
        if problem:
            return [Criterion("decreasing loss", False, problem), Criterion("final loss", False, problem)]
        start = float(np.mean(expected["loss_history"][:5]))  # the reference's start: same problem, same seed
        decreasing = final < DECREASE_FRACTION * start
        threshold = FINAL_LOSS[self.cell_type]
        hint = "; check the gradients of your CaptioningRNN.loss and recurrent layers"
        measured = "the reference's loss function on your trained parameters"
        return [
            Criterion("decreasing loss", decreasing,
                 f"training took the loss from about {start:.3g} to {final:.3g} ({measured})"
                 + ("" if decreasing else f", expected below {DECREASE_FRACTION:g} times the start{hint}")),
            Criterion("final loss", final < threshold,
                 f"final training loss {final:.3g}"
                 + ("" if final < threshold else
                    f", expected below {threshold:g} when overfitting a tiny dataset{hint}")),
        ]


@register
class RnnOverfit(_TrainingCheck):
    name = "rnn_overfit"
    cell_type = "rnn"


@register
class LstmOverfit(_TrainingCheck):
    name = "lstm_overfit"
    cell_type = "lstm"
