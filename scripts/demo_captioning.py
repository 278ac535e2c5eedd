"""Train the reference captioning models (vanilla RNN and LSTM) on the sample data.

    .venv/bin/python scripts/demo_captioning.py [--epochs N] [--data DIR]

Prints the training loss as it goes, then a few greedy captions for training
and validation images next to their ground truth.
"""
import argparse
import time

import numpy as np

from cs231n.captioning_solver import CaptioningSolver
from cs231n.classifiers.rnn import CaptioningRNN
from cs231n.coco_utils import BASE_DIR, decode_captions, load_coco_data, sample_coco_minibatch


def train(data, cell_type, epochs):
    np.random.seed(231)
    model = CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                          wordvec_dim=256, hidden_dim=512, cell_type=cell_type)
    solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=epochs, batch_size=100,
                              optim_config={"learning_rate": 5e-3}, lr_decay=0.95,
                              print_every=50, verbose=True)
    start = time.monotonic()
    solver.train()
    print(f"{cell_type}: final loss {solver.loss_history[-1]:.3f} after "
          f"{len(solver.loss_history)} iterations, {time.monotonic() - start:.1f} s")
    return model


def show_captions(model, data, split, count=3):
    captions, features, _ = sample_coco_minibatch(data, batch_size=count, split=split)
    sampled = decode_captions(model.sample(features), data["idx_to_word"])
    truth = decode_captions(captions, data["idx_to_word"])
    for got, want in zip(sampled, truth):
        print(f"  [{split}] sampled: {got}\n  [{split}]   truth: {want}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default=BASE_DIR, help="COCO captioning folder (default: the sample)")
    args = parser.parse_args()
    data = load_coco_data(base_dir=args.data, max_train=5000)
    print(f"data: {data['train_captions'].shape[0]} training captions, "
          f"{len(data['idx_to_word'])} words, features {data['train_features'].shape[1]}-d")
    for cell_type in ("rnn", "lstm"):
        model = train(data, cell_type, args.epochs)
        np.random.seed(0)
        show_captions(model, data, "train")
        show_captions(model, data, "val")


if __name__ == "__main__":
    main()
