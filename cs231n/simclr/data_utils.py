"""Data for SimCLR: the augmentations that make two views of an image, and CIFAR-10 in pairs."""
import random

import torch
from PIL import Image
from torchvision import transforms
from torchvision.datasets import CIFAR10

from cs231n.simclr import CIFAR10_MEAN, CIFAR10_STD


def compute_train_transform(seed=123456):
    """The random augmentation SimCLR applies to one training image (a PIL image).

    Seeds Python's and torch's random generators with ``seed`` first, so the same
    seed gives the same sequence of augmentations. Returns a callable that maps a
    32 x 32 PIL image to a normalized float tensor of shape (3, 32, 32).
    """
    random.seed(seed)
    torch.random.manual_seed(seed)

    # colour jitter: brightness, contrast and saturation by up to 40%, hue by up to 0.1
    color_jitter = transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)

    augmentations = [transforms.RandomResizedCrop(32)]  # step 1: a random crop, resized to 32 x 32
    # TODO: append, in this order, the transforms (see torchvision.transforms) that
    # step 2: flip the image horizontally with probability 0.5;
    # step 3: apply color_jitter with probability 0.8;
    # step 4: convert the image to grayscale (kept as 3 channels) with probability 0.2.
    ### BEGIN SOLUTION
    augmentations += [
        transforms.RandomHorizontalFlip(p=0.5),
        transforms.RandomApply([color_jitter], p=0.8),
        transforms.RandomGrayscale(p=0.2),
    ]
    ### END SOLUTION
    train_transform = transforms.Compose(
        augmentations + [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    return train_transform


def compute_test_transform():
    """No augmentation: the image as a normalized float tensor (3, 32, 32)."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])


class CIFAR10Pair(CIFAR10):
    """CIFAR-10 whose items are two independently augmented views of an image and its label."""

    def __getitem__(self, index):
        """(x_i, x_j, target): two views made by ``self.transform`` from image ``index``."""
        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(img)

        x_i = None
        x_j = None
        if self.transform is not None:
            # TODO: apply self.transform to img twice: each call draws new random
            # augmentations, giving the two views x_i and x_j of the same image.
            ### BEGIN SOLUTION
            x_i = self.transform(img)
            x_j = self.transform(img)
            ### END SOLUTION

        if self.target_transform is not None:
            target = self.target_transform(target)

        return x_i, x_j, target
