"""The training loop shared by the estimators (sktvnet/estimators/_training.py)."""

import math

import numpy as np
import pytest
import torch

from sktvnet import TVNetFlow
from sktvnet.estimators._training import (PART_PARAMETERS, TRAIN_PARTS, CentredTapSums,
                                          parse_train, split_validation)
from sktvnet.network import TVNet


def _pairs(n=4, shape=(20, 24), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((n,) + shape).astype(np.float32)
    return np.stack([base, np.roll(base, 1, axis=-1)], axis=1)


def _flow_pairs(n=4, shape=(20, 24), seed=0):
    """Pairs shifted by one pixel to the right, and their flows (n, 1, 2, H, W)."""
    X = _pairs(n, shape, seed)
    y = np.zeros((n, 1, 2) + shape, np.float32)
    y[:, :, 0] = -1.0
    return X, y


@pytest.mark.parametrize("train, parts", [
    (None, set()), ("u0", {"u0"}), ("filters", {"filters"}), ("steps", {"steps"}),
    ("u0+filters", {"u0", "filters"}), ("u0+steps", {"u0", "steps"}),
    ("filters+steps", {"filters", "steps"}), ("u0+filters+steps", {"u0", "filters", "steps"}),
    ("all", {"u0", "filters", "steps"}),
])
def test_parse_train_gives_the_flags_of_the_parts(train, parts):
    flags = parse_train(train)
    assert flags == {f"train_{part}": part in parts for part in ("u0", "filters", "steps")}
    net = TVNetFlow(weights=None, train=train)._initialize().model_
    trained = {name for name, p in net.named_parameters() if p.requires_grad}
    assert trained == {name for part in parts for name in PART_PARAMETERS[part]}


@pytest.mark.parametrize("train", ["steps+u0", "filter", "all+u0", ""])
def test_parse_train_rejects_other_spellings(train):
    with pytest.raises(ValueError, match=r"train must be one of .*'filters\+steps'.*got"):
        parse_train(train)
    with pytest.raises(ValueError, match="'train' parameter"):
        TVNetFlow(weights=None, train=train).fit(_pairs())


def test_a_diverging_run_is_restored_to_its_starting_state():
    X, y = _flow_pairs()
    est = TVNetFlow(weights=None, n_iters=5, train="all", loss="epe", max_iter=6, batch_size=2,
                    learning_rate=1e4, validation_fraction=0.5, random_state=0).fit(X, y)
    frozen = TVNetFlow(weights=None, n_iters=5).fit(X)
    scores = np.array(est.validation_scores_)
    assert len(scores) == est.max_iter + 1  # the untrained state, then every step (max_iter < 10)
    assert not (scores[1:] >= scores[0]).any()  # worse or NaN after every step
    assert est.best_validation_score_ == scores[0]
    np.testing.assert_array_equal(est.transform(X), frozen.transform(X))


@pytest.mark.parametrize("max_iter, expected", [(1, 2), (9, 10), (20, 11), (25, 11)])
def test_validation_scores_once_before_and_ten_times_along_training(max_iter, expected):
    X, y = _flow_pairs(3, shape=(12, 12))
    est = TVNetFlow(weights=None, n_iters=2, train="steps", loss="epe", max_iter=max_iter,
                    batch_size=2, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == expected
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_a_single_pair_is_trained_and_validated_on():
    X, y = _flow_pairs(1)
    est = TVNetFlow(weights=None, n_iters=5, train="steps", loss="epe", max_iter=3,
                    random_state=0).fit(X, y)
    assert len(est.validation_scores_) == 4
    assert est.best_validation_score_ == pytest.approx(est.score(X, y), rel=1e-5)


@pytest.mark.parametrize("fraction", [0, 1.0, -0.1, "half"])
def test_validation_fraction_is_checked(fraction):
    with pytest.raises(ValueError, match="'validation_fraction' parameter"):
        TVNetFlow(weights=None, train="steps", validation_fraction=fraction).fit(_pairs())


def test_split_validation_holds_out_at_least_one_and_never_everything():
    generator = torch.Generator().manual_seed(0)
    for n, fraction, n_held in [(10, 0.2, 2), (3, 0.01, 1), (2, 0.99, 1), (1, 0.5, 1)]:
        train, validation = split_validation(n, fraction, generator)
        assert len(validation) == n_held
        assert set(train) | set(validation) == set(range(n))
        assert n == 1 or not set(train) & set(validation)
    assert split_validation(5, None, generator) == ([0, 1, 2, 3, 4], [])


def test_without_validation_the_last_state_is_kept():
    X = _pairs()
    est = TVNetFlow(weights=None, n_iters=5, train="filters", max_iter=3, batch_size=2,
                    validation_fraction=None, random_state=0).fit(X)
    assert not torch.equal(est.model_.forward_weight.cpu(), est._make_network().forward_weight)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert est.validation_scores_ == [] and est.best_validation_score_ is None


@pytest.mark.parametrize("train", list(TRAIN_PARTS))
def test_one_parameter_group_per_trained_part(train):
    est = TVNetFlow(weights=None, train=train, learning_rate=0.5)
    est._initialize()
    groups = est._parameter_groups()
    # The filters' part has two groups: the taps, and the pre-smoothing at the steps' rate.
    parts = TRAIN_PARTS[train]
    assert {g["name"] for g in groups} == parts | (
        {"filters/log_presmoothing"} if "filters" in parts else set())
    # u0 at a tenth, the taps a hundredth
    rates = {"u0": 0.05, "filters": 0.005, "steps": 0.5, "filters/log_presmoothing": 0.5}
    assert all(g["lr"] == pytest.approx(rates[g["name"]]) and g["weight_decay"] == 0.0
               for g in groups)
    trained = {id(p) for g in groups for p in g["params"]}
    assert trained == {id(p) for p in est.model_.parameters() if p.requires_grad}


def test_cosine_schedule_decays_to_zero():
    est = TVNetFlow(weights=None, train="steps", learning_rate=1.0)
    est._initialize()
    optimizer = est._initialize_optimizer()
    schedule = est._initialize_schedule(optimizer, 4)
    rates = []
    for _ in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    rates.append(optimizer.param_groups[0]["lr"])
    expected = [0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(5)]
    assert rates == pytest.approx(expected)


def test_flow_gradients_are_clipped(monkeypatch):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm):
        params = list(params)
        clip(params, max_norm)
        norms.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(p.grad) for p in params]))))

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    TVNetFlow(weights=None, n_iters=5, train="all", max_iter=2, batch_size=2,
              random_state=0).fit(_pairs())
    assert len(norms) == 2 and max(norms) <= 1.0 + 1e-5


def test_training_the_filters_keeps_the_sum_of_each_set_of_centred_taps():
    X, y = _flow_pairs()
    # zoom 0.7 keeps both levels of these small frames (at 0.5 the coarser one is capped away).
    est = TVNetFlow(weights=None, n_scales=2, n_iters=5, zoom_factor=0.7, train="filters",
                    loss="epe", max_iter=3, batch_size=2, learning_rate=50.0,
                    validation_fraction=None, random_state=0).fit(X, y)
    start = est._make_network()
    trained = est.model_.centered_weight.detach().cpu()
    assert (trained - start.centered_weight).abs().min() > 1e-3  # every tap has learned
    torch.testing.assert_close(trained.sum(-1), start.centered_weight.sum(-1),
                               atol=1e-6, rtol=0)
    assert not torch.equal(est.model_.forward_weight.cpu(), start.forward_weight)


def test_centred_tap_sums_projects_the_gradient_and_shifts_the_taps_back_to_their_sums():
    torch.manual_seed(0)
    model = torch.nn.Sequential(TVNet(n_scales=3, n_iters=2, train_filters=True),
                                TVNet(n_iters=2, train_filters=False))
    centred = model[0].centered_weight
    with torch.no_grad():
        centred.copy_(torch.randn_like(centred))  # loaded weights whose sums are not zero
    sums = centred.detach().sum(-1)
    with CentredTapSums(model) as taps:
        assert len(taps.taps) == 1 and taps.taps[0][0] is centred  # the frozen TVNet's stay
        (centred ** 3).sum().backward()
        torch.testing.assert_close(centred.grad, 3 * centred.detach() ** 2
                                   - (3 * centred.detach() ** 2).mean(-1, keepdim=True))
        with torch.no_grad():
            centred.add_(torch.randn_like(centred))
        moved = centred.detach().clone()
        taps.restore()
    torch.testing.assert_close(centred.detach().sum(-1), sums)
    shift = centred.detach() - moved
    torch.testing.assert_close(shift, shift[..., :1].expand_as(shift))
    centred.grad = None
    (centred ** 3).sum().backward()  # outside, the gradient is the plain one again
    torch.testing.assert_close(centred.grad, 3 * centred.detach() ** 2)


def test_one_warp_learns_a_wider_presmoothing_on_large_motion():
    """TVNet-1-1-20 trained with its filters on a real image moved by 3 px: the pre-smoothing's
    sigma grows from IPOL's 0.8 (at the steps' rate, the taps' hundredth could not move it) and
    the error on the training pairs falls."""
    from sktvnet.datasets import make_flow_pairs

    X, y = make_flow_pairs(6, frame_shape=(48, 48), max_displacement=3.0, images="train",
                           random_state=0)
    params = dict(n_scales=1, n_warps=1, n_iters=20, loss="epe", batch_size=3, crop_size=None,
                  validation_fraction=None, random_state=0)
    frozen = TVNetFlow(weights=None, **params).fit(X, y)
    est = TVNetFlow(weights=None, **params, train="filters", max_iter=30).fit(X, y)
    # At the taps' hundredth of the rate it could reach 0.8 * exp(0.006): 0.805.
    assert float(est.model_.presmoothing_sigma().detach()) > 1.0
    assert est.score(X, y) > frozen.score(X, y)
