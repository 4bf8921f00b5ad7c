"""Tests of the TVNetFlow transformer: scikit-learn citizenship, training, persistence."""

import pickle
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktvnet import TVNetFlow, tvl1_optical_flow
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
# X must be videos (n_videos, T, H, W[, C]); the common checks feed 2-D tables, which TVNetFlow
# rejects with a ValueError that says so. These checks cannot pass for that reason alone.
_TWO_D = "X must be videos (n_videos, T, H, W[, C]); the check feeds a 2-D table"
EXPECTED_FAILURES = {
    name: _TWO_D for name in [
        "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters",
        "check_dtype_object", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag", "check_estimators_dtypes",
        "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
        "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)", "check_f_contiguous_array_estimator",
        "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d",
        "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_n_features_in", "check_n_features_in_after_fitting", "check_pipeline_consistency",
        "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_general(readonly_memmap=True)", "check_transformer_n_iter",
        "check_transformer_preserve_dtypes",
    ]
}


@parametrize_with_checks([TVNetFlow(n_iters=2)], expected_failed_checks=lambda est: EXPECTED_FAILURES,
                         xfail_strict=True)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ behaviour
def test_frozen_transform_matches_reference_bilinear():
    X, _ = make_pairs(2, shape=(32, 40))
    flows = TVNetFlow(n_iters=20).fit(X).transform(X)
    assert flows.shape == (2, 1, 2, 32, 40)
    assert flows.dtype == np.float32
    for video, flow in zip(X, flows):
        expected = tvl1_optical_flow(video[0].astype(np.float64), video[1].astype(np.float64),
                                     n_scales=1, n_warps=1, n_iters=20, tol=0,
                                     interpolation="bilinear")
        assert np.abs(flow[0] - expected).mean() < 1e-3


def test_transform_ragged_list_and_colour():
    rng = np.random.default_rng(1)
    videos = [rng.random((3, 20, 24, 3)).astype(np.float32),
              (rng.random((4, 16, 18)) * 255).astype(np.uint8)]
    est = TVNetFlow(n_iters=3).fit(videos)
    flows = est.transform(videos)
    assert isinstance(flows, list)
    assert [f.shape for f in flows] == [(2, 2, 20, 24), (3, 2, 16, 18)]
    assert all(f.dtype == np.float32 for f in flows)


def test_identical_frames_give_zero_features():
    rng = np.random.default_rng(2)
    frame = _texture(rng, (20, 24)).astype(np.float32)
    X = np.stack([np.stack([frame, frame, frame])])
    assert not TVNetFlow(n_iters=5).fit_transform(X).any()


def test_fit_with_train_none_does_not_change_the_network():
    X, _ = make_pairs(2)
    est = TVNetFlow(**SMALL).fit(X)
    assert est.loss_curve_ == []
    assert not any(p.requires_grad for p in est.model_.parameters())


@pytest.mark.parametrize("train", ["u0", "filters", "all"])
def test_training_changes_only_what_it_trains(train):
    X, y = make_pairs(4)
    est = TVNetFlow(train=train, loss="epe", random_state=0, **SMALL).fit(X, y)
    frozen = TVNetFlow(**SMALL).fit(X)
    assert len(est.loss_curve_) == SMALL["max_iter"]
    changed = {name for name, p in est.model_.named_parameters()
               if not torch.equal(p, dict(frozen.model_.named_parameters())[name])}
    assert changed
    trainable = {name for name, p in est.model_.named_parameters() if p.requires_grad}
    assert changed <= trainable


def test_training_lowers_the_loss_and_the_epe():
    X, y = make_pairs(8, shape=(24, 24), shift_range=1.5)
    frozen = TVNetFlow(n_iters=10).fit(X)
    trained = TVNetFlow(n_iters=10, train="all", loss="epe", max_iter=40, batch_size=4,
                        random_state=0).fit(X, y)
    assert np.mean(trained.loss_curve_[-5:]) < np.mean(trained.loss_curve_[:5])
    assert trained.score(X, y) > frozen.score(X, y)


def test_energy_training_lowers_the_energy():
    X, _ = make_pairs(6)
    frozen = TVNetFlow(n_iters=5).fit(X)
    trained = TVNetFlow(n_iters=5, train="all", max_iter=30, batch_size=3, random_state=0).fit(X)
    assert trained.score(X) > frozen.score(X)


def test_score_orders_a_better_flow_above_a_worse_one():
    X, y = make_pairs(3, shape=(32, 32))
    good = TVNetFlow(n_iters=50).fit(X)
    poor = TVNetFlow(n_iters=1).fit(X)
    assert good.score(X, y) > poor.score(X, y)
    assert good.score(X) > poor.score(X)  # lower TV-L1 energy after more iterations
    assert good.score(X, y) == pytest.approx(
        -np.mean(np.hypot(*np.moveaxis(good.transform(X) - y, 2, 0))), rel=1e-5)


def test_random_state_makes_fit_reproducible():
    X, y = make_pairs(4)
    a = TVNetFlow(train="all", loss="epe", random_state=3, **SMALL).fit(X, y)
    b = TVNetFlow(train="all", loss="epe", random_state=3, **SMALL).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


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
        TVNetFlow(n_iters=1).fit(X)


def test_bad_parameters_and_missing_y():
    X, _ = make_pairs(1)
    with pytest.raises(ValueError, match="tau"):
        TVNetFlow(tau=0.5).fit(X)
    with pytest.raises(ValueError, match="train"):
        TVNetFlow(train="everything").fit(X)
    with pytest.raises(ValueError, match="pass them as y"):
        TVNetFlow(train="all", loss="epe").fit(X)
    with pytest.raises(ValueError, match=r"y\[0\] must have shape"):
        TVNetFlow(train="all", loss="epe", **SMALL).fit(X, np.zeros((1, 1, 2, 5, 5)))


def test_score_without_y_goes_batch_by_batch():
    X, _ = make_pairs(1, shape=(16, 20))
    video = np.concatenate([X[0], X[0][::-1], X[0]])[None]  # 6 frames, 5 pairs
    est = TVNetFlow(n_iters=5, batch_size=2).fit(video)
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
    est = TVNetFlow(n_iters=5).fit(X)
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
    pipe = make_pipeline(TVNetFlow(n_iters=20), FunctionTransformer(_pool), LogisticRegression())
    pipe.fit(X, labels)
    assert pipe.score(X, labels) == 1.0
    assert cross_val_score(pipe, X, labels, cv=2).min() >= 0.8


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_grid_search_over_training_options(n_jobs):
    X, y = make_pairs(4, shape=(20, 20))
    grid = GridSearchCV(
        TVNetFlow(max_iter=3, batch_size=2, loss="epe", random_state=0),
        {"train": [None, "u0", "all"], "n_iters": [2, 10]}, cv=2, n_jobs=n_jobs,
    )
    grid.fit(X, y)
    assert grid.best_params_["n_iters"] == 10  # more iterations: a better flow
    assert set(grid.cv_results_["param_train"]) == {None, "u0", "all"}
    assert grid.best_estimator_.transform(X).shape == (4, 1, 2, 20, 20)


def test_clone_and_params():
    est = TVNetFlow(n_iters=7, train="u0")
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert copy.set_params(n_iters=3).n_iters == 3


# ------------------------------------------------------------------ persistence
def _fitted():
    X, y = make_pairs(3)
    return TVNetFlow(train="all", loss="epe", random_state=0, **SMALL).fit(X, y), X


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
        TVNetFlow(n_iters=3).fit_transform(X)


def test_read_only_non_contiguous_and_extreme_inputs():
    X, _ = make_pairs(2, shape=(24, 32))
    est = TVNetFlow(n_iters=5).fit(X)
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
