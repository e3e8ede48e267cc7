"""Large-scale assessment inference: replicate weights, fits by group, pooling.

- :class:`Replicates` and :func:`jackknife_weights`: replication variances
  (Fay's BRR, BRR, JK1, JK2, bootstrap) for every estimate of a fit,
  ``mix(..., replicates=...)``, also with plausible values;
- ``mix(..., by="cnt")``: one fit per country (:class:`ByResult`);
- :func:`pool`: Rubin's rules with Barnard-Rubin degrees of freedom, the
  same code that combines plausible values;
- survey presets: PISA's and TIMSS/PIRLS's replicate columns.
"""
from .by import ByResult, GroupFitError
from .pool import PooledResult, pool, rubin
from .replicates import Replicates, jackknife_weights
from .result import ReplicateResult

__all__ = ["Replicates", "jackknife_weights", "ReplicateResult", "pool", "PooledResult",
           "rubin", "ByResult", "GroupFitError"]
