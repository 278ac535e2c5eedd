"""Training and evaluation loops for SimCLR.

``train`` runs one epoch of contrastive pretraining (its step is yours to write);
``train_val`` trains or evaluates a classifier for one epoch; ``test`` measures how
well the encoder's features classify by a weighted k-nearest-neighbour vote.
Each takes ``device='cuda'`` by default and falls back to the CPU where there is no GPU.
"""
import torch

from cs231n.simclr import resolve_device
from cs231n.simclr.contrastive_loss import *  # noqa: F401,F403  (simclr_loss_vectorized and its helpers)


def train(model, data_loader, train_optimizer, epoch, epochs, batch_size=32, temperature=0.5, device='cuda'):
    """Train ``model`` (a Model of model.py) for one epoch of SimCLR.

    Inputs:
    - model: returns (features, projections) for a batch of images.
    - data_loader: yields (x_i, x_j, target): two batches of augmented views of the
      same images (x_i[k] and x_j[k] come from one image) and their labels (unused).
    - train_optimizer: a torch.optim optimizer over the model's parameters.
    - epoch, epochs: the current epoch number and the total (for the progress line).
    - batch_size: images per batch (for the running average).
    - temperature: tau of simclr_loss_vectorized.
    - device: where the model is.

    Returns:
    - The average loss over the epoch.
    """
    device = resolve_device(device)
    model.train()
    total_loss, total_num = 0.0, 0
    for data_pair in data_loader:
        x_i, x_j, target = data_pair
        x_i, x_j = x_i.to(device), x_j.to(device)

        out_left, out_right, loss = None, None, None
        # TODO: run both views through the model (see Model.forward in model.py: the
        # projections are its second output) to get out_left and out_right, then the
        # loss with simclr_loss_vectorized (temperature, device).
        ### BEGIN SOLUTION
        _, out_left = model(x_i)
        _, out_right = model(x_j)
        loss = simclr_loss_vectorized(out_left, out_right, temperature, device)  # noqa: F405
        ### END SOLUTION

        train_optimizer.zero_grad()
        loss.backward()
        train_optimizer.step()

        total_num += batch_size
        total_loss += loss.item() * batch_size
    print(f"Train epoch [{epoch}/{epochs}] loss: {total_loss / max(total_num, 1):.4f}")
    return total_loss / max(total_num, 1)


def train_val(model, data_loader, train_optimizer, epoch, epochs, device='cuda'):
    """One epoch of a classifier: training when ``train_optimizer`` is given, else evaluation.

    ``data_loader`` yields (images, labels). Returns (average loss, top-1 accuracy %, top-5 accuracy %).
    """
    device = resolve_device(device)
    is_train = train_optimizer is not None
    model.train() if is_train else model.eval()
    loss_criterion = torch.nn.CrossEntropyLoss()
    total_loss, total_correct_1, total_correct_5, total_num = 0.0, 0.0, 0.0, 0
    with (torch.enable_grad() if is_train else torch.no_grad()):
        for data, target in data_loader:
            data, target = data.to(device), target.to(device)
            out = model(data)
            loss = loss_criterion(out, target)
            if is_train:
                train_optimizer.zero_grad()
                loss.backward()
                train_optimizer.step()
            total_num += data.size(0)
            total_loss += loss.item() * data.size(0)
            top = out.topk(min(5, out.shape[1]), dim=-1).indices
            total_correct_1 += (top[:, :1] == target[:, None]).any(dim=-1).sum().item()
            total_correct_5 += (top == target[:, None]).any(dim=-1).sum().item()
    loss, acc_1, acc_5 = total_loss / total_num, 100 * total_correct_1 / total_num, 100 * total_correct_5 / total_num
    print(f"{'Train' if is_train else 'Test'} epoch [{epoch}/{epochs}] loss: {loss:.4f} "
          f"acc@1: {acc_1:.2f}% acc@5: {acc_5:.2f}%")
    return loss, acc_1, acc_5


def test(model, memory_data_loader, test_data_loader, epoch, epochs, c, temperature=0.5, k=200, device='cuda'):
    """Accuracy (top-1 %, top-5 %) of a weighted k-nearest-neighbour classifier on the
    model's features: each test image's label is voted by its k most similar images of
    the memory set, each vote weighted by exp(similarity / temperature).

    Both loaders yield (x, x', target) like CIFAR10Pair (only x is used); ``c`` is the
    number of classes.
    """
    device = resolve_device(device)
    model.eval()
    with torch.no_grad():
        bank, labels = [], []
        for data, _, target in memory_data_loader:
            feature, _ = model(data.to(device))
            bank.append(feature)
            labels.append(target.to(device))
        bank, labels = torch.cat(bank), torch.cat(labels)  # (M, D), (M,)
        k = min(k, len(bank))
        total_top1, total_top5, total_num = 0.0, 0.0, 0
        for data, _, target in test_data_loader:
            data, target = data.to(device), target.to(device)
            feature, _ = model(data)
            similarity, index = (feature @ bank.T).topk(k=k, dim=-1)  # (B, k)
            votes = torch.zeros(len(data), c, device=device)
            votes.scatter_add_(1, labels[index], (similarity / temperature).exp())
            ranked = votes.argsort(dim=-1, descending=True)
            total_num += len(data)
            total_top1 += (ranked[:, :1] == target[:, None]).any(dim=-1).sum().item()
            total_top5 += (ranked[:, :5] == target[:, None]).any(dim=-1).sum().item()
    top1, top5 = 100 * total_top1 / total_num, 100 * total_top5 / total_num
    print(f"Test epoch [{epoch}/{epochs}] kNN acc@1: {top1:.2f}% acc@5: {top5:.2f}%")
    return top1, top5
