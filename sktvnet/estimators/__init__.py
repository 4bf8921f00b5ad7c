"""scikit-learn estimators built on TVNet."""

from .._threads import before_torch

before_torch()  # the wait policy, before the estimators' modules load torch

from ._action import TVNetActionClassifier  # noqa: E402
from ._histogram import FlowHistogram  # noqa: E402
from ._flow import TVNetFlow, load_pretrained  # noqa: E402

__all__ = ["FlowHistogram", "TVNetActionClassifier", "TVNetFlow", "load_pretrained"]
