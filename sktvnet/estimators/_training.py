"""One training loop for the torch estimators, and the TVNet they build and train.

The loop is cut into small steps that an estimator overrides where it differs, as skorch's
``NeuralNet`` is (``initialize_optimizer``, ``train_step``, ``fit_loop``):

* :meth:`TrainingMixin._parameter_groups`: what is trained, with which learning rate;
* :meth:`TrainingMixin._initialize_optimizer` and :meth:`TrainingMixin._initialize_schedule`:
  Adam(W) and one cosine decay to zero over all the steps;
* :meth:`TrainingMixin._compute_loss`: the loss of one minibatch;
* :meth:`TrainingMixin._train_step`: backward, gradient clipping, optimiser and schedule steps;
* :meth:`TrainingMixin._validate_step`: a validation score every few steps (none by default);
  the loop keeps the best-scoring state and restores it at the end;
* :meth:`TrainingMixin._record_epoch`: what ``loss_curve_`` stores.

The meaning of the ``train`` parameter (which parts of TVNet learn) lives here too, beside the one
function that builds TVNet from an estimator's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from sklearn.utils._param_validation import StrOptions
from tqdm.auto import tqdm

from .._validation import TVNET_SPECS, sklearn_constraints
from ..network import TVNet

# The trainable parts of TVNet (Fan et al. 2018, Section 4.2) and their parameters in the module.
PART_PARAMETERS = {
    "u0": ("u0",),
    "filters": ("centered_weight", "forward_weight", "divergence_weight"),
}
# Values of the estimators' ``train`` parameter -> the parts of TVNet they train.
TRAIN_PARTS = {
    None: frozenset(),
    "u0": frozenset({"u0"}),
    "filters": frozenset({"filters"}),
    "all": frozenset(PART_PARAMETERS),
}

# The estimators' constraints of TVNet's parameters, derived from the same specs as TVNet's own
# checks (sktvnet._validation), plus ``train``.
TVNET_CONSTRAINTS = {
    **sklearn_constraints(TVNET_SPECS),
    "train": [StrOptions({name for name in TRAIN_PARTS if name is not None}), None],
}


def build_tvnet(estimator) -> TVNet:
    """TVNet with the estimator's structure and constants, trainable in the parts of ``train``."""
    parts = TRAIN_PARTS[estimator.train]
    return TVNet(**{name: getattr(estimator, name) for name in TVNET_SPECS},
                 train_u0="u0" in parts, train_filters="filters" in parts)


def tvnet_parameter_groups(tvnet: TVNet, learning_rates: dict[str, float]) -> list[dict]:
    """One optimiser group per trained part of ``tvnet`` (named by the part), so that each part
    may have its own learning rate; TVNet's parameters have no weight decay."""
    parameters = dict(tvnet.named_parameters())
    groups = []
    for part, names in PART_PARAMETERS.items():
        params = [parameters[name] for name in names if parameters[name].requires_grad]
        if params:
            groups.append(dict(params=params, lr=learning_rates[part], weight_decay=0.0,
                               name=part))
    return groups


class TrainingMixin:
    """The training loop shared by the estimators (see the module docstring for its steps).

    The estimator holds the network in ``model_`` and a ``learning_rate`` and ``verbose``
    parameter; it implements :meth:`_parameter_groups` and :meth:`_compute_loss`.
    """

    # Largest gradient norm before a step (None: no clipping).
    _max_grad_norm: float | None = None

    def _parameter_groups(self) -> list[dict]:
        raise NotImplementedError

    def _compute_loss(self, batch) -> tuple[torch.Tensor, dict]:
        """The loss of ``batch`` (to minimise) and other numbers to record, ``{name: float}``."""
        raise NotImplementedError

    def _initialize_optimizer(self) -> torch.optim.Optimizer:
        groups = [g for g in self._parameter_groups() if g["params"]]
        return torch.optim.AdamW(groups, lr=self.learning_rate, weight_decay=0.0)

    def _initialize_schedule(self, optimizer, total_steps: int):
        # Cosine decay to zero: large updates early, a settled network at the end (with a
        # constant rate the unrolled iteration drifts in and out of stability between steps).
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / total_steps)))

    def _train_step(self, batch, optimizer, schedule) -> dict:
        loss, record = self._compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._max_grad_norm is not None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm=self._max_grad_norm)
        optimizer.step()
        schedule.step()
        return {"loss": float(loss.detach()), **record}

    def _validate_step(self, step: int) -> float | None:
        """A validation score (higher is better) after ``step`` steps, or None not to score now.

        The default never scores. An estimator that holds out validation pairs overrides it;
        the loop then keeps the state of the best score (the untrained state, ``step=0``,
        included) and restores it at the end. The network is in training mode when this is
        called: switch it to ``eval()`` and back.
        """
        return None

    def _record_epoch(self, records: list[dict]) -> None:
        """Store the records of one epoch's steps; the default keeps every step's loss."""
        self.loss_curve_.extend(record["loss"] for record in records)

    def _fit_loop(self, n_epochs: int, n_batches: int,
                  epoch_batches: Callable[[int], Iterable]) -> None:
        """Train ``model_`` for ``n_epochs`` epochs of ``n_batches`` minibatches each, drawn
        from ``epoch_batches(epoch)``, on one cosine schedule over all the steps."""
        optimizer = self._initialize_optimizer()
        schedule = self._initialize_schedule(optimizer, n_epochs * n_batches)
        # The untrained state is a candidate too, so that training never ends worse than it began.
        best = self._keep_best(0, (None, None))
        step = 0
        self.model_.train()
        for epoch in range(n_epochs):
            desc = f"{type(self).__name__}.fit" + (f" epoch {epoch + 1}/{n_epochs}"
                                                   if n_epochs > 1 else "")
            bar = tqdm(epoch_batches(epoch), total=n_batches, desc=desc, unit="step",
                       disable=not self.verbose)
            records = []
            for batch in bar:
                records.append(self._train_step(batch, optimizer, schedule))
                step += 1
                bar.set_postfix(loss=f"{sum(r['loss'] for r in records) / len(records):.4f}")
                best = self._keep_best(step, best)
            self._record_epoch(records)
        if best[1] is not None:
            self.model_.load_state_dict(best[1])
        self.model_.eval()

    def _keep_best(self, step: int, best: tuple) -> tuple:
        """``(score, state)`` of the best validation score so far, with the score at ``step``."""
        score = self._validate_step(step)
        if score is None or (best[0] is not None and score <= best[0]):
            return best
        return score, {k: v.detach().clone() for k, v in self.model_.state_dict().items()}
