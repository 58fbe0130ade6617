"""Image data read from small files written in the real on-disk formats.

The writers below produce CIFAR-10 python batches (pickled dicts under
cifar-10-batches-py/, with batches.meta) and Fashion-MNIST IDX files unpacked
under FashionMNIST/raw/, which the tasks then read through torchvision.

torchvision's CIFAR10 compares each batch file's MD5 with constants in its
train_list, test_list and meta class attributes, so generated batches never
pass. `use_cifar10_md5s` replaces those attributes with the MD5 sums of the
generated files through pytest's monkeypatch, which restores them when the
test ends. The shipped code still runs every check, and only against files
a test wrote.
"""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torchvision.datasets.utils import calculate_md5

from tasks import datasets, get_task

CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_LABEL_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def write_cifar10(root, per_class_per_batch=2, seed=0):
    """Write a CIFAR-10 training and test set with per_class_per_batch images
    of each class in each of the five training batches and the test batch.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    labels = list(range(10)) * per_class_per_batch
    for name in [*CIFAR10_BATCHES, "test_batch"]:
        entry = {
            "batch_label": name,
            "labels": labels,
            "data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(len(labels))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    meta = {"label_names": CIFAR10_LABEL_NAMES, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f)
    return folder


def use_cifar10_md5s(monkeypatch, folder):
    """Make CIFAR10 expect the MD5 sums of the files now in `folder`."""
    cls = torchvision.datasets.CIFAR10
    train = [[name, calculate_md5(folder / name)] for name in CIFAR10_BATCHES]
    test = [["test_batch", calculate_md5(folder / "test_batch")]]
    meta = {**cls.meta, "md5": calculate_md5(folder / "batches.meta")}
    monkeypatch.setattr(cls, "train_list", train)
    monkeypatch.setattr(cls, "test_list", test)
    monkeypatch.setattr(cls, "meta", meta)


def idx_bytes(array):
    """Encode a uint8 array in the IDX format (big-endian sizes)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    sizes = struct.pack(f">{array.ndim}I", *array.shape)
    return header + sizes + array.astype(np.uint8).tobytes()


def write_fashion_mnist(root, per_class=3, seed=0, gz=False):
    """Write the four Fashion-MNIST IDX files, unpacked unless gz is True."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10, dtype=np.uint8), per_class)
    for split in ("train", "t10k"):
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        files = {
            f"{split}-images-idx3-ubyte": idx_bytes(images),
            f"{split}-labels-idx1-ubyte": idx_bytes(labels),
        }
        for name, content in files.items():
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(content))
            else:
                (raw / name).write_bytes(content)
    return raw


def test_data_root_default(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.DATA_ROOT_ENV, raising=False)
    assert datasets.resolve_data_root() == Path("~/data").expanduser()
    monkeypatch.setenv(datasets.DATA_ROOT_ENV, str(tmp_path))
    assert datasets.resolve_data_root() == tmp_path
    assert datasets.resolve_data_root(tmp_path / "x") == tmp_path / "x"


def test_cifar10_loads_generated_batches(monkeypatch, tmp_path):
    folder = write_cifar10(tmp_path, per_class_per_batch=2)
    use_cifar10_md5s(monkeypatch, folder)
    datasets.check_cifar10(tmp_path)
    images, labels = datasets.load_cifar10_train(tmp_path)
    with open(folder / "data_batch_1", "rb") as f:
        first = pickle.load(f)
    assert images.shape == (100, 3, 32, 32)
    assert images.dtype == torch.uint8
    assert labels.tolist() == list(range(10)) * 10
    expected = torch.from_numpy(first["data"][0].reshape(3, 32, 32))
    assert torch.equal(images[0], expected)


def test_cifar2_data_from_batches(monkeypatch, tmp_path):
    use_cifar10_md5s(monkeypatch, write_cifar10(tmp_path, per_class_per_batch=2))
    task = get_task(
        "cifar2_mlp", classes=(3, 5), per_class=4, hidden=(6,), data_root=str(tmp_path)
    )
    task.check_data()
    problem = task.build(seed=0)
    images, labels = datasets.load_cifar10_train(tmp_path)
    x, y = problem.data["x"], problem.data["y"]
    assert x.shape == (8, 3072)
    assert y.tolist() == [[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4
    assert x.min() >= 0
    assert x.max() <= 1
    # Every row is one training image of the class its target names.
    pool = images.flatten(1).to(torch.float32) / 255
    for row, target in zip(x, y, strict=True):
        label = (3, 5)[int(target.argmax())]
        matches = (pool == row).all(dim=1).nonzero().flatten()
        assert len(matches) == 1
        assert labels[matches[0]] == label


def test_fashion_mnist_loads_generated_idx(tmp_path):
    write_fashion_mnist(tmp_path, per_class=3)
    datasets.check_fashion_mnist(tmp_path)
    images, labels = datasets.load_fashion_mnist_train(tmp_path)
    assert images.shape == (30, 28, 28)
    assert labels.tolist() == list(range(10)) * 3
    task = get_task(
        "fashion_mnist_mlp", per_class=2, hidden=(5,), data_root=str(tmp_path)
    )
    problem = task.build(seed=1)
    assert problem.data["x"].shape == (20, 784)
    assert problem.data["y"].sum(dim=0).tolist() == [2.0] * 10
    assert problem.params["w0"].shape == (784, 5)


def test_cifar10_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_cifar10(tmp_path)
    message = str(error.value)
    for name in [*CIFAR10_BATCHES, "test_batch", "batches.meta"]:
        assert str(tmp_path / "cifar-10-batches-py" / name) in message
    assert "--download" in message


def test_cifar10_root_too_deep(tmp_path):
    folder = write_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_cifar10(folder)
    message = str(error.value)
    assert f"Set data_root to its parent {tmp_path}." in message


def test_cifar10_archive_not_extracted(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"archive")
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_cifar10(tmp_path)
    message = str(error.value)
    assert "is not extracted" in message
    assert f"tar -xzf {tmp_path / 'cifar-10-python.tar.gz'}" in message


def test_cifar10_corrupted_batch(monkeypatch, tmp_path):
    folder = write_cifar10(tmp_path)
    use_cifar10_md5s(monkeypatch, folder)
    with open(folder / "data_batch_3", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ValueError) as error:
        datasets.check_cifar10(tmp_path)
    message = str(error.value)
    assert str(folder / "data_batch_3") in message
    assert "data_batch_2" not in message


def test_cifar10_real_md5s_unchanged():
    # The shipped path compares with torchvision's own constants.
    files = dict(datasets._cifar10_files())
    assert files["data_batch_1"] == "c99cafc152244af753f735de768cd75f"
    assert files["batches.meta"] == "5ff9c542aee3614f3951f8cda6e48888"


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_fashion_mnist(tmp_path)
    message = str(error.value)
    raw = tmp_path / "FashionMNIST" / "raw"
    assert str(raw / "train-images-idx3-ubyte") in message
    assert str(raw / "t10k-labels-idx1-ubyte") in message
    assert "--download" in message


def test_fashion_mnist_gz_not_unpacked(tmp_path):
    raw = write_fashion_mnist(tmp_path, gz=True)
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_fashion_mnist(tmp_path)
    message = str(error.value)
    assert "are not unpacked" in message
    assert f"gunzip -k {raw}/*.gz" in message


def test_fashion_mnist_root_too_deep(tmp_path):
    raw = write_fashion_mnist(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_fashion_mnist(raw.parent)
    assert f"Set data_root to its parent {tmp_path}." in str(error.value)
    with pytest.raises(FileNotFoundError) as error:
        datasets.check_fashion_mnist(raw)
    assert f"Set data_root to {tmp_path}." in str(error.value)


def test_per_class_beyond_data(tmp_path):
    write_fashion_mnist(tmp_path, per_class=3)
    task = get_task("fashion_mnist_mlp", per_class=4, data_root=str(tmp_path))
    with pytest.raises(ValueError, match="class 0 has only 3 training"):
        task.build(seed=0)


def test_invalid_options_rejected():
    with pytest.raises(ValueError, match="classes=\\(0, 0\\) is invalid"):
        get_task("cifar2_mlp", classes=(0, 0))
    with pytest.raises(ValueError, match="per_class=6001 is invalid"):
        get_task("fashion_mnist_mlp", per_class=6001)
