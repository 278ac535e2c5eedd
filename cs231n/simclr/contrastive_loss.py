"""The SimCLR contrastive loss (NT-Xent), naive and vectorised.

Notation (Self_Supervised_Learning.ipynb): a batch of N images gives 2N
augmented views. ``out_left[k]`` and ``out_right[k]`` (k = 0..N-1) are the
projections z of the two views of image k, a positive pair; stacked as
``out = cat([out_left, out_right])`` (2N x D), view k's positive is view k+N
and the other 2N-2 views are its negatives. With sim(u, v) = u.v / (|u| |v|),

    l(i, j) = -log( exp(sim(z_i, z_j) / tau) / sum_{m != i} exp(sim(z_i, z_m) / tau) )

and the loss is the average of l(k, k+N) and l(k+N, k) over the 2N views.
Every function takes and returns torch tensors (any float dtype, any device).
"""
import numpy as np
import torch

from cs231n.simclr import resolve_device


def sim(z_i, z_j):
    """Cosine similarity (normalized dot product) of two vectors.

    Inputs:
    - z_i, z_j: tensors of D numbers each (shape (D,), as rows of a batch are).

    Returns:
    - A scalar tensor: z_i . z_j / (||z_i|| ||z_j||), in [-1, 1].
    """
    norm_dot_product = None
    # TODO: divide the dot product of z_i and z_j by the product of their Euclidean
    # norms (torch.linalg.norm). Keep it a torch operation: the loss needs its gradient.
    ### BEGIN SOLUTION
    norm_dot_product = torch.sum(z_i * z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))
    ### END SOLUTION
    return norm_dot_product


def simclr_loss_naive(out_left, out_right, tau):
    """The contrastive loss over a batch, with Python loops (a reference to test the fast version).

    Inputs:
    - out_left: N x D tensor; projection-head outputs of the first view of each image.
    - out_right: N x D tensor; projection-head outputs of the second view.
      (out_left[k], out_right[k]) is a positive pair for every k = 0..N-1.
    - tau: positive float, the temperature.

    Returns:
    - A scalar tensor: the mean of l(k, k+N) and l(k+N, k) over all k (see the module docstring).
    """
    N = out_left.shape[0]
    out = torch.cat([out_left, out_right], dim=0)  # 2N x D: view k's positive is view k+N
    total_loss = 0
    for k in range(N):
        z_k, z_k_N = out[k], out[k + N]
        # TODO: add l(k, k+N) and l(k+N, k) to total_loss, using sim(). The denominator of
        # l(i, j) sums exp(sim(z_i, z_m) / tau) over every view m except i itself.
        ### BEGIN SOLUTION
        for anchor, partner, own in ((z_k, z_k_N, k), (z_k_N, z_k, k + N)):
            numerator = torch.exp(sim(anchor, partner) / tau)
            denominator = sum(torch.exp(sim(anchor, out[m]) / tau) for m in range(2 * N) if m != own)
            total_loss = total_loss - torch.log(numerator / denominator)
        ### END SOLUTION
    # the average over the 2N views of the batch
    total_loss = total_loss / (2 * N)
    return total_loss


def sim_positive_pairs(out_left, out_right):
    """Cosine similarity of each positive pair.

    Inputs:
    - out_left, out_right: N x D tensors; row k of each is a view of image k.

    Returns:
    - An N x 1 tensor: row k is sim(out_left[k], out_right[k]).
    """
    pos_pairs = None
    # TODO: without a loop: normalize each row of both inputs to unit length, then take
    # the row-wise dot products, kept as an N x 1 column.
    ### BEGIN SOLUTION
    left = out_left / torch.linalg.norm(out_left, dim=1, keepdim=True)
    right = out_right / torch.linalg.norm(out_right, dim=1, keepdim=True)
    pos_pairs = torch.sum(left * right, dim=1, keepdim=True)
    ### END SOLUTION
    return pos_pairs


def compute_sim_matrix(out):
    """Cosine similarities of every pair of views in a batch.

    Inputs:
    - out: 2N x D tensor; row i is the projection z of view i.

    Returns:
    - sim_matrix: 2N x 2N tensor; entry (i, j) is sim(out[i], out[j]).
    """
    sim_matrix = None
    # TODO: without a loop: normalize the rows, then one matrix product.
    ### BEGIN SOLUTION
    unit = out / torch.linalg.norm(out, dim=1, keepdim=True)
    sim_matrix = unit @ unit.T
    ### END SOLUTION
    return sim_matrix


def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
    """The contrastive loss over a batch, without Python loops.

    Inputs and output as in simclr_loss_naive; ``device`` is where tensors you create
    (masks, indices) should live: the device of out_left and out_right. A device this
    machine lacks means the CPU.
    """
    device = resolve_device(device)
    N = out_left.shape[0]
    out = torch.cat([out_left, out_right], dim=0)  # 2N x D
    sim_matrix = compute_sim_matrix(out)  # 2N x 2N
    loss = None
    # TODO: from sim_matrix, without loops:
    # 1. exponential = exp(sim_matrix / tau); each row's denominator sums it over every
    #    column except the diagonal (a view is not its own negative): mask the diagonal out;
    # 2. the positive of view i is view (i + N) mod 2N: pick those entries of sim_matrix
    #    (or use sim_positive_pairs) and exponentiate them / tau for the numerators;
    # 3. the loss is the mean over the 2N views of -log(numerator / denominator).
    ### BEGIN SOLUTION
    exponential = torch.exp(sim_matrix / tau)
    off_diagonal = ~torch.eye(2 * N, dtype=torch.bool, device=device)
    denominator = (exponential * off_diagonal).sum(dim=1)
    partner = torch.cat([torch.arange(N, 2 * N), torch.arange(0, N)]).to(device)
    numerator = exponential[torch.arange(2 * N, device=device), partner]
    loss = -torch.log(numerator / denominator).mean()
    ### END SOLUTION
    return loss


def rel_error(x, y):
    """Maximum relative error; says so plainly when the shapes differ."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: yours is {x.shape}, expected {y.shape}")
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))
