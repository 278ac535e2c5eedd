"""Minibatch training of a NumPy captioning model (CaptioningRNN)."""
import numpy as np

from cs231n import optim
from cs231n.coco_utils import sample_coco_minibatch


class CaptioningSolver:
    """Train a captioning model with a first-order update rule from cs231n.optim.

    The model must provide:
    - model.params: dict from parameter names to arrays
    - model.loss(features, captions) -> (loss, grads), grads with the keys of params

    Usage:

        solver = CaptioningSolver(model, data, update_rule='adam',
                                  optim_config={'learning_rate': 5e-3},
                                  lr_decay=0.95, batch_size=25, num_epochs=50)
        solver.train()
        plt.plot(solver.loss_history)

    `data` is the dict from cs231n.coco_utils.load_coco_data: the solver reads
    data['train_captions'] to count the training captions and draws minibatches
    with sample_coco_minibatch (random captions, drawn with NumPy's global random
    state, so np.random.seed makes training reproducible).

    One epoch is max(num_train // batch_size, 1) iterations; at the end of every
    epoch each parameter's learning rate is multiplied by lr_decay.
    """

    def __init__(self, model, data, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, print_every=10, verbose=True):
        """
        Inputs:
        - model: the model to train (its params are replaced in place during training)
        - data: dict of training data from load_coco_data
        - update_rule: name of an update rule in cs231n.optim: 'sgd', 'sgd_momentum',
          'rmsprop' or 'adam'
        - optim_config: dict of hyperparameters for the update rule (e.g.
          learning_rate); every parameter gets its own copy, which also keeps that
          parameter's optimizer state
        - lr_decay: factor applied to the learning rates at the end of each epoch
        - batch_size: number of captions per minibatch
        - num_epochs: number of epochs to train
        - print_every: with verbose, print the loss every print_every iterations
        - verbose: if False, print nothing
        """
        if not isinstance(update_rule, str) or update_rule.startswith("_") or \
                not callable(getattr(optim, update_rule, None)):
            raise ValueError(f"CaptioningSolver: update_rule is {update_rule!r}; expected "
                             "the name of a rule in cs231n.optim: 'sgd', 'sgd_momentum', "
                             "'rmsprop' or 'adam'")
        if "train_captions" not in data:
            raise ValueError("CaptioningSolver: data has no 'train_captions'; expected the "
                             "dict returned by load_coco_data")
        for name, value in (("batch_size", batch_size), ("num_epochs", num_epochs),
                            ("print_every", print_every)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"CaptioningSolver: {name} is {value!r}; expected a "
                                 "positive integer")
        self.model = model
        self.data = data
        self.update_rule = getattr(optim, update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.print_every = print_every
        self.verbose = verbose
        self._reset()

    def _reset(self):
        """Clear the bookkeeping and give every parameter a fresh optimizer config."""
        self.epoch = 0
        self.loss_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self):
        """One gradient update on a random minibatch; records the loss."""
        captions, features, _urls = sample_coco_minibatch(
            self.data, batch_size=self.batch_size, split="train")
        loss, grads = self.model.loss(features, captions)
        self.loss_history.append(float(loss))
        for p, w in self.model.params.items():
            next_w, self.optim_configs[p] = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w

    def train(self):
        """Run num_epochs epochs of optimization."""
        num_train = self.data["train_captions"].shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: "
                      f"{self.loss_history[-1]:f}")
            if (t + 1) % iterations_per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
