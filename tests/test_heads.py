"""Tests of sktvnet.heads: the classification networks of the action classifier."""

import functools

import pytest
import torch
from torch import nn

from sktvnet.heads import HEADS, InceptionHead, ResNetHead, make_head


# Tensors this small gain nothing from a thread pool (conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", sorted(HEADS))
@pytest.mark.parametrize("size", [(8, 8), (24, 24), (48, 64), (33, 17)])
def test_output_shape_for_any_frame_size(name, size):
    head = make_head(name, in_channels=10, n_classes=5, width=8)
    out = head(torch.randn(3, 10, *size))
    assert out.shape == (3, 5) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("cls", [InceptionHead, ResNetHead])
def test_every_parameter_gets_a_gradient(cls):
    torch.manual_seed(0)
    head = cls(in_channels=4, n_classes=3, width=8)
    x = torch.randn(4, 4, 16, 16)
    nn.functional.cross_entropy(head(x), torch.tensor([0, 1, 2, 0])).backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", [InceptionHead, ResNetHead])
def test_eval_mode_is_per_sample_and_deterministic(cls):
    """In eval mode batch norm uses running statistics and dropout is off: a sample's scores do
    not depend on the rest of the batch, and two calls agree exactly."""
    torch.manual_seed(0)
    head = cls(in_channels=2, n_classes=4, width=8)
    head(torch.randn(8, 2, 16, 16))  # one training step's worth of running statistics
    head.eval()
    x = torch.randn(5, 2, 16, 16)
    batch = head(x)
    torch.testing.assert_close(head(x[2:3]), batch[2:3], rtol=1e-5, atol=1e-6)
    assert torch.equal(head(x), batch)


def test_width_scales_the_network():
    def count(module):
        return sum(p.numel() for p in module.parameters())

    for cls in (InceptionHead, ResNetHead):
        small = cls(in_channels=10, n_classes=8, width=8)
        large = cls(in_channels=10, n_classes=8, width=16)
        assert 3 * count(small) < count(large) < 5 * count(small)  # ~ width ** 2
    assert InceptionHead(in_channels=10, n_classes=8).classifier.in_features == 128
    assert ResNetHead(in_channels=10, n_classes=8).classifier.in_features == 64


def test_dropout_is_applied_in_training_only():
    head = ResNetHead(in_channels=2, n_classes=3, width=8, dropout=0.9)
    assert head.dropout.p == 0.9
    x = torch.randn(4, 2, 16, 16)
    torch.manual_seed(0)
    first = head(x)
    torch.manual_seed(1)
    assert not torch.equal(first, head(x))
    head.eval()
    assert torch.equal(head(x), head(x))


def test_make_head_by_name_and_factory():
    assert isinstance(make_head("inception", in_channels=3, n_classes=2), InceptionHead)
    resnet = make_head("resnet", in_channels=3, n_classes=2, width=12, dropout=0.1)
    assert isinstance(resnet, ResNetHead) and resnet.dropout.p == 0.1
    assert resnet.classifier.in_features == 48

    calls = []

    def factory(in_channels, n_classes, hidden):
        calls.append((in_channels, n_classes))
        return nn.Sequential(nn.Conv2d(in_channels, hidden, 3), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(hidden, n_classes))

    head = make_head(functools.partial(factory, hidden=6), in_channels=10, n_classes=7)
    assert calls == [(10, 7)]
    assert head(torch.zeros(2, 10, 12, 12)).shape == (2, 7)


@pytest.mark.parametrize(
    "head, kwargs, error, match",
    [
        ("vgg", {}, ValueError, r"head must be one of \['inception', 'resnet'\]"),
        (42, {}, TypeError, "head must be a name .* got int"),
        (lambda in_channels, n_classes: "conv", {}, TypeError, "must return a torch.nn.Module"),
        ("resnet", dict(width=10), ValueError, r"width must be a multiple of 4 \(.*\), got 10"),
        ("resnet", dict(width=2), ValueError, "width must be an integer >= 4, got 2"),
        ("inception", dict(dropout=1.0), ValueError, r"dropout must be a probability in \[0, 1\)"),
        ("inception", dict(n_classes=0), ValueError, "n_classes must be an integer >= 1, got 0"),
    ],
)
def test_make_head_errors(head, kwargs, error, match):
    args = dict(in_channels=10, n_classes=3)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        make_head(head, **args)
