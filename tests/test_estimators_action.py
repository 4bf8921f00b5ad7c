"""Tests of TVNetActionClassifier: scikit-learn citizenship, training, prediction, persistence."""

import copy
import pickle
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from _checks import assert_video_tags, expected_failures, table_tagged
from _media import moving_texture, write_video
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from sktvnet import TVNetActionClassifier, TVNetFlow, load_pretrained
from sktvnet.datasets import load_video_folder, make_motion_videos
from sktvnet.estimators._action import DEFAULT_FLOW


def tiny_flow(**params):
    """TVNet-2-1-5 from TV-L1, trained with the head: the tests' flow stage."""
    return TVNetFlow(**{**DEFAULT_FLOW, "n_iters": 5, **params})


def tiny(**params):
    """TVNet-2-1-5, narrow heads, one epoch: seconds per fit on tiny videos (a new flow stage
    each time, so that no test changes another's)."""
    return {"flow": tiny_flow(), "head": "resnet", "head_width": 8, "max_iter": 1,
            "batch_size": 8, **params}


# Tensors this small gain nothing from a thread pool (conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def videos():
    """16 videos of 6 frames, 24x24, of two motions (right, left), labelled by strings."""
    X, y = make_motion_videos(16, n_classes=2, frame_shape=(24, 24), random_state=0)
    return X, np.array(["right", "left"])[y]


@pytest.fixture(scope="module")
def fitted(videos):
    X, y = videos
    return TVNetActionClassifier(**{**tiny(), "max_iter": 2}, random_state=0).fit(X, y)


def _linear_head(in_channels, n_classes):
    """A module-level head factory (so that the estimator pickles)."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * in_channels,
                                                                          n_classes))


# ------------------------------------------------------------------ scikit-learn common checks
# The true tags say videos, and scikit-learn then runs only check_estimator_cloneable; the other
# checks run on a subclass that claims 2-D input, with the table-fed ones as expected failures
# (tests/_checks.py gives the reason of each).
def test_true_tags_say_videos_and_sklearn_runs_only_the_clone_check():
    assert_video_tags(TVNetActionClassifier(**tiny()))


@parametrize_with_checks([table_tagged(TVNetActionClassifier)(**tiny())],
                         expected_failed_checks=lambda est: expected_failures("classifier"),
                         xfail_strict=True)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ predictions
def test_string_labels_proba_and_decision_function(fitted, videos):
    X, y = videos
    assert fitted.classes_.tolist() == ["left", "right"]
    assert set(fitted.predict(X)) <= {"left", "right"}
    proba = fitted.predict_proba(X)
    assert proba.shape == (16, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert ((proba > 0) & (proba < 1)).all()
    decision = fitted.decision_function(X)
    assert decision.shape == (16,)  # binary: the score of classes_[1] minus classes_[0]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-decision)), rtol=1e-9)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[(decision > 0).astype(int)])
    assert fitted.score(X, y) == np.mean(fitted.predict(X) == y)


def test_multiclass_decision_function_and_integer_labels():
    X, y = make_motion_videos(12, n_classes=3, frame_shape=(24, 24), random_state=1)
    clf = TVNetActionClassifier(**tiny(), random_state=0).fit(X, y + 10)
    assert clf.classes_.tolist() == [10, 11, 12]
    decision = clf.decision_function(X)
    assert decision.shape == (12, 3)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[decision.argmax(axis=1)])
    np.testing.assert_array_equal(clf.predict_proba(X).argmax(axis=1), decision.argmax(axis=1))


def test_learns_left_from_right():
    X, y = make_motion_videos(32, n_classes=2, frame_shape=(24, 24), background_speed=0.0,
                              random_state=2)
    X_test, y_test = make_motion_videos(16, n_classes=2, frame_shape=(24, 24), background_speed=0.0,
                                        random_state=3)
    clf = TVNetActionClassifier(**{**tiny(), "max_iter": 6, "learning_rate": 3e-3},
                                random_state=0).fit(X, y)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X_test, y_test) >= 0.8


def test_test_clips_are_averaged():
    """A long video's scores are the mean of the scores of its test clips, taken as videos."""
    X, y = make_motion_videos(8, n_classes=2, n_frames=8, frame_shape=(24, 24), random_state=4)
    clf = TVNetActionClassifier(**tiny(), n_frames=6, n_test_clips=3, random_state=0).fit(X, y)
    clips = np.stack([X[:, s:s + 6] for s in (0, 1, 2)], axis=1)  # starts spread over 0 .. 2
    expected = np.mean([clf._scores(clips[:, k]) for k in range(3)], axis=0)
    np.testing.assert_allclose(clf._scores(X), expected, rtol=1e-5, atol=1e-6)
    one = copy.deepcopy(clf).set_params(n_test_clips=1)
    np.testing.assert_allclose(one._scores(X), clf._scores(clips[:, 0]), rtol=1e-5, atol=1e-6)


def test_horizontal_flip_averaging_is_mirror_invariant(videos):
    X, y = videos
    clf = TVNetActionClassifier(**tiny(), horizontal_flip=True, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(X[..., ::-1]),
                               rtol=1e-5, atol=1e-6)
    plain = TVNetActionClassifier(**tiny(), random_state=0).fit(X, y)
    assert not np.allclose(plain.predict_proba(X), plain.predict_proba(X[..., ::-1]))


# ------------------------------------------------------------------ training options
def test_random_state_makes_fit_reproducible(videos):
    X, y = videos
    a = TVNetActionClassifier(**tiny(), random_state=3).fit(X, y)
    b = TVNetActionClassifier(**tiny(), random_state=3).fit(X, y)
    c = TVNetActionClassifier(**tiny(), random_state=4).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    if a._device.type == "cpu":
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    else:  # CUDA's convolution gradients add in an order of their own: equal up to rounding
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=1e-5)
    assert a.loss_curve_ != c.loss_curve_
    state = torch.random.get_rng_state()
    TVNetActionClassifier(**tiny(), random_state=3).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator is untouched


def test_warm_start_continues_from_the_fitted_weights(videos):
    X, y = videos
    clf = TVNetActionClassifier(**tiny(), warm_start=True, random_state=0).fit(X, y)
    model = clf.model_
    after_first = {k: v.clone() for k, v in model.state_dict().items()}
    with mock.patch.object(TVNetActionClassifier, "_make_network",
                           side_effect=AssertionError("rebuilt")):
        clf.fit(X, y)
    assert clf.model_ is model and clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert any(not torch.equal(after_first[k], v) for k, v in model.state_dict().items())
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.model_ is not model and clf.n_iter_ == 1
    clf.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r"warm_start needs the labels .* new ones \['up'\]"):
        clf.fit(X, np.where(y == "left", "up", y))


@pytest.mark.parametrize("train, trained", [
    (None, set()), ("u0", {"u0"}), ("filters", {"centered_weight", "forward_weight",
                                                "divergence_weight", "log_presmoothing"}),
    ("steps", {"log_lmbda", "log_theta", "tau_logit"}),
    ("all", {"u0", "centered_weight", "forward_weight", "divergence_weight",
             "log_presmoothing", "log_lmbda", "log_theta", "tau_logit"}),
])
def test_train_trains_what_it_says(videos, train, trained):
    X, y = videos
    # Without validation: the last state is kept, however it scores.
    clf = TVNetActionClassifier(**tiny(flow=tiny_flow(train=train)), validation_fraction=None,
                                random_state=0).fit(X, y)
    fresh = clf._make_network().tvnet
    changed = {name for name, p in clf.model_.tvnet.named_parameters()
               if not torch.equal(p.cpu(), dict(fresh.named_parameters())[name])}
    assert changed == trained
    assert len(clf.flow_loss_curve_) == 1 and clf.flow_loss_curve_[0] > 0


def test_validation_on_held_out_videos_keeps_the_best_epoch(videos):
    X, y = videos
    clf = TVNetActionClassifier(**{**tiny(), "max_iter": 3}, validation_fraction=0.25,
                                random_state=0).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == 4  # before training and after each epoch
    # Accuracies of 4 held-out videos; the returned model is the (latest) best one.
    assert all(4 * s == int(4 * s) and 0 <= s <= 1 for s in scores)
    assert clf.best_validation_score_ == max(scores)


def test_the_state_of_the_best_validation_score_is_restored(videos, monkeypatch):
    X, y = videos
    scores, states = iter([0.5, 0.75, 0.25, 0.5]), []

    def scripted(self):
        states.append({k: v.clone() for k, v in self.model_.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(TVNetActionClassifier, "_validation_score", scripted)
    clf = TVNetActionClassifier(**{**tiny(), "max_iter": 3}, random_state=0).fit(X, y)
    assert clf.validation_scores_ == [0.5, 0.75, 0.25, 0.5]
    assert clf.best_validation_score_ == 0.75
    final = clf.model_.state_dict()
    assert all(torch.equal(final[k], v) for k, v in states[1].items())  # after epoch 1
    assert not all(torch.equal(final[k], v) for k, v in states[3].items())


def test_flow_loss_weight_changes_the_tvnet_update(videos):
    X, y = videos
    with_lf = TVNetActionClassifier(**tiny(), random_state=0).fit(X, y)
    without = TVNetActionClassifier(**tiny(), flow_loss_weight=0.0, random_state=0).fit(X, y)
    frozen = TVNetActionClassifier(**tiny(flow=tiny_flow(train=None)), random_state=0).fit(X, y)
    assert not torch.equal(with_lf.model_.tvnet.u0, without.model_.tvnet.u0)
    # The loss recorded includes lambda_f Lf only when TVNet is trained with it.
    assert with_lf.loss_curve_[0] > without.loss_curve_[0]
    np.testing.assert_allclose(without.loss_curve_, frozen.loss_curve_, rtol=0.2)


def test_tvnet_parts_learn_at_the_flow_stages_rates_and_only_they_are_clipped(videos):
    X, y = videos
    clf = TVNetActionClassifier(**tiny(), random_state=0)
    clf.fit(X, y)
    groups = clf._initialize_optimizer().param_groups
    rates = {g.get("name"): g["lr"] for g in groups}
    # TVNetFlow's per-part rates: the step sizes (and the pre-smoothing) at the flow stage's
    # learning rate, u0 at a tenth, the filters at a hundredth; the heads at their own.
    rate = clf.flow.learning_rate
    assert rates == {None: clf.learning_rate, "u0": pytest.approx(rate * 0.1),
                     "filters": pytest.approx(rate * 0.01),
                     "filters/log_presmoothing": pytest.approx(rate),
                     "steps": pytest.approx(rate)}
    assert {g.get("name") for g in groups if not g.get("clip", True)} == {None}
    clf.set_params(flow__learning_rate=1e-5)
    assert {g["lr"] for g in clf._initialize_optimizer().param_groups if g.get("name") == "steps"
            } == {1e-5}
    # Clipping: a huge loss moves TVNet's parameters by a clipped gradient, the head's not.
    with mock.patch.object(torch.nn.utils, "clip_grad_norm_",
                           wraps=torch.nn.utils.clip_grad_norm_) as clip:
        clf.fit(X, y)
    clipped = {id(p) for call in clip.call_args_list for p in call.args[0]}
    assert clipped == {id(p) for p in clf.model_.tvnet.parameters() if p.requires_grad}
    assert clip.call_args.kwargs == {"max_norm": 1.0}


def test_motion_difference_baseline(videos):
    X, y = videos
    clf = TVNetActionClassifier(**tiny(), motion="difference", random_state=0).fit(X, y)
    assert clf.model_.tvnet is None and clf.flow_loss_curve_ == []
    assert clf.model_.motion_head.features[0][0].in_channels == 5  # n_frames - 1 differences
    assert clf.predict_proba(X).shape == (16, 2)


def test_normalize_brightness_makes_the_network_blind_to_flicker(videos):
    """A gain and an offset per frame (flicker) change nothing once every frame is
    standardised; without it they change the flows and the scores."""
    X, y = videos
    clips = torch.from_numpy(X[:4])
    gains = torch.tensor([1.0, 0.9, 1.1, 0.95, 1.05, 1.0])[None, :, None, None]
    offsets = torch.tensor([0.0, 0.02, -0.03, 0.01, 0.0, 0.05])[:, None, None]
    flickering = clips * gains + offsets
    for normalize in (True, False):
        clf = TVNetActionClassifier(**tiny(), normalize_brightness=normalize,
                                    random_state=0).fit(X, y)
        device = next(clf.model_.parameters()).device  # CUDA where there is one
        with torch.inference_mode():
            (steady_scores,), _ = clf.model_(clips.to(device))
            (flicker_scores,), _ = clf.model_(flickering.to(device))
        gap = float((steady_scores - flicker_scores).abs().max())
        assert gap < 1e-4 if normalize else gap > 1e-3


def test_camera_motion_says_whether_the_head_sees_the_flow_its_compensation_or_both(videos):
    """A clip panning by one pixel per frame: the head sees flows of median zero with
    "subtract", of a median towards one pixel with "keep" (TVNet-2-1-5 falls a little short),
    and both, pair by pair, with "both"."""
    X, y = videos
    pan = torch.from_numpy(np.stack([np.roll(X[0, 0], t, axis=1) for t in range(6)]))[None]
    seen = {}
    for camera_motion in ("subtract", "keep", "both"):
        clf = TVNetActionClassifier(**tiny(), camera_motion=camera_motion,
                                    random_state=0).fit(X, y)
        inputs = []
        hook = clf.model_.motion_head.register_forward_pre_hook(
            lambda module, args: inputs.append(args[0]))
        with torch.inference_mode():
            clf.model_(pan.to(next(clf.model_.parameters()).device))
        hook.remove()
        seen[camera_motion] = inputs[0].cpu()
    medians = {name: features.flatten(2).median(dim=2).values[0]
               for name, features in seen.items()}  # u1, v1, u2, v2, ... (both: u1, v1, u1', ...)
    assert float(medians["subtract"][0::2].abs().max()) < 1e-6
    assert float(medians["keep"][0::2].min()) > 0.5
    assert seen["both"].shape[1] == 2 * seen["keep"].shape[1] == 20
    both = seen["both"].reshape(1, 5, 2, 2, 24, 24)  # pairs, (flow, compensated), (u, v)
    # The flows differ with the network's training (each fit trains TVNet); the compensated
    # half has the same median zero, and each pair's halves differ by the flow's median.
    assert float(both[:, :, 1].flatten(3).median(dim=3).values.abs().max()) < 1e-6
    difference = both[:, :, 0] - both[:, :, 1]
    assert torch.allclose(difference, difference[..., :1, :1].expand_as(difference), atol=1e-5)


def test_augment_moves_each_training_clip_by_a_random_camera():
    """A still clip, augmented: it pans (up to 0.5 px a frame, in every direction), shakes and
    zooms, differently at each draw and the same for the same seed."""
    from skimage.registration import phase_cross_correlation

    from sktvnet.estimators._action import _camera_augment

    rng = np.random.default_rng(0)
    from scipy import ndimage

    texture = ndimage.gaussian_filter(rng.random((48, 48)), 1.5).astype(np.float32)
    still = np.repeat(texture[None], 6, axis=0)
    generator = torch.Generator().manual_seed(0)
    moved = [_camera_augment(still, generator) for _ in range(40)]
    shifts = np.array([-phase_cross_correlation(clip[0], clip[-1], upsample_factor=20)[0]
                       for clip in moved])  # (dy, dx) over the 5 steps
    length = np.hypot(*shifts.T)
    assert length.max() < 5 * 0.5 + 1.0 and length.max() > 1.5
    assert (shifts[:, 0] > 0.2).any() and (shifts[:, 0] < -0.2).any()
    assert (shifts[:, 1] > 0.2).any() and (shifts[:, 1] < -0.2).any()
    again = _camera_augment(still, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(again, moved[0])
    # The zoom changes the texture's scale: the frames' fine detail varies from draw to draw.
    detail = [np.abs(np.diff(clip[2], axis=1)).mean() for clip in moved]
    assert max(detail) > 1.2 * min(detail)


def test_augment_changes_training_only(videos):
    X, y = videos
    plain = TVNetActionClassifier(**tiny(), augment=False, random_state=0).fit(X, y)
    augmented = TVNetActionClassifier(**tiny(), augment=True, random_state=0).fit(X, y)
    assert plain.loss_curve_ != augmented.loss_curve_
    # Prediction is not augmented: the same network scores the same clips the same.
    augmented.set_params(augment=False)
    np.testing.assert_array_equal(augmented.predict_proba(X),
                                  augmented.set_params(augment=True).predict_proba(X))


def test_rgb_stream_on_colour_and_grey_videos():
    rng = np.random.default_rng(0)
    colour = np.stack([moving_texture(6, 24, 24, dx=d, seed=k)
                       for k, d in enumerate([1, -1] * 4)])
    y = np.array(["right", "left"] * 4)
    clf = TVNetActionClassifier(**tiny(), rgb_stream=True, random_state=0).fit(colour, y)
    assert clf.model_.rgb_head.features[0][0].in_channels == 3
    assert clf.predict_proba(colour).shape == (8, 2)
    grey = rng.random((3, 6, 24, 24)).astype(np.float32)
    assert clf.predict(grey).shape == (3,)


def test_head_factory_and_inception(videos):
    X, y = videos
    # 6 frames: 5 flows of 2 channels, and with camera_motion="both" (the default) their
    # camera-compensated copies beside them; the linear layer sees 2x2 pooled cells of each.
    for camera_motion, channels in (("keep", 10), ("both", 20)):
        clf = TVNetActionClassifier(**{**tiny(), "head": _linear_head},
                                    camera_motion=camera_motion, random_state=0).fit(X, y)
        assert isinstance(clf.model_.motion_head[-1], nn.Linear)
        assert clf.model_.motion_head[-1].in_features == 4 * channels
    inception = TVNetActionClassifier(**{**tiny(), "head": "inception"}, random_state=0).fit(X, y)
    assert type(inception.model_.motion_head).__name__ == "InceptionHead"


def test_longer_and_ragged_videos_with_frame_size():
    X, y = make_motion_videos(8, n_classes=2, n_frames=9, frame_shape=(24, 24), random_state=5)
    ragged = [X[i, : 6 + i % 4] for i in range(8)]
    ragged[0] = np.repeat(np.repeat(ragged[0], 2, axis=1), 2, axis=2)  # one 48x48 video
    with pytest.raises(ValueError, match=r"differ in frame size .* set frame_shape"):
        TVNetActionClassifier(**tiny()).fit(ragged, y)
    clf = TVNetActionClassifier(**tiny(), frame_shape=(16, 20), random_state=0).fit(ragged, y)
    assert clf.predict(ragged).shape == (8,)


def test_video_files_are_decoded_lazily(tmp_path):
    pytest.importorskip("av", reason="the video extra (av) is not installed")
    for label, dx in (("Left", -1), ("Right", 1)):
        (tmp_path / label).mkdir()
        for k in range(3):
            write_video(tmp_path / label / f"{k}.mp4", moving_texture(7, 32, 40, dx=dx, seed=k))
    paths, labels = load_video_folder(tmp_path)
    clf = TVNetActionClassifier(**tiny(), frame_shape=(24, 24), validation_fraction=0.1,
                                random_state=0)
    with mock.patch("sktvnet.io.read_video", wraps=__import__("sktvnet.io").io.read_video) as read:
        clf.fit(paths, labels)
    # Nothing decoded in advance: each of the 5 training videos once per epoch, the held-out
    # one at each validation (before training and after the epoch).
    assert read.call_count == 5 + 2
    assert read.call_args.kwargs == {"frame_shape": (24, 24)}
    assert clf.predict(paths).shape == (6,)
    assert set(clf.classes_) == {"Left", "Right"}


def test_verbose_reports_fit_and_score_in_lines_off_a_terminal(videos, capsys):
    X, y = videos  # 16 videos, batches of 8; capsys's stderr is not a terminal
    clf = TVNetActionClassifier(**{**tiny(), "max_iter": 2}, verbose=1, random_state=0).fit(X, y)
    fit_lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in fit_lines] == [
        "TVNetActionClassifier.fit epoch 1/2: 2/2 steps (100%)",
        "TVNetActionClassifier.fit epoch 2/2: 2/2 steps (100%)"]
    assert all(" steps/s, ETA 0 s, loss=" in line for line in fit_lines)
    clf.score(X, y)
    score_lines = capsys.readouterr().err.splitlines()
    # Frame pairs: n_frames - 1 of every test clip (and of its mirror), of every video.
    pairs = sum(len(clf._clip_starts(len(video))) for video in X) * (
        1 + clf.horizontal_flip) * (clf.n_frames - 1)
    assert pairs > len(X)
    assert score_lines[-1].startswith(
        f"TVNetActionClassifier.predict: {pairs}/{pairs} pairs (100%), ")


def test_no_warnings_in_plain_use(videos):
    X, y = videos
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TVNetActionClassifier(**tiny(), random_state=0).fit(X, y).predict(X)


# ------------------------------------------------------------------ errors
def test_not_fitted(videos):
    with pytest.raises(NotFittedError):
        TVNetActionClassifier().predict(videos[0])


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda X, y: (X, np.zeros(len(y))), ValueError, r"at least 2 classes .* got only \[0.0\]"),
        (lambda X, y: (X, y[:-1]), ValueError, "same number of videos, got 16 and 15"),
        (lambda X, y: (X[:, :4], y), ValueError, r"X\[0\] has 4 frames, fewer than n_frames=6"),
        (lambda X, y: (X, np.linspace(0, 1, len(y))), ValueError, "Unknown label type"),
        (lambda X, y: (X[:, :, :6, :6], y), ValueError, "built-in heads need at least 8x8"),
        (lambda X, y: (X[0], y), ValueError, "a single video"),
        (lambda X, y: (X.reshape(16, -1), y), ValueError, "2-D data is not video"),
    ],
)
def test_bad_input(videos, change, error, match):
    X, y = change(*videos)
    with pytest.raises(error, match=match):
        TVNetActionClassifier(**tiny()).fit(X, y)


def test_short_video_at_prediction(fitted, videos):
    with pytest.raises(ValueError, match=r"X\[1\] has 5 frames, fewer than n_frames=6"):
        fitted.predict([videos[0][0], videos[0][1][:5]])


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(flow=tiny_flow(train="everything")), ValueError, "train must be one of"),
        (dict(flow="tvnet-8-2-15"), TypeError,
         r"flow must be a TVNetFlow or None, got 'tvnet-8-2-15' \(for weights, "
         r"flow=TVNetFlow\(weights='tvnet-8-2-15'\)\)"),
        (dict(head="vgg"), ValueError, "head"),
        (dict(n_frames=1), ValueError, "n_frames"),
        (dict(frame_shape=(4, 4)), ValueError, r"frame_shape must be at least \(8, 8\)"),
        (dict(frame_shape=(24,)), TypeError, r"frame_shape must be a pair of integers \(H, W\) or None"),
        (dict(head_width=10), ValueError, "head_width must be a multiple of 4"),
        (dict(flow_loss_weight=-1), ValueError, "flow_loss_weight"),
        (dict(normalize_brightness="yes"), ValueError, "normalize_brightness"),
        (dict(camera_motion=True), ValueError, "camera_motion"),
        (dict(augment="yes"), ValueError, "augment"),
    ],
)
def test_bad_parameters(videos, params, error, match):
    with pytest.raises(error, match=match):
        TVNetActionClassifier(**{**tiny(), **params}).fit(*videos)


# ------------------------------------------------------------------ scikit-learn integration
def test_grid_search_compares_frozen_and_end_to_end_tvnet(videos):
    X, y = videos
    grid = GridSearchCV(TVNetActionClassifier(**tiny(), random_state=0),
                        {"flow__train": [None, "all"]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["flow__train"] in (None, "all")
    assert list(grid.cv_results_["param_flow__train"]) == [None, "all"]
    trained = {est.flow.train for est in [grid.best_estimator_]}
    assert trained == {grid.best_params_["flow__train"]}
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_estimator_.predict(X).shape == (16,)


def test_cross_val_score(videos):
    X, y = videos
    scores = cross_val_score(TVNetActionClassifier(**tiny(), random_state=0), X, y, cv=2)
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()


def test_clone_and_params():
    clf = TVNetActionClassifier(flow=TVNetFlow(n_iters=7, train="u0"), head=_linear_head)
    copy = clone(clf)
    assert copy.flow is not clf.flow and copy.flow.get_params() == clf.flow.get_params()
    assert copy.set_params(flow__n_iters=3).flow.n_iters == 3 and clf.flow.n_iters == 7
    deep = clf.get_params()
    assert deep["flow__train"] == "u0" and deep["head"] is _linear_head


def test_the_default_flow_stage_is_tunable_through_flow_parameters():
    """flow=None is DEFAULT_FLOW: its parameters are listed as flow__<name>, and setting one
    makes the flow stage that default with the change (what GridSearchCV does)."""
    clf = TVNetActionClassifier()
    assert clf.flow is None
    assert {key[6:]: value for key, value in clf.get_params().items()
            if key.startswith("flow__")} == TVNetFlow(**DEFAULT_FLOW).get_params()
    assert "flow__n_iters" not in clf.get_params(deep=False)
    clone(clf).set_params(flow__n_iters=3)
    assert clf.flow is None  # a clone's change stays in the clone
    clf.set_params(flow__n_iters=3)
    assert clf.flow.get_params() == TVNetFlow(**{**DEFAULT_FLOW, "n_iters": 3}).get_params()
    assert clone(clf).set_params(flow=None).get_params()["flow__n_iters"] == 10


def test_the_flow_stage_sets_tvnet_and_its_weights(videos):
    """The default flow stage is TVNet-2-1-10 at 0.5 from TV-L1; a flow stage with bundled
    weights starts TVNet from them, with their structure."""
    clf = TVNetActionClassifier()
    tvnet = clf._load_tvnet()
    assert (clf.structure_, clf.weights_, clf.config_["zoom_factor"]) == ("TVNet-2-1-10", None,
                                                                          0.5)
    assert tvnet.u0.requires_grad and tvnet.log_lmbda.requires_grad
    X, y = videos
    frozen = TVNetActionClassifier(**tiny(flow=TVNetFlow(train=None)), random_state=0).fit(X, y)
    reference = load_pretrained()
    assert frozen.structure_ == reference.structure_ and frozen.weights_ == reference.weights_
    expected = reference.model_.state_dict()
    assert all(torch.equal(value.cpu(), expected[key].cpu())
               for key, value in frozen.model_.tvnet.state_dict().items())


# ------------------------------------------------------------------ persistence
def test_joblib_round_trip_is_bit_exact(fitted, videos, tmp_path):
    X, _ = videos
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    assert loaded.loss_curve_ == fitted.loss_curve_


def test_safe_save_load_round_trip_is_bit_exact(fitted, videos, tmp_path):
    X, _ = videos
    fitted.save(tmp_path / "model.sktvnet")
    loaded = TVNetActionClassifier.load(tmp_path / "model.sktvnet")
    assert repr(loaded.get_params()) == repr(fitted.get_params())  # flow: a new, equal stage
    assert isinstance(loaded.flow, TVNetFlow) and loaded.config_ == fitted.config_
    assert loaded.classes_.tolist() == ["left", "right"] and loaded.classes_.dtype.kind == "U"
    assert loaded.loss_curve_ == fitted.loss_curve_ and loaded.n_iter_ == fitted.n_iter_
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_custom_head_pickles_but_is_not_saved_as_code(videos, tmp_path):
    X, y = videos
    clf = TVNetActionClassifier(**{**tiny(), "head": _linear_head}, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(TypeError, match="head=.* cannot be written as JSON .* use joblib.dump"):
        clf.save(tmp_path / "model.sktvnet")
    assert list(tmp_path.iterdir()) == []


def test_cuda_fitted_model_loads_on_cpu(fitted, videos):
    X, _ = videos
    actual = fitted._device  # CUDA itself on a machine that has it
    fitted._device = torch.device("cuda")  # pretend it was fitted on a GPU
    blob = pickle.dumps(fitted)
    fitted._device = actual
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(UserWarning, match="loaded on the CPU"):
            loaded = pickle.loads(blob)
    assert loaded._device.type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-4)


def test_set_output_pandas_on_a_pipeline_holding_the_classifier(videos):
    from sklearn.pipeline import make_pipeline

    X, y = videos
    pipe = make_pipeline(TVNetActionClassifier(**tiny(), random_state=0))
    assert pipe.set_output(transform="pandas") is pipe
    assert isinstance(pipe.fit(X, y).predict(X), np.ndarray)
