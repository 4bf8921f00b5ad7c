"""Tests of the TVNetFlow transformer: scikit-learn citizenship, training, persistence."""

import pickle
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from _checks import assert_video_tags, expected_failures, table_tagged
from scipy import ndimage
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktvnet import TVNetFlow, losses, tvl1_optical_flow
from sktvnet.estimators import _videos
from sktvnet.metrics import endpoint_error

SMALL = dict(n_iters=5, max_iter=3, batch_size=2)


def _texture(rng, shape):
    return ndimage.gaussian_filter(rng.random(shape), 1.5)


def make_pairs(n, shape=(24, 28), seed=0, shift_range=2.0):
    """Pairs (n, 2, H, W) with a known constant translation each, and their flows (n, 1, 2, H, W)."""
    rng = np.random.default_rng(seed)
    videos, flows = [], []
    for _ in range(n):
        image1 = _texture(rng, shape)
        u, v = rng.uniform(-shift_range, shift_range, 2)
        image0 = ndimage.shift(image1, (-v, -u), order=3, mode="nearest")
        videos.append(np.stack([image0, image1]).astype(np.float32))
        flows.append(np.broadcast_to(np.array([u, v], np.float32)[None, :, None, None],
                                     (1, 2) + shape).copy())
    return np.stack(videos), np.stack(flows)


# ------------------------------------------------------------------ scikit-learn common checks
# The true tags say videos, and scikit-learn then runs only check_estimator_cloneable; the other
# checks run on a subclass that claims 2-D input, with the table-fed ones as expected failures
# (tests/_checks.py gives the reason of each).
def test_true_tags_say_videos_and_sklearn_runs_only_the_clone_check():
    assert_video_tags(TVNetFlow(weights=None, n_iters=2))


@parametrize_with_checks([table_tagged(TVNetFlow)(weights=None, n_iters=2)],
                         expected_failed_checks=lambda est: expected_failures("transformer"),
                         xfail_strict=True)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ behaviour
def test_verbose_reports_fit_transform_and_score_in_lines_off_a_terminal(capsys):
    X, _ = make_pairs(3)  # capsys's stderr is not a terminal: lines, not redrawn bars
    flow = TVNetFlow(weights=None, **SMALL, train="u0", verbose=1, random_state=0).fit(X)
    assert capsys.readouterr().err.startswith("TVNetFlow.fit: 3/3 steps (100%), ")
    flow.transform(X)
    assert capsys.readouterr().err.startswith("TVNetFlow.transform: 3/3 pairs (100%), ")
    flow.score(X)
    assert capsys.readouterr().err.startswith("TVNetFlow.score: 3/3 pairs (100%), ")


def test_progress_counts_pairs_not_videos(capsys, monkeypatch):
    """One long video is many pairs: a line per batch of them, with a rate and an ETA."""
    monkeypatch.setenv("SKTVNET_PROGRESS_INTERVAL", "0")
    video = np.random.default_rng(0).random((1, 7, 16, 16)).astype(np.float32)
    TVNetFlow(weights=None, **SMALL, verbose=1).fit(video).transform(video)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "TVNetFlow.transform: 2/6 pairs (33%)", "TVNetFlow.transform: 4/6 pairs (67%)",
        "TVNetFlow.transform: 6/6 pairs (100%)"]
    assert all("pairs/s" in line and "ETA" in line for line in lines)


@pytest.mark.parametrize("n_frames, compiles", [(5, False), (9, True)])
def test_transform_weighs_compiling_against_the_whole_video(monkeypatch, compile_policy,
                                                            n_frames, compiles):
    """One video is one job for compiled="auto": its first batch already knows the whole work."""
    from sktvnet import network

    calls = []
    monkeypatch.setenv(network.COMPILE_ENV_VAR, "1")
    monkeypatch.setattr(torch, "compile", lambda fn, **options: calls.append(options) or fn)
    # 24x28 frames, TVNet-1-1-5: 3360 pixel-iterations a pair; 6 pairs or more repay compiling.
    policy = compile_policy(min_work=6 * 3360, options={"dynamic": True})
    video = np.random.default_rng(0).random((1, n_frames, 24, 28)).astype(np.float32)
    TVNetFlow(weights=None, n_scales=1, n_iters=5, batch_size=2).fit(video).transform(video)
    # The iterations' kernel and the passes over whole frames, each compiled with those options.
    assert (calls != []) == compiles and all(options == {"dynamic": True} for options in calls)
    # Compiled from the first batch on (no batch ran eagerly), or eager to the end.
    assert policy.eager_work == (0 if compiles else (n_frames - 1) * 3360)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_frozen_transform_matches_reference(interpolation):
    X, _ = make_pairs(2, shape=(32, 40))
    flows = TVNetFlow(weights=None, n_scales=2, n_iters=20,
                      interpolation=interpolation).fit(X).transform(X)
    assert flows.shape == (2, 1, 2, 32, 40)
    assert flows.dtype == np.float32
    for video, flow in zip(X, flows):
        # Two levels given without a zoom factor: 0.5 (pretrained.frozen_zoom_factor).
        expected = tvl1_optical_flow(video[0].astype(np.float64), video[1].astype(np.float64),
                                     n_scales=2, n_warps=1, n_iters=20, tol=0,
                                     zoom_factor=0.5, interpolation=interpolation)
        assert np.abs(flow[0] - expected).mean() < 1e-3


def test_transform_ragged_list_and_colour():
    rng = np.random.default_rng(1)
    videos = [rng.random((3, 20, 24, 3)).astype(np.float32),
              (rng.random((4, 16, 18)) * 255).astype(np.uint8)]
    est = TVNetFlow(weights=None, n_iters=3).fit(videos)
    flows = est.transform(videos)
    assert isinstance(flows, list)
    assert [f.shape for f in flows] == [(2, 2, 20, 24), (3, 2, 16, 18)]
    assert all(f.dtype == np.float32 for f in flows)


def test_identical_frames_give_zero_features():
    rng = np.random.default_rng(2)
    frame = _texture(rng, (20, 24)).astype(np.float32)
    X = np.stack([np.stack([frame, frame, frame])])
    assert not TVNetFlow(weights=None, n_iters=5).fit_transform(X).any()


def test_fit_with_train_none_does_not_change_the_network():
    X, _ = make_pairs(2)
    est = TVNetFlow(weights=None, **SMALL).fit(X)
    assert est.loss_curve_ == []
    assert not any(p.requires_grad for p in est.model_.parameters())


@pytest.mark.parametrize("train", ["u0", "filters", "steps", "all"])
def test_training_changes_only_what_it_trains(train):
    X, y = make_pairs(4)
    # Without validation: the last state is kept, however it scores.
    est = TVNetFlow(weights=None, train=train, loss="epe", validation_fraction=None, random_state=0,
                    **SMALL).fit(X, y)
    frozen = TVNetFlow(weights=None, **SMALL).fit(X)
    assert len(est.loss_curve_) == SMALL["max_iter"]
    changed = {name for name, p in est.model_.named_parameters()
               if not torch.equal(p, dict(frozen.model_.named_parameters())[name])}
    assert changed
    trainable = {name for name, p in est.model_.named_parameters() if p.requires_grad}
    assert changed <= trainable


def test_training_lowers_the_loss_and_the_epe():
    X, y = make_pairs(8, shape=(24, 24), shift_range=1.5)
    frozen = TVNetFlow(weights=None, n_iters=10).fit(X)
    trained = TVNetFlow(weights=None, n_iters=10, train="all", loss="epe", max_iter=40,
                        batch_size=4, random_state=0).fit(X, y)
    assert np.mean(trained.loss_curve_[-5:]) < np.mean(trained.loss_curve_[:5])
    assert trained.score(X, y) > frozen.score(X, y)


def test_energy_training_lowers_the_energy():
    X, _ = make_pairs(6)
    frozen = TVNetFlow(weights=None, n_iters=5).fit(X)
    trained = TVNetFlow(weights=None, n_iters=5, train="all", max_iter=30, batch_size=3,
                        random_state=0).fit(X)
    assert trained.score(X) > frozen.score(X)


def test_score_orders_a_better_flow_above_a_worse_one():
    X, y = make_pairs(3, shape=(32, 32))
    good = TVNetFlow(weights=None, n_iters=50).fit(X)
    poor = TVNetFlow(weights=None, n_iters=1).fit(X)
    assert good.score(X, y) > poor.score(X, y)
    assert good.score(X) > poor.score(X)  # lower TV-L1 energy after more iterations
    assert good.score(X, y) == pytest.approx(
        -np.mean(np.hypot(*np.moveaxis(good.transform(X) - y, 2, 0))), rel=1e-5)


def test_random_state_makes_fit_reproducible():
    X, y = make_pairs(4)
    a = TVNetFlow(weights=None, train="all", loss="epe", random_state=3, **SMALL).fit(X, y)
    b = TVNetFlow(weights=None, train="all", loss="epe", random_state=3, **SMALL).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_a_loss_registered_in_flow_losses_is_accepted_trained_and_scored(monkeypatch):
    """A new loss is one entry of the registry: no other edit makes TVNetFlow take it."""
    calls = []

    def l1(flow, image0, image1, target, **constants):
        calls.append(constants["lmbda"])
        return (flow - target).abs().mean()

    monkeypatch.setitem(losses.FLOW_LOSSES, "l1", losses.FlowLoss("l1", True, l1))
    X, y = make_pairs(4)
    with pytest.raises(ValueError, match="loss='l1' trains against ground-truth flows"):
        TVNetFlow(weights=None, train="all", loss="l1", **SMALL).fit(X)
    est = TVNetFlow(weights=None, train="all", loss="l1", validation_fraction=None,
                    random_state=0, **SMALL).fit(X, y)
    assert len(est.loss_curve_) == SMALL["max_iter"]
    assert calls == [est.config_["lmbda"]] * SMALL["max_iter"]
    assert est.model_.log_lmbda.abs().max() > 0  # trained by the new loss
    flows = est.transform(X)
    assert est.score(X, y) == pytest.approx(-np.abs(flows - y).mean(), rel=1e-5)
    # Without y the loss does not fit: score falls back on the TV-L1 energy.
    assert est.score(X) == est.set_params(loss="energy").score(X)
    with pytest.raises(ValueError, match=r"'loss' parameter .* among \{'energy', 'epe', 'l1'\}"):
        TVNetFlow(weights=None, loss="l2").fit(X)


# ------------------------------------------------------------------ errors
def test_not_fitted():
    with pytest.raises(NotFittedError):
        TVNetFlow().transform(np.zeros((1, 2, 8, 8)))


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((5, 6)), ValueError, r"2-D data is not video"),
        (np.zeros((2, 8, 8)), ValueError, "a single video"),
        (np.zeros((3, 32, 32, 3), np.uint8), ValueError, r"shape \(3, 32, 32, 3\) \(a single video\? wrap"),
        (np.zeros((3, 32, 32, 1)), ValueError, r"\(a single video\? wrap it in a list\)"),
        (np.zeros((1, 1, 8, 8)), ValueError, "at least 2 frames"),
        (np.zeros((1, 2, 3, 8)), ValueError, "at least 4x4"),
        (np.full((1, 2, 8, 8), np.nan), ValueError, "NaN or infinite"),
        (np.zeros((1, 2, 8, 8, 4)), ValueError, "C = 1 or 3"),
        (np.zeros((1, 2, 8, 8), dtype=complex), TypeError, "real numbers"),
        ([], ValueError, "no video"),
        ("video.mp4", TypeError, "wrap it in a list"),
        (42, TypeError, "must be an array of videos"),
    ],
)
def test_bad_videos(X, error, match):
    with pytest.raises(error, match=match):
        TVNetFlow(weights=None, n_iters=1).fit(X)


def test_bad_parameters_and_missing_y():
    X, _ = make_pairs(1)
    with pytest.raises(ValueError, match="tau"):
        TVNetFlow(weights=None, tau=0.5).fit(X)
    with pytest.raises(ValueError, match="train"):
        TVNetFlow(weights=None, train="everything").fit(X)
    with pytest.raises(ValueError, match=r"'interpolation' parameter .* Got 'cubic'"):
        TVNetFlow(weights=None, interpolation="cubic").fit(X)
    with pytest.raises(ValueError, match="pass them as y"):
        TVNetFlow(weights=None, train="all", loss="epe").fit(X)
    with pytest.raises(ValueError, match=r"y\[0\] must have shape"):
        TVNetFlow(weights=None, train="all", loss="epe", **SMALL).fit(X, np.zeros((1, 1, 2, 5, 5)))


def test_score_without_y_goes_batch_by_batch():
    X, _ = make_pairs(1, shape=(16, 20))
    video = np.concatenate([X[0], X[0][::-1], X[0]])[None]  # 6 frames, 5 pairs
    est = TVNetFlow(weights=None, n_iters=5, batch_size=2).fit(video)
    seen = []
    as_frames = _videos.as_frames

    def spy(frames, **kwargs):
        seen.append(len(frames))
        return as_frames(frames, **kwargs)

    with mock.patch.object(_videos, "as_frames", spy):
        batched = est.score(video)
    assert max(seen) <= est.batch_size + 1
    whole = est.set_params(batch_size=100).score(video)
    assert batched == pytest.approx(whole, rel=1e-5)


def test_score_with_y_is_the_metric_and_skips_unknown_ground_truth():
    X, y = make_pairs(2)
    est = TVNetFlow(weights=None, n_iters=5).fit(X)
    flows = est.transform(X)
    y = y.copy()
    y[0, 0, 0, 3, 4] = np.nan  # unknown ground truth at one pixel
    y[1, 0, 1, 5, 6] = 1e10  # Middlebury's unknown marker
    score = est.score(X, y)
    assert np.isfinite(score)
    assert score == pytest.approx(-endpoint_error(flows[:, 0], y[:, 0]), rel=1e-6)


# ------------------------------------------------------------------ scikit-learn integration
def _pool(flows):
    flows = np.asarray(flows)
    return flows.mean(axis=(1, 3, 4))  # mean (u, v) per video


def _labelled_videos(n=12):
    rng = np.random.default_rng(5)
    X, labels = [], []
    for i in range(n):
        image = _texture(rng, (20, 20))
        shift = 1.0 if i % 2 else -1.0
        X.append(np.stack([ndimage.shift(image, (0, -shift), order=3, mode="nearest"), image]))
        labels.append(int(shift > 0))
    return np.stack(X).astype(np.float32), np.array(labels)


def test_pipeline_with_a_classifier():
    X, labels = _labelled_videos()
    pipe = make_pipeline(TVNetFlow(weights=None, n_iters=20), FunctionTransformer(_pool),
                         LogisticRegression())
    pipe.fit(X, labels)
    assert pipe.score(X, labels) == 1.0
    assert cross_val_score(pipe, X, labels, cv=2).min() >= 0.8


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_grid_search_over_training_options(n_jobs):
    X, y = make_pairs(4, shape=(20, 20))
    grid = GridSearchCV(
        TVNetFlow(weights=None, max_iter=3, batch_size=2, loss="epe", random_state=0),
        {"train": [None, "u0", "all"], "n_iters": [2, 10]}, cv=2, n_jobs=n_jobs,
    )
    grid.fit(X, y)
    assert grid.best_params_["n_iters"] == 10  # more iterations: a better flow
    assert set(grid.cv_results_["param_train"]) == {None, "u0", "all"}
    assert grid.best_estimator_.transform(X).shape == (4, 1, 2, 20, 20)


def test_grid_search_over_train_parts():
    X, y = make_pairs(4, shape=(16, 16))
    parts = [None, "steps", "filters+steps", "all"]
    grid = GridSearchCV(TVNetFlow(weights=None, n_iters=3, max_iter=2, batch_size=2, loss="epe",
                                  random_state=0), {"train": parts}, cv=2)
    grid.fit(X, y)
    assert list(grid.cv_results_["param_train"]) == parts
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    trained = {name for name, p in grid.best_estimator_.model_.named_parameters()
               if p.requires_grad}
    assert ("log_lmbda" in trained) == (grid.best_params_["train"] is not None)


def test_clone_and_params():
    est = TVNetFlow(weights=None, n_iters=7, train="u0+steps", validation_fraction=0.3)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert (copy.train, copy.validation_fraction) == ("u0+steps", 0.3)
    assert copy.set_params(n_iters=3).n_iters == 3


# ------------------------------------------------------------------ persistence
def _fitted(train="all"):
    X, y = make_pairs(3)
    return TVNetFlow(weights=None, train=train, loss="epe", random_state=0, **SMALL).fit(X, y), X


def test_round_trips_keep_trained_steps(tmp_path):
    X, y = make_pairs(3)
    est = TVNetFlow(weights=None, train="steps", loss="epe", validation_fraction=None,
                    random_state=0, **SMALL).fit(X, y)
    assert est.model_.log_lmbda.abs().max() > 0  # the steps moved
    est.save(tmp_path / "model.sktvnet")
    joblib.dump(est, tmp_path / "model.joblib")
    for loaded in (TVNetFlow.load(tmp_path / "model.sktvnet"),
                   joblib.load(tmp_path / "model.joblib")):
        assert loaded.train == "steps" and loaded.model_.train_steps
        for name, value in est.model_.step_sizes().items():
            torch.testing.assert_close(loaded.model_.step_sizes()[name], value, rtol=0, atol=0)
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
        assert loaded.validation_scores_ == est.validation_scores_


def test_joblib_round_trip_is_bit_exact(tmp_path):
    est, X = _fitted()
    joblib.dump(est, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.loss_curve_ == est.loss_curve_


def test_cuda_fitted_model_loads_on_cpu():
    est, X = _fitted()
    est._device = torch.device("cuda")  # pretend it was fitted on a GPU
    blob = pickle.dumps(est)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="loaded on the CPU"):
            loaded = pickle.loads(blob)
    assert loaded._device.type == "cpu"
    est._device = torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_safe_save_load_round_trip(tmp_path):
    est, X = _fitted()
    est.save(tmp_path / "model.sktvnet")
    loaded = TVNetFlow.load(tmp_path / "model.sktvnet")
    assert loaded.get_params() == est.get_params()
    assert loaded.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_load_rejects_foreign_and_truncated_files(tmp_path):
    est, _ = _fitted()
    path = tmp_path / "model.sktvnet"
    est.save(path)
    (tmp_path / "junk.bin").write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a readable sktvnet model"):
        TVNetFlow.load(tmp_path / "junk.bin")
    (tmp_path / "cut.sktvnet").write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable sktvnet model"):
        TVNetFlow.load(tmp_path / "cut.sktvnet")
    joblib.dump(est, tmp_path / "pickle.joblib")
    with pytest.raises(ValueError, match="not a readable sktvnet model"):
        TVNetFlow.load(tmp_path / "pickle.joblib")


@pytest.mark.parametrize("version, message", [
    (2, r"has format version 2, newer than this sktvnet \(.*\) reads \(1\) \(it was written by "
        r"sktvnet 9.9\): it needs a newer sktvnet"),
    ("2", "its format_version must be a whole number, got '2'"),
])
def test_load_names_the_file_version_it_cannot_read(tmp_path, version, message):
    import json
    import zipfile

    est, _ = _fitted()
    est.save(tmp_path / "model.sktvnet")
    with zipfile.ZipFile(tmp_path / "model.sktvnet") as source, \
            zipfile.ZipFile(tmp_path / "newer.sktvnet", "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "meta.json":
                meta = json.loads(data)
                data = json.dumps({**meta, "format_version": version, "sktvnet": "9.9"})
            target.writestr(name, data)
    with pytest.raises(ValueError, match=message):
        TVNetFlow.load(tmp_path / "newer.sktvnet")


def test_n_jobs_zero_is_refused_at_fit():
    X, _ = make_pairs(1)
    with pytest.raises(ValueError, match="'n_jobs' parameter of TVNetFlow must be"):
        TVNetFlow(weights=None, n_jobs=0).fit(X)
    assert TVNetFlow(weights=None, n_iters=2, n_jobs=-1).fit(X).n_jobs == -1


def test_set_output_pandas_on_a_pipeline_keeps_flows_and_makes_histograms_a_frame():
    pd = pytest.importorskip("pandas")
    from sktvnet import FlowHistogram

    X, _ = make_pairs(2)
    pipe = make_pipeline(TVNetFlow(weights=None, n_iters=3), FlowHistogram())
    pipe.set_output(transform="pandas")
    features = pipe.fit_transform(X)
    assert isinstance(features, pd.DataFrame) and len(features) == 2
    assert isinstance(pipe[0].transform(X), np.ndarray)
    # The default pipeline of the issue, as written.
    make_pipeline(TVNetFlow(), FlowHistogram()).set_output(transform="pandas")


def test_save_leaves_no_partial_file_on_failure(tmp_path):
    est, _ = _fitted()
    with mock.patch("zipfile.ZipFile.writestr", side_effect=OSError("disk full")):
        with pytest.raises(OSError, match="disk full"):
            est.save(tmp_path / "model.sktvnet")
    assert list(tmp_path.iterdir()) == []


def test_no_warnings_in_plain_use():
    X, _ = make_pairs(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TVNetFlow(weights=None, n_iters=3).fit_transform(X)


def test_read_only_non_contiguous_and_extreme_inputs():
    X, _ = make_pairs(2, shape=(24, 32))
    est = TVNetFlow(weights=None, n_iters=5).fit(X)
    expected = est.transform(X)
    read_only = X.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(est.transform(read_only), expected)
    wide = np.zeros(X.shape[:3] + (64,), dtype=X.dtype)
    wide[..., ::2] = X
    np.testing.assert_array_equal(est.transform(wide[..., ::2]), expected)
    # The frames are scaled jointly to [0, 255]: a huge affine change of the values is invisible.
    np.testing.assert_allclose(est.transform(X.astype(np.float64) * 1e30 - 1e29), expected, atol=1e-3)
    np.testing.assert_allclose(est.transform(X.astype(np.float64) * 1e300), expected, atol=1e-3)
    with pytest.raises(TypeError, match="real numbers"):
        est.transform(X > 0.5)


# ------------------------------------------------------------------ batching across videos
def _per_video(est, videos):
    return [est.transform([video])[0] for video in videos]


def test_transform_batches_pairs_across_videos():
    X, _ = make_pairs(7)
    est = TVNetFlow(weights=None, n_scales=2, n_iters=5, batch_size=3).fit(X)
    calls = []
    forward = est.model_.forward
    with mock.patch.object(est.model_, "forward",
                           side_effect=lambda x0, x1: calls.append(len(x0)) or forward(x0, x1)):
        flows = est.transform(X)
    assert calls == [3, 3, 1]  # 7 two-frame videos, 3 pairs per TVNet call
    np.testing.assert_array_equal(flows, np.stack(_per_video(est, X)))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_batched_transform_of_ragged_videos_equals_the_per_video_one(n_jobs):
    rng = np.random.default_rng(1)
    videos = [_texture(rng, shape).astype(np.float32) for shape in
              [(3, 20, 24), (2, 20, 24), (6, 16, 20), (2, 20, 24), (4, 20, 24), (2, 16, 20)]]
    est = TVNetFlow(weights=None, n_scales=2, n_iters=5, batch_size=4, n_jobs=n_jobs).fit(videos)
    flows = est.transform(videos)
    assert [f.shape for f in flows] == [(len(v) - 1, 2) + v.shape[1:] for v in videos]
    for got, expected in zip(flows, _per_video(est.set_params(n_jobs=None), videos)):
        np.testing.assert_array_equal(got, expected)


def test_a_non_finite_flow_is_an_error_naming_the_pair():
    """Weights that pass the load checks (finite) can still overflow: a step size of exp(-200)
    once gave all-NaN flows without a word, where `sktvnet flow` refused them."""
    X = np.random.default_rng(0).random((2, 3, 16, 20)).astype(np.float32)
    est = TVNetFlow(weights=None, n_scales=1, n_warps=1, n_iters=3).fit(X)
    assert np.isfinite(est.transform(X)).all()
    with torch.no_grad():
        est.model_.log_theta.fill_(-200.0)
    with pytest.raises(ValueError, match=r"the flow of pair 0 of X\[0\] \(frames 0 and 1\) is "
                                         r"not finite"):
        est.transform(X)
