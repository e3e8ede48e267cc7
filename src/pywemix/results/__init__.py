"""Stage 4, results: the immutable fit result and what is read from it.

:func:`make_result` (lme4's ``mkMerMod``) builds a :class:`MixResult` from
the design, the :class:`FitSettings` and the outputs of the estimation
stage; the result has its summary (text, HTML), tidy tables, Wald tests and
intervals (:mod:`.inference`), predictions (:mod:`.predict`), residuals and
simulation (:mod:`.diagnostics`) and plots.
"""
from .result import MixResult, make_result
from .settings import FitSettings

__all__ = ["FitSettings", "MixResult", "make_result"]
