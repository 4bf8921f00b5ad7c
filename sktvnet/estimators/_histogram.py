"""FlowHistogram: flows in, a 2-D feature table out (histograms of optical flow, HOF).

Pure NumPy: the flows usually come from :class:`sktvnet.TVNetFlow`, but this transformer itself
never touches torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

STATISTICS = ("hof", "mean", "magnitude")
# Pixels per chunk of pairs: bounds the temporary index and weight arrays (a few tens of MB)
# whatever the length of the video.
_CHUNK_PIXELS = 1 << 20


class FlowHistogram(TransformerMixin, BaseEstimator):
    """Histograms of optical flow (HOF) and flow statistics over a space-time grid.

    Turns the flows of each video, as :meth:`sktvnet.TVNetFlow.transform` returns them, into one
    row of features, so that any scikit-learn estimator can follow in a pipeline. The frames are
    split into a ``grid`` of cells and the video's frame pairs into ``n_segments`` temporal
    segments, as in the HOF descriptors of Dalal et al. [1]_ and Laptev et al. [2]_. For every
    segment and cell the transformer computes:

    - ``"hof"``: a histogram of the flow's orientation with ``n_bins`` bins, each pixel voting
      with its magnitude, plus one bin for near-zero motion, normalised by ``norm``;
    - ``"mean"``: the mean horizontal and vertical flow (u, v), in pixels;
    - ``"magnitude"``: the mean and the standard deviation of the flow's magnitude, in pixels.

    **Orientation.** A pixel's flow ``w = (u, v)`` has magnitude ``|w| = sqrt(u^2 + v^2)`` and
    orientation ``phi = atan2(v, u)``. In image coordinates v points *down*: ``phi = 0`` is motion
    to the right, 90 degrees is motion down, 180 degrees left and -90 degrees up (angles grow
    clockwise on screen). Bin ``k`` is centred on ``phi_k = 360 k / n_bins`` degrees, so bin 0
    holds motion to the right and, with 8 bins, bin 2 motion down.

    **Votes.** A pixel with ``|w| >= zero_threshold`` is moving: with ``binning="soft"`` it splits
    its magnitude between the two bins whose centres surround ``phi``, linearly in the angle
    (a flow at 45 degrees with 4 bins gives half of ``|w|`` to bin 0, right, and half to bin 1,
    down; with 8 bins it falls on the centre of bin 1 and gives it all); with ``binning="hard"`` it
    gives its whole magnitude to the nearest centre (a tie goes to the higher bin, the next one
    clockwise). A pixel with ``|w| < zero_threshold`` is still and votes ``zero_threshold`` into
    the zero bin: it counts as if it moved by the smallest motion deemed real, so all votes are in
    pixels and scaling the flows and the threshold together scales the whole histogram. Before
    ``norm``, a cell's histogram is the mean vote over its pixels and pairs (pixels per pixel, so
    the cell's size does not matter); the sum of its bins is the mean of ``max(|w|,
    zero_threshold)``.

    **Cells and segments.** Cells are assigned by relative position, so frames of any size (at
    least ``grid`` pixels) give the same features: row ``r`` of an ``H``-row frame is in cell row
    ``floor(r * grid[0] / H)``, and likewise for columns. Time is relative too: pair ``t`` of a
    video with ``P`` pairs covers the interval ``[t/P, (t+1)/P)`` of its length, segment ``s``
    covers ``[s/S, (s+1)/S)`` with ``S = n_segments``, and a segment averages the pairs it
    overlaps, each weighted by the length of the overlap. When ``P`` is a multiple of ``S`` this
    is the even split (segment ``s`` averages pairs ``s P/S`` to ``(s+1) P/S - 1``). No segment is
    ever empty: a video with fewer pairs than segments gives each segment the pair (or pairs) it
    falls within, so a one-pair video repeats that pair's features in every segment.

    Parameters
    ----------
    n_bins : int, default=8
        Orientation bins of the histogram (the zero bin is one more).
    grid : (int, int), default=(2, 2)
        Cells per frame, rows then columns.
    n_segments : int, default=1
        Temporal segments per video.
    zero_threshold : float, default=0.25
        Magnitude, in pixels, below which a pixel counts as still (the zero bin). Must be > 0.
    binning : {"soft", "hard"}, default="soft"
        Linear interpolation of each vote between the two nearest orientation bins, or all of it
        to the nearest one.
    norm : {"l1", "l2"} or None, default="l1"
        Normalisation of each cell's histogram (its ``n_bins + 1`` values, per segment) to unit
        L1 or L2 norm, as HOF normalises its blocks; ``None`` keeps the mean votes in pixels. The
        ``"mean"`` and ``"magnitude"`` statistics are never normalised.
    statistics : tuple of {"hof", "mean", "magnitude"}, default=("hof", "mean", "magnitude")
        Which features to compute. Whatever their order here, the columns come in the order
        ``hof``, ``mean``, ``magnitude``; within each, by segment, cell row, cell column.
    camera_motion : {"keep", "subtract", "both"}, default="keep"
        Which flow the features describe: the flow as it is (``"keep"``), the flow minus the
        median of its u and of its v in each pair (``"subtract"``: the dominant motion, the
        camera's where the background fills most of the frame, removed as improved dense
        trajectories do), or both, the compensated features after the others (named
        ``compensated_...``), as :class:`sktvnet.TVNetActionClassifier`'s ``camera_motion``.
        There is no brightness option: the histogram takes flows, not frames, and a change of
        brightness is kept from reading as motion where the flow is computed.
        :class:`sktvnet.TVNetFlow`'s recommended model matches each pair's brightness first
        (``match_brightness``, on by default); ``texture`` and ``compensate_brightness`` are
        the alternatives.

    Attributes
    ----------
    n_features_out_ : int
        Number of output columns, ``n_segments * grid[0] * grid[1] * k`` with ``k`` the sum of
        ``n_bins + 1`` (hof), 2 (mean) and 2 (magnitude) over the chosen statistics.

    See Also
    --------
    sktvnet.TVNetFlow : Computes the flows that this transformer summarises.
    sktvnet.datasets.load_rawframes_folder : Flows stored once (``sktvnet extract``), as (X, y).
    sklearn.preprocessing.StandardScaler : Puts the pixel-valued statistics on one scale.

    Notes
    -----
    Input: the 5-D array ``(n_videos, T-1, 2, H, W)`` or a list of ``(T_i-1, 2, H_i, W_i)``
    arrays, channel 0 being u (horizontal, pixels) and channel 1 v (vertical, down, pixels).
    NaN or infinite flows are rejected. Output: ``(n_videos, n_features_out_)`` float32. The
    computation is in float64, chunk by chunk of pairs, so memory does not grow with the length
    of a video.

    References
    ----------
    .. [1] N. Dalal, B. Triggs, C. Schmid, "Human detection using oriented histograms of flow and
       appearance", ECCV 2006. :doi:`10.1007/11744047_33`
    .. [2] I. Laptev, M. Marszalek, C. Schmid, B. Rozenfeld, "Learning realistic human actions
       from movies", CVPR 2008. :doi:`10.1109/CVPR.2008.4587756`

    Examples
    --------
    >>> import numpy as np
    >>> from sktvnet import FlowHistogram
    >>> flows = np.zeros((3, 4, 2, 16, 16), dtype=np.float32)  # 3 videos, 4 pairs each
    >>> flows[:, :, 0] = 1.0                                      # everything moves right
    >>> hof = FlowHistogram(n_bins=4, grid=(1, 1), statistics=("hof",))
    >>> hof.fit_transform(flows)
    array([[1., 0., 0., 0., 0.],
           [1., 0., 0., 0., 0.],
           [1., 0., 0., 0., 0.]], dtype=float32)
    >>> hof.get_feature_names_out()[[0, 4]]
    array(['hof_t0_y0_x0_bin0', 'hof_t0_y0_x0_zero'], dtype=object)
    """

    _parameter_constraints: dict = {
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "grid": [tuple, list],
        "n_segments": [Interval(Integral, 1, None, closed="left")],
        "zero_threshold": [Interval(Real, 0, None, closed="neither")],
        "binning": [StrOptions({"soft", "hard"})],
        "norm": [StrOptions({"l1", "l2"}), None],
        "statistics": [tuple, list],
        "camera_motion": [StrOptions({"keep", "subtract", "both"})],
    }

    def __init__(
        self,
        *,
        n_bins=8,
        grid=(2, 2),
        n_segments=1,
        zero_threshold=0.25,
        binning="soft",
        norm="l1",
        statistics=STATISTICS,
        camera_motion="keep",
    ):
        self.n_bins = n_bins
        self.grid = grid
        self.n_segments = n_segments
        self.zero_threshold = zero_threshold
        self.binning = binning
        self.norm = norm
        self.statistics = statistics
        self.camera_motion = camera_motion

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Samples are videos of flows, not rows of a 2-D table.
        tags.input_tags.two_d_array = False
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------------ parameters
    def _check_grid(self) -> tuple[int, int]:
        grid = tuple(self.grid)
        if len(grid) != 2 or not all(isinstance(g, Integral) and not isinstance(g, bool) and g >= 1
                                     for g in grid):
            raise ValueError(
                f"grid must be two positive integers (rows, columns), got {self.grid!r}; "
                "for instance grid=(2, 2)"
            )
        return int(grid[0]), int(grid[1])

    def _check_statistics(self) -> tuple[str, ...]:
        chosen = tuple(self.statistics)
        unknown = [s for s in chosen if s not in STATISTICS]
        if not chosen or unknown or len(set(chosen)) != len(chosen):
            raise ValueError(
                f"statistics must be a non-empty tuple of distinct names among {STATISTICS}, "
                f"got {self.statistics!r}"
            )
        return tuple(s for s in STATISTICS if s in chosen)

    # ------------------------------------------------------------------ API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the flows; nothing is learned from the data.

        Parameters
        ----------
        X : array of shape (n_videos, T-1, 2, H, W) or list of (T_i-1, 2, H_i, W_i) arrays
            Flows, u then v, in pixels.
        y : None
            Ignored.

        Returns
        -------
        self : FlowHistogram
        """
        grid = self._check_grid()
        self._check_statistics()
        _check_flows(X, grid)
        self.n_features_out_ = len(self._feature_names())
        return self

    def transform(self, X):
        """Features of every video.

        Parameters
        ----------
        X : array of shape (n_videos, T-1, 2, H, W) or list of (T_i-1, 2, H_i, W_i) arrays
            Flows, u (horizontal) then v (vertical, down), in pixels.

        Returns
        -------
        features : ndarray of shape (n_videos, n_features), float32
            ``n_features = n_features_out_`` columns, named by :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        grid = self._check_grid()
        statistics = self._check_statistics()
        flows = _check_flows(X, grid)
        rows = []
        for flow in flows:
            views = []
            if self.camera_motion != "subtract":
                views.append(self._video_features(flow, grid, statistics))
            if self.camera_motion != "keep":
                median = np.median(flow.reshape(*flow.shape[:2], -1), axis=-1)
                views.append(self._video_features(flow - median[..., None, None], grid,
                                                  statistics))
            rows.append(np.concatenate(views))
        return np.stack(rows).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : None
            Ignored: the input is flows, not named columns (present for scikit-learn's API).

        Returns
        -------
        names : ndarray of str objects
            ``hof_t{s}_y{i}_x{j}_bin{k}`` and ``hof_t{s}_y{i}_x{j}_zero``, then
            ``mean_u_...``, ``mean_v_...``, then ``magnitude_mean_...``, ``magnitude_std_...``,
            for segment ``s``, cell row ``i`` (top first) and cell column ``j`` (left first).
        """
        check_is_fitted(self)
        return np.asarray(self._feature_names(), dtype=object)

    def _feature_names(self) -> list[str]:
        rows, cols = self._check_grid()
        cells = [f"t{s}_y{i}_x{j}" for s in range(self.n_segments)
                 for i in range(rows) for j in range(cols)]
        per_cell = {
            "hof": [f"hof_{{}}_bin{k}" for k in range(self.n_bins)] + ["hof_{}_zero"],
            "mean": ["mean_u_{}", "mean_v_{}"],
            "magnitude": ["magnitude_mean_{}", "magnitude_std_{}"],
        }
        names = [name.format(cell) for stat in self._check_statistics()
                 for cell in cells for name in per_cell[stat]]
        if self.camera_motion == "both":
            names += [f"compensated_{name}" for name in names]
        return names

    # ------------------------------------------------------------------ computation
    def _video_features(self, flow: np.ndarray, grid: tuple[int, int], statistics) -> np.ndarray:
        """One row of features from one video's flows ``(P, 2, H, W)``."""
        n_pairs, _, height, width = flow.shape
        n_cells = grid[0] * grid[1]
        n_hist = self.n_bins + 1
        # Cell of every pixel by relative position: row r -> floor(r * rows / H).
        cell_rows = np.arange(height) * grid[0] // height
        cell_cols = np.arange(width) * grid[1] // width
        cell = (cell_rows[:, None] * grid[1] + cell_cols[None, :]).ravel()
        pixels_per_cell = np.bincount(cell, minlength=n_cells).astype(np.float64)

        # Per pair and cell: the histogram votes and the sums of u, v, |w|, |w|^2.
        hist = np.empty((n_pairs, n_cells, n_hist))
        moments = np.empty((n_pairs, n_cells, 4))
        chunk = max(1, _CHUNK_PIXELS // (height * width))
        for start in range(0, n_pairs, chunk):
            part = flow[start:start + chunk].astype(np.float64).reshape(-1, 2, height * width)
            hist[start:start + len(part)], moments[start:start + len(part)] = self._pair_sums(
                part, cell, n_cells)
        hist /= pixels_per_cell[:, None]
        moments /= pixels_per_cell[:, None]

        # Segments average the pairs they overlap in relative time.
        weights = _segment_weights(n_pairs, self.n_segments)
        hist = np.tensordot(weights, hist, axes=1)
        moments = np.tensordot(weights, moments, axes=1)

        blocks = []
        if "hof" in statistics:
            blocks.append(_normalise(hist, self.norm))
        if "mean" in statistics:
            blocks.append(moments[..., :2])
        if "magnitude" in statistics:
            mean = moments[..., 2]
            std = np.sqrt(np.maximum(moments[..., 3] - mean**2, 0.0))
            blocks.append(np.stack([mean, std], axis=-1))
        return np.concatenate([b.reshape(-1) for b in blocks])

    def _pair_sums(self, part: np.ndarray, cell: np.ndarray, n_cells: int):
        """Sums per pair and cell of a chunk of pairs ``(p, 2, H*W)`` (float64): the histogram
        votes ``(p, n_cells, n_bins + 1)`` and u, v, |w|, |w|^2 ``(p, n_cells, 4)``."""
        n_bins, n_hist = self.n_bins, self.n_bins + 1
        n_part = len(part)
        u, v = part[:, 0], part[:, 1]
        magnitude = np.hypot(u, v)
        moving = magnitude >= self.zero_threshold
        # Orientation in units of bins, in [0, n_bins): bin k is centred on k. Dividing by the
        # bin width (2 pi / n_bins, exact for powers of 2) puts 45 degrees exactly on 1 of 8.
        position = np.mod(np.arctan2(v, u) / (2 * np.pi / n_bins), n_bins)
        slot = (np.arange(n_part)[:, None] * n_cells + cell[None, :])  # (p, H*W)
        size = n_part * n_cells * n_hist
        if self.binning == "soft":
            lower = np.floor(position)
            upper_share = position - lower
            lower = lower.astype(np.intp) % n_bins
            upper = (lower + 1) % n_bins
        else:
            # floor(x + 0.5): a tie goes to the higher bin.
            lower = np.floor(position + 0.5).astype(np.intp) % n_bins
            upper, upper_share = lower, np.zeros_like(position)
        first_bin = np.where(moving, lower, n_bins)
        first_vote = np.where(moving, magnitude * (1.0 - upper_share), self.zero_threshold)
        second_vote = np.where(moving, magnitude * upper_share, 0.0)
        hist = (np.bincount((slot * n_hist + first_bin).ravel(), first_vote.ravel(), size)
                + np.bincount((slot * n_hist + upper).ravel(), second_vote.ravel(), size))
        sums = [np.bincount(slot.ravel(), q.ravel(), n_part * n_cells)
                for q in (u, v, magnitude, magnitude**2)]
        return hist.reshape(n_part, n_cells, n_hist), np.stack(sums, -1).reshape(n_part, n_cells, 4)


def _segment_weights(n_pairs: int, n_segments: int) -> np.ndarray:
    """Weights ``(n_segments, n_pairs)``, rows summing to 1: the overlap of segment s,
    ``[s/S, (s+1)/S)``, with pair t, ``[t/P, (t+1)/P)``, in integer units of ``1/(P S)`` so
    that boundaries that coincide give exactly zero overlap."""
    t = np.arange(n_pairs)
    s = np.arange(n_segments)[:, None]
    overlap = np.clip(np.minimum((t + 1) * n_segments, (s + 1) * n_pairs)
                      - np.maximum(t * n_segments, s * n_pairs), 0, None).astype(np.float64)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _normalise(hist: np.ndarray, norm: str | None) -> np.ndarray:
    """Each histogram (last axis) to unit L1 or L2 norm; every pixel votes > 0, so no norm is
    zero, but the floor keeps a subnormal one from overflowing."""
    if norm is None:
        return hist
    size = hist.sum(-1, keepdims=True) if norm == "l1" else np.sqrt((hist**2).sum(-1, keepdims=True))
    return hist / np.maximum(size, np.finfo(np.float64).tiny)


def _check_flows(X, grid: tuple[int, int]) -> list[np.ndarray]:
    """X as a list of per-video flows ``(P, 2, H, W)``, checked (shape, type, finiteness)."""
    expected = ("X must be flows: an array (n_videos, T-1, 2, H, W) or a list of (T_i-1, 2, H_i, "
                "W_i) arrays, as TVNetFlow.transform returns them")
    if isinstance(X, np.ndarray) or (hasattr(X, "__array__") and not isinstance(X, Sequence)):
        X = np.asarray(X)
        if X.ndim != 5:
            hint = (" (one video's flows? wrap it in a list)" if X.ndim == 4 else
                    " (a 2-D table is not flow: put TVNetFlow before FlowHistogram)"
                    if X.ndim == 2 else "")
            raise ValueError(f"{expected}; got an array of shape {X.shape}{hint}")
        videos = list(X)
    elif isinstance(X, Sequence) and not isinstance(X, (str, bytes)):
        videos = list(X)
    else:
        raise TypeError(f"{expected}; got {type(X).__name__}")
    if not videos:
        raise ValueError(f"{expected}; got no video (empty input)")
    return [_check_video_flow(v, f"X[{i}]", grid) for i, v in enumerate(videos)]


def _check_video_flow(flow, name: str, grid: tuple[int, int]) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.dtype == object or flow.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (float flows), got dtype {flow.dtype}")
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"{name} must be the flows of one video, shape (T-1, 2, H, W) with the 2 channels "
            f"u, v on axis 1; got shape {flow.shape}"
        )
    if flow.shape[0] < 1:
        raise ValueError(f"{name} holds no flow (0 pairs): a video needs at least 2 frames")
    if flow.shape[2] < grid[0] or flow.shape[3] < grid[1]:
        raise ValueError(
            f"{name} frames of {flow.shape[2]}x{flow.shape[3]} pixels cannot be split into "
            f"grid={grid} cells; use a smaller grid"
        )
    if flow.dtype.kind == "f" and not np.isfinite(flow).all():
        raise ValueError(f"{name} contains NaN or infinite values; flows must be finite")
    return flow
