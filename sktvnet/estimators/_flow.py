"""TVNetFlow: videos in, TVNet flow features out, optionally trained (Fan et al. 2018, Table 1)."""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .. import losses, metrics
from ..network import TVNet
from . import _videos
from ._base import TorchStateMixin, resolve_device, torch_generator, worker_threads
from ._training import (PART_PARAMETERS, TVNET_CONSTRAINTS, TrainingMixin, build_tvnet,
                        tvnet_parameter_groups)


class TVNetFlow(TrainingMixin, TorchStateMixin, TransformerMixin, BaseEstimator):
    """Optical-flow features of videos computed by TVNet, frozen or trained.

    Every pair of consecutive frames of a video goes through TVNet, the TV-L1 solver unrolled into
    a network (Fan et al. 2018, Section 4.1). Frozen (``train=None``) it is TV-L1; trained, its
    initial flow u0 and its difference filters adapt to the data (Section 4.2), either without
    labels by minimising the TV-L1 energy (``loss="energy"``, Eq. 1) or against ground-truth flows
    (``loss="epe"``).

    Parameters
    ----------
    n_scales : int, default=1
        Pyramid levels (capped per input so the coarsest keeps a diagonal of ~16 px).
    n_warps : int, default=1
        Warps per level.
    n_iters : int, default=50
        Unrolled TV-L1 iterations per warp (TVNet-1-1-50 by default, the paper's TVNet-50).
    tau : float, default=0.25
        Time step of the dual update, tau in Eq. 12.
    lmbda : float, default=0.15
        Weight of the data term, lambda in Eq. 1.
    theta : float, default=0.3
        Tightness of the coupling, theta in Eq. 2.
    zoom_factor : float, default=0.5
        Size ratio between pyramid levels.
    eps : float, default=1e-10
        Soft non-zero constant of the divisions in Eq. 11-12.
    train : {None, "u0", "filters", "all"}, default=None
        What :meth:`fit` trains: nothing (TV-L1), the initial flow u0, the difference filters of
        every iteration (Eq. 7-9, the centred-gradient filters included), or both.
    loss : {"energy", "epe"}, default="energy"
        Training loss: the TV-L1 energy of the output flow (Eq. 1, unsupervised, y ignored) or the
        mean end-point error against ground-truth flows ``y``.
    learning_rate : float, default=0.02
        Initial Adam learning rate, decayed to zero over the steps (cosine); gradients are clipped
        to norm 1.
    max_iter : int, default=300
        Number of optimisation steps (minibatches), all on one cosine schedule.
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
        Progress bars over training steps (``verbose >= 1``) and over videos in transform.
    n_jobs : int or None, default=None
        Videos processed in parallel by :meth:`transform` and :meth:`score`, through joblib:
        ``None`` means 1 unless inside a ``joblib.parallel_backend`` context (for instance
        ``"dask"`` on a ``dask.distributed`` cluster), ``-1`` all cores. Each worker uses its
        own device and ``cores / n_jobs`` torch threads. Outputs equal the sequential ones.

    Attributes
    ----------
    model_ : sktvnet.TVNet
        The fitted network.
    loss_curve_ : list of float
        Training loss at every step (empty when ``train=None``).
    n_iter_ : int
        Optimisation steps run: ``max_iter``, or 0 when ``train=None``.
    n_pairs_seen_ : int
        Number of frame pairs in the training data.

    See Also
    --------
    sktvnet.TVNet : The network itself.
    sktvnet.tvl1_optical_flow : The NumPy reference TV-L1.

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
    >>> flows = TVNetFlow(n_iters=10).fit_transform(videos)
    >>> flows.shape  # (n_videos, T - 1, 2, H, W)
    (2, 2, 2, 32, 32)
    """

    _parameter_constraints: dict = {
        **TVNET_CONSTRAINTS,
        "loss": [StrOptions({"energy", "epe"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "crop_size": [Interval(Integral, 4, None, closed="left"), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        n_scales=1,
        n_warps=1,
        n_iters=50,
        tau=0.25,
        lmbda=0.15,
        theta=0.3,
        zoom_factor=0.5,
        eps=1e-10,
        train=None,
        loss="energy",
        learning_rate=0.02,
        max_iter=300,
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
        self.train = train
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
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
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ network
    _max_grad_norm = 1.0

    def _make_network(self) -> TVNet:
        return build_tvnet(self)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build TVNet and, unless ``train=None``, train it on the frame pairs of ``X``.

        Parameters
        ----------
        X : array of shape (n_videos, T, H, W[, C]), list of videos or list of video paths
            Training videos (T >= 2). A pair of frames is a video with T = 2.
        y : array of shape (n_videos, T-1, 2, H, W) or list of such arrays, optional
            Ground-truth flows, required by ``loss="epe"`` and ignored by ``loss="energy"``.

        Returns
        -------
        self : TVNetFlow
        """
        sources = _videos.check_videos(X)
        if self.loss == "epe" and self.train is not None and y is None:
            raise ValueError("loss='epe' trains against ground-truth flows: pass them as y")
        self._device = resolve_device(self.device)
        self.model_ = self._make_network().to(self._device)
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.n_pairs_seen_ = 0
        if self.train is None:
            return self

        frames = [_videos.load_video(s, f"X[{i}]") for i, s in enumerate(sources)]
        flows = None
        if self.loss == "epe":
            flows = _videos.check_flows(y, frames)
        self.n_pairs_seen_ = sum(len(f) - 1 for f in frames)
        self._train(frames, flows)
        return self

    def _train(self, frames, flows):
        generator = torch_generator(self.random_state)
        # Pairs are grouped by frame size so that every minibatch stacks.
        groups: dict[tuple, list] = {}
        for v, video in enumerate(frames):
            groups.setdefault(video.shape[1:], []).extend((v, t) for t in range(len(video) - 1))
        keys = list(groups)
        weights = torch.tensor([len(groups[k]) for k in keys], dtype=torch.float64)

        def batches(epoch):
            for _ in range(self.max_iter):
                group = groups[keys[int(torch.multinomial(weights, 1, generator=generator))]]
                picks = torch.randint(len(group), (min(self.batch_size, len(group)),),
                                      generator=generator)
                pairs = [group[i] for i in picks.tolist()]
                window = self._crop_window(frames[pairs[0][0]].shape[1:], generator)
                x0 = self._to_tensor([frames[v][t][window] for v, t in pairs])
                x1 = self._to_tensor([frames[v][t + 1][window] for v, t in pairs])
                target = None
                if flows is not None:
                    target = torch.from_numpy(np.stack(
                        [flows[v][t][(slice(None),) + window] for v, t in pairs])).to(x0)
                yield x0, x1, target

        self._fit_loop(1, self.max_iter, batches)
        self.n_iter_ = self.max_iter

    def _parameter_groups(self) -> list[dict]:
        return tvnet_parameter_groups(self.model_, dict.fromkeys(PART_PARAMETERS,
                                                                 self.learning_rate))

    def _compute_loss(self, batch):
        x0, x1, target = batch
        flow = self.model_(x0, x1)
        if target is None:
            return losses.tvl1_energy(flow, x0, x1, lmbda=self.lmbda, eps=self.eps), {}
        return losses.endpoint_error(flow, target), {}

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
    def _video_flows(self, source, name):
        """One video as decoded (T, H, W[, 3]) and its flows (T-1, 2, H, W) float32.

        Frames become float only batch by batch, so that the memory beyond the input and the
        output does not grow with the length of the video.
        """
        video = _videos.decode(source, name)
        out = np.empty((len(video) - 1, 2) + video.shape[1:3], dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(video) - 1, self.batch_size):
                stop = min(start + self.batch_size, len(video) - 1)
                frames = _videos.as_frames(video[start:stop + 1])
                x0 = self._to_tensor(frames[:-1])
                x1 = self._to_tensor(frames[1:])
                out[start:stop] = self.model_(x0, x1).float().cpu().numpy()
        return video, out

    def _iter_flows(self, X, desc):
        """Yield, per video, its decoded frames and its flows (T-1, 2, H, W) float32."""
        check_is_fitted(self)
        sources = _videos.check_videos(X)
        self.model_.eval()
        progress = dict(desc=desc, unit="video", total=len(sources), disable=not self.verbose)
        n_jobs = joblib.effective_n_jobs(self.n_jobs)
        if n_jobs == 1:
            for i, source in enumerate(tqdm(sources, **progress)):
                yield self._video_flows(source, f"X[{i}]")
            return
        tasks = (joblib.delayed(_video_flows_in_worker)(self, s, f"X[{i}]", worker_threads(n_jobs))
                 for i, s in enumerate(sources))
        results = joblib.Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)
        yield from tqdm(results, **progress)

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
        """Minus the mean end-point error against ``y`` if given, else minus the mean TV-L1
        energy (Eq. 1) of the flows: higher is better, so GridSearchCV needs no custom scorer.

        The end-point error is :func:`sktvnet.metrics.endpoint_error`'s: pixels whose
        ground truth is unknown (not finite, or beyond 1e9 as Middlebury marks it) are left out.
        Videos are processed batch by batch, as in :meth:`transform`, in both cases.
        """
        check_is_fitted(self)
        sources = _videos.check_videos(X)
        targets = None if y is None else _videos.check_flows(y, sources)
        total, count = 0.0, 0
        for i, (video, flow) in enumerate(self._iter_flows(sources, "TVNetFlow.score")):
            if targets is None:
                total += self._energy(video, flow)
            else:
                if targets[i].shape != flow.shape:
                    raise ValueError(f"y[{i}] must have shape {flow.shape}, got {targets[i].shape}")
                total += metrics.endpoint_error(flow, targets[i]) * len(flow)
            count += len(flow)
        return -total / count

    def _energy(self, video, flow) -> float:
        """Sum over the pairs of ``video`` of the TV-L1 energy of their ``flow``; frames become
        float batch by batch, as in :meth:`transform`."""
        total = 0.0
        with torch.inference_mode():
            for start in range(0, len(flow), self.batch_size):
                stop = min(start + self.batch_size, len(flow))
                frames = _videos.as_frames(video[start:stop + 1])
                x0 = self._to_tensor(frames[:-1])
                x1 = self._to_tensor(frames[1:])
                value = losses.tvl1_energy(torch.from_numpy(flow[start:stop]).to(x0), x0, x1,
                                           lmbda=self.lmbda, eps=self.eps)
                total += float(value) * (stop - start)
        return total

    # ------------------------------------------------------------------ deployment
    def export(self, path: str | os.PathLike, *, frame_shape: tuple[int, int], channels: int = 1,
               batch_size: int | None = None) -> Path:
        """Export the fitted network to ONNX (``.onnx``) or ``torch.export`` (``.pt2``).

        The graph takes ``frame0`` and ``frame1`` ``(B, C, H, W)`` float32 (any range: each pair
        is scaled inside, like :meth:`transform` does) and returns ``flow`` ``(B, 2, H, W)``,
        u then v in pixels, equal to what :meth:`transform` computes for those frames. The frame
        size is fixed to ``frame_shape``; the batch is dynamic unless ``batch_size`` is given.
        See :func:`sktvnet.export_tvnet` for the details and the errors on other sizes.

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

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        check_is_fitted(self)
        from ..export import export_tvnet

        return export_tvnet(self.model_, path, frame_shape=frame_shape, channels=channels,
                            batch_size=batch_size)


def _video_flows_in_worker(estimator, source, name, threads):
    """Run in a joblib worker (process, thread or dask): bound the torch threads, then compute."""
    torch.set_num_threads(threads)
    return estimator._video_flows(source, name)
