"""scikit-learn estimators built on TVNet."""

from ._action import TVNetActionClassifier
from ._flow import TVNetFlow

__all__ = ["TVNetActionClassifier", "TVNetFlow"]
