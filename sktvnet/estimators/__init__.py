"""scikit-learn estimators built on TVNet."""

from ._action import TVNetActionClassifier
from ._histogram import FlowHistogram
from ._flow import TVNetFlow

__all__ = ["FlowHistogram", "TVNetActionClassifier", "TVNetFlow"]
