"""Fairness corpus, simclr part: see tests/fairness/__init__.py.

Correct code written the ways students write it against the original starter
files (``torch.dot`` and ``F.cosine_similarity``, the official kit's
``masked_select`` with ``device``, a log-softmax loss, float32 detours,
in-place masking, loops, keyword calls, torchvision's v2 transforms, one
forward pass over both views) and degenerate code (constant similarities and
losses, an augmentation that changes nothing, a training step that never
steps) that must earn nothing.
"""
from fairness.alternative import Alternative, Degenerate

L = "cs231n/simclr/contrastive_loss.py:"
D = "cs231n/simclr/data_utils.py:"
U = "cs231n/simclr/utils.py:"

# Top-level names the official starter files define (2022-2024). model.py is provided.
CANONICAL_NAMES = {
    "cs231n/simclr/contrastive_loss.py": {"sim", "simclr_loss_naive", "sim_positive_pairs", "compute_sim_matrix",
                                          "simclr_loss_vectorized", "rel_error"},
    "cs231n/simclr/data_utils.py": {"compute_train_transform", "compute_test_transform", "CIFAR10Pair"},
    "cs231n/simclr/utils.py": {"train", "train_val", "test"},
}

ALTERNATIVES = [
    # ------------------------------------------------------------------ sim
    Alternative("simclr-sim-dot", L + "sim", '''
        def sim(z_i, z_j):
            norm_dot_product = torch.dot(z_i, z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))
            return norm_dot_product
        ''', "torch.dot over the two rows"),
    Alternative("simclr-sim-cosine", L + "sim", '''
        def sim(z_i, z_j):
            return torch.nn.functional.cosine_similarity(z_i, z_j, dim=0)
        ''', "F.cosine_similarity along dim 0"),

    # ------------------------------------------------------------------ naive loss
    Alternative("simclr-naive-tensor-list", L + "simclr_loss_naive", '''
        def simclr_loss_naive(out_left, out_right, tau):
            N = out_left.shape[0]
            out = torch.cat([out_left, out_right], dim=0)
            total_loss = 0
            for k in range(N):
                z_k, z_k_N = out[k], out[k + N]
                sims_k = torch.tensor([sim(z_k, z) for z in out[np.arange(2 * N) != k]])
                sims_k_N = torch.tensor([sim(z_k_N, z) for z in out[np.arange(2 * N) != k + N]])
                l_k = -torch.log(torch.exp(sim(z_k, z_k_N) / tau) / torch.exp(sims_k / tau).sum())
                l_k_N = -torch.log(torch.exp(sim(z_k_N, z_k) / tau) / torch.exp(sims_k_N / tau).sum())
                total_loss += l_k + l_k_N
            total_loss = total_loss / (2 * N)
            return total_loss
        ''', "lists of similarities turned into tensors (no gradient: the naive loss needs none)"),
    Alternative("simclr-naive-inner-loop-float64", L + "simclr_loss_naive", '''
        def simclr_loss_naive(out_left, out_right, tau):
            N = out_left.shape[0]
            out = torch.cat([out_left, out_right], dim=0).double()
            total_loss = 0
            for k in range(N):
                for i, j in ((k, k + N), (k + N, k)):
                    denominator = 0
                    for m in range(2 * N):
                        if m != i:
                            denominator = denominator + torch.exp(sim(out[i], out[m]) / tau)
                    total_loss = total_loss + torch.log(denominator) - sim(out[i], out[j]) / tau
            return total_loss / (2 * N)
        ''', "an inner loop over the denominator, in float64, -log as log(den) - s/tau"),

    # ------------------------------------------------------------------ positive pairs
    Alternative("simclr-pairs-cosine-unsqueeze", L + "sim_positive_pairs", '''
        def sim_positive_pairs(out_left, out_right):
            return torch.nn.functional.cosine_similarity(out_left, out_right, dim=1).unsqueeze(1)
        ''', "F.cosine_similarity row-wise, then unsqueeze"),
    Alternative("simclr-pairs-loop", L + "sim_positive_pairs", '''
        def sim_positive_pairs(out_left, out_right):
            pos_pairs = torch.zeros(out_left.shape[0], 1, dtype=out_left.dtype)
            for k in range(out_left.shape[0]):
                pos_pairs[k, 0] = sim(out_left[k], out_right[k])
            return pos_pairs
        ''', "a loop over the pairs filling a preallocated column in place"),

    # ------------------------------------------------------------------ similarity matrix
    Alternative("simclr-matrix-normalize-mm", L + "compute_sim_matrix", '''
        def compute_sim_matrix(out):
            normalized = torch.nn.functional.normalize(out, p=2, dim=1)
            sim_matrix = torch.mm(normalized, normalized.t())
            return sim_matrix
        ''', "F.normalize and torch.mm"),
    Alternative("simclr-matrix-broadcast-cosine", L + "compute_sim_matrix", '''
        def compute_sim_matrix(out):
            return torch.nn.functional.cosine_similarity(out[:, None, :], out[None, :, :], dim=-1)
        ''', "broadcast F.cosine_similarity over all pairs"),

    # ------------------------------------------------------------------ vectorised loss
    Alternative("simclr-vec-masked-select", L + "simclr_loss_vectorized", '''
        def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
            N = out_left.shape[0]
            out = torch.cat([out_left, out_right], dim=0)
            sim_matrix = compute_sim_matrix(out)
            exponential = (sim_matrix / tau).exp().to(device)
            mask = (torch.ones_like(exponential, device=device) - torch.eye(2 * N, device=device)).to(device).bool()
            exponential = exponential.masked_select(mask).view(2 * N, -1)
            denom = exponential.sum(dim=1)
            sim_pairs = sim_matrix[range(2 * N), [*range(N, 2 * N), *range(0, N)]]
            numerator = (sim_pairs / tau).exp().to(device)
            loss = -(numerator / denom).log().mean()
            return loss
        ''', "the official kit's masked_select with device=, positives by fancy indexing"),
    Alternative("simclr-vec-cross-entropy-float32", L + "simclr_loss_vectorized", '''
        def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
            N = out_left.shape[0]
            out = torch.cat([out_left, out_right], dim=0).float()
            logits = compute_sim_matrix(out) / tau
            logits = logits.masked_fill(torch.eye(2 * N, dtype=torch.bool, device=logits.device), float('-inf'))
            targets = torch.cat([torch.arange(N, 2 * N), torch.arange(N)]).to(logits.device)
            return torch.nn.functional.cross_entropy(logits, targets, reduction='mean')
        ''', "a cross-entropy over logits with the diagonal at -inf, in float32"),
    Alternative("simclr-vec-inplace-positive-pairs", L + "simclr_loss_vectorized", '''
        def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
            N = out_left.shape[0]
            out = torch.cat([out_left, out_right], dim=0)
            sim_matrix = compute_sim_matrix(out)
            exponential = torch.exp(sim_matrix / tau)
            exponential = exponential.clone()
            exponential.fill_diagonal_(0)
            denom = exponential.sum(dim=1, keepdim=True)
            pairs = sim_positive_pairs(out_left, out_right)
            numerator = torch.exp(torch.cat([pairs, pairs], dim=0) / tau)
            return torch.mean(-torch.log(numerator / denom))
        ''', "diagonal zeroed in place, positives from sim_positive_pairs (the TODO's option 2)"),

    # ------------------------------------------------------------------ augmentation
    Alternative("simclr-transform-defaults-modulelist", D + "compute_train_transform", '''
        def compute_train_transform(seed=123456):
            random.seed(seed)
            torch.random.manual_seed(seed)
            color_jitter = transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)
            train_transform = transforms.Compose([
                transforms.RandomResizedCrop(32),
                transforms.RandomHorizontalFlip(),
                transforms.RandomApply(torch.nn.ModuleList([color_jitter]), p=0.8),
                transforms.RandomGrayscale(p=0.2),
                transforms.ToTensor(),
                transforms.Normalize([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010])])
            return train_transform
        ''', "one Compose list as in the official kit, default flip probability, a ModuleList"),
    Alternative("simclr-transform-v2", D + "compute_train_transform", '''
        def compute_train_transform(seed=123456):
            random.seed(seed)
            torch.random.manual_seed(seed)
            augmentations = [v2.RandomResizedCrop(32), v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                             v2.RandomHorizontalFlip(p=0.5), v2.RandomGrayscale(p=0.2)]
            return transforms.Compose(augmentations + [transforms.ToTensor(),
                                                       transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
        ''', "torchvision.transforms.v2 (other random draws), the flip after the jitter",
        extra_imports=("from torchvision.transforms import v2",)),

    Alternative("simclr-pair-comprehension", D + "CIFAR10Pair.__getitem__", '''
        def __getitem__(self, index):
            img, target = self.data[index], self.targets[index]
            img = Image.fromarray(img)
            x_i, x_j = [self.transform(img) for _ in range(2)] if self.transform is not None else (None, None)
            if self.target_transform is not None:
                target = self.target_transform(target)
            return x_i, x_j, target
        ''', "both views in one comprehension"),

    # ------------------------------------------------------------------ training step
    Alternative("simclr-train-one-forward-keywords", U + "train", '''
        def train(model, data_loader, train_optimizer, epoch, epochs, batch_size=32, temperature=0.5, device='cuda'):
            device = resolve_device(device)
            model.train()
            total_loss, total_num = 0.0, 0
            for x_i, x_j, target in data_loader:
                x_i, x_j = x_i.to(device), x_j.to(device)
                _, out = model(torch.cat([x_i, x_j], dim=0))
                out_left, out_right = torch.chunk(out, 2, dim=0)
                loss = simclr_loss_vectorized(out_left=out_left, out_right=out_right, tau=temperature, device=device)
                train_optimizer.zero_grad()
                loss.backward()
                train_optimizer.step()
                total_num += batch_size
                total_loss += loss.item() * batch_size
            return total_loss / total_num
        ''', "one forward pass over both views (no batch norm in the check's network), keyword arguments"),
    Alternative("simclr-train-index-output", U + "train", '''
        def train(model, data_loader, train_optimizer, epoch, epochs, batch_size=32, temperature=0.5, device='cuda'):
            model.train()
            total_loss, total_num = 0.0, 0
            for data_pair in data_loader:
                x_i, x_j, target = data_pair
                x_i, x_j = x_i.to(device), x_j.to(device)
                out_left, out_right = model(x_i)[1], model(x_j)[1]
                loss = simclr_loss_vectorized(out_left, out_right, temperature, device)
                train_optimizer.zero_grad()
                loss.backward()
                train_optimizer.step()
                total_num += batch_size
                total_loss += loss.item() * batch_size
            return total_loss / total_num
        ''', "the projections by index, the device used as given (the check passes 'cpu')"),
]

DEGENERATE = [
    Degenerate("simclr-sim-zero", L + "sim", '''
        def sim(z_i, z_j):
            return torch.tensor(0.0)
        ''', zero=("simclr_sim",), what="a constant zero similarity"),
    Degenerate("simclr-naive-constant", L + "simclr_loss_naive", '''
        def simclr_loss_naive(out_left, out_right, tau):
            return torch.tensor(1.0)
        ''', zero=("simclr_loss_naive",), what="a constant loss"),
    Degenerate("simclr-pairs-ones", L + "sim_positive_pairs", '''
        def sim_positive_pairs(out_left, out_right):
            return torch.ones(out_left.shape[0], 1)
        ''', zero=("sim_positive_pairs",), what="every pair perfectly similar, of the right shape"),
    Degenerate("simclr-matrix-zeros", L + "compute_sim_matrix", '''
        def compute_sim_matrix(out):
            return torch.zeros(out.shape[0], out.shape[0])
        ''', zero=("compute_sim_matrix",), what="an all-zero matrix of the right shape"),
    Degenerate("simclr-vec-zero", L + "simclr_loss_vectorized", '''
        def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
            return 0 * (out_left.sum() + out_right.sum())
        ''', zero=("simclr_loss_vectorized",), what="a zero loss with zero gradients"),
    Degenerate("simclr-transform-identity", D + "compute_train_transform", '''
        def compute_train_transform(seed=123456):
            return transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
        ''', zero=("simclr_augmentation",), what="no augmentation: every view is the image"),
    Degenerate("simclr-train-no-step", U + "train", '''
        def train(model, data_loader, train_optimizer, epoch, epochs, batch_size=32, temperature=0.5, device='cuda'):
            return 0.0
        ''', zero=("simclr_train",), what="a training epoch that never steps"),
]
