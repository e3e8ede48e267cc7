"""Stage 4, results: the immutable fit result and what is read from it.

:func:`make_result` (lme4's ``mkMerMod``) builds a :class:`MixResult` from
the design, the :class:`FitSettings` and the outputs of the estimation
stage. Every result holds an :class:`Estimates` record: the estimates and a
registry of covariance kinds (:class:`Covariance`) with one default, read by
every output (:mod:`.covariances`): the summary (text, HTML, LaTeX, JSON),
tidy tables, Wald tests and intervals (:mod:`.inference`), plots. Predictions
(:mod:`.predict`), residuals and simulation (:mod:`.diagnostics`) complete a
single fit; :class:`Result` (:mod:`.protocol`) is what every result type
offers.
"""

from .covariances import Covariance, Covariances, Estimates
from .protocol import Report, Result
from .result import MixResult, make_result
from .settings import FitSettings

__all__ = [
    "FitSettings",
    "MixResult",
    "make_result",
    "Estimates",
    "Covariance",
    "Covariances",
    "Result",
    "Report",
]
