"""Random images of the real shapes, for timing the data-set tasks without data.

A step of an MLP or a ResNet costs the same on any pixels of a given shape,
so the kernel benchmark can time cifar2_mlp, fashion_mnist_mlp and
resnet18_half_cifar10 on a machine without CIFAR-10 or Fashion-MNIST.
`use_standins(data_root, tasks)` replaces the loaders in `tasks.datasets` of
the data sets that those tasks read and that are missing under data_root.
The replacements return uniform random uint8 images of the training sets'
shapes and balanced labels. It returns (data set, folder) for each data set
it replaced, which the benchmark prints.
The numbers a task learns from them mean nothing; only their timing is used.
"""

import torch

from tasks import datasets

# Data set: (loader in tasks.datasets, its check, image shape, training-set size).
DATASETS = {
    "CIFAR-10": ("load_cifar10_train", datasets.check_cifar10, (3, 32, 32), 50_000),
    "Fashion-MNIST": (
        "load_fashion_mnist_train",
        datasets.check_fashion_mnist,
        (28, 28),
        60_000,
    ),
}


def _random_loader(shape, size):
    def load(data_root):
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (size, *shape), generator=gen, dtype=torch.uint8)
        labels = torch.arange(size) % 10
        return images, labels

    return load


# The data set each data-set task reads.
TASK_DATASETS = {
    "cifar2_mlp": "CIFAR-10",
    "resnet18_half_cifar10": "CIFAR-10",
    "fashion_mnist_mlp": "Fashion-MNIST",
}


def use_standins(data_root, tasks):
    """Replace the loaders of the tasks' data sets that are missing under data_root.

    A data set that is present but fails its check (a corrupt file, say)
    raises the check's error: timing stand-ins would hide the problem.
    """
    root = datasets.resolve_data_root(data_root)
    needed = {TASK_DATASETS[t] for t in tasks if t in TASK_DATASETS}
    replaced = []
    for name in sorted(needed):
        loader, check, shape, size = DATASETS[name]
        try:
            check(root)
        except FileNotFoundError:
            setattr(datasets, loader, _random_loader(shape, size))
            replaced.append((name, root))
    return replaced
