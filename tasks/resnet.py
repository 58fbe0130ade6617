"""ResNet18 with halved channels on CIFAR-10, trained on minibatches.

The network is the ResNet18 of He et al. (2016) as usually adapted to 32x32
images: a 3x3 stride-1 stem convolution without max pooling, four stages of two
basic blocks with strides 1, 2, 2, 2, global average pooling and a linear
layer. Channels are width, 2 width, 4 width and 8 width, so width=32 halves
ResNet18's 64-128-256-512.

NOTE: Ma, Wu and E (2020) call their network a standard ResNet18 with
channels halved and do not say which stem they used. This task assumes the
CIFAR stem above.

Normalization is batch norm with the statistics of the current minibatch
(training mode) and no running statistics, so that it is a pure function that
runs under torch.func.vmap over configs. There is no evaluation mode.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tasks import datasets
from tasks.base import Problem, Task, generator, to_device

BN_EPS = 1e-5
STAGE_STRIDES = (1, 2, 2, 2)
BLOCKS_PER_STAGE = 2
N_CLASSES = 10


def _conv_weight(c_out, c_in, size, gen):
    """He normal init with fan_out, as torchvision's ResNet: [c_out, c_in, k, k]."""
    std = math.sqrt(2.0 / (c_out * size * size))
    return std * torch.randn(
        c_out, c_in, size, size, generator=gen, dtype=torch.float64
    )


def _add_conv_bn(params, prefix, c_out, c_in, size, gen):
    params[f"{prefix}.conv"] = _conv_weight(c_out, c_in, size, gen)
    params[f"{prefix}.bn.weight"] = torch.ones(c_out, dtype=torch.float64)
    params[f"{prefix}.bn.bias"] = torch.zeros(c_out, dtype=torch.float64)


def _blocks(width):
    """Yield (name, c_in, c_out, stride) of each basic block in order."""
    c_in = width
    for stage, first_stride in enumerate(STAGE_STRIDES):
        c_out = width * 2**stage
        for index in range(BLOCKS_PER_STAGE):
            stride = first_stride if index == 0 else 1
            yield f"stage{stage + 1}.{index}", c_in, c_out, stride
            c_in = c_out


def init_resnet18(width, n_classes, gen):
    """Draw ResNet18 weights as a flat dict of float64 tensors.

    Convolutions have no bias, and batch norm starts at weight 1 and bias 0.
    The linear layer's "fc.weight" [8 width, n_classes] and "fc.bias" are
    uniform on +-1/sqrt(fan_in), as torch.nn.Linear draws them.
    """
    params = {}
    _add_conv_bn(params, "stem", width, 3, 3, gen)
    for name, c_in, c_out, stride in _blocks(width):
        _add_conv_bn(params, f"{name}.1", c_out, c_in, 3, gen)
        _add_conv_bn(params, f"{name}.2", c_out, c_out, 3, gen)
        if stride != 1 or c_in != c_out:
            _add_conv_bn(params, f"{name}.shortcut", c_out, c_in, 1, gen)
    features = width * 2 ** (len(STAGE_STRIDES) - 1)
    bound = 1.0 / math.sqrt(features)
    weight = torch.rand(features, n_classes, generator=gen, dtype=torch.float64)
    bias = torch.rand(n_classes, generator=gen, dtype=torch.float64)
    params["fc.weight"] = (2 * weight - 1) * bound
    params["fc.bias"] = (2 * bias - 1) * bound
    return params


def batch_norm(h, weight, bias):
    """Normalize h [N, C, H, W] per channel with its own mean and variance."""
    return F.batch_norm(h, None, None, weight, bias, training=True, eps=BN_EPS)


def _conv_bn(params, prefix, h, stride=1):
    weight = params[f"{prefix}.conv"]
    padding = weight.shape[-1] // 2
    h = F.conv2d(h, weight, stride=stride, padding=padding)
    return batch_norm(h, params[f"{prefix}.bn.weight"], params[f"{prefix}.bn.bias"])


def resnet18_forward(params, x, width):
    """Return the logits [N, n_classes] of images x [N, 3, 32, 32]."""
    h = F.relu(_conv_bn(params, "stem", x))
    for name, c_in, c_out, stride in _blocks(width):
        out = F.relu(_conv_bn(params, f"{name}.1", h, stride))
        out = _conv_bn(params, f"{name}.2", out)
        if stride != 1 or c_in != c_out:
            h = _conv_bn(params, f"{name}.shortcut", h, stride)
        h = F.relu(out + h)
    pooled = h.mean(dim=(2, 3))  # [N, 8 width]
    return pooled @ params["fc.weight"] + params["fc.bias"]


def epoch_order(seed, epoch, n):
    """Return the permutation of the n images for one epoch of one seed.

    The generator is seeded from (seed, epoch) by numpy's SeedSequence, so an
    epoch's order depends on nothing else and distinct pairs get unrelated
    streams. seed and epoch must be >= 0.
    """
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(
        1, dtype=np.uint64
    )
    return torch.randperm(n, generator=generator(int(state[0])))


@dataclass
class ResnetOptions:
    per_class: int = 1000
    batch_size: int = 1000
    width: int = 32
    data_root: str | None = None

    def __post_init__(self):
        n = N_CLASSES * self.per_class
        if not 1 <= self.per_class <= 5000:
            raise ValueError(
                f"per_class={self.per_class} is invalid: expected 1 to 5000 "
                "training images per class"
            )
        if not 1 <= self.batch_size <= n:
            raise ValueError(
                f"batch_size={self.batch_size} is invalid: expected 1 to "
                f"{n}, the number of training images (10 * per_class)"
            )
        if self.width < 1:
            raise ValueError(f"width={self.width} is invalid: expected >= 1")


class Resnet18HalfCifar10(Task):
    """Minibatch square loss of a ResNet18 with halved channels on CIFAR-10.

    Data: per_class training images of each of the 10 classes, drawn with the
    seed, with pixels in [0, 1] and one-hot targets. The loss is the mean over
    batch_size x 10 entries of (logit - target)^2.

    Minibatches: `batch(data, step)` takes the batch at position
    step % steps_per_epoch of the permutation `epoch_order(seed, epoch)` for
    epoch = step // steps_per_epoch, where steps_per_epoch = n // batch_size
    and the last n % batch_size images of each permutation are skipped. The
    batch is a pure function of (seed, step), so a config gets the same
    batches alone or in a pack. The loss reads the keys "x" and "y" that
    `batch` returns and fails on the full data, which stores the images
    under other names.
    """

    name = "resnet18_half_cifar10"
    Options = ResnetOptions

    def check_data(self, data_root=None, download=False):
        root = datasets.resolve_data_root(data_root or self.options.data_root)
        datasets.check_cifar10(root, download)

    def build(self, seed, device="cpu", dtype=None):
        dtype = dtype or self.default_dtype
        opts = self.options
        gen = generator(seed)
        images, labels = datasets.load_cifar10_train(
            datasets.resolve_data_root(opts.data_root)
        )
        classes = range(N_CLASSES)
        chosen = datasets.sample_per_class(labels, classes, opts.per_class, gen)
        data = {
            "images": images[chosen].to(torch.float64) / 255.0,  # [n, 3, 32, 32]
            "targets": datasets.one_hot(labels[chosen], classes),  # [n, 10]
        }
        params = init_resnet18(opts.width, N_CLASSES, gen)
        data = to_device(data, device, dtype)
        # The seed stays on the CPU so that `batch` reads it without a device sync.
        data["seed"] = torch.tensor(int(seed), dtype=torch.int64)
        return Problem(data=data, params=to_device(params, device, dtype))

    def batch(self, data, step):
        images = data["images"]
        n = images.shape[0]
        size = self.options.batch_size
        epoch, position = divmod(int(step), n // size)
        order = epoch_order(int(data["seed"]), epoch, n)
        index = order[position * size : (position + 1) * size]
        index = index.to(images.device)
        return {"x": images[index], "y": data["targets"][index]}

    def loss(self, params, data):
        logits = resnet18_forward(params, data["x"], self.options.width)
        return torch.mean((logits - data["y"]) ** 2)
