"""One training loop for the torch estimators, and the TVNet they build and train.

The loop is cut into small steps that an estimator overrides where it differs, as skorch's
``NeuralNet`` is (``initialize_optimizer``, ``train_step``, ``fit_loop``):

* :meth:`TrainingMixin._parameter_groups`: what is trained, with which learning rate;
* :meth:`TrainingMixin._initialize_optimizer` and :meth:`TrainingMixin._initialize_schedule`:
  Adam(W) and one cosine decay to zero over all the steps;
* :meth:`TrainingMixin._compute_loss`: the loss of one minibatch;
* :meth:`TrainingMixin._train_step`: backward, gradient clipping, optimiser and schedule steps;
  the loop keeps the sum of every trained set of centred-gradient taps
  (:class:`CentredTapSums`);
* :meth:`TrainingMixin._validation_score`: the score on held-out data, taken before the first
  step and every few steps (none by default); the loop records the scores
  (``validation_scores_``), keeps the best-scoring state and restores it at the end;
* :meth:`TrainingMixin._record_epoch`: what ``loss_curve_`` stores.

The meaning of the ``train`` parameter (which parts of TVNet learn, :func:`parse_train`) and the
learning rate of each part live here too (TVNet itself is built from weights by
:func:`sktvnet.pretrained.load_tvnet`, through ``TVNetFlow``), beside the split of the validation
data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from sklearn.utils._param_validation import StrOptions

from .. import _progress
from .._validation import TVNET_SPECS, sklearn_constraints
from ..network import TVNet

# The trainable parts of TVNet and their parameters in the module: the paper's initial flow and
# difference filters (Fan et al. 2018, Section 4.2), and the step sizes tau, lambda, theta of
# every iteration (``TVNet(train_steps=True)``).
PART_PARAMETERS = {
    "u0": ("u0",),
    "filters": ("centered_weight", "forward_weight", "divergence_weight", "log_presmoothing"),
    "steps": ("log_lmbda", "log_theta", "tau_logit"),
}
# TVNetFlow's learning rate of each part relative to its ``learning_rate`` (that of the steps).
# The unrolled iteration is far more sensitive to its filters and u0 than to its log step sizes:
# at the steps' rate they made multi-warp structures worse on held-out pairs (issue #11); at a
# tenth, filters trained on 128x128 pairs still made TVNet-4-3-10 and TVNet-3-5-10 worse on
# held-out 240x320 pairs, so they take a hundredth (CHANGELOG.md, "Training: learning rates").
# Most of that harm came from the centred taps' drift off zero sum, which training now
# prevents (CentredTapSums); benchmarks/bench_heldout_draws.py measures the rates since.
PART_LR_RATIOS = {"u0": 0.1, "filters": 0.01, "steps": 1.0}
# Parameters whose rate is not their part's (with ``ratios``). The pre-smoothing's log sigma is a
# scale-free scalar like the log step sizes: at the filters' hundredth it could move by about
# 0.03 in TVNetFlow's 300 Adam steps, where TVNet-1-1-50 wants 1.0 (sigma 0.8 -> 2.3).
PARAMETER_LR_RATIOS = {"log_presmoothing": 1.0}


def _spellings() -> dict:
    """Every accepted value of ``train`` -> the parts it trains: None, each part, each pair and
    the three joined by "+" in the order of PART_PARAMETERS, and "all" for the three."""
    names = list(PART_PARAMETERS)
    spellings: dict = {None: frozenset()}
    for mask in range(1, 2 ** len(names)):
        chosen = [n for k, n in enumerate(names) if mask >> k & 1]
        spellings["+".join(chosen)] = frozenset(chosen)
    spellings["all"] = frozenset(names)
    return spellings


# Values of the estimators' ``train`` parameter -> the parts of TVNet they train.
TRAIN_PARTS = _spellings()

# The estimators' constraints of TVNet's parameters, derived from the same specs as TVNet's own
# checks (sktvnet._validation), plus ``train``.
TVNET_CONSTRAINTS = {
    **sklearn_constraints(TVNET_SPECS),
    "train": [StrOptions({name for name in TRAIN_PARTS if name is not None}), None],
}


def parse_train(train: str | None) -> dict[str, bool]:
    """TVNet's flags ``train_u0``, ``train_filters``, ``train_steps`` for a value of ``train``.

    Parameters
    ----------
    train : str or None
        ``None`` (nothing), ``"u0"``, ``"filters"``, ``"steps"``, parts joined by ``"+"`` in
        that order (``"u0+filters"``, ``"u0+steps"``, ``"filters+steps"``,
        ``"u0+filters+steps"``), or ``"all"`` (the three).

    Returns
    -------
    flags : dict of str to bool

    Examples
    --------
    >>> parse_train("filters+steps")
    {'train_u0': False, 'train_filters': True, 'train_steps': True}
    """
    if train not in TRAIN_PARTS:
        accepted = ", ".join(repr(name) for name in TRAIN_PARTS)
        raise ValueError(f"train must be one of {accepted}, got {train!r}; join parts with '+' "
                         "in the order u0, filters, steps")
    parts = TRAIN_PARTS[train]
    return {f"train_{part}": part in parts for part in PART_PARAMETERS}


def tvnet_parameter_groups(tvnet: TVNet, learning_rate: float,
                           ratios: dict[str, float] | None = None) -> list[dict]:
    """One optimiser group per trained part of ``tvnet`` (named by the part), at
    ``learning_rate`` times the part's ratio in ``ratios`` (None: 1 for every part), and one
    per trained parameter of ``PARAMETER_LR_RATIOS`` (named ``part/parameter``) at its own
    ratio when ``ratios`` is given; TVNet's parameters have no weight decay."""
    parameters = dict(tvnet.named_parameters())
    groups = []
    for part, names in PART_PARAMETERS.items():
        trained = [name for name in names if parameters[name].requires_grad]
        own = [] if ratios is None else [name for name in trained if name in PARAMETER_LR_RATIOS]
        shared = [parameters[name] for name in trained if name not in own]
        if shared:
            ratio = 1.0 if ratios is None else ratios[part]
            groups.append(dict(params=shared, lr=learning_rate * ratio,
                               weight_decay=0.0, name=part))
        groups += [dict(params=[parameters[name]], lr=learning_rate * PARAMETER_LR_RATIOS[name],
                        weight_decay=0.0, name=f"{part}/{name}") for name in own]
    return groups


def _zero_mean(grad: torch.Tensor) -> torch.Tensor:
    return grad - grad.mean(-1, keepdim=True)


class CentredTapSums:
    """Keep the sum of every trainable set of centred-gradient taps (``centered_weight``) of
    the TVNets in ``model`` where it is on entering, while training: a context manager.

    Inside it, the gradient of those taps loses its mean over each set (a hook on the
    parameter), so that the optimiser's running moments see only the part that keeps the sum,
    and :meth:`restore` shifts each set equally back to its sum after an optimiser step (Adam
    scales each tap's step by its own moments, so even such a gradient moves the sum). On exit
    the hooks are removed.

    Why: a derivative filter's taps sum to zero, so it does not respond to the intensity
    itself. Trained freely, the centred taps of the data term drift off that sum (by a few
    thousandths, enough to fit the training images' brightness), and what they learn then does
    not carry to other images or sizes: TVNet-3-5-10 trained on ``"filters+steps"`` at 128x128
    ended 7-31% worse than frozen on held-out 240x320 pairs (issue #11,
    benchmarks/bench_heldout_draws.py). Keeping each set's sum where it started, rather than
    at zero, leaves the function of loaded weights (``weights=...``) unchanged. Shifting the
    taps after the step without the gradient hook is not enough: Adam's moments then include
    the large mean of the gradient, which shrinks the steps of the rest (TVNet-1-1-50
    ``"all"`` gained 1-3 points less on held-out pairs than with the hook).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.taps = [(m.centered_weight, m.centered_weight.detach().sum(-1, keepdim=True))
                     for m in model.modules()
                     if isinstance(m, TVNet) and m.centered_weight.requires_grad]
        self._hooks: list = []

    def __enter__(self) -> CentredTapSums:
        self._hooks = [weight.register_hook(_zero_mean) for weight, _ in self.taps]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def restore(self) -> None:
        """Shift each set of taps equally back to its recorded sum (the nearest such taps)."""
        with torch.no_grad():
            for weight, sums in self.taps:
                weight -= (weight.sum(-1, keepdim=True) - sums) / weight.shape[-1]


def split_validation(n: int, fraction: float | None, generator: torch.Generator):
    """Indices ``(train, validation)`` of ``n`` items with ``fraction`` of them (at least one)
    held out at random; a single item is in both; ``fraction=None`` validates on nothing."""
    if fraction is None:
        return list(range(n)), []
    if n < 2:
        everything = list(range(n))
        return everything, everything
    n_validation = min(n - 1, max(1, round(fraction * n)))
    order = torch.randperm(n, generator=generator).tolist()
    return sorted(order[n_validation:]), sorted(order[:n_validation])


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
            # Groups marked clip=False (the action heads) are left out.
            params = [p for group in optimizer.param_groups if group.get("clip", True)
                      for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm=self._max_grad_norm)
        optimizer.step()
        schedule.step()
        return {"loss": float(loss.detach()), **record}

    def _validation_score(self) -> float | None:
        """The score of ``model_`` on the validation data (higher is better), or None when the
        estimator does not validate (the default). The loop calls it with the network in
        ``eval()`` mode, under ``torch.no_grad()``."""
        return None

    def _record_epoch(self, records: list[dict]) -> None:
        """Store the records of one epoch's steps; the default keeps every step's loss."""
        self.loss_curve_.extend(record["loss"] for record in records)

    def _fit_loop(self, n_epochs: int, n_batches: int,
                  epoch_batches: Callable[[int], Iterable], n_validations: int) -> None:
        """Train ``model_`` for ``n_epochs`` epochs of ``n_batches`` minibatches each, drawn
        from ``epoch_batches(epoch)``, on one cosine schedule over all the steps.

        The network is scored (:meth:`_validation_score`) before the first step and
        ``n_validations`` times along training, evenly (after every step if there are fewer),
        the last after the last step; the scores go to ``validation_scores_``, and the state of
        the best (the latest of equal ones: as good and more trained) is restored at the end,
        so that training never ends worse on the validation data than it began.
        """
        total = n_epochs * n_batches
        optimizer = self._initialize_optimizer()
        schedule = self._initialize_schedule(optimizer, total)
        self.validation_scores_ = []
        self.best_validation_score_ = None
        best_state = self._keep_best()
        with CentredTapSums(self.model_) as taps:
            step = 0
            self.model_.train()
            for epoch in range(n_epochs):
                desc = f"{type(self).__name__}.fit" + (f" epoch {epoch + 1}/{n_epochs}"
                                                       if n_epochs > 1 else "")
                bar = _progress.progress(epoch_batches(epoch), total=n_batches, desc=desc,
                                         unit="step", disable=not self.verbose)
                records = []
                for batch in bar:
                    records.append(self._train_step(batch, optimizer, schedule))
                    taps.restore()
                    step += 1
                    mean_loss = sum(r["loss"] for r in records) / len(records)
                    bar.set_postfix(loss=f"{mean_loss:.4f}")
                    if step * n_validations // total > (step - 1) * n_validations // total:
                        best_state = self._keep_best() or best_state
                self._record_epoch(records)
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.model_.eval()

    def _keep_best(self) -> dict | None:
        """Score the network now; a copy of its state if the score is the best so far."""
        self.model_.eval()
        with torch.no_grad():
            score = self._validation_score()
        self.model_.train()
        if score is None:
            return None
        self.validation_scores_.append(score)
        # A diverged network scores NaN, which compares False with everything: never keep it.
        if not math.isfinite(score) or (self.best_validation_score_ is not None
                                        and score < self.best_validation_score_):
            return None
        self.best_validation_score_ = score
        return {k: v.detach().clone() for k, v in self.model_.state_dict().items()}
