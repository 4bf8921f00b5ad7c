"""TVNetActionClassifier: videos in, labels out; TVNet and a CNN head trained end to end
(Fan et al. 2018, Section 5)."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import Tensor

from .. import _progress, losses
from .._devices import resolve_device
from .._validation import check_size
from ..heads import HEADS, ActionNetwork, make_head
from ..network import TVNet
from . import _videos
from ._base import TorchStateMixin, torch_generator
from ._flow import TVNetFlow
from ._training import PART_LR_RATIOS, TrainingMixin, parse_train, tvnet_parameter_groups

#: The flow stage of ``TVNetActionClassifier(flow=None)``: frozen-TV-L1 start (no weights),
#: TVNet-2-1-10 (levels 0.5 apart), every part trained with the head. Small frames and motions of
#: a few pixels need no deeper pyramid, and 20 iterations keep a fit of 160 videos within
#: minutes on one thread. The learning rate is that of TVNet's step sizes; u0 learns at a tenth
#: of it and the filters at a hundredth, as in TVNetFlow. The paper divides the classifier's rate
#: by 255 for TVNet, with SGD, whose steps grow with the gradient (large on [0, 255] images);
#: Adam's steps do not, and 1/255 leaves TVNet nearly where it started.
DEFAULT_FLOW = dict(weights=None, n_scales=2, n_iters=10, train="all", learning_rate=3e-3)


def default_flow() -> TVNetFlow:
    """A new :class:`sktvnet.TVNetFlow` configured as :data:`DEFAULT_FLOW`: the flow stage of
    ``TVNetActionClassifier(flow=None)``."""
    return TVNetFlow(**DEFAULT_FLOW)
# The built-in heads halve the frames twice; smaller frames leave them nothing to convolve.
_MIN_HEAD_SIDE = 8


class TVNetActionClassifier(TrainingMixin, TorchStateMixin, ClassifierMixin, BaseEstimator):
    """Action recognition with TVNet and a CNN head, trained end to end (Fan et al. 2018).

    A clip of ``n_frames`` consecutive frames goes through TVNet, the TV-L1 solver unrolled into
    a network, which gives ``n_frames - 1`` flow fields; stacked (``2 (n_frames - 1)`` channels,
    u then v of each pair: 10 for the paper's 6 frames) they are classified by a CNN head. The
    whole is trained with the multitask loss of the paper, ``L = Lc + lambda_f Lf``: the
    cross-entropy of the classes plus the TV-L1 energy of the flows (Eq. 1), which keeps TVNet's
    output a flow while its initial flow and filters adapt to the task. TVNet is trained with a
    smaller learning rate than the head. No flow is computed in advance or stored.

    Training samples one clip at a random place in each video per epoch; prediction averages the
    class scores of ``n_test_clips`` clips spread over each video (and of their mirror images
    with ``horizontal_flip=True``), the paper's test-time averaging. An optional RGB stream
    classifies the middle frame of each clip; its scores are averaged with the motion stream's.

    Parameters
    ----------
    flow : TVNetFlow or None, default=None
        The flow stage: a :class:`sktvnet.TVNetFlow` (cloned in :meth:`fit`) whose ``weights``,
        structure and constants (``n_scales`` ... ``interpolation``, resolved as
        :meth:`TVNetFlow.fit` resolves them) build TVNet, whose ``train`` says what of TVNet
        learns with the head (``None``: TVNet is a frozen TV-L1 solver, the paper's baseline;
        ``"all"``: the paper's u0 and filters and the step sizes) and whose ``learning_rate``
        is the rate of TVNet's step sizes (u0 at a tenth of it, the filters at a hundredth, the
        gradient of TVNet's parameters clipped to norm 1: TVNetFlow's per-part rates). Its
        other parameters (``max_iter``, ``batch_size``, ``validation_fraction``, ...) are
        unused: the classifier's schedule trains both. ``None`` is
        ``TVNetFlow(weights=None, n_scales=2, n_iters=10, train="all", learning_rate=3e-3)``
        (:data:`DEFAULT_FLOW`): TV-L1's own start, TVNet-2-1-10 with levels 0.5 apart, enough
        for motions of a few pixels in small frames at a fit of minutes on one thread; a second
        level helps TVNet-2-1-10 with motions that one level of 10 iterations under-estimates
        (on ``make_motion_videos(difficulty="hard")``: 94.0% -> 96.2% held out, mean of 3
        seeds, for a fifth more fit time). Its parameters are tuned as ``flow__<name>``
        (``GridSearchCV(clf, {"flow__train": [None, "all"]})``) whether ``flow`` is given or
        None: setting one on ``flow=None`` sets ``flow`` to that default first.
    flow_loss_weight : float, default=0.1
        lambda_f, the weight of the flow loss Lf (TV-L1 energy, Eq. 1) in the training loss;
        0 trains TVNet by the classification loss alone. Unused when TVNet is not trained.
    motion : {"tvnet", "difference"}, default="tvnet"
        Motion input of the head: TVNet's flows, or the differences of consecutive frames
        (``n_frames - 1`` channels, each clip scaled by its standard deviation), a baseline
        without flow.
    normalize_brightness : bool, default=True
        Standardise every frame (subtract its mean, divide by its standard deviation) before the
        motion stream, so that a change of brightness between frames (flicker, a camera's
        automatic gain) does not break the brightness constancy that TV-L1 assumes (1% flicker on
        ``make_motion_videos(difficulty="hard")``: 69.5% -> 79.8% held out, mean of 3 seeds).
    camera_motion : {"both", "subtract", "keep"}, default="both"
        What the head sees of each flow field. ``"subtract"``: the flow minus the median of its
        u and of its v, the dominant motion, that of the camera where the background fills most
        of the frame, as improved dense trajectories remove camera motion [3]_ (a camera pan on
        ``make_motion_videos(difficulty="hard")``: 79.8% -> 94.0% held out); but where the
        background moves on its own before a still camera (water, a crowd), or the subject
        fills most of the frame, the median is not the camera's and subtracting it removes part
        of the signal. ``"keep"``: the flow as it is. ``"both"``: the two, stacked (twice the
        channels), so that the head learns which to trust. The loss Lf is that of the flow
        itself. Unused with ``motion="difference"``.
    augment : bool, default=True
        Move each training clip by a random camera motion before the motion stream: a pan of
        up to ``0.5`` px/frame in any direction, a shake of 0.1 px per frame, and a zoom of the
        whole clip by a factor between 0.8 and 1.25 (the textures' scale), resampled bicubic.
        Labels of motion patterns do not change with where the camera points or how far it is.
    head : {"resnet", "inception"} or callable, default="resnet"
        Classification network: a compact ResNet-style or BN-Inception-style CNN
        (:mod:`sktvnet.heads`; the paper uses BN-Inception, pretrained, which cannot be
        downloaded here; from scratch on small frames the ResNet-style head learns as well or
        better, three times faster), trained from scratch, or a factory called as
        ``head(in_channels=..., n_classes=...)`` returning an ``nn.Module`` that maps
        ``(B, in_channels, H, W)`` to logits ``(B, n_classes)``. A factory must be a class or a
        module-level function for the estimator to pickle; :meth:`save` accepts only names.
    head_width : int, default=16
        Width (channels of the first layer, a multiple of 4) of a named head.
    dropout : float, default=0.2
        Dropout before the linear layer of a named head.
    n_frames : int, default=6
        Frames per clip (>= 2): ``n_frames - 1`` flows. Every video needs at least as many.
    n_test_clips : int, default=5
        Clips per video whose scores are averaged at prediction, spread evenly from the first
        frame to the last (fewer when the video is too short to hold them all apart).
    horizontal_flip : bool, default=False
        Mirror clips at random in training and average the scores of mirrored clips at
        prediction. Use it when left and right do not change the class (UCF101, HMDB51), not
        when they do (as in :func:`sktvnet.datasets.make_motion_videos`).
    rgb_stream : bool, default=False
        Add an RGB stream (a head of the same kind on the middle frame of each clip, in colour)
        whose scores are averaged with the motion stream's; each stream has its own
        cross-entropy in training.
    frame_shape : (int, int) or None, default=None
        Resize frames to ``(H, W)`` (bilinear, antialiased). ``None`` keeps the videos' size;
        then every video must have the same size in :meth:`fit`.
    learning_rate : float, default=3e-3
        Adam learning rate of the heads, annealed to 0 along a cosine over ``max_iter`` epochs
        (TVNet's parts learn at the flow stage's rates, annealed the same way).
    weight_decay : float, default=1e-4
        L2 penalty of the heads' weights (decoupled, AdamW); TVNet's parameters have none.
    max_iter : int, default=25
        What it counts: epochs, passes over the training videos (one clip per video per pass),
        all on one cosine schedule.
    validation_fraction : float or None, default=0.1
        Fraction of the videos held out (at random, at least one; stratified by class when
        there are enough videos for one of each class on both sides) to validate on: their
        accuracy is taken before training and after every epoch, and the model ends in the
        state of the best accuracy (the latest of equal ones). ``None`` validates nothing and
        keeps the last state.
    batch_size : int, default=16
        Clips per minibatch, in training and prediction.
    warm_start : bool, default=False
        Continue from the fitted weights in the next :meth:`fit` (with a new optimiser and
        learning-rate cycle) instead of starting afresh; the labels must be among ``classes_``.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; or any torch device string.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, of the clips drawn, of dropout and of the minibatches: a
        given seed gives the same model on the CPU, and on CUDA the same up to rounding (its
        convolution gradients add in an order of their own; differences of about 1e-7 in the
        probabilities were seen on an H100).
    verbose : int, default=0
        With ``verbose >= 1``, progress over the steps of each epoch of :meth:`fit` (with the
        loss) and over the videos of :meth:`predict`, :meth:`predict_proba`,
        :meth:`decision_function` and :meth:`score`: a bar on a terminal or in a notebook, else a
        line on stderr every ``SKTVNET_PROGRESS_INTERVAL`` seconds (10 by default) with the
        count, the rate and the time left, so that logs (``GridSearchCV``, ``nohup``, CI) show
        progress.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    model_ : sktvnet.heads.ActionNetwork
        The fitted network: ``model_.tvnet`` (a :class:`sktvnet.TVNet`, ``None`` for
        ``motion="difference"``), ``model_.motion_head`` and ``model_.rgb_head`` (or ``None``).
    weights_ : str or None
        The weights the flow stage started from (as ``TVNetFlow.weights_``; None without
        weights or for ``motion="difference"``).
    structure_ : str or None
        The paper's name of TVNet's structure, ``TVNet-<n_scales>-<n_warps>-<n_iters>``.
    config_ : dict or None
        TVNet's structure and constants that ran (as ``TVNetFlow.config_``).
    loss_curve_ : list of float
        Mean training loss ``Lc + lambda_f Lf`` of each epoch (over every fit with
        ``warm_start``).
    flow_loss_curve_ : list of float
        Mean TV-L1 energy Lf of the training flows in each epoch, whether or not it is part of
        the loss (empty for ``motion="difference"``).
    n_iter_ : int
        Epochs run.
    validation_scores_ : list of float
        Accuracy on the validation videos before training and after each epoch (of the last
        :meth:`fit`; empty with ``validation_fraction=None``).
    best_validation_score_ : float or None
        The best of ``validation_scores_``, that of the returned model.

    See Also
    --------
    sktvnet.TVNetFlow : TVNet's flows as features for any scikit-learn estimator.
    sktvnet.heads : The classification networks.
    sktvnet.datasets.make_motion_videos : Videos labelled by their motion.
    sktvnet.datasets.load_video_folder : An action dataset stored as a folder per class.

    Notes
    -----
    Prediction runs TVNet as :class:`sktvnet.TVNetFlow` does: see its Notes on when
    ``torch.compile`` is used (``SKTVNET_COMPILE=0`` never) and on threads of a busy machine.

    References
    ----------
    .. [1] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`
    .. [2] L. Wang, Y. Xiong, Z. Wang, Y. Qiao, D. Lin, X. Tang, L. Van Gool, "Temporal segment
       networks: towards good practices for deep action recognition", ECCV 2016.
       :doi:`10.1007/978-3-319-46484-8_2`
    .. [3] H. Wang, C. Schmid, "Action recognition with improved trajectories", ICCV 2013.
       :doi:`10.1109/ICCV.2013.441`

    Examples
    --------
    >>> from sktvnet import TVNetActionClassifier
    >>> from sktvnet.datasets import make_motion_videos
    >>> X, y = make_motion_videos(16, n_classes=2, frame_shape=(24, 24), random_state=0)
    >>> from sktvnet import TVNetFlow
    >>> flow = TVNetFlow(weights=None, n_scales=1, n_iters=5, train="all")
    >>> clf = TVNetActionClassifier(flow=flow, head_width=8, max_iter=2, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:3]).shape
    (3, 2)
    >>> clf.classes_.tolist(), len(clf.loss_curve_)
    ([0, 1], 2)
    """

    _parameter_constraints: dict = {
        "flow": "no_validation",  # _check_params, with a hint
        "flow_loss_weight": [Interval(Real, 0, None, closed="left")],
        "motion": [StrOptions({"tvnet", "difference"})],
        "normalize_brightness": ["boolean"],
        "camera_motion": [StrOptions({"both", "subtract", "keep"})],
        "augment": ["boolean"],
        "head": [StrOptions(set(HEADS)), callable],
        "head_width": [Interval(Integral, 4, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_frames": [Interval(Integral, 2, None, closed="left")],
        "n_test_clips": [Interval(Integral, 1, None, closed="left")],
        "horizontal_flip": ["boolean"],
        "rgb_stream": ["boolean"],
        "frame_shape": [tuple, list, None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        flow=None,
        flow_loss_weight=0.1,
        motion="tvnet",
        normalize_brightness=True,
        camera_motion="both",
        augment=True,
        head="resnet",
        head_width=16,
        dropout=0.2,
        n_frames=6,
        n_test_clips=5,
        horizontal_flip=False,
        rgb_stream=False,
        frame_shape=None,
        learning_rate=3e-3,
        weight_decay=1e-4,
        max_iter=25,
        validation_fraction=0.1,
        batch_size=16,
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.flow = flow
        self.flow_loss_weight = flow_loss_weight
        self.motion = motion
        self.normalize_brightness = normalize_brightness
        self.camera_motion = camera_motion
        self.augment = augment
        self.head = head
        self.head_width = head_width
        self.dropout = dropout
        self.n_frames = n_frames
        self.n_test_clips = n_test_clips
        self.horizontal_flip = horizontal_flip
        self.rgb_stream = rgb_stream
        self.frame_shape = frame_shape
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        # Videos (n_videos, T, H, W[, C]), not a table: scikit-learn's common checks then skip
        # every check that feeds one (all but check_estimator_cloneable).
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_label = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ flow stage
    def get_params(self, deep=True):
        """Parameters of the estimator; with ``deep``, those of the flow stage as
        ``flow__<name>``, the default's (:data:`DEFAULT_FLOW`) when ``flow=None``."""
        params = super().get_params(deep=deep)
        if deep and self.flow is None:
            params.update({f"flow__{key}": value
                           for key, value in default_flow().get_params().items()})
        return params

    def set_params(self, **params):
        """Set parameters; ``flow__<name>`` on ``flow=None`` first sets ``flow`` to the default
        TVNetFlow (:data:`DEFAULT_FLOW`), so that GridSearchCV tunes the default flow stage."""
        if (self.flow is None and "flow" not in params
                and any(key.startswith("flow__") for key in params)):
            self.flow = default_flow()
        return super().set_params(**params)

    def _json_params(self) -> dict:
        # The flow stage is written as its own parameters (None stays None).
        params = super()._json_params()
        if self.flow is not None:
            params["flow"] = {"TVNetFlow": self.flow._json_params()}
        return params

    @classmethod
    def _params_from_json(cls, params: dict) -> dict:
        flow = params.get("flow")
        if isinstance(flow, dict) and set(flow) == {"TVNetFlow"}:
            params = {**params, "flow": TVNetFlow(**flow["TVNetFlow"])}
        return params

    def _flow_stage(self) -> TVNetFlow:
        """A clone of ``flow``, or the default flow stage."""
        return default_flow() if self.flow is None else clone(self.flow)

    # ------------------------------------------------------------------ network
    def _make_network(self) -> ActionNetwork:
        """The network's shape (for unpickling and :meth:`load`): TVNet of ``config_``."""
        return self._assemble(None if self.config_ is None else TVNet(
            **self.config_, **parse_train(self._flow_stage().train)))

    def _assemble(self, tvnet: TVNet | None) -> ActionNetwork:
        n_classes = len(self.classes_)
        per_pair = {"tvnet": 4 if self.camera_motion == "both" else 2, "difference": 1}
        channels = per_pair[self.motion] * (self.n_frames - 1)
        kwargs = dict(n_classes=n_classes, width=self.head_width, dropout=self.dropout)
        motion_head = make_head(self.head, in_channels=channels, **kwargs)
        rgb_head = make_head(self.head, in_channels=3, **kwargs) if self.rgb_stream else None
        return ActionNetwork(tvnet, motion_head, rgb_head,
                              normalize_brightness=self.normalize_brightness,
                              camera_motion=self.camera_motion)

    def _check_params(self) -> None:
        if self.flow is not None and not isinstance(self.flow, TVNetFlow):
            hint = (f" (for weights, flow=TVNetFlow(weights={self.flow!r}))"
                    if isinstance(self.flow, str) else "")
            raise TypeError(f"flow must be a TVNetFlow or None, got {self.flow!r}{hint}")
        check_size(self.frame_shape, "frame_shape", none_ok=True,
                   low=_MIN_HEAD_SIDE if isinstance(self.head, str) else 1)
        if isinstance(self.head, str) and self.head_width % 4:
            raise ValueError(f"head_width must be a multiple of 4, got {self.head_width}")

    def _size(self):
        return None if self.frame_shape is None else tuple(int(n) for n in self.frame_shape)

    # ------------------------------------------------------------------ data
    def _decode(self, sources, index: int) -> np.ndarray:
        """Video ``index`` as a checked array (decoded if it is a path), long enough for a clip."""
        video = _videos.decode(sources[index], f"X[{index}]", self._size())
        if len(video) < self.n_frames:
            raise ValueError(
                f"X[{index}] has {len(video)} frames, fewer than n_frames={self.n_frames}: "
                "lower n_frames or drop the short videos"
            )
        if (self.frame_shape is None and isinstance(self.head, str)
                and min(video.shape[1:3]) < _MIN_HEAD_SIDE):
            raise ValueError(
                f"X[{index}] frames are {video.shape[1]}x{video.shape[2]}; the built-in heads need "
                f"at least {_MIN_HEAD_SIDE}x{_MIN_HEAD_SIDE} (or set frame_shape)"
            )
        return video

    def _clip(self, video: np.ndarray, start: int, flip: bool):
        """The grey clip ``(n_frames, H, W)`` at ``start`` and, with an RGB stream, its middle
        frame ``(3, H, W)``; mirrored left-right when ``flip``."""
        raw = video[start:start + self.n_frames]
        size = self._size()
        clip = _videos.as_frames(raw, size=size)
        rgb = None
        if self.rgb_stream:
            middle = raw[self.n_frames // 2:self.n_frames // 2 + 1]
            rgb = _videos.as_frames(middle, colour=True, size=size)[0].transpose(2, 0, 1)
        if flip:
            clip = clip[..., ::-1]
            rgb = None if rgb is None else rgb[..., ::-1]
        return clip, rgb

    def _to_device(self, arrays: list) -> Tensor | None:
        if arrays[0] is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(self._device)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train TVNet and the head(s) on the videos ``X`` labelled ``y``.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths
            Training videos, each with at least ``n_frames`` frames; paths (see
            :func:`sktvnet.datasets.load_video_folder`) are decoded when needed.
        y : array-like of shape (n_videos,)
            Class labels of any type scikit-learn accepts (ints, strings, ...), at least two
            distinct ones.

        Returns
        -------
        self : TVNetActionClassifier
        """
        self._check_params()
        sources = _videos.check_videos(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != len(sources):
            raise ValueError(
                f"X and y must hold the same number of videos, got {len(sources)} and {len(y)}"
            )
        warm = self.warm_start and hasattr(self, "model_")
        if warm:
            unseen = np.setdiff1d(y, self.classes_)
            if len(unseen):
                raise ValueError(
                    f"warm_start needs the labels of the first fit {self.classes_.tolist()}; "
                    f"y has new ones {unseen.tolist()}"
                )
            encoded = np.searchsorted(self.classes_, y)
        else:
            classes, encoded = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(
                    f"y must hold at least 2 classes to learn from, got only {classes.tolist()}"
                )
        for i, source in enumerate(sources):
            if isinstance(source, np.ndarray):
                self._decode(sources, i)  # checks lengths and sizes before any training
        if self.frame_shape is None:
            sizes = {s.shape[1:3] for s in sources if isinstance(s, np.ndarray)}
            if len(sizes) > 1:
                raise ValueError(
                    f"the videos differ in frame size ({sorted(sizes)}): set frame_shape=(H, W) "
                    "to resize them to one size"
                )

        self._device = resolve_device(self.device)
        generator = torch_generator(self.random_state)
        seed = int(torch.randint(2**62, (1,), generator=generator))
        cuda = [self._device.index or 0] if self._device.type == "cuda" else []
        # Weight initialisation and dropout draw from torch's global generator: seed a fork of it
        # so that random_state decides them without disturbing the caller's random state.
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            if not warm:
                self.classes_ = classes
                self.model_ = self._assemble(self._load_tvnet()).to(self._device)
                self.loss_curve_, self.flow_loss_curve_, self.n_iter_ = [], [], 0
            self._train(sources, torch.from_numpy(encoded.astype(np.int64)), generator)
        return self

    def _load_tvnet(self) -> TVNet | None:
        """TVNet of the flow stage (its weights, structure and trained parts), None for
        ``motion="difference"``; sets ``weights_``, ``config_`` and ``structure_``."""
        self.weights_ = self.config_ = self.structure_ = None
        if self.motion != "tvnet":
            return None
        flow = self._flow_stage()
        loaded = flow._load_network()
        self.weights_, self.config_, self.structure_ = (flow.weights_, flow.config_,
                                                        flow.structure_)
        return loaded

    # The gradient of TVNet's parameters is clipped to this norm, as TVNetFlow clips its own;
    # the heads' is not.
    _max_grad_norm = 1.0

    def _parameter_groups(self) -> list[dict]:
        head_params = [p for name, p in self.model_.named_parameters()
                       if not name.startswith("tvnet.") and p.requires_grad]
        groups = [dict(params=[p for p in head_params if p.ndim > 1],
                       weight_decay=self.weight_decay, clip=False),
                  dict(params=[p for p in head_params if p.ndim <= 1], weight_decay=0.0,
                       clip=False)]
        if self.model_.tvnet is not None:
            groups += tvnet_parameter_groups(self.model_.tvnet,
                                             self._flow_stage().learning_rate, PART_LR_RATIOS)
        return groups

    def _train(self, sources, labels: Tensor, generator: torch.Generator) -> None:
        train, validation = self._split_validation(labels, generator)
        n_batches = math.ceil(len(train) / self.batch_size)
        self._labels = labels
        self._validation = ([sources[i] for i in validation], labels[validation].numpy())
        self._use_flow_loss = (self.model_.tvnet is not None
                               and self._flow_stage().train is not None
                               and self.flow_loss_weight > 0)

        def batches(epoch):
            order = train[torch.randperm(len(train), generator=generator).numpy()]
            for batch in np.array_split(order, n_batches):
                yield self._training_batch(sources, batch, generator)

        try:
            self._fit_loop(self.max_iter, n_batches, batches, n_validations=self.max_iter)
        finally:
            del self._labels, self._use_flow_loss, self._validation

    def _split_validation(self, labels: Tensor, generator: torch.Generator):
        """Indices ``(train, validation)`` of the videos, stratified by class when every class
        has at least two videos and the held-out part can hold one of each."""
        n = len(labels)
        if self.validation_fraction is None:
            return np.arange(n), np.arange(0)
        n_validation = min(n - 1, max(1, round(self.validation_fraction * n)))
        counts = np.bincount(labels.numpy())
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        stratify = (labels.numpy() if counts.min() >= 2 and len(counts) <= n_validation
                    and n - n_validation >= len(counts) else None)
        train, validation = train_test_split(np.arange(n), test_size=n_validation,
                                             random_state=seed, stratify=stratify)
        return np.sort(train), np.sort(validation)

    def _validation_score(self) -> float | None:
        """Accuracy on the validation videos (None without any)."""
        sources, labels = self._validation
        if not sources:
            return None
        return float(np.mean(np.argmax(self._scores(sources, report=False), axis=1) == labels))

    def _training_batch(self, sources, batch: np.ndarray, generator: torch.Generator):
        """Clips (and RGB frames) of the videos ``batch`` at random places, with their labels."""
        clips, rgbs = [], []
        for i in batch.tolist():
            video = self._decode(sources, i)
            start = int(torch.randint(len(video) - self.n_frames + 1, (1,), generator=generator))
            flip = self.horizontal_flip and bool(torch.rand(1, generator=generator) < 0.5)
            clip, rgb = self._clip(video, start, flip)
            clips.append(_camera_augment(clip, generator) if self.augment else clip)
            rgbs.append(rgb)
        if len({c.shape for c in clips}) > 1:
            raise ValueError(
                f"the videos differ in frame size ({sorted({c.shape[1:] for c in clips})}): "
                "set frame_shape=(H, W) to resize them to one size"
            )
        return (self._to_device(clips), self._to_device(rgbs),
                self._labels[batch].to(self._device))

    def _compute_loss(self, batch):
        clips, rgbs, target = batch
        logits, pairs = self.model_(clips, rgbs)
        loss = sum(F.cross_entropy(stream, target) for stream in logits)
        record = {"n": len(target)}
        if pairs is not None:
            flow, x0, x1 = pairs
            with torch.set_grad_enabled(self._use_flow_loss):
                flow_loss = losses.FLOW_LOSSES["energy"].function(flow, x0, x1, None,
                                                                  **self.config_)
            if self._use_flow_loss:
                loss = loss + self.flow_loss_weight * flow_loss
            record["flow_loss"] = float(flow_loss.detach())
        return loss, record

    def _record_epoch(self, records: list[dict]) -> None:
        """One point per epoch: the losses of its minibatches averaged, weighted by their size."""
        count = sum(r["n"] for r in records)
        self.loss_curve_.append(sum(r["loss"] * r["n"] for r in records) / count)
        if self.model_.tvnet is not None:
            self.flow_loss_curve_.append(sum(r["flow_loss"] * r["n"] for r in records) / count)
        self.n_iter_ += 1

    # ------------------------------------------------------------------ predict
    def _clip_starts(self, length: int) -> list[int]:
        last = length - self.n_frames
        return sorted({int(round(s)) for s in np.linspace(0, last, self.n_test_clips)})

    def _scores(self, X, *, report: bool = True) -> np.ndarray:
        """Mean logits ``(n_videos, n_classes)`` over every test clip of each video; progress is
        reported (``verbose``) unless ``report=False`` (validation inside :meth:`fit`), in frame
        pairs (``n_frames - 1`` per clip), batch by batch."""
        check_is_fitted(self)
        sources = _videos.check_videos(X)
        n_classes = len(self.classes_)
        sums = np.zeros((len(sources), n_classes))
        counts = np.zeros(len(sources))
        pending: list = []  # (video index, clip, rgb), all of one frame size

        def flush():
            if not pending:
                return
            index = np.array([p[0] for p in pending])
            with torch.inference_mode():
                logits, _ = self.model_(self._to_device([p[1] for p in pending]),
                                        self._to_device([p[2] for p in pending]))
                mean_logits = torch.stack(logits).mean(dim=0).double().cpu().numpy()
            np.add.at(sums, index, mean_logits)
            np.add.at(counts, index, 1)
            bar.update(len(pending) * (self.n_frames - 1))
            pending.clear()

        self.model_.eval()
        flips = (False, True) if self.horizontal_flip else (False,)
        # Pairs, not videos: one long video is many clips. Known when no video is a path.
        total = None
        if all(isinstance(source, np.ndarray) for source in sources):
            total = sum(len(self._clip_starts(len(source))) for source in sources) * len(
                flips) * (self.n_frames - 1)
        with _progress.progress(desc="TVNetActionClassifier.predict", unit="pair", total=total,
                                disable=not (self.verbose and report)) as bar:
            for i in range(len(sources)):
                video = self._decode(sources, i)
                for start in self._clip_starts(len(video)):
                    for flip in flips:
                        clip, rgb = self._clip(video, start, flip)
                        if pending and pending[0][1].shape != clip.shape:
                            flush()
                        pending.append((i, clip, rgb))
                        if len(pending) >= self.batch_size:
                            flush()
            flush()
        return sums / counts[:, None]

    def decision_function(self, X):
        """Class scores: the logits averaged over the test clips (and streams) of each video.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths

        Returns
        -------
        scores : ndarray of shape (n_videos, n_classes), or (n_videos,) for two classes
            For two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``: positive
            means ``classes_[1]``, as scikit-learn's binary classifiers do.
        """
        scores = self._scores(X)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X):
        """Class probabilities: the softmax of :meth:`decision_function`'s averaged scores.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths

        Returns
        -------
        proba : ndarray of shape (n_videos, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        scores = self._scores(X)
        scores = scores - scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Class of each video: the one with the highest averaged score.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths

        Returns
        -------
        labels : ndarray of shape (n_videos,)
            Elements of ``classes_``.
        """
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]


# The random camera motion of ``augment=True``: a pan of up to this many px/frame, a shake of
# this standard deviation in px, a zoom between these factors (log-uniform).
_AUGMENT_PAN, _AUGMENT_SHAKE, _AUGMENT_ZOOM = 0.5, 0.1, (0.8, 1.25)


def _camera_augment(clip: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """``clip`` ``(T, H, W)`` seen by a camera that pans, shakes and zooms at random: frame t
    shows the content at ``centre + (x - centre) / zoom - offset_t``, bicubic (a spline, which
    keeps the detail that bilinear resampling at half pixels would average away)."""
    from scipy import ndimage

    n_frames, height, width = clip.shape
    draws = torch.rand(3, generator=generator, dtype=torch.float64).numpy()
    shake = torch.randn(n_frames, 2, generator=generator, dtype=torch.float64).numpy()
    speed, heading = _AUGMENT_PAN * draws[0], 2 * np.pi * draws[1]
    low, high = np.log(_AUGMENT_ZOOM)
    zoom = np.exp(low + (high - low) * draws[2])
    times = np.arange(n_frames) - (n_frames - 1) / 2.0
    offsets = (times[:, None] * speed * np.array([np.sin(heading), np.cos(heading)])
               + _AUGMENT_SHAKE * shake)  # (rows, cols) per frame
    centre = (np.array([height, width]) - 1) / 2.0
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.empty_like(clip)
    for t in range(n_frames):
        coordinates = [centre[0] + (rows - centre[0]) / zoom - offsets[t, 0],
                       centre[1] + (cols - centre[1]) / zoom - offsets[t, 1]]
        out[t] = ndimage.map_coordinates(clip[t], coordinates, order=3, mode="reflect")
    return out
