"""Time our MultiHeadAttention against torch.nn.MultiheadAttention, and optionally
the Transformer overfit run of the captioning notebook.

    .venv/bin/python benchmarks/bench_attention.py [--mode train|eval] [--repeats 30] [--threads N]
    .venv/bin/python benchmarks/bench_attention.py --overfit [--data-dir DIR]

Attention: self-attention, forward + backward (gradients w.r.t. the input and
every parameter), N=128, S=30, E=256, 8 heads, float32, both modules in the same
mode (train: dropout 0.1 on the attention weights in both; eval: no dropout),
same thread count, timed alternately (ours, theirs, ours, ...) so both see the
same machine load, median over repeats after warm-up. ``torch.nn.MultiheadAttention``
is called with ``need_weights=False`` (its fastest path). The ratio is
ours / torch's; lower is better.

Overfit: the notebook's Transformer run (50 training captions, wordvec 256,
2 heads, 2 layers, lr 1e-3, batch 25, 100 epochs, seeds 231) on the GPU when
``torch.cuda.is_available()``, else the CPU; prints the final loss and the time.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cs231n.transformer_layers import MultiHeadAttention  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _interleaved_medians(fn_a, fn_b, device, warmup, repeats):
    """Median times of fn_a and fn_b, timed alternately (a, b, a, b, ...) so that
    both see the same machine load, and the median of the per-pair ratios."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    _sync(device)
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            fn()
            _sync(device)
            times.append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(times_a, times_b)]
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def bench_attention(mode, repeats, warmup, device):
    N, S, E, H = 128, 30, 256, 8
    torch.manual_seed(0)
    ours = MultiHeadAttention(E, H, dropout=0.1).to(device)
    theirs = torch.nn.MultiheadAttention(E, H, dropout=0.1, batch_first=True).to(device)
    for m in (ours, theirs):
        m.train(mode == "train")
    x = torch.randn(N, S, E, device=device, requires_grad=True)
    mask = torch.tril(torch.ones(S, S, dtype=torch.bool, device=device))
    # nn.MultiheadAttention's bool mask means the opposite: True = may NOT attend.
    their_mask = ~mask

    def run_ours(use_mask):
        def step():
            out = ours(x, x, x, attn_mask=mask if use_mask else None)
            out.sum().backward()
        return step

    def run_theirs(use_mask):
        def step():
            out, _ = theirs(x, x, x, attn_mask=their_mask if use_mask else None, need_weights=False)
            out.sum().backward()
        return step

    print(f"attention forward+backward: N={N} S={S} E={E} heads={H} float32 "
          f"mode={mode} device={device.type} threads={torch.get_num_threads()} "
          f"(median of {repeats} after {warmup} warm-up)")
    ratios = []
    for use_mask in (False, True):
        t_ours, t_theirs, pair_ratio = _interleaved_medians(
            run_ours(use_mask), run_theirs(use_mask), device, warmup, repeats)
        ratio = t_ours / t_theirs
        ratios.append(ratio)
        label = "causal mask" if use_mask else "no mask    "
        print(f"  {label}: ours {t_ours * 1e3:8.3f} ms   torch.nn.MultiheadAttention "
              f"{t_theirs * 1e3:8.3f} ms   ratio {ratio:.2f} (median of pairwise ratios {pair_ratio:.2f})")
    return ratios


def bench_overfit(data_dir, device):
    from cs231n.captioning_solver_transformer import CaptioningSolverTransformer
    from cs231n.classifiers.transformer import CaptioningTransformer
    from cs231n.coco_utils import load_coco_data

    kwargs = {"max_train": 50}
    if data_dir:
        kwargs["base_dir"] = data_dir
    # Seeds first, as in the notebook: they also fix which 50 captions are drawn.
    torch.manual_seed(231)
    np.random.seed(231)
    data = load_coco_data(**kwargs)
    model = CaptioningTransformer(
        word_to_idx=data["word_to_idx"], input_dim=data["train_features"].shape[1],
        wordvec_dim=256, num_heads=2, num_layers=2, max_length=30).to(device)
    solver = CaptioningSolverTransformer(
        model, data, idx_to_word=data["idx_to_word"], num_epochs=100, batch_size=25,
        learning_rate=0.001, verbose=False, print_every=10)
    _sync(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    solver.train()
    _sync(device)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    # Process CPU time is printed too: on a shared machine wall time alone misleads.
    print(f"overfit: device={device.type} threads={torch.get_num_threads()} "
          f"iterations={len(solver.loss_history)} final loss {solver.loss_history[-1]:.5f} "
          f"time {elapsed:.2f} s wall, {cpu:.2f} s process CPU")
    return solver.loss_history[-1], elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["train", "eval"], default="train")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--overfit", action="store_true", help="also time the Transformer overfit run")
    parser.add_argument("--data-dir", default=None, help="COCO data folder (default: the package's)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    bench_attention(args.mode, args.repeats, args.warmup, device)
    if args.overfit:
        bench_overfit(args.data_dir, device)


if __name__ == "__main__":
    main()
