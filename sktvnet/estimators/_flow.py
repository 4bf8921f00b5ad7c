"""TVNetFlow: videos in, TVNet flow features out, optionally trained (Fan et al. 2018, Table 1)."""

from __future__ import annotations

import contextlib
import os
from numbers import Integral, Real
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _progress, losses, pretrained
from .._devices import resolve_device
from .._validation import INTERPOLATIONS, PRESETS
from ..network import TVNet, job_of
from . import _videos
from ._base import TorchStateMixin, torch_generator, worker_threads
from ._training import (PART_LR_RATIOS, TVNET_CONSTRAINTS, TrainingMixin, parse_train,
                        split_validation, tvnet_parameter_groups)


class TVNetFlow(TrainingMixin, TorchStateMixin, TransformerMixin, BaseEstimator):
    """Optical-flow features of videos computed by TVNet, frozen or trained.

    Every pair of consecutive frames of a video goes through TVNet, the TV-L1 solver unrolled into
    a network (Fan et al. 2018, Section 4.1). Frozen (``train=None``) with ``weights=None`` it is
    TV-L1; trained, its initial flow u0 and its difference filters adapt to the data (Section
    4.2), either without labels by minimising the TV-L1 energy (``loss="energy"``, Eq. 1) or
    against ground-truth flows (``loss="epe"``).

    By default (``weights="DEFAULT"``) it runs the recommended bundled weights,
    :data:`sktvnet.pretrained.RECOMMENDED`, with the structure they were trained with.
    ``weights=None`` is frozen TV-L1: TVNet-10-1-50 with levels 0.7 apart unless a structure is
    given (:data:`sktvnet.pretrained.FROZEN_CONFIG`), and ``TVNetFlow(weights=None,
    n_scales=1)`` is the paper's TVNet-50.

    The structure and constants (``n_scales`` to ``interpolation``) default to None: "as the
    weights were trained", or :data:`~sktvnet.pretrained.FROZEN_CONFIG`'s value with
    ``weights=None``. Weights carry their structure, so ``TVNetFlow(weights="mine.safetensors")``
    needs none repeated; a value set against the weights' raises a ``ValueError``
    (:class:`sktvnet.pretrained.WeightsMismatch`) naming both, as torchvision's builders do.
    ``structure_`` and ``config_`` say what ran.

    Parameters
    ----------
    n_scales : int or None, default=None
        Pyramid levels (capped per input so the coarsest keeps a diagonal of ~16 px); without
        weights, 10. Ten levels 0.7 apart reach motions of about 60 px, as on the stereo
        motorcycle pair; ``n_scales=1`` is the paper's TVNet-50 (one level, one warp of 50
        iterations), which sees motions of a pixel or two only.
    n_warps : int or None, default=None
        Warps per level; without weights, 1.
    n_iters : int or None, default=None
        Unrolled TV-L1 iterations per warp; without weights, 50.
    tau : float or None, default=None
        Time step of the dual update, tau in Eq. 12; without weights, 0.25.
    lmbda : float or None, default=None
        Weight of the data term, lambda in Eq. 1; without weights, 0.15.
    theta : float or None, default=None
        Tightness of the coupling, theta in Eq. 2; without weights, 0.3.
    zoom_factor : float or None, default=None
        Size ratio between pyramid levels; without weights, 0.7 for the default ten levels, and
        for a given ``n_scales`` the ratio whose pyramid is as deep
        (:func:`sktvnet.pretrained.frozen_zoom_factor`: 0.5 up to five levels). TV-L1's usual
        0.5 leaves each level to double the motion of the coarser one; with one warp per level
        the finer steps of 0.7 recover large motions better (see the user guide's "Choosing a
        structure").
    eps : float or None, default=None
        Soft non-zero constant of the divisions in Eq. 11-12; without weights, 1e-10.
    texture : bool, float in [0, 1], sequence of them, or None, default=None
        Solve on the texture of every pyramid level (the level minus its Gaussian blur of sigma
        2, the structure-texture decomposition of Wedel et al. 2009) instead of the level, so
        that a change of brightness between them (automatic exposure, flicker) is not
        read as motion. TV-L1 is that sensitive: on held-out 240x320 pairs whose first frame
        changes brightness by up to 0.5% (with noise of sigma 0.002), the reference's EPE goes
        from 0.024 to 0.21 px (``benchmarks/bench_texture.py``). The price is
        some precision on pairs whose brightness is exact (see the user guide, "Brightness
        changes"). False computes TV-L1's own function. A number ``w`` subtracts ``w`` times
        the blur and keeps the rest of the level: between the two in precision and in
        robustness (True is 1, False 0). A sequence gives one share per pyramid level, finest
        first, the last holding for every coarser level (``(0, 1)``: the finest level on the
        frames, the others on textures). Without weights, False.
    compensate_brightness : bool or None, default=None
        At every warp, fit a gain and an offset from the warped second frame to the first and
        apply them (robust least squares, :func:`sktvnet.functional.compensate_brightness`), so
        that a change of brightness between the frames is not read as motion, while the frames'
        low frequencies, which carry large motions, are kept (the texture removes them).
        Without weights, False.
    match_brightness : bool or None, default=None
        Before the flow, map the second frame's grey levels by the gain and offset that match
        them to the first's, fitted on a coarse alignment that brightness cannot mislead (see
        :class:`sktvnet.TVNet`), so that a change of exposure or flicker is not read as motion;
        pairs whose brightness does not change measurably keep their frames. Unlike the
        structure, it is not tied to the weights: None follows them (the recommended weights
        match), a bool replaces their choice. Without weights, False.
    median_filter : int or None, default=None
        Side of a median filter applied to the flow before every 30 iterations of a warp, as
        OpenCV's DualTVL1 does (its default is 5; see :class:`sktvnet.TVNet`): 0 turns it off,
        else odd, >= 3. Without weights, 0.
    preset : {"opencv"} or None, default=None
        ``"opencv"`` follows the method of OpenCV's DualTVL1 (see :class:`sktvnet.TVNet`), the
        flow most pretrained two-stream models were trained on; with ``weights=None``, the
        parameters left unset take OpenCV's values
        (:data:`sktvnet.pretrained.OPENCV_CONFIG`). Without weights, None.
    tol : float or None, default=None
        Stop the iterations of a warp, pair by pair, once the mean squared change of the flow
        is at most ``tol ** 2``, OpenCV's and the reference's rule (``n_iters`` is then a
        maximum); 0 runs ``n_iters`` iterations. Without weights, 0 (0.01 with
        ``preset="opencv"``).
    interpolation : {"bilinear", "bicubic"} or None, default=None
        Without weights, bilinear. How the warps and the pyramid interpolate between pixels:
        bilinear as the paper's TVNet,
        or bicubic as IPOL's TV-L1, markedly more precise for the same iterations (held-out
        240x320 warps, frozen TVNet-4-3-10: 0.095 against 0.070 px) at four times the reads
        once per warp (see the user guide, "Bicubic warps").
    weights : str, path or None, default="DEFAULT"
        The state TVNet starts from, and its structure, as torchvision's ``weights``:
        ``"DEFAULT"`` is :data:`sktvnet.pretrained.RECOMMENDED` (read when :meth:`fit` runs);
        a name of :data:`sktvnet.pretrained.WEIGHTS` a bundled trained state; a path a file
        written by :func:`sktvnet.pretrained.save_weights`; ``None`` TV-L1's own filters and
        step sizes. :meth:`fit` loads them (through :func:`sktvnet.pretrained.load_tvnet`), then
        trains further if ``train`` says so.
    train : str or None, default=None
        What :meth:`fit` trains: ``None`` (nothing: TV-L1), or any combination of three parts,
        ``"u0"`` (the initial flow), ``"filters"`` (the difference filters of every iteration,
        Eq. 7-9, the centred-gradient filters included, and the width of the Gaussian that
        smooths the frames, from IPOL's sigma 0.8 up) and ``"steps"`` (tau, lambda and theta
        of every iteration of every level, see :class:`sktvnet.TVNet`'s ``train_steps``),
        joined by ``"+"`` in that order: ``"u0+filters"``, ``"u0+steps"``, ``"filters+steps"``,
        ``"u0+filters+steps"``, or ``"all"`` for the three. The step sizes carry most of the
        gain to other images and sizes; the filters add to it, their centred-gradient taps
        kept at the sums they start with. With one warp, the learned pre-smoothing is what
        gains most: ``"all"`` halves TVNet-1-1-50's held-out error (the user guide's
        "Training options").
    loss : str, default="energy"
        Training loss, a name of :data:`sktvnet.losses.FLOW_LOSSES`: ``"energy"``, the TV-L1
        energy of the output flow (Eq. 1, unsupervised, y ignored), or ``"epe"``, the mean
        end-point error against ground-truth flows ``y``.
    learning_rate : float, default=0.02
        Initial Adam learning rate of the step sizes and of the pre-smoothing's log sigma; u0
        learns at a tenth of it and the difference filters at a hundredth (they move the
        unrolled iteration much more per unit, see the user guide's "Training options" for the
        measurements). All rates decay to zero over the steps (cosine);
        gradients are clipped to norm 1. Structures that warp once on few levels (TVNet-1-1-50,
        TVNet-3-1-10) gain more on held-out pairs at 0.05; every structure with more warps
        gains less, or ends worse than frozen, at 0.05 (the user guide's "Which parts to train").
    max_iter : int, default=300
        Number of optimisation steps (minibatches), all on one cosine schedule.
    validation_fraction : float or None, default=0.2
        Fraction of the training pairs held out (at random, at least one) to validate on: their
        score (minus the mean loss, EPE or TV-L1 energy, on whole frames) is taken before
        training and after every tenth of ``max_iter`` steps, and the network ends in the state
        of the best score (the latest of equal ones). So training never ends worse than it
        began on the held-out pairs. A single training pair is both trained and validated on.
        ``None`` validates nothing and keeps the last state.
    batch_size : int, default=8
        Pairs per minibatch in training and in :meth:`transform`.
    crop_size : int or None, default=64
        Training takes random square crops of this side from the pairs (and their flows), which
        makes steps cheaper; TVNet has no fixed size, so the fitted network serves any frame size.
        ``None`` or a side larger than the frames trains on whole frames.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; or any torch device string.
    random_state : int, RandomState instance or None, default=None
        Seed of the minibatch sampling.
    verbose : int, default=0
        With ``verbose >= 1``, progress over the training steps of :meth:`fit` and over the
        frame pairs of :meth:`transform` and :meth:`score`: a bar on a terminal or in a notebook, else a
        line on stderr every ``SKTVNET_PROGRESS_INTERVAL`` seconds (10 by default) with the
        count, the rate and the time left, so that logs (``GridSearchCV``, ``nohup``, CI) show
        progress.
    n_jobs : int or None, default=None
        Videos processed in parallel by :meth:`transform` and :meth:`score`, through joblib:
        ``None`` means 1 unless inside a ``joblib.parallel_backend`` context (for instance
        ``"dask"`` on a ``dask.distributed`` cluster), ``-1`` all cores. Each worker uses its
        own device and ``cores / n_jobs`` torch threads. Outputs equal the sequential ones.

    Attributes
    ----------
    model_ : sktvnet.TVNet
        The fitted network.
    weights_ : str or None
        The weights :meth:`fit` started from: a bundled name (``"DEFAULT"`` resolved), a file
        path, or None (TV-L1).
    structure_ : str
        The paper's name of the structure that ran, ``TVNet-<n_scales>-<n_warps>-<n_iters>``.
    config_ : dict
        The structure and constants that ran (``n_scales``, ..., ``interpolation``): the
        weights', or the parameters' and :data:`~sktvnet.pretrained.FROZEN_CONFIG`'s.
    loss_curve_ : list of float
        Training loss at every step (empty when ``train=None``).
    validation_scores_ : list of float
        Validation score (minus the mean EPE or TV-L1 energy of the validation pairs, higher
        is better) of the untrained network and after every tenth of the steps (empty when
        ``train=None`` or ``validation_fraction=None``).
    best_validation_score_ : float or None
        The best finite one of ``validation_scores_``, that of the returned network (None
        when there is none).
    n_iter_ : int
        Optimisation steps run: ``max_iter``, or 0 when ``train=None``.
    n_pairs_seen_ : int
        Number of frame pairs in the training data.

    See Also
    --------
    sktvnet.TVNet : The network itself.
    sktvnet.tvl1_optical_flow : The NumPy reference TV-L1.
    sktvnet.load_pretrained : A fitted TVNetFlow with bundled weights.
    sktvnet.pretrained.load_tvnet : The loader that builds TVNet from weights.

    Notes
    -----
    Inference compiles TVNet with ``torch.compile`` only where it pays (``compiled="auto"`` of
    :class:`sktvnet.TVNet`): a small first job runs eagerly, a long video or a large sum of
    jobs compiles once (seconds) and then runs faster. ``SKTVNET_COMPILE=0`` never compiles.
    On a machine whose cores are busy with other work, torch's OpenMP threads spin while they
    wait and everything slows down by one or two orders of magnitude. When sktvnet is the one
    that imports torch (``from sktvnet import TVNetFlow`` before any ``import torch``) and
    ``OMP_WAIT_POLICY`` is unset, it sets ``OMP_WAIT_POLICY=PASSIVE`` on a machine busy at that
    moment, as the ``sktvnet`` command does; otherwise set it (or ``OMP_NUM_THREADS=1``) in the
    environment before torch is imported.

    References
    ----------
    .. [1] L. Fan, W. Huang, C. Gan, S. Ermon, B. Gong, J. Huang, "End-to-end learning of motion
       representation for video understanding", CVPR 2018. :doi:`10.1109/CVPR.2018.00630`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet import TVNetFlow
    >>> rng = np.random.default_rng(0)
    >>> videos = rng.random((2, 3, 32, 32)).astype(np.float32)  # 2 videos of 3 frames
    >>> flow = TVNetFlow().fit(videos)  # the recommended weights
    >>> flow.structure_
    'TVNet-8-2-15'
    >>> flows = flow.transform(videos)
    >>> flows.shape  # (n_videos, T - 1, 2, H, W)
    (2, 2, 2, 32, 32)
    """

    _parameter_constraints: dict = {
        # The structure and constants may be None: "follow the weights".
        **{name: [*constraint, None] for name, constraint in TVNET_CONSTRAINTS.items()},
        # A view of the registry's names, so that a loss registered later is accepted.
        "loss": [StrOptions(losses.FLOW_LOSSES.keys())],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "crop_size": [Interval(Integral, 4, None, closed="left"), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Interval(Integral, None, -1, closed="right"),
                   Interval(Integral, 1, None, closed="left"), None],
        "weights": [str, os.PathLike, None],
        "texture": ["boolean", Interval(Real, 0, 1, closed="both"), "array-like", None],
        "compensate_brightness": ["boolean", None],
        "match_brightness": ["boolean", None],
        "median_filter": [Interval(Integral, 0, None, closed="left"), None],
        "preset": [StrOptions(set(PRESETS)), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "interpolation": [StrOptions(set(INTERPOLATIONS)), None],
    }

    def __init__(
        self,
        *,
        n_scales=None,
        n_warps=None,
        n_iters=None,
        tau=None,
        lmbda=None,
        theta=None,
        zoom_factor=None,
        eps=None,
        texture=None,
        compensate_brightness=None,
        match_brightness=None,
        median_filter=None,
        preset=None,
        tol=None,
        interpolation=None,
        weights="DEFAULT",
        train=None,
        loss="energy",
        learning_rate=0.02,
        max_iter=300,
        validation_fraction=0.2,
        batch_size=8,
        crop_size=64,
        device="auto",
        random_state=None,
        verbose=0,
        n_jobs=None,
    ):
        self.n_scales = n_scales
        self.n_warps = n_warps
        self.n_iters = n_iters
        self.tau = tau
        self.lmbda = lmbda
        self.theta = theta
        self.zoom_factor = zoom_factor
        self.eps = eps
        self.texture = texture
        self.compensate_brightness = compensate_brightness
        self.match_brightness = match_brightness
        self.median_filter = median_filter
        self.preset = preset
        self.tol = tol
        self.interpolation = interpolation
        self.weights = weights
        self.train = train
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.crop_size = crop_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.target_tags.required = False
        # Videos (n_videos, T, H, W[, C]), not a table: scikit-learn's common checks then skip
        # every check that feeds one (all but check_estimator_cloneable).
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = False
        # Flows come back float32 whatever the frames' dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ network
    _max_grad_norm = 1.0

    def _make_network(self) -> TVNet:
        """The fitted network's shape, for unpickling and :meth:`load`: the structure that ran."""
        return TVNet(**self.config_, **parse_train(self.train))

    def _initialize(self):
        """Build the network from ``weights`` on ``device``, untrained: what :meth:`fit` starts
        from, and what :func:`sktvnet.load_pretrained` returns."""
        self._device = resolve_device(self.device)
        self.model_ = self._load_network().to(self._device)
        self.loss_curve_ = []
        self.validation_scores_ = []
        self.best_validation_score_ = None
        self.n_iter_ = 0
        self.n_pairs_seen_ = 0
        return self

    def _load_network(self) -> TVNet:
        """TVNet built from ``weights`` and the structure asked for, trainable in the parts of
        ``train``, on the CPU; sets ``weights_``, ``config_`` and ``structure_``. Also the flow
        stage of :class:`sktvnet.TVNetActionClassifier`."""
        loaded = pretrained.load_tvnet(
            self.weights, {key: getattr(self, key, None) for key in pretrained.CONFIG_KEYS},
            **parse_train(self.train))
        self.weights_ = loaded.weights
        self.config_ = loaded.config
        self.structure_ = pretrained.structure_name(loaded.config)
        return loaded.network

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build TVNet and, unless ``train=None``, train it on the frame pairs of ``X``.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths
            Training videos (T >= 2). A pair of frames is a video with T = 2.
        y : array of shape (n_videos, T-1, 2, H, W) or list of such arrays, optional
            Ground-truth flows, required by a loss that compares with them (``loss="epe"``)
            and ignored by one that does not (``loss="energy"``).

        Returns
        -------
        self : TVNetFlow
        """
        sources = _videos.check_videos(X)
        needs_target = losses.FLOW_LOSSES[self.loss].needs_target
        if needs_target and self.train is not None and y is None:
            raise ValueError(
                f"loss={self.loss!r} trains against ground-truth flows: pass them as y")
        self._initialize()
        if self.train is None:
            return self

        frames = [_videos.load_video(s, f"X[{i}]") for i, s in enumerate(sources)]
        flows = _videos.check_flows(y, frames) if needs_target else None
        self.n_pairs_seen_ = sum(len(f) - 1 for f in frames)
        self._train(frames, flows)
        return self

    # Validation scores along training: before the first step and after every tenth of them.
    _n_validations = 10

    def _train(self, frames, flows):
        generator = torch_generator(self.random_state)
        pairs = [(v, t) for v, video in enumerate(frames) for t in range(len(video) - 1)]
        train, validation = split_validation(len(pairs), self.validation_fraction, generator)
        # Pairs are grouped by frame size so that every minibatch stacks.
        groups = _videos.batches_by_size([pairs[i] for i in train],
                                         lambda pair: frames[pair[0]].shape[1:])
        weights = torch.tensor([len(group) for group in groups], dtype=torch.float64)
        self._validation = (frames, flows, [pairs[i] for i in validation])

        def batches(epoch):
            for _ in range(self.max_iter):
                group = groups[int(torch.multinomial(weights, 1, generator=generator))]
                picks = torch.randint(len(group), (min(self.batch_size, len(group)),),
                                      generator=generator)
                chosen = [group[i] for i in picks.tolist()]
                window = self._crop_window(frames[chosen[0][0]].shape[1:], generator)
                yield self._batch(frames, flows, chosen, window)

        try:
            self._fit_loop(1, self.max_iter, batches, n_validations=self._n_validations)
        finally:
            del self._validation
        self.n_iter_ = self.max_iter

    def _batch(self, frames, flows, pairs, window=(slice(None), slice(None))):
        """``(x0, x1, target)`` tensors of the ``(video, t)`` pairs cut to ``window``; target
        is None without flows."""
        x0 = self._to_tensor([frames[v][t][window] for v, t in pairs])
        x1 = self._to_tensor([frames[v][t + 1][window] for v, t in pairs])
        target = None
        if flows is not None:
            target = torch.from_numpy(np.stack(
                [flows[v][t][(slice(None),) + window] for v, t in pairs])).to(x0)
        return x0, x1, target

    def _validation_score(self) -> float | None:
        """None without validation pairs, else minus the mean ``loss`` of the validation pairs,
        on whole frames, batch by batch of pairs of one frame size."""
        frames, flows, pairs = self._validation
        if not pairs:
            return None
        total = 0.0
        for chosen in _videos.batches_by_size(pairs, lambda pair: frames[pair[0]].shape[1:],
                                              self.batch_size):
            loss, _ = self._compute_loss(self._batch(frames, flows, chosen))
            total += float(loss) * len(chosen)
        return -total / len(pairs)

    def _parameter_groups(self) -> list[dict]:
        return tvnet_parameter_groups(self.model_, self.learning_rate, PART_LR_RATIOS)

    def _compute_loss(self, batch):
        x0, x1, target = batch
        flow = self.model_(x0, x1)
        return losses.FLOW_LOSSES[self.loss].function(flow, x0, x1, target, **self.config_), {}

    def _crop_window(self, shape, generator):
        """Slices of one random ``crop_size`` square inside frames of ``shape`` (all if larger)."""
        window = []
        for side in shape:
            size = side if self.crop_size is None else min(self.crop_size, side)
            start = int(torch.randint(side - size + 1, (1,), generator=generator))
            window.append(slice(start, start + size))
        return tuple(window)

    def _to_tensor(self, frames: list) -> torch.Tensor:
        return torch.from_numpy(np.stack(frames)[:, None]).to(self._device)

    # ------------------------------------------------------------------ transform
    def _batched_flows(self, sources, names, done=None):
        """Yield, per video in order, its decoded frames and its flows (T-1, 2, H, W) float32.

        Pairs are batched ``batch_size`` at a time across consecutive videos of one frame size,
        so that many short videos (``(n, 2, H, W)``: n pairs) run at batch speed. Videos are
        decoded one at a time, and a video is held only until its last pair has run: beyond the
        input and the output, memory holds at most ``batch_size`` pairs' frames. Frames become
        float batch by batch, a run of consecutive pairs of one video at a time. ``done(n)``, if
        given, is called with the number of pairs of every batch once it has run (progress).
        """
        pending = []  # [video, flows, pairs not yet computed], oldest first
        runs = []  # (entry of pending, first pair, stop pair) of the next batch
        queued = 0

        def run_batch():
            frames = [_videos.as_frames(entry[0][start:stop + 1]) for entry, start, stop in runs]
            x0 = self._to_tensor([f for run in frames for f in run[:-1]])
            x1 = self._to_tensor([f for run in frames for f in run[1:]])
            flows = self.model_(x0, x1).float().cpu().numpy()
            if not np.isfinite(flows).all():  # bad weights (a NaN step size, an overflow)
                index = int(np.flatnonzero(~np.isfinite(flows).reshape(len(flows), -1)
                                           .all(axis=1))[0])
                for entry, start, stop in runs:
                    if index < stop - start:
                        raise ValueError(
                            f"the flow of pair {start + index} of {entry[3]} (frames "
                            f"{start + index} and {start + index + 1}) is not finite: the "
                            f"network's weights ({self.weights_ or 'none'}) give no usable "
                            "flow for it")
                    index -= stop - start
            if done is not None:
                done(len(flows))
            offset = 0
            for entry, start, stop in runs:
                entry[1][start:stop] = flows[offset:offset + stop - start]
                entry[2] -= stop - start
                offset += stop - start
            runs.clear()

        def finished():
            while pending and pending[0][2] == 0:
                video, flows, _, _ = pending.pop(0)
                yield video, flows

        # The call is one job for compiled="auto" when its size is known (arrays, not paths):
        # compile if the whole of it repays compiling.
        known = all(isinstance(s, np.ndarray) for s in sources)
        work = sum((len(s) - 1) * s.shape[1] * s.shape[2] for s in sources) if known else 0
        with torch.inference_mode(), (job_of(work) if known else contextlib.nullcontext()):
            for source, name in zip(sources, names):
                video = _videos.decode(source, name)
                if runs and runs[-1][0][0].shape[1:3] != video.shape[1:3]:
                    run_batch()
                    queued = 0
                    yield from finished()
                entry = [video, np.empty((len(video) - 1, 2) + video.shape[1:3], np.float32),
                         len(video) - 1, name]
                pending.append(entry)
                start = 0
                while start < len(video) - 1:
                    stop = min(len(video) - 1, start + self.batch_size - queued)
                    runs.append((entry, start, stop))
                    queued += stop - start
                    start = stop
                    if queued == self.batch_size:
                        run_batch()
                        queued = 0
                        yield from finished()
            if runs:
                run_batch()
            yield from finished()

    def _iter_flows(self, X, desc):
        """Yield, per video, its decoded frames and its flows (T-1, 2, H, W) float32.

        With ``n_jobs`` workers, each worker takes consecutive videos of about ``batch_size``
        pairs (arrays; a path is a task of its own, decoded in the worker) and batches them.
        """
        check_is_fitted(self)
        sources = _videos.check_videos(X)
        names = [f"X[{i}]" for i in range(len(sources))]
        self.model_.eval()
        # Pairs, not videos: one long video would show nothing for minutes, with a wrong ETA.
        # The total is known when no video is a path (decoded later).
        known = all(isinstance(s, np.ndarray) for s in sources)
        total = sum(len(s) - 1 for s in sources) if known else None
        n_jobs = joblib.effective_n_jobs(self.n_jobs)
        with _progress.progress(desc=desc, unit="pair", total=total,
                                disable=not self.verbose) as bar:
            if n_jobs == 1:  # counted batch by batch
                yield from self._batched_flows(sources, names, done=bar.update)
                return
            tasks = (joblib.delayed(_video_flows_in_worker)(self, sources[chunk], names[chunk],
                                                            worker_threads(n_jobs))
                     for chunk in self._worker_chunks(sources))
            for chunk in joblib.Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks):
                for video, flows in chunk:  # counted as the workers' chunks arrive
                    bar.update(len(flows))
                    yield video, flows

    def _worker_chunks(self, sources):
        """Slices of consecutive ``sources`` of about ``batch_size`` pairs each (a path alone)."""
        start, pairs = 0, 0
        for i, source in enumerate(sources):
            if isinstance(source, np.ndarray) and pairs + len(source) - 1 <= self.batch_size:
                pairs += len(source) - 1
                continue
            if i > start:
                yield slice(start, i)
            start, pairs = i, (len(source) - 1 if isinstance(source, np.ndarray)
                               else self.batch_size)
        yield slice(start, len(sources))

    def set_output(self, *, transform=None):
        """Accept a :func:`sklearn.set_config`-style output request, and keep NumPy flows.

        Flows are ``(n_videos, T-1, 2, H, W)`` arrays (or a list of them), not a table, so no
        container of ``transform`` (``"pandas"``, ``"polars"``) can hold them: this makes
        ``pipeline.set_output(transform="pandas")`` work on a pipeline holding a TVNetFlow,
        whose table-making steps (:class:`sktvnet.FlowHistogram`) then return that container.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            Accepted and ignored.

        Returns
        -------
        self : TVNetFlow
        """
        return self

    def transform(self, X):
        """Flow of every pair of consecutive frames.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths

        Returns
        -------
        flows : ndarray of shape (n_videos, T-1, 2, H, W), float32, or a list of
            ``(T_i-1, 2, H_i, W_i)`` arrays when the videos differ in length or size. Channel 0
            is u (horizontal), channel 1 is v (vertical), in pixels.
        """
        return _videos.stack_or_list([flow for _, flow in self._iter_flows(X, "TVNetFlow.transform")])

    def score(self, X, y=None):
        """Minus the mean loss of the flows: higher is better, so GridSearchCV needs no custom
        scorer.

        The loss is ``loss`` when it fits the data (it compares with ground truth if and only
        if ``y`` is given), else :data:`sktvnet.losses.SCORE_LOSSES`'s: minus the mean end-point
        error against ``y`` if given, else minus the mean TV-L1 energy (Eq. 1) of the flows.
        The end-point error is :func:`sktvnet.metrics.endpoint_error`'s: pixels whose ground
        truth is unknown (not finite, or beyond 1e9 as Middlebury marks it) are left out.
        Videos are processed batch by batch, as in :meth:`transform`, and the loss of every
        batch counts once per pair.
        """
        check_is_fitted(self)
        sources = _videos.check_videos(X)
        targets = None if y is None else _videos.check_flows(y, sources)
        loss = losses.FLOW_LOSSES[self.loss]
        if loss.needs_target != (y is not None):
            loss = losses.FLOW_LOSSES[losses.SCORE_LOSSES[y is not None]]
        total, count = 0.0, 0
        for i, (video, flow) in enumerate(self._iter_flows(sources, "TVNetFlow.score")):
            target = None
            if targets is not None:
                if targets[i].shape != flow.shape:
                    raise ValueError(f"y[{i}] must have shape {flow.shape}, got {targets[i].shape}")
                target = targets[i]
            total += self._loss_sum(loss, video, flow, target)
            count += len(flow)
        return -total / count

    def _loss_sum(self, loss, video, flow, target) -> float:
        """Sum over the pairs of ``video`` of ``loss`` (a :class:`sktvnet.losses.FlowLoss`) of
        their ``flow`` against ``target`` (None without ground truth); frames become float batch
        by batch, as in :meth:`transform`."""
        total = 0.0
        with torch.inference_mode():
            for start in range(0, len(flow), self.batch_size):
                stop = min(start + self.batch_size, len(flow))
                frames = _videos.as_frames(video[start:stop + 1])
                x0 = self._to_tensor(frames[:-1])
                x1 = self._to_tensor(frames[1:])
                truth = None if target is None else torch.from_numpy(target[start:stop]).to(x0)
                value = loss.function(torch.from_numpy(flow[start:stop]).to(x0), x0, x1, truth,
                                      **self.config_)
                total += float(value) * (stop - start)
        return total

    # ------------------------------------------------------------------ deployment
    def export(self, path: str | os.PathLike, *, frame_shape: tuple[int, int], channels: int = 1,
               batch_size: int | None = None, optimize: bool = True) -> Path:
        """Export the fitted network to ONNX (``.onnx``) or ``torch.export`` (``.pt2``).

        The graph takes ``image0`` and ``image1`` ``(B, C, H, W)`` float32 (any range: each pair
        is scaled inside, like :meth:`transform` does) and returns ``flow`` ``(B, 2, H, W)``,
        u then v in pixels, equal to what :meth:`transform` computes for those frames. The frame
        size is fixed to ``frame_shape``; the batch is dynamic unless ``batch_size`` is given.
        The stages' progress shows when the estimator's ``verbose`` is set. See
        :func:`sktvnet.export_tvnet` for the details and the errors on other sizes.

        Parameters
        ----------
        path : str or path-like
            Destination, ``.onnx`` or ``.pt2``.
        frame_shape : tuple of int (H, W)
            Size of the frames the graph accepts.
        channels : {1, 3}, default=1
            1 for grey frames, 3 for RGB (turned grey inside the graph).
        batch_size : int, optional
            Fixed batch size; ``None`` leaves it dynamic.
        optimize : bool, default=True
            Run the ONNX graph optimizer (a smaller, faster graph for some seconds more).

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        check_is_fitted(self)
        from ..export import export_tvnet

        return export_tvnet(self.model_, path, frame_shape=frame_shape, channels=channels,
                            batch_size=batch_size, optimize=optimize,
                            verbose=min(int(self.verbose), 1))


def _video_flows_in_worker(estimator, sources, names, threads):
    """Run in a joblib worker (process, thread or dask): bound the torch threads, then compute
    the videos ``sources`` in batches; returns their ``(video, flows)``."""
    torch.set_num_threads(threads)
    return list(estimator._batched_flows(sources, names))


def load_pretrained(name: str | None = None, **params) -> TVNetFlow:
    """A fitted :class:`sktvnet.TVNetFlow` holding the bundled weights ``name``.

    Parameters
    ----------
    name : str, optional
        A name of :data:`sktvnet.pretrained.WEIGHTS`; None (the default) is
        :data:`sktvnet.pretrained.RECOMMENDED`, what ``TVNetFlow()`` runs.
    **params
        Other parameters of the estimator (``device``, ``batch_size``, ``n_jobs``, ...); the
        structure and constants are the weights'.

    Returns
    -------
    estimator : sktvnet.TVNetFlow
        Ready to ``transform`` (it needs no ``fit``); ``fit`` trains on from the weights when
        ``train`` is set.

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet import load_pretrained
    >>> from sktvnet.pretrained import RECOMMENDED
    >>> flow = load_pretrained()
    >>> flow.weights == flow.weights_ == RECOMMENDED, flow.structure_
    (True, 'TVNet-8-2-15')
    >>> rng = np.random.default_rng(0)
    >>> flow.transform(rng.random((1, 2, 32, 32))).shape
    (1, 1, 2, 32, 32)
    """
    name = pretrained.RECOMMENDED if name is None else name
    if name not in pretrained.WEIGHTS:
        raise ValueError(f"no bundled weights are named {name!r}; the names are "
                         f"{', '.join(sorted(pretrained.WEIGHTS))}")
    fixed = set(params) & {*pretrained.CONFIG_KEYS, "weights"}
    if fixed:
        raise TypeError(f"load_pretrained sets {', '.join(sorted(fixed))} from the weights; "
                        "build TVNetFlow(weights=...) yourself to change the structure")
    return TVNetFlow(weights=name, **params)._initialize()
