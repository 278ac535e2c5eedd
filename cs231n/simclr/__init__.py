"""Self-supervised learning with SimCLR (notebook Self_Supervised_Learning.ipynb).

Students write code in ``contrastive_loss.py`` (the NT-Xent loss), ``data_utils.py``
(the augmentations and the pair dataset) and ``utils.py`` (the training step);
``model.py`` and the two helpers below are provided.

- ``resolve_device``: the canonical functions default to ``device='cuda'``; on a
  machine without that device they fall back to the CPU instead of failing.
- ``open_cifar10``: torchvision's CIFAR-10 reader on the real data, or on the
  offline sample (same files, same format; see docs/sample_data.md).

Importing this package is cheap: torch and torchvision are imported when used.
"""
import os

# torchvision's CIFAR10 root: the folder that holds cifar-10-batches-py/.
DEFAULT_CIFAR10_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datasets")
SAMPLE_MARKER = "SAMPLE_DATA.txt"
# CIFAR-10's per-channel mean and standard deviation (of the real training set), which
# the transforms normalize with. Here, not in the student's data_utils.py: a student file
# holding only the canonical names (the official kit writes the numbers inline) still works.
CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.2023, 0.1994, 0.2010]


def resolve_device(device):
    """``device`` as a torch.device, or the CPU when it names an accelerator that
    this machine does not have (``'cuda'`` on a laptop, for example)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return torch.device("cpu")
    return device


def open_cifar10(root=None, train=True, transform=None, dataset_class=None):
    """CIFAR-10 read by torchvision: ``dataset_class(root, train, transform)``.

    ``dataset_class`` is ``torchvision.datasets.CIFAR10`` or a subclass (such as
    ``CIFAR10Pair``); ``root`` holds ``cifar-10-batches-py/`` (default: the
    package's ``cs231n/datasets``). Nothing is downloaded.

    torchvision checks each file's MD5 sum against the real CIFAR-10's. The
    offline sample (``python -m cs231n.datasets.build_sample_data``) has the same
    files and format but other bytes, so for a folder marked as a generated
    sample (it holds SAMPLE_DATA.txt) the sums are not checked; the files must
    still all be there. Real data is checked as torchvision always checks it.
    """
    from torchvision.datasets import CIFAR10

    cls = dataset_class or CIFAR10
    root = os.fspath(root) if root is not None else DEFAULT_CIFAR10_ROOT
    folder = os.path.join(root, cls.base_folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"CIFAR-10 not found: {folder} does not exist. Get the real data with "
            "`bash cs231n/datasets/get_datasets.sh` (needs internet), or build the offline sample "
            "with `python -m cs231n.datasets.build_sample_data --only cifar10`.")
    if os.path.isfile(os.path.join(folder, SAMPLE_MARKER)):
        unchecked = {"train_list": [[name, None] for name, _ in cls.train_list],
                     "test_list": [[name, None] for name, _ in cls.test_list],
                     "meta": dict(cls.meta, md5=None)}
        cls = type(cls.__name__, (cls,), dict(unchecked, __module__=cls.__module__, __doc__=cls.__doc__))
    return cls(root, train=train, transform=transform, download=False)
