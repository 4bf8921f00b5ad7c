"""The training loop shared by the estimators (sktvnet/estimators/_training.py)."""

import math

import numpy as np
import pytest
import torch

from sktvnet import TVNetFlow, losses
from sktvnet.estimators._training import TRAIN_PARTS, build_tvnet


def _pairs(n=4, shape=(20, 24), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((n,) + shape).astype(np.float32)
    return np.stack([base, np.roll(base, 1, axis=-1)], axis=1)


class _ValidatedFlow(TVNetFlow):
    """TVNetFlow scored every step by the TV-L1 energy of a fixed held-out pair (higher is
    better): the hook that validation_fraction will fill."""

    def _validate_step(self, step):
        x0, x1 = (torch.from_numpy(f[:, None]).to(self._device) for f in self._held_out)
        self.model_.eval()
        with torch.no_grad():
            energy = losses.tvl1_energy(self.model_(x0, x1), x0, x1, lmbda=self.lmbda)
        self.model_.train()
        self.scores_.append(-float(energy))
        return self.scores_[-1]


def test_best_state_is_restored_after_a_diverging_run():
    X = _pairs()
    est = _ValidatedFlow(n_iters=5, train="all", max_iter=6, batch_size=2, learning_rate=50.0,
                         random_state=0)
    est._held_out = (X[:2, 0], X[:2, 1])
    est.scores_ = []
    est.fit(X)
    assert len(est.scores_) == est.max_iter + 1  # the untrained state and every step
    # The huge learning rate makes training worse than where it began; the best state is kept.
    assert min(est.scores_[1:]) < est.scores_[0]
    final = est.scores_[:]
    est._validate_step(-1)
    assert est.scores_[-1] == pytest.approx(max(final), rel=1e-6)


def test_without_validation_the_last_state_is_kept():
    X = _pairs()
    est = TVNetFlow(n_iters=5, train="filters", max_iter=3, batch_size=2, random_state=0).fit(X)
    assert not torch.equal(est.model_.forward_weight, build_tvnet(est).forward_weight)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3


@pytest.mark.parametrize("train", list(TRAIN_PARTS))
def test_one_parameter_group_per_trained_part(train):
    est = TVNetFlow(train=train, learning_rate=0.5)
    est.model_ = build_tvnet(est)
    groups = est._parameter_groups()
    assert {g["name"] for g in groups} == TRAIN_PARTS[train]
    assert all(g["lr"] == 0.5 and g["weight_decay"] == 0.0 for g in groups)
    trained = {id(p) for g in groups for p in g["params"]}
    assert trained == {id(p) for p in est.model_.parameters() if p.requires_grad}


def test_cosine_schedule_decays_to_zero():
    est = TVNetFlow(train="all", learning_rate=1.0)
    est.model_ = build_tvnet(est)
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
    TVNetFlow(n_iters=5, train="all", max_iter=2, batch_size=2, random_state=0).fit(_pairs())
    assert len(norms) == 2 and max(norms) <= 1.0 + 1e-5
