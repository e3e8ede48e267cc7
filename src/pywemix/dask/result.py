"""The result of a fit on a Dask DataFrame.

Estimates, standard errors, variance components, random effects, summaries
and tests are those of :class:`~pywemix.results.result.MixResult`; the
per-row quantities (``fittedvalues``, ``resid()``, ``predict(ddf)``) are
lazy Dask Series computed partition by partition with the fitted modes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..results.result import MixResult
from .passes import design_blocks, level_codes, used_rows

__all__ = ["DaskMixResult"]


class DaskMixResult(MixResult):
    """A :class:`~pywemix.results.result.MixResult` of a fit on a Dask
    DataFrame (rows stay on the workers).

    Per-row results are Dask Series: ``fittedvalues``, ``resid()`` and
    ``predict(ddf)``; ``simulate`` and ``plot`` need the rows in memory and
    raise. ``objective`` is the statistics-based Gaussian objective.
    """

    def __init__(self, design, settings, optimum, variance, warnings, objective, data):
        super().__init__(design, settings, optimum, variance, warnings)
        self.__dict__.update(_objective=objective, _data=data)

    @staticmethod
    def _from_rows(design, optimum) -> dict:
        """The groups table counted on the workers; no per-row arrays."""
        return {"_groups": design.groups}

    def __getstate__(self):
        return dict(self.__dict__)

    @property
    def objective(self):
        """The fit's :class:`~pywemix.objective.MixObjective` (from statistics)."""
        return self._objective

    @property
    def data(self):
        """The Dask DataFrame that was fitted."""
        return self._data

    def _per_row(self, what: str, name: str):
        """A Dask Series of fitted values or residuals of the rows used."""
        design = self._design
        modes = [np.asarray(m) for m in self._modes]
        args = (design.plan, design.model, np.asarray(self._params), modes, what,
                self._family)
        return self._data.map_partitions(_fitted_partition, *args,
                                         meta=pd.Series([], dtype=float, name=name))

    @property
    def fittedvalues(self):
        """Fitted values (with the random effects) of the rows used, a Dask Series."""
        return self._per_row("fitted", "fittedvalues")

    def residuals(self, kind: str = "response"):
        """Observation-level residuals of the rows used, a Dask Series
        (``kind`` as :meth:`MixResult.residuals`)."""
        if kind not in ("response", "pearson"):
            raise ValueError(f"kind must be 'response' or 'pearson', got {kind!r}")
        r = self._per_row("resid", "resid")
        if kind == "response":
            return r
        if self._family is None:
            return r / np.sqrt(self.sigma2)
        family = self._family
        mu = self._per_row("fitted", "fittedvalues")
        return r / mu.map_partitions(lambda m: np.sqrt(family.variance(m)), meta=mu)

    def resid(self, kind: str = "response"):
        """Residuals ``y - fittedvalues`` (``kind="pearson"`` divides by sigma),
        a Dask Series."""
        return self.residuals(kind)

    def predict(self, newdata=None, **kwargs):
        """Predicted values (arguments as :meth:`MixResult.predict`); a Dask
        Series for a Dask DataFrame ``newdata`` (the fitted rows when omitted),
        a pandas Series for a pandas one."""
        if newdata is None:
            if kwargs.get("include_random", True) is False:
                raise ValueError("include_random=False needs newdata")
            return self.fittedvalues.rename("predicted")
        if isinstance(newdata, pd.DataFrame):
            return MixResult.predict(self, newdata, **kwargs)
        return newdata.map_partitions(_predict_partition, self, kwargs,
                                      meta=pd.Series([], dtype=float, name="predicted"))

    def to_data_order(self, values, name=None):
        raise NotImplementedError("a fit on a Dask DataFrame keeps its rows on the workers: "
                                  "use fittedvalues, resid() or predict(ddf)")

    def simulate(self, n: int = 1, seed=None):
        raise NotImplementedError("simulate needs the rows in memory: fit a pandas "
                                  "DataFrame (ddf.compute()) to simulate")

    def plot(self, kind: str = "resid_fitted"):
        raise NotImplementedError("diagnostic plots need the rows in memory: fit a pandas "
                                  "DataFrame (ddf.compute()) or plot a sample")

    def __repr__(self):
        return (f"<DaskMixResult {self.formula!r}: {self.family}, {len(self._levels) + 1} "
                f"levels, nobs={self.nobs}, llf={self.llf:.6g}>")


def _fitted_partition(part, plan, model, beta, modes, what, family=None):
    """Fitted means or response residuals of one partition's used rows."""
    from ..objective.linpred import linear_predictor
    frame = used_rows(part, plan)
    if len(frame) == 0:
        return pd.Series([], dtype=float, index=frame.index)
    X, Z, y, off, _, _ = design_blocks(frame, plan, model, family)
    codes = level_codes(frame, model)
    eta = linear_predictor(X, beta, off, Z, codes, modes)
    mu = eta if family is None else family.mean(eta)
    return pd.Series(y - mu if what == "resid" else mu, index=frame.index)


def _predict_partition(part, result, kwargs):
    """``MixResult.predict`` on one partition (a pandas DataFrame)."""
    return MixResult.predict(result, part, **kwargs)
