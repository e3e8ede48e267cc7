"""Stage 4, results: the immutable fit result and what is read from it.

:class:`~.result.MixResult` (lme4's ``mkMerMod``) with its summary (text,
HTML), tidy tables, Wald tests and intervals (:mod:`.inference`), predictions
(:mod:`.predict`), residuals and simulation (:mod:`.diagnostics`) and plots.
"""
