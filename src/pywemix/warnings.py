"""Warning categories, so that users can filter pywemix's warnings by kind."""

__all__ = ["PywemixWarning", "DataWarning", "ConvergenceWarning", "BoundaryWarning",
           "FewGroupsWarning", "PseudoLikelihoodWarning", "WeightWarning"]


class PywemixWarning(UserWarning):
    """Base class of every warning pywemix issues."""


class DataWarning(PywemixWarning):
    """Rows or groups were dropped (missing values, zero weights)."""


class WeightWarning(PywemixWarning):
    """The weights look suspicious (for example already conditional)."""


class ConvergenceWarning(PywemixWarning):
    """The optimiser stopped without meeting its convergence criteria."""


class BoundaryWarning(PywemixWarning):
    """A variance component was estimated on the boundary (zero)."""


class FewGroupsWarning(PywemixWarning):
    """Too few top-level groups for reliable cluster-robust standard errors."""


class PseudoLikelihoodWarning(PywemixWarning):
    """A likelihood-based quantity was asked of a weighted (pseudo-likelihood) fit."""
