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
- survey presets (:mod:`pywemix.presets`): PISA's, TIMSS/PIRLS's, NAEP's and
  TALIS's weights and replicate columns (:mod:`.presets`).

``mix`` hands every call to :func:`~pywemix.survey.dispatch.fit_survey`.
"""
from .by import ByResult, BySummary, GroupFitError
from .combine import rubin
from .dispatch import fit_survey
from .plausible import PlausibleValuesResult
from .pool import PooledResult, pool
from .replicates import Replicates, jackknife_weights
from .result import ReplicateResult

__all__ = ["Replicates", "jackknife_weights", "ReplicateResult", "pool", "PooledResult",
           "rubin", "ByResult", "BySummary", "GroupFitError", "PlausibleValuesResult",
           "fit_survey"]
