"""ResNet18 task: the network against torchvision's, and its minibatches."""

import pytest
import torch
import torchvision
from test_data import use_cifar10_md5s, write_cifar10

from tasks import get_task
from tasks.resnet import epoch_order, init_resnet18, resnet18_forward


@pytest.fixture
def task(monkeypatch, tmp_path):
    use_cifar10_md5s(monkeypatch, write_cifar10(tmp_path, per_class_per_batch=1))
    return get_task(
        "resnet18_half_cifar10",
        per_class=4,
        batch_size=12,
        width=2,
        data_root=str(tmp_path),
    )


def torchvision_state(params):
    """Map this task's parameter names onto torchvision's resnet18 names."""
    state = {
        "conv1.weight": params["stem.conv"],
        "bn1.weight": params["stem.bn.weight"],
        "bn1.bias": params["stem.bn.bias"],
        "fc.weight": params["fc.weight"].T,
        "fc.bias": params["fc.bias"],
    }
    for stage in range(1, 5):
        for index in range(2):
            ours, theirs = f"stage{stage}.{index}", f"layer{stage}.{index}"
            pairs = {
                "1": ("conv1", "bn1"),
                "2": ("conv2", "bn2"),
                "shortcut": ("downsample.0", "downsample.1"),
            }
            for part, (conv, bn) in pairs.items():
                if f"{ours}.{part}.conv" not in params:
                    continue
                state[f"{theirs}.{conv}.weight"] = params[f"{ours}.{part}.conv"]
                state[f"{theirs}.{bn}.weight"] = params[f"{ours}.{part}.bn.weight"]
                state[f"{theirs}.{bn}.bias"] = params[f"{ours}.{part}.bn.bias"]
    return state


def test_forward_matches_torchvision():
    # torchvision's resnet18 has width 64 and an ImageNet stem; with the stem
    # swapped for the 3x3 stride-1 CIFAR stem it is the network at width=64.
    params = init_resnet18(64, 10, torch.Generator().manual_seed(0))
    params = {k: v + 0.1 * torch.rand_like(v) for k, v in params.items()}
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()
    model = model.double().train()
    missing, unexpected = model.load_state_dict(torchvision_state(params), strict=False)
    assert all("running" in key or "num_batches" in key for key in missing)
    assert not unexpected
    x = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
    result = resnet18_forward(params, x, width=64)
    torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-12)


def test_half_width_parameter_count():
    params = init_resnet18(32, 10, torch.Generator().manual_seed(0))
    assert params["stem.conv"].shape == (32, 3, 3, 3)
    assert params["stage4.1.2.conv"].shape == (256, 256, 3, 3)
    assert params["fc.weight"].shape == (256, 10)
    # torchvision's resnet18 with the CIFAR stem and 10 classes has 11,173,962.
    assert sum(v.numel() for v in params.values()) == 2_797_610


def test_batch_pure_in_step(task):
    first = task.build(seed=5)
    second = task.build(seed=5)
    steps = [0, 7, 3, 3, 0, 12]
    batches = [task.batch(first.data, step) for step in steps]
    for step, expected in zip(reversed(steps), reversed(batches), strict=True):
        result = task.batch(second.data, step)
        assert torch.equal(result["x"], expected["x"]), step
        assert torch.equal(result["y"], expected["y"]), step


def test_batches_cover_each_epoch(task):
    problem = task.build(seed=1)
    images = problem.data["images"].flatten(1)  # [40, 3072]
    for epoch in range(2):
        seen = []
        for position in range(3):
            x = task.batch(problem.data, 3 * epoch + position)["x"].flatten(1)
            assert x.shape == (12, 3072)
            seen += [int((images == row).all(dim=1).nonzero()) for row in x]
        # 40 images, batches of 12: 3 batches per epoch and 4 images skipped.
        assert len(set(seen)) == 36


def test_batch_order_changes(task):
    problem = task.build(seed=1)
    first = task.batch(problem.data, 0)["x"]
    next_epoch = task.batch(problem.data, 3)["x"]
    other_seed = task.batch(task.build(seed=2).data, 0)["x"]
    assert not torch.equal(first, next_epoch)
    assert not torch.equal(first, other_seed)
    assert not torch.equal(epoch_order(0, 1, 50), epoch_order(1, 0, 50))


def test_loss_needs_batch(task):
    problem = task.build(seed=0)
    assert problem.data["seed"].device.type == "cpu"
    with pytest.raises(KeyError):
        task.loss(problem.params, problem.data)
    loss = task.loss(problem.params, task.batch(problem.data, 0))
    assert torch.isfinite(loss)


def test_invalid_batch_size():
    with pytest.raises(ValueError, match="batch_size=20001 is invalid"):
        get_task("resnet18_half_cifar10", per_class=2000, batch_size=20001)
