"""Fully connected ReLU classifiers trained with the square loss.

Every task here fits one-hot targets y with an MLP u and minimizes the mean over
all N x classes output entries of (u(x) - y)^2, on the full batch. Pixels are
scaled to [0, 1] and flattened. Images are chosen per class from the seed,
then the weights are drawn, both from the same generator.

The image data sets are read from options.data_root, or else from
$ADAM_REGIMES_DATA, or else from ~/data (see tasks.datasets).
"""

from dataclasses import dataclass

import torch

from tasks import datasets
from tasks.base import Problem, Task, generator, to_device
from tasks.mlp import init_mlp, mlp_forward

CIFAR10_TRAIN_PER_CLASS = 5000
FASHION_MNIST_TRAIN_PER_CLASS = 6000


class MlpClassifier(Task):
    """Square loss of a ReLU MLP on one-hot targets that a subclass loads."""

    def load_examples(self, gen):
        """Return inputs x [N, features] in [0, 1] and one-hot targets [N, k]."""
        raise NotImplementedError

    def build(self, seed, device="cpu", dtype=None):
        dtype = dtype or self.default_dtype
        gen = generator(seed)
        x, y = self.load_examples(gen)
        widths = (x.shape[1], *self.options.hidden, y.shape[1])
        params = init_mlp(widths, gen)
        return Problem(
            data=to_device({"x": x, "y": y}, device, dtype),
            params=to_device(params, device, dtype),
        )

    def loss(self, params, data):
        pred = mlp_forward(params, data["x"], "relu")  # [N, k]
        return torch.mean((pred - data["y"]) ** 2)


def _check_per_class(per_class, available):
    if not 1 <= per_class <= available:
        raise ValueError(
            f"per_class={per_class} is invalid: expected 1 to {available} "
            "training images per class"
        )


@dataclass
class DigitsOptions:
    hidden: tuple[int, ...] = (256, 256, 256)

    def __post_init__(self):
        self.hidden = tuple(self.hidden)


class DigitsMLP(MlpClassifier):
    """scikit-learn's 8x8 digits (all 1797 images) with a 64-256-256-256-10 MLP.

    The images ship with scikit-learn, so every seed has the same data and
    only the weights change with the seed. Pixels 0..16 are divided by 16.
    """

    name = "digits_mlp"
    Options = DigitsOptions

    def load_examples(self, gen):
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy(digits.data).to(torch.float64) / 16.0  # [1797, 64]
        labels = torch.from_numpy(digits.target).to(torch.int64)
        return x, datasets.one_hot(labels, range(10))


@dataclass
class Cifar2Options:
    classes: tuple[int, ...] = (0, 1)
    per_class: int = 1000
    hidden: tuple[int, ...] = (256, 256, 128)
    data_root: str | None = None

    def __post_init__(self):
        self.classes = tuple(self.classes)
        self.hidden = tuple(self.hidden)
        valid = set(range(10))
        if (
            len(self.classes) < 2
            or len(set(self.classes)) != len(self.classes)
            or (not set(self.classes) <= valid)
        ):
            raise ValueError(
                f"classes={self.classes} is invalid: expected two or more "
                "distinct CIFAR-10 labels from 0 to 9"
            )
        _check_per_class(self.per_class, CIFAR10_TRAIN_PER_CLASS)


class Cifar2MLP(MlpClassifier):
    """A few CIFAR-10 classes, per_class training images each, and an MLP.

    Input 3072 pixels in [0, 1], hidden widths `hidden`, one output per class
    in `classes` (targets one-hot in the order of `classes`). The images of
    each class are drawn from the CIFAR-10 training set with the seed.
    """

    name = "cifar2_mlp"
    Options = Cifar2Options

    def check_data(self, data_root=None, download=False):
        root = datasets.resolve_data_root(data_root or self.options.data_root)
        datasets.check_cifar10(root, download)

    def load_examples(self, gen):
        opts = self.options
        root = datasets.resolve_data_root(opts.data_root)
        images, labels = datasets.load_cifar10_train(root)
        chosen = datasets.sample_per_class(labels, opts.classes, opts.per_class, gen)
        x = images[chosen].flatten(1).to(torch.float64) / 255.0  # [N, 3072]
        return x, datasets.one_hot(labels[chosen], opts.classes)


@dataclass
class FashionMnistOptions:
    per_class: int = 1000
    hidden: tuple[int, ...] = (500,) * 6
    data_root: str | None = None

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        _check_per_class(self.per_class, FASHION_MNIST_TRAIN_PER_CLASS)


class FashionMnistMLP(MlpClassifier):
    """Fashion-MNIST, per_class training images of each of the 10 classes.

    MLP 784 -> six hidden layers of 500 -> 10. The images of each class are
    drawn from the training set with the seed.
    """

    name = "fashion_mnist_mlp"
    Options = FashionMnistOptions

    def check_data(self, data_root=None, download=False):
        root = datasets.resolve_data_root(data_root or self.options.data_root)
        datasets.check_fashion_mnist(root, download)

    def load_examples(self, gen):
        opts = self.options
        root = datasets.resolve_data_root(opts.data_root)
        images, labels = datasets.load_fashion_mnist_train(root)
        classes = range(10)
        chosen = datasets.sample_per_class(labels, classes, opts.per_class, gen)
        x = images[chosen].flatten(1).to(torch.float64) / 255.0  # [N, 784]
        return x, datasets.one_hot(labels[chosen], classes)
