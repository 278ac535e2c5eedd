"""Time the NumPy recurrent layers against torch.nn.RNN / torch.nn.LSTM on the CPU.

    .venv/bin/python benchmarks/bench_rnn.py [--repeats 15] [--warmup 3]

Measures forward + backward of rnn_forward/rnn_backward and
lstm_forward/lstm_backward at N=50, T=16, D=H=512 in float64, and of the torch
modules (double, batch_first, forward + backward of sum(output * dout) with the
same fixed upstream gradient dout), with torch's intra-op thread count set to the
number of BLAS threads NumPy uses. Prints the median over the repeats (after
warm-up) and the ratio NumPy / torch; the target is a ratio of at most 1.5.
Also times word_embedding_backward (np.add.at) at a captioning-sized minibatch,
next to np.bincount and one-hot-matmul formulations of the same sum.

The functions being compared run in alternating blocks, so slow background phases
affect them alike; still, run it on an otherwise idle machine: with more busy
threads than cores, the many small per-step matrix products of both libraries
slow down far more than large ones and the ratios lose their meaning.
"""
import argparse
import os
import statistics
import time

import numpy as np

from cs231n.rnn_layers import (lstm_backward, lstm_forward, rnn_backward, rnn_forward,
                               word_embedding_backward, word_embedding_forward)

N, T, D, H = 50, 16, 512, 512


def blas_threads():
    """Number of threads NumPy's BLAS uses (threadpoolctl when available)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return counts[0] if counts else os.cpu_count()


def busy_cpu_seconds():
    """CPU seconds spent by all processes (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def median_times(fns, repeats, warmup, rounds=3):
    """Median wall time of each function over `repeats` timed calls.

    The calls run in blocks: each round gives every function a block of warm-up
    calls and then a block of timed calls. Blocks (rather than strict turn-taking)
    matter here: after a call, OpenBLAS's and torch's OpenMP worker threads keep
    spinning for a while, and alternating single calls would make each library
    wait for the other's spinning threads. Several rounds still spread slow
    background phases over all functions alike.
    """
    times = [[] for _ in fns]
    per_round = max(repeats // rounds, 1)
    for r in range(rounds):
        for fn, ts in zip(fns, times):
            for _ in range(warmup):
                fn()
            for _ in range(per_round if r < rounds - 1 else repeats - len(ts)):
                start = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    print(f"N={N} T={T} D={D} H={H} float64; numpy BLAS threads = torch threads = {threads}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))

    def numpy_layer(forward, backward, gates):
        Wx = rng.standard_normal((D, gates * H)) / np.sqrt(D)
        Wh = rng.standard_normal((H, gates * H)) / np.sqrt(H)
        b = np.zeros(gates * H)

        def run():
            _, cache = forward(x, h0, Wx, Wh, b)
            backward(dh, cache)
        return run

    def torch_layer(cls):
        module = cls(D, H, batch_first=True).double()
        xt = torch.tensor(x, requires_grad=True)
        h0t = torch.tensor(h0[None], requires_grad=True)
        dht = torch.tensor(dh)

        def run():
            # Fresh gradients each time, as the NumPy layers return new arrays
            # (accumulating into .grad would add work to torch's side).
            module.zero_grad(set_to_none=True)
            xt.grad = h0t.grad = None
            state = (h0t, torch.zeros_like(h0t)) if cls is torch.nn.LSTM else h0t
            out, _ = module(xt, state)
            (out * dht).sum().backward()
        return run

    rows = [
        ("rnn", numpy_layer(rnn_forward, rnn_backward, 1), torch_layer(torch.nn.RNN)),
        ("lstm", numpy_layer(lstm_forward, lstm_backward, 4), torch_layer(torch.nn.LSTM)),
    ]
    wall0, busy0, own0 = time.perf_counter(), busy_cpu_seconds(), sum(os.times()[:2])
    print(f"{'forward+backward':<18}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name, np_run, torch_run in rows:
        t_np, t_torch = median_times([np_run, torch_run], args.repeats, args.warmup)
        print(f"{name:<18}{t_np * 1e3:>10.2f}{t_torch * 1e3:>10.2f}{t_np / t_torch:>8.2f}")

    if busy0 is not None:
        wall = time.perf_counter() - wall0
        others = (busy_cpu_seconds() - busy0 - (sum(os.times()[:2]) - own0)) / wall
        print(f"other processes kept {max(others, 0):.2f} of {os.cpu_count()} cores busy "
              "during these timings" + (" -- not an idle machine, ratios unreliable"
                                        if others > 0.25 else ""))

    # word_embedding_backward at the size of a captioning minibatch, next to two
    # other loop-free formulations of the same sum (for the record; the layer uses
    # np.add.at, which is the clearest).
    V, Nw, Tw, Dw = 1004, 100, 16, 256
    words = rng.integers(V, size=(Nw, Tw))
    _, cache = word_embedding_forward(words, rng.standard_normal((V, Dw)))
    dout = rng.standard_normal((Nw, Tw, Dw))
    flat_words, flat_dout = words.ravel(), dout.reshape(-1, Dw)

    def bincount():  # one flat index per (word, column) pair
        idx = (flat_words[:, None] * Dw + np.arange(Dw)).ravel()
        return np.bincount(idx, weights=flat_dout.ravel(), minlength=V * Dw).reshape(V, Dw)

    def one_hot_matmul():
        one_hot = np.zeros((flat_words.size, V))
        one_hot[np.arange(flat_words.size), flat_words] = 1
        return one_hot.T @ flat_dout

    reference = word_embedding_backward(dout, cache)
    assert np.allclose(bincount(), reference) and np.allclose(one_hot_matmul(), reference)
    t_emb, t_bin, t_hot = median_times(
        [lambda: word_embedding_backward(dout, cache), bincount, one_hot_matmul],
        args.repeats, args.warmup)
    print(f"word_embedding_backward N={Nw} T={Tw} V={V} D={Dw}: {t_emb * 1e3:.2f} ms "
          f"(np.add.at, used); np.bincount {t_bin * 1e3:.2f} ms; "
          f"one-hot matmul {t_hot * 1e3:.2f} ms")

if __name__ == "__main__":
    main()
