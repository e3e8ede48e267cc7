"""The result of a fit on a Dask DataFrame.

Estimates, standard errors, variance components, random effects, summaries
and tests are those of :class:`~pywemix.results.result.MixResult`; the
per-row quantities (``fittedvalues``, ``resid()``, ``predict(ddf)``) are
lazy Dask Series computed partition by partition with the fitted modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..checks import check_positive_int
from ..objective.linpred import linear_predictor
from ..results.diagnostics import _sqrt_psd
from ..results.plots import plot
from ..results.result import MixResult
from .passes import design_blocks, level_codes, response_values, used_mask, used_rows

__all__ = ["DaskMixResult"]


class DaskMixResult(MixResult):
    """A :class:`~pywemix.results.result.MixResult` of a fit on a Dask
    DataFrame (rows stay on the workers).

    Per-row results are Dask objects: ``fittedvalues``, ``resid()``,
    ``predict(ddf)`` and ``simulate()``; the per-row plots show a sample of
    rows. ``objective`` is the statistics-based Gaussian objective.
    :func:`pywemix.anova` compares Dask fits of the same Dask DataFrame
    (:meth:`same_rows`; with ``refit=True`` it refits REML fits by ML on
    :attr:`data`); :func:`pywemix.bootstrap_lrt` needs the rows in memory.
    """

    # set once in __init__ through __dict__ (the result is immutable)
    _objective: Any
    _data: Any

    def __init__(
        self, design, settings, optimum, variance, warnings, objective, data, arguments=None
    ):
        super().__init__(design, settings, optimum, variance, warnings, arguments)
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
        args = (design.plan, design.model, np.asarray(self.fe_params), modes, what, self._family)
        return self._data.map_partitions(
            _fitted_partition, *args, meta=pd.Series([], dtype=float, name=name)
        )

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
        return self._per_row("pearson", "resid")

    def resid(self, kind: str = "response"):  # type: ignore[override]  # a method: Dask Series are not callable
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
        return newdata.map_partitions(
            _predict_partition, self, kwargs, meta=pd.Series([], dtype=float, name="predicted")
        )

    def to_data_order(self, values, name=None):
        raise NotImplementedError(
            "a fit on a Dask DataFrame keeps its rows on the workers: "
            "use fittedvalues, resid() or predict(ddf)"
        )

    def simulate(self, n: int = 1, seed=None):
        r"""Draw responses from the fitted model (new random effects each time),
        on the workers.

        Parameters
        ----------
        n : int
            Number of draws.
        seed : int or numpy.random.SeedSequence, optional
            Makes the draws reproducible (for the same partitions).

        Returns
        -------
        dask.dataframe.DataFrame
            One column per draw (``sim_1``, ...), indexed like
            ``fittedvalues`` (the rows used).

        Notes
        -----
        As :func:`pywemix.results.diagnostics.simulate` (R's
        ``simulate.merMod``): :math:`u_l \sim N(0, \Sigma_l)` for every group
        of every level, drawn here (O(groups) numbers), then
        :math:`y \sim N(\eta, \sigma^2)` or the family's distribution, drawn
        on the workers with one stream per partition (spawned from ``seed``).
        The draws are not those of an in-memory fit's ``simulate`` (the rows
        come in another order), only their distribution is.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if seed is not None and (
            isinstance(seed, bool)
            or not isinstance(seed, (int, np.integer, np.random.SeedSequence))
        ):
            raise TypeError(f"seed must be None, an integer or a SeedSequence, got {seed!r}")
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        rng = np.random.default_rng(root.spawn(1)[0])
        effects = []
        for lev, S in zip(self._design.levels, self.random_effects_covariances):
            r = _sqrt_psd(np.asarray(S))
            effects.append(rng.standard_normal((n, lev.n_groups, r.shape[0])) @ r.T)
        names = [f"sim_{k + 1}" for k in range(n)]
        design = self._design
        return self._data.map_partitions(
            _simulate_partition,
            design.plan,
            design.model,
            np.asarray(self.fe_params),
            effects,
            self.sigma2,
            self._family,
            root,
            names,
            meta=pd.DataFrame({c: pd.Series([], dtype=float) for c in names}),
        )

    def plot(self, kind: str = "resid_fitted", max_points: int = 20000, seed: int = 0):
        """A diagnostic plot (as :meth:`MixResult.plot`).

        The per-row plots (``"resid_fitted"``, ``"qq_resid"``) show a random
        sample of about ``max_points`` rows used (drawn on the workers; all
        rows when there are fewer); the others need only the estimates and
        the conditional modes.
        """
        if kind not in ("resid_fitted", "qq_resid"):
            return plot(self, kind)
        max_points = check_positive_int(max_points, "max_points")
        frac = min(1.0, max_points / self.nobs)
        fitted, pearson = self.fittedvalues, self.residuals("pearson")
        both = fitted.to_frame("fitted").assign(pearson=pearson)
        if frac < 1.0:
            both = both.sample(frac=frac, random_state=seed)
        return plot(_RowSample(both.compute()), kind)

    def same_rows(self, other) -> bool:
        """Whether ``other``, also a fit on a Dask DataFrame, was fitted to the
        same rows of the same data with the same response (for
        :func:`pywemix.anova`): one pass over the partitions."""
        import dask

        if (
            not isinstance(other, DaskMixResult)
            or self.nobs != other.nobs
            or dask.base.tokenize(self._data) != dask.base.tokenize(other.data)
        ):
            return False
        a, b = self._design, other.design
        counts = self._data.map_partitions(
            _common_rows, a.plan, b.plan, self._family, meta=pd.Series([], dtype=float)
        ).compute()
        counts = counts.to_numpy().reshape(-1, 3)
        scale = max(float(counts[:, 2].max(initial=0.0)), 1e-300)
        return (
            int(counts[:, 0].sum()) == self.nobs
            and float(counts[:, 1].max(initial=0.0)) <= 1e-10 * scale
        )

    def __repr__(self):
        return (
            f"<DaskMixResult {self.formula!r}: {self.family}, {len(self._levels) + 1} "
            f"levels, nobs={self.nobs}, llf={self.llf:.6g}>"
        )


def _fitted_partition(part, plan, model, beta, modes, what, family=None):
    """Fitted means or response residuals of one partition's used rows."""
    frame = used_rows(part, plan)
    if len(frame) == 0:
        return pd.Series([], dtype=float, index=frame.index)
    X, Z, y, off, _, _ = design_blocks(frame, plan, model, family)
    codes = level_codes(frame, model)
    eta = linear_predictor(X, beta, off, Z, codes, modes)
    if family is None:
        return pd.Series(y - eta if what == "resid" else eta, index=frame.index)
    mu = family.mean(eta)
    if what == "fitted":
        return pd.Series(mu, index=frame.index)
    r = family.observed(y) - mu  # a proportion for a binomial response with trials
    if what == "pearson":
        r = r / np.sqrt(family.variance(mu) / family.response_weight(y))
    return pd.Series(r, index=frame.index)


def _predict_partition(part, result, kwargs):
    """``MixResult.predict`` on one partition (a pandas DataFrame)."""
    return MixResult.predict(result, part, **kwargs)


class _RowSample:
    """Fitted values and Pearson residuals of sampled rows, as the plots read them."""

    def __init__(self, frame):
        self.fittedvalues = frame["fitted"]
        self._pearson = frame["pearson"]

    def residuals(self, kind):
        return self._pearson


def _simulate_partition(
    part, plan, model, beta, effects, sigma2, family, root, names, partition_info=None
):
    """Simulated responses of one partition's used rows (DaskMixResult.simulate)."""
    frame = used_rows(part, plan)
    if len(frame) == 0:
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in names}, index=frame.index)
    number = partition_info["number"] if partition_info else 0
    rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(1, number)))
    X, Z, y, off, _, _ = design_blocks(frame, plan, model, family)
    codes = level_codes(frame, model)
    eta = np.repeat(linear_predictor(X, beta, off)[:, None], len(names), axis=1)
    for z, c, u in zip(Z, codes, effects):
        eta += np.einsum("iq,kiq->ik", z, u[:, c])
    if family is None:
        draws = eta + rng.normal(0.0, np.sqrt(sigma2), size=eta.shape)
    else:  # successes out of the rows' trials; an ordinal response's categories
        draws = family.labels(family.sample(eta, rng, y))
    return pd.DataFrame(np.asarray(draws, dtype=float), index=frame.index, columns=names)


def _common_rows(part, plan_a, plan_b, family):
    """Rows used by both fits, and the largest difference and size of their
    responses there (a flat Series of three numbers)."""
    both = used_mask(part, plan_a) & used_mask(part, plan_b)
    if not both.any():
        return pd.Series([0.0, 0.0, 0.0])
    rows = part.loc[both]
    ya, yb = (
        np.asarray(response_values(rows, p.parsed, family), dtype=float) for p in (plan_a, plan_b)
    )
    return pd.Series(
        [
            float(both.sum()),
            float(np.max(np.abs(ya - yb))),
            float(max(np.max(np.abs(ya)), np.max(np.abs(yb)))),
        ]
    )
