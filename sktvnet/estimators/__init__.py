"""scikit-learn estimators built on TVNet."""

from ._flow import TVNetFlow

__all__ = ["TVNetFlow"]
