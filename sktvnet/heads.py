"""Classification networks ("heads") for the action classifier, trained from scratch.

TVNet turns a clip of ``n_frames`` frames into ``n_frames - 1`` flow fields; stacked, they are an
image of ``2 * (n_frames - 1)`` channels (u then v of each pair), which a 2-D CNN classifies, as
the temporal stream of two-stream networks does (Simonyan and Zisserman 2014; Fan et al. 2018 use
BN-Inception). No pretrained weight can be downloaded here, so both heads are compact and meant
to be trained from scratch on small frames:

* :class:`InceptionHead`: BN-Inception-style blocks (parallel 1x1, 3x3 and double-3x3 branches
  and a pooling branch, batch normalisation after every convolution).
* :class:`ResNetHead`: ResNet-style basic blocks (two 3x3 convolutions and an identity or 1x1
  shortcut).

Both start with a 3x3 convolution of stride 2 (flows are smooth: on ``make_motion_videos``, with
frozen TVNet flows and 120 training videos, this raised the ResNet-style head's held-out
accuracy from 91% to 97% and saves three quarters of the work), halve the frames twice more and
end with global average pooling, dropout and a linear layer, so any frame size of at least 8x8
works. :func:`make_head` builds one by name, or calls a user factory. :class:`ActionNetwork`
joins TVNet (or frame differences), a head and an optional RGB head into the network that
:class:`sktvnet.TVNetActionClassifier` trains (its ``model_``).
"""

from __future__ import annotations

# sktvnet's wait-policy rule applies when this module is the one to load torch (_threads).
from ._threads import before_torch as _before_torch

_before_torch()

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ._validation import check_head_sizes

if TYPE_CHECKING:
    from .network import TVNet

__all__ = ["HEADS", "ActionNetwork", "InceptionHead", "ResNetHead", "make_head"]


def _conv_bn(in_channels: int, out_channels: int, kernel: int = 3,
             stride: int = 1) -> nn.Sequential:
    """Convolution (no bias: the batch norm has one), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                  bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


class _InceptionBlock(nn.Module):
    """BN-Inception module. Stride 1: 1x1, 1x1-3x3, 1x1-3x3-3x3 and pool-1x1 branches, a quarter
    of ``out_channels`` each. Stride 2 (a reduction): the 3x3 and double-3x3 branches stride, and
    max pooling followed by a 1x1 takes the remaining half."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        quarter = out_channels // 4
        self.branches = nn.ModuleList([
            nn.Sequential(_conv_bn(in_channels, quarter, 1), _conv_bn(quarter, quarter, 3, stride)),
            nn.Sequential(_conv_bn(in_channels, quarter, 1), _conv_bn(quarter, quarter, 3),
                          _conv_bn(quarter, quarter, 3, stride)),
        ])
        if stride == 1:
            self.branches.append(_conv_bn(in_channels, quarter, 1))
            self.branches.append(nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1),
                                               _conv_bn(in_channels, quarter, 1)))
        else:
            rest = out_channels - 2 * quarter
            self.branches.append(nn.Sequential(nn.MaxPool2d(3, stride=stride, padding=1),
                                               _conv_bn(in_channels, rest, 1)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class _BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions plus a shortcut (1x1 when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn(in_channels, out_channels, 3, stride),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class _Head(nn.Module):
    """Feature extractor, then global average pooling, dropout and a linear classifier."""

    def __init__(self, features: nn.Module, n_features: int, n_classes: int, dropout: float):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_features, n_classes)
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """Class scores (logits) of a batch of stacked fields.

        Parameters
        ----------
        x : Tensor of shape (B, in_channels, H, W)

        Returns
        -------
        logits : Tensor of shape (B, n_classes)
        """
        return self.classifier(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))


class InceptionHead(_Head):
    """A compact BN-Inception-style CNN: stem, six Inception modules (two of them reductions),
    global average pooling, dropout, linear.

    Channels: ``in_channels`` -> ``width`` (3x3 stem, stride 2) -> ``2 width`` -> ``2 width``
    -> ``4 width`` (stride 2) -> ``4 width`` -> ``8 width`` (stride 2) -> ``8 width``
    -> ``n_classes``.

    Shape:
        - input: ``(B, in_channels, H, W)``, H, W >= 8.
        - output: ``(B, n_classes)``, logits.

    Parameters
    ----------
    in_channels : int
        Channels of the input, e.g. ``2 * (n_frames - 1)`` for stacked flows.
    n_classes : int
        Number of classes (outputs).
    width : int, default=16
        Channels of the stem, a multiple of 4; the blocks widen it up to ``8 * width``.
    dropout : float, default=0.5
        Dropout probability before the linear classifier.

    See Also
    --------
    ResNetHead : The ResNet-style alternative.

    References
    ----------
    .. [1] S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network training by
       reducing internal covariate shift", ICML 2015. https://arxiv.org/abs/1502.03167

    Examples
    --------
    >>> import torch
    >>> from sktvnet.heads import InceptionHead
    >>> head = InceptionHead(in_channels=10, n_classes=8).eval()
    >>> head(torch.zeros(2, 10, 48, 48)).shape
    torch.Size([2, 8])
    """

    def __init__(self, *, in_channels: int, n_classes: int, width: int = 16,
                 dropout: float = 0.5) -> None:
        check_head_sizes(in_channels, n_classes, width, dropout)
        features = nn.Sequential(
            _conv_bn(in_channels, width, 3, stride=2),
            _InceptionBlock(width, 2 * width),
            _InceptionBlock(2 * width, 2 * width),
            _InceptionBlock(2 * width, 4 * width, stride=2),
            _InceptionBlock(4 * width, 4 * width),
            _InceptionBlock(4 * width, 8 * width, stride=2),
            _InceptionBlock(8 * width, 8 * width),
        )
        super().__init__(features, 8 * width, n_classes, dropout)


class ResNetHead(_Head):
    """A compact ResNet-style CNN: 3x3 stem of stride 2, three stages of two basic blocks (the
    last two stages stride 2), global average pooling, dropout, linear.

    Channels: ``in_channels`` -> ``width`` (stem) -> ``width`` -> ``2 width`` (stride 2)
    -> ``4 width`` (stride 2) -> ``n_classes``.

    Shape:
        - input: ``(B, in_channels, H, W)``, H, W >= 8.
        - output: ``(B, n_classes)``, logits.

    Parameters
    ----------
    in_channels : int
        Channels of the input, e.g. ``2 * (n_frames - 1)`` for stacked flows.
    n_classes : int
        Number of classes (outputs).
    width : int, default=16
        Channels of the first stage, a multiple of 4; the last stage has ``4 * width``.
    dropout : float, default=0.5
        Dropout probability before the linear classifier.

    See Also
    --------
    InceptionHead : The BN-Inception-style alternative.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition",
       CVPR 2016. :doi:`10.1109/CVPR.2016.90`

    Examples
    --------
    >>> import torch
    >>> from sktvnet.heads import ResNetHead
    >>> head = ResNetHead(in_channels=10, n_classes=8).eval()
    >>> head(torch.zeros(2, 10, 48, 48)).shape
    torch.Size([2, 8])
    """

    def __init__(self, *, in_channels: int, n_classes: int, width: int = 16,
                 dropout: float = 0.5) -> None:
        check_head_sizes(in_channels, n_classes, width, dropout)
        features = nn.Sequential(
            _conv_bn(in_channels, width, 3, stride=2),
            _BasicBlock(width, width),
            _BasicBlock(width, width),
            _BasicBlock(width, 2 * width, stride=2),
            _BasicBlock(2 * width, 2 * width),
            _BasicBlock(2 * width, 4 * width, stride=2),
            _BasicBlock(4 * width, 4 * width),
        )
        super().__init__(features, 4 * width, n_classes, dropout)


#: The heads :func:`make_head` (and ``TVNetActionClassifier(head=...)``) know by name.
HEADS: dict[str, type[_Head]] = {"inception": InceptionHead, "resnet": ResNetHead}


def make_head(
    head: str | Callable[..., nn.Module],
    *,
    in_channels: int,
    n_classes: int,
    width: int = 16,
    dropout: float = 0.5,
) -> nn.Module:
    """Build a classification head by name, or from a factory.

    Parameters
    ----------
    head : {"inception", "resnet"} or callable
        A name of :data:`HEADS`, or a factory called as ``head(in_channels=..., n_classes=...)``
        that returns an ``nn.Module`` mapping ``(B, in_channels, H, W)`` to logits
        ``(B, n_classes)`` (use ``functools.partial`` to fix its other arguments; a class or a
        module-level function pickles, a lambda does not).
    in_channels : int
        Channels of the input.
    n_classes : int
        Number of outputs.
    width : int, default=16
        Width of a named head (ignored for a factory).
    dropout : float, default=0.5
        Dropout of a named head (ignored for a factory).

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        If ``head`` is neither a name nor a callable, or the factory does not return a module.

    Examples
    --------
    >>> import torch
    >>> from sktvnet.heads import make_head
    >>> resnet = make_head("resnet", in_channels=10, n_classes=4, width=8)
    >>> resnet(torch.zeros(2, 10, 24, 24)).shape
    torch.Size([2, 4])
    >>> def linear(in_channels, n_classes):
    ...     return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ...                                torch.nn.Linear(in_channels, n_classes))
    >>> tiny = make_head(linear, in_channels=10, n_classes=4)
    >>> tiny(torch.zeros(3, 10, 24, 24)).shape
    torch.Size([3, 4])
    """
    if isinstance(head, str):
        if head not in HEADS:
            raise ValueError(
                f"head must be one of {sorted(HEADS)} or a callable returning an nn.Module, "
                f"got {head!r}"
            )
        return HEADS[head](in_channels=in_channels, n_classes=n_classes, width=width,
                           dropout=dropout)
    if not callable(head):
        raise TypeError(
            f"head must be a name ({', '.join(sorted(HEADS))}) or a callable "
            "head(in_channels=..., n_classes=...) returning an nn.Module, "
            f"got {type(head).__name__}"
        )
    module = head(in_channels=in_channels, n_classes=n_classes)
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"the head factory {head!r} must return a torch.nn.Module, "
            f"got {type(module).__name__}"
        )
    return module


# Standardisation of the RGB frame and of frame differences: never divide by a flat clip's 0.
_STD_FLOOR = 1e-6


class ActionNetwork(nn.Module):
    """The motion stream (TVNet, or frame differences, then a head) and the optional RGB stream:
    the network of :class:`sktvnet.TVNetActionClassifier`, its ``model_``.

    ``forward`` takes a batch of grey clips ``(B, T, H, W)`` (and RGB frames ``(B, 3, H, W)``
    when there is an RGB stream) and returns the logits of each stream, plus the flows and the
    frame pairs they came from (for the loss Lf), or ``None`` without TVNet.

    With ``normalize_brightness``, each frame is standardised (its mean subtracted, divided by
    its standard deviation) before the motion stream, so that a change of gain or offset between
    frames (flicker) does not break TV-L1's brightness constancy. ``camera_motion`` says what the
    head sees of each flow field: ``"keep"`` the flow, ``"subtract"`` the flow minus its median
    u and v (the dominant motion: the camera's, where the background fills most of the frame), as
    improved dense trajectories remove camera motion (Wang and Schmid 2013), ``"both"`` the two
    (u, v, then u, v minus the medians, for every pair).

    Shape:
        - clips: ``(B, T, H, W)``, grey.
        - rgb: ``(B, 3, H, W)``, or None without an RGB stream.
        - output: ``([motion logits (B, n_classes)] + [rgb logits (B, n_classes)], pairs)``,
          ``pairs`` being ``(flow (B (T-1), 2, H, W), x0, x1 (B (T-1), 1, H, W))`` or None.

    Parameters
    ----------
    tvnet : TVNet or None
        The flow stage; None feeds the head standardised frame differences instead.
    motion_head : torch.nn.Module
        Classifies the stacked flows (or differences), as :func:`make_head` builds it.
    rgb_head : torch.nn.Module or None
        Classifies the clip's standardised RGB frame; None for no RGB stream.
    normalize_brightness : bool, default=False
        Standardise each frame before the motion stream.
    camera_motion : {"keep", "subtract", "both"}, default="keep"
        What the head sees of each flow field, as above.

    Examples
    --------
    >>> import torch
    >>> from sktvnet import TVNet
    >>> from sktvnet.heads import ActionNetwork, make_head
    >>> net = ActionNetwork(TVNet(n_scales=1, n_iters=2),
    ...                     make_head("resnet", in_channels=4, n_classes=3, width=8), None)
    >>> logits, (flow, x0, x1) = net(torch.rand(2, 3, 16, 16))
    >>> logits[0].shape, flow.shape
    (torch.Size([2, 3]), torch.Size([4, 2, 16, 16]))
    """

    def __init__(self, tvnet: TVNet | None, motion_head: nn.Module, rgb_head: nn.Module | None,
                 *, normalize_brightness: bool = False, camera_motion: str = "keep"):
        super().__init__()
        self.tvnet = tvnet
        self.motion_head = motion_head
        self.rgb_head = rgb_head
        self.normalize_brightness = normalize_brightness
        self.camera_motion = camera_motion

    def forward(self, clips: Tensor, rgb: Tensor | None = None):
        batch, length, height, width = clips.shape
        if self.normalize_brightness:
            mean = clips.mean(dim=(2, 3), keepdim=True)
            clips = (clips - mean) / clips.std(dim=(2, 3), keepdim=True).clamp_min(_STD_FLOOR)
        x0 = clips[:, :-1].reshape(-1, 1, height, width)
        x1 = clips[:, 1:].reshape(-1, 1, height, width)
        if self.tvnet is None:
            scale = clips.flatten(1).std(dim=1).clamp_min(_STD_FLOOR)[:, None, None, None]
            features, pairs = (clips[:, 1:] - clips[:, :-1]) / scale, None
        else:
            flow = self.tvnet(x0, x1)
            pairs = (flow, x0, x1)
            if self.camera_motion != "keep":
                compensated = flow - flow.flatten(2).median(dim=2).values[:, :, None, None]
                flow = (compensated if self.camera_motion == "subtract"
                        else torch.cat([flow, compensated], dim=1))
            # (B * (T-1), C, H, W) -> (B, C (T-1), H, W): u1, v1, u2, v2, ... as in the paper.
            features = flow.reshape(batch, -1, height, width)
        logits = [self.motion_head(features)]
        if self.rgb_head is not None:
            mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
            std = rgb.flatten(1).std(dim=1).clamp_min(_STD_FLOOR)[:, None, None, None]
            logits.append(self.rgb_head((rgb - mean) / std))
        return logits, pairs
