"""Large-scale assessment inference: plausible values, replicate weights, fits
by group, pooling, survey presets.

- ``mix(..., plausible_values=...)``: one fit per plausible value, combined
  (:class:`PlausibleValuesResult`, :mod:`.plausible`);
- :class:`Replicates` and :func:`jackknife_weights`: replication variances
  (Fay's BRR, BRR, JK1, JK2, bootstrap) for every estimate of a fit,
  ``mix(..., replicates=...)``, also with plausible values;
- ``mix(..., by="cnt")``: one fit per country (:class:`ByResult`);
- :func:`pool`: Rubin's rules with Barnard-Rubin degrees of freedom, the
  same code that combines plausible values (:mod:`.combine`);
- the survey registry (:mod:`pywemix.presets`): each survey's naming rules,
  weights, scaling and replicate scheme, applied to data by :mod:`.detect`
  (for ``mix(..., survey=...)`` on a data frame: :mod:`.presets`);
- survey files: :func:`~pywemix.read_survey` and
  :func:`~pywemix.survey_data` give a :class:`~pywemix.SurveyData`, which
  ``mix`` fits with the survey's defaults (:mod:`.bind`).
- on a Dask DataFrame, the same with the rows on the workers: replicate
  refits from per-group statistics or on the actors (:mod:`.dask_refit`),
  ``by=`` one group per task after one shuffle (:mod:`.by`).

``mix`` hands every call to :func:`~pywemix.survey.dispatch.fit_survey`.
"""

from .by import ByResult, BySummary, GroupFitError
from .combine import rubin
from .dispatch import fit_survey
from .plausible import PlausibleValuesResult
from .pool import PooledResult, pool
from .replicates import Replicates, jackknife_weights
from .result import ReplicateResult

__all__ = [
    "Replicates",
    "jackknife_weights",
    "ReplicateResult",
    "pool",
    "PooledResult",
    "rubin",
    "ByResult",
    "BySummary",
    "GroupFitError",
    "PlausibleValuesResult",
    "fit_survey",
]
