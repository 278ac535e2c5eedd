"""Training loop for the PyTorch ``CaptioningTransformer`` (Adam, fixed learning rate).

Example::

    data = load_coco_data(max_train=50)
    model = CaptioningTransformer(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                                  wordvec_dim=256, num_heads=2, num_layers=2, max_length=30)
    solver = CaptioningSolverTransformer(model, data, idx_to_word=data["idx_to_word"],
                                         num_epochs=100, batch_size=25, learning_rate=1e-3)
    solver.train()
    solver.loss_history[-1]

The model is trained on whatever device its parameters are on, in its dtype.
"""
import numpy as np
import torch
from torch.nn import functional as F

from cs231n.coco_utils import sample_coco_minibatch


def transformer_temporal_softmax_loss(x, y, mask):
    """
    Softmax cross-entropy of a sequence of word scores.

    Inputs:
     - x: scores, tensor of shape (N, T, V)
     - y: target word indices, integer tensor of shape (N, T), each in [0, V)
     - mask: tensor of shape (N, T), bool or 0/1; False/0 marks a position (a
       <NULL> target) that must not count

    Returns:
     - loss: scalar tensor: the masked per-position losses summed and divided by
       N * T (every position counts in the denominator, masked ones as zero).
    """
    if x.dim() != 3 or tuple(y.shape) != tuple(x.shape[:2]) or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"transformer_temporal_softmax_loss: got x {tuple(x.shape)}, y {tuple(y.shape)}, "
            f"mask {tuple(mask.shape)}; expected x (N, T, V), y and mask (N, T)"
        )
    N, T, V = x.shape
    per_position = F.cross_entropy(x.reshape(N * T, V), y.reshape(N * T).long(), reduction="none")
    return torch.mean(per_position * mask.reshape(N * T).to(per_position.dtype))


class CaptioningSolverTransformer(object):
    """
    Trains a ``CaptioningTransformer`` with Adam on COCO-style data.

    Required arguments:
     - model: the CaptioningTransformer (an nn.Module with ``_null``).
     - data: dict from ``load_coco_data``.
     - idx_to_word: list mapping word indices to words (kept for the caller's use).

    Optional arguments:
     - num_epochs: passes over the training captions.
     - batch_size: captions per minibatch.
     - learning_rate: Adam's step size.
     - print_every: print the loss every this many iterations.
     - verbose: whether to print at all.

    After ``train()``, ``loss_history`` holds the loss (a float) of every iteration.
    """

    def __init__(self, model, data, idx_to_word, num_epochs=10, batch_size=100,
                 learning_rate=0.001, print_every=10, verbose=True):
        self.model = model
        self.data = data
        self.idx_to_word = idx_to_word

        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.print_every = print_every
        self.verbose = verbose
        if self.batch_size < 1 or self.num_epochs < 0 or self.print_every < 1:
            raise ValueError(
                "CaptioningSolverTransformer: need batch_size >= 1, num_epochs >= 0, print_every >= 1; "
                f"got {self.batch_size}, {self.num_epochs}, {self.print_every}"
            )
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.loss_history = []
        self.optim = torch.optim.Adam(self.model.parameters(), self.learning_rate)

    def _step(self):
        """One minibatch: forward, loss, backward, Adam update."""
        captions, features, _urls = sample_coco_minibatch(
            self.data, batch_size=self.batch_size, split="train")
        # The model sees all tokens but the last and predicts all but the first.
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self.model._null

        reference = next(self.model.parameters())
        device, dtype = reference.device, reference.dtype
        t_features = torch.as_tensor(np.asarray(features), dtype=dtype, device=device)
        t_captions_in = torch.as_tensor(np.asarray(captions_in), dtype=torch.long, device=device)
        t_captions_out = torch.as_tensor(np.asarray(captions_out), dtype=torch.long, device=device)
        t_mask = torch.as_tensor(np.asarray(mask), device=device)

        scores = self.model(t_features, t_captions_in)
        loss = self.transformer_temporal_softmax_loss(scores, t_captions_out, t_mask)
        self.loss_history.append(float(loss.detach()))

        self.optim.zero_grad()
        loss.backward()
        self.optim.step()

    def train(self):
        """Run ``num_epochs`` epochs of ``max(num_train // batch_size, 1)`` iterations."""
        self.model.train()
        num_train = self.data["train_captions"].shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1]))
            if (t + 1) % iterations_per_epoch == 0:
                self.epoch += 1

    @staticmethod
    def transformer_temporal_softmax_loss(x, y, mask):
        """Same as the module-level ``transformer_temporal_softmax_loss``."""
        return transformer_temporal_softmax_loss(x, y, mask)
