"""scikit-learn estimators built on TVNet."""

from ._action import TVNetActionClassifier
from ._histogram import FlowHistogram
from ._flow import TVNetFlow, load_pretrained

__all__ = ["FlowHistogram", "TVNetActionClassifier", "TVNetFlow", "load_pretrained"]
