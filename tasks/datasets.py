"""Image data sets read through torchvision, and checks run before any trial.

CIFAR-10 and Fashion-MNIST are read by ``torchvision.datasets.CIFAR10`` and
``torchvision.datasets.FashionMNIST`` with download=False, from a data root
that defaults to $ADAM_REGIMES_DATA or else ~/data. The check functions look
for exactly the files those classes read, taking the file names and checksums
from the classes themselves, and raise errors that name the missing paths and
what to do. Only a call with download=True reaches the network.
"""

import os
from pathlib import Path

import torch

DATA_ROOT_ENV = "ADAM_REGIMES_DATA"
CIFAR10_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
FASHION_MNIST_PAGE = "https://github.com/zalandoresearch/fashion-mnist"


def _torchvision():
    """Import torchvision on first use: the import takes seconds, and only the
    data-set tasks need it."""
    import torchvision

    return torchvision


def resolve_data_root(data_root=None):
    """Return data_root, else $ADAM_REGIMES_DATA, else ~/data, as a Path."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV) or "~/data"
    return Path(data_root).expanduser()


def _cifar10_files():
    """(file name, md5) of every file CIFAR10 checks, from the class itself."""
    torchvision = _torchvision()

    cls = torchvision.datasets.CIFAR10
    meta = (cls.meta["filename"], cls.meta["md5"])
    return [tuple(entry) for entry in cls.train_list + cls.test_list] + [meta]


def check_cifar10(data_root, download=False):
    """Raise unless `data_root` contains the files CIFAR10(data_root) reads.

    With download=True, torchvision first downloads and extracts the archive
    where the files are missing or fail their MD5 check.

    Raises:
        FileNotFoundError: a file is missing. The message lists the paths and
            states whether data_root is one folder too deep or the archive is
            not yet extracted.
        ValueError: a file exists but its MD5 differs from the one torchvision
            expects. The message names the file.
    """
    torchvision = _torchvision()

    root = Path(data_root)
    if download:
        torchvision.datasets.CIFAR10(root, train=True, download=True)
    folder = root / torchvision.datasets.CIFAR10.base_folder
    files = [(folder / name, md5) for name, md5 in _cifar10_files()]
    missing = [path for path, _ in files if not path.is_file()]
    if missing:
        raise FileNotFoundError(_cifar10_missing_message(root, folder, missing))
    corrupted = [
        f"{path} (MD5 {actual}, expected {md5})"
        for path, md5 in files
        if (actual := torchvision.datasets.utils.calculate_md5(path)) != md5
    ]
    if corrupted:
        raise ValueError(
            "CIFAR-10 files are corrupted: "
            + "; ".join(corrupted)
            + f". Delete {folder} and extract cifar-10-python.tar.gz again, "
            "or rerun with --download."
        )


def _cifar10_missing_message(root, folder, missing):
    torchvision = _torchvision()

    head = "CIFAR-10 files not found: " + ", ".join(map(str, missing)) + ". "
    archive = root / torchvision.datasets.CIFAR10.filename
    if root.name == folder.name or (root / "data_batch_1").is_file():
        return head + (
            f"data_root {root} is the {folder.name} folder itself. "
            f"Set data_root to its parent {root.parent}."
        )
    if archive.is_file():
        return head + (
            f"The archive {archive} is not extracted: run "
            f"'tar -xzf {archive} -C {root}', or rerun with --download, "
            "which extracts it without downloading when its MD5 matches."
        )
    return head + (
        f"Download cifar-10-python.tar.gz from {CIFAR10_PAGE} and extract it "
        f"into {root}, set data_root (or ${DATA_ROOT_ENV}) to the folder that "
        f"contains {folder.name}, or rerun with --download."
    )


def load_cifar10_train(data_root):
    """Return the CIFAR-10 training set: images uint8 [N, 3, 32, 32], labels [N]."""
    torchvision = _torchvision()

    dataset = torchvision.datasets.CIFAR10(data_root, train=True, download=False)
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # [N, 3, 32, 32]
    labels = torch.tensor(dataset.targets, dtype=torch.int64)  # [N]
    return images.contiguous(), labels


def _fashion_mnist_files():
    """Unpacked file names FashionMNIST reads, from the class's resources."""
    torchvision = _torchvision()

    resources = torchvision.datasets.FashionMNIST.resources
    return [name.removesuffix(".gz") for name, _ in resources]


def check_fashion_mnist(data_root, download=False):
    """Raise unless `data_root` contains the files FashionMNIST(data_root) reads.

    torchvision reads the unpacked IDX files under <root>/FashionMNIST/raw/ and
    does not check their MD5 sums. With download=True it downloads the missing
    .gz archives and unpacks them there.

    Raises:
        FileNotFoundError: a file is missing. The message lists the paths and
            states whether data_root is one folder too deep or the .gz files are
            not yet unpacked.
    """
    torchvision = _torchvision()

    root = Path(data_root)
    if download:
        torchvision.datasets.FashionMNIST(root, train=True, download=True)
    dataset_folder = root / "FashionMNIST"
    processed = dataset_folder / "processed"
    # torchvision still reads training.pt and test.pt from older versions.
    if all((processed / name).is_file() for name in ("training.pt", "test.pt")):
        return
    raw = dataset_folder / "raw"
    names = _fashion_mnist_files()
    missing = [raw / name for name in names if not (raw / name).is_file()]
    if missing:
        raise FileNotFoundError(
            _fashion_mnist_missing_message(root, raw, names, missing)
        )


def _fashion_mnist_missing_message(root, raw, names, missing):
    head = "Fashion-MNIST files not found: " + ", ".join(map(str, missing)) + ". "
    packed = [path.with_name(path.name + ".gz") for path in missing]
    if (root / "raw" / names[0]).is_file():
        return head + (
            f"data_root {root} is the FashionMNIST folder itself. "
            f"Set data_root to its parent {root.parent}."
        )
    if (root / names[0]).is_file():
        return head + (
            f"data_root {root} is the FashionMNIST/raw folder itself. "
            f"Set data_root to {root.parent.parent}."
        )
    if any(path.is_file() for path in packed):
        return head + (
            f"The .gz archives in {raw} are not unpacked: run "
            f"'gunzip -k {raw}/*.gz', or rerun with --download, which unpacks "
            "them without downloading when their MD5 sums match."
        )
    return head + (
        f"Download the four .gz files from {FASHION_MNIST_PAGE} and unpack "
        f"them into {raw}, set data_root (or ${DATA_ROOT_ENV}) to the folder "
        "that contains FashionMNIST, or rerun with --download."
    )


def load_fashion_mnist_train(data_root):
    """Return the Fashion-MNIST training set: images uint8 [N, 28, 28], labels [N]."""
    torchvision = _torchvision()

    dataset = torchvision.datasets.FashionMNIST(data_root, train=True, download=False)
    return dataset.data, dataset.targets.to(torch.int64)


def sample_per_class(labels, classes, per_class, gen):
    """Draw `per_class` indices of each class in `classes`, without replacement.

    Returns an int64 tensor [len(classes) * per_class], grouped by class in the
    order of `classes`. Raises ValueError if a class has fewer examples.
    """
    chosen = []
    for label in classes:
        indices = torch.nonzero(labels == label).flatten()
        if per_class > len(indices):
            raise ValueError(
                f"per_class={per_class} is invalid: class {label} has only "
                f"{len(indices)} training examples"
            )
        order = torch.randperm(len(indices), generator=gen)[:per_class]
        chosen.append(indices[order])
    return torch.cat(chosen)


def one_hot(labels, classes):
    """Return float64 one-hot rows [N, len(classes)] over `classes` in order."""
    size = max(int(labels.max()), *classes) + 1
    positions = torch.full((size,), -1, dtype=torch.int64)
    positions[list(classes)] = torch.arange(len(classes))
    index = positions[labels]
    if (index < 0).any():
        raise ValueError(
            f"labels {labels.unique().tolist()} are not all in classes {tuple(classes)}"
        )
    return torch.nn.functional.one_hot(index, len(classes)).to(torch.float64)
