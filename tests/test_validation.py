"""The one validation module: its checkers, and the estimators' constraints derived from them."""

import ast
import inspect
import math

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from sktvnet import TVNet, TVNetActionClassifier, TVNetFlow, _validation
from sktvnet._validation import TVNET_SPECS, RealSpec


def _interval_ends(spec):
    """Values around the ends of a spec's interval, plus values no spec accepts."""
    values = [None, True, "1", math.inf, -math.inf, math.nan]
    if isinstance(spec, RealSpec):
        for end in (spec.low, spec.high):
            if end is not None:
                values += [end, np.nextafter(end, -np.inf), np.nextafter(end, np.inf),
                           np.float32(end)]
        values += [1e300, -1e300]
    else:
        values += [spec.low - 1, spec.low, spec.low + 1, np.int64(spec.low), 2.0]
    return values


def _tvnet_accepts(name, value):
    try:
        TVNet(**{name: value})
    except (TypeError, ValueError):
        return False
    return True


def _constraints_accept(estimator, name, value):
    try:
        validate_parameter_constraints(estimator._parameter_constraints, {name: value},
                                       caller_name=estimator.__name__)
    except InvalidParameterError:
        return False
    return True


@pytest.mark.parametrize("name", list(TVNET_SPECS))
def test_estimator_constraints_accept_what_tvnet_accepts(name):
    spec = TVNET_SPECS[name]
    # TVNetFlow's None is "follow the weights" (or the frozen default), resolved before TVNet.
    disagreements = [(value, _constraints_accept(TVNetFlow, name, value))
                     for value in _interval_ends(spec)
                     if _constraints_accept(TVNetFlow, name, value)
                     != (_tvnet_accepts(name, value) or value is None)]
    assert disagreements == []


def test_the_classifier_holds_no_copy_of_tvnets_parameters():
    # Its flow stage is a TVNetFlow, whose constraints are the ones above.
    assert not set(TVNET_SPECS) & set(TVNetActionClassifier._parameter_constraints)


def test_eps_zero_is_refused_by_the_estimator_before_training():
    videos = np.random.default_rng(0).random((1, 2, 8, 8))
    with pytest.raises(InvalidParameterError, match="'eps' parameter of TVNetFlow must be"):
        TVNetFlow(weights=None, eps=0).fit(videos)
    with pytest.raises(ValueError, match="eps must be > 0.0, got 0.0"):
        TVNet(eps=0)


def test_n_scales_none_is_refused_by_tvnet_and_followed_by_the_estimator():
    # The reference takes None (as many levels as the image allows); TVNet owns filters per
    # level and needs the number.
    assert not _tvnet_accepts("n_scales", None)
    # TVNetFlow's None follows the weights, or the frozen default: a number reaches TVNet.
    videos = np.random.default_rng(0).random((1, 2, 8, 8))
    assert TVNetFlow(weights=None, n_scales=None, n_iters=2).fit(videos).model_.n_scales == 10


def test_validation_module_never_imports_torch_or_sklearn_at_module_level():
    tree = ast.parse(inspect.getsource(_validation))
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint({"torch", "sklearn"}), imported


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((1, 1, 4, 4))), TypeError, "x must be a torch.Tensor, got ndarray"),
    (dict(x=torch.zeros(1, 4, 4)), ValueError, r"x must have shape \(B, C, H, W\), got \(1, 4, 4\)"),
    (dict(x=torch.zeros(1, 2, 4, 4), channels=(1, 3)), ValueError, "x must have 1 or 3 channel"),
    (dict(x=torch.zeros(1, 1, 4, 4, dtype=torch.int32)), TypeError, "floating-point tensor"),
])
def test_check_tensor_errors(kwargs, error, match):
    x = kwargs.pop("x")
    with pytest.raises(error, match=match):
        _validation.check_tensor(x, "x", **kwargs)


@pytest.mark.parametrize("shape, error, match", [
    ((4,), TypeError, r"shape must be a pair of integers \(H, W\), got \(4,\)"),
    ((4.0, 5), TypeError, "pair of integers"),
    ((3, 8), ValueError, r"shape must be at least \(4, 4\), got \(3, 8\)"),
])
def test_check_size_errors(shape, error, match):
    with pytest.raises(error, match=match):
        _validation.check_size(shape)
    assert _validation.check_size(None, none_ok=True) is None
    assert _validation.check_size((np.int64(4), 5)) == (4, 5)
