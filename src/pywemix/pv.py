"""Plausible values: one fit per value, combined by the EdSurvey rules.

R equivalent: ``EdSurvey::mixed.sdf`` with a plausible-value outcome. The
plausible values are never averaged before fitting.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .design.formula import parse_formula
from .design.frame import check_columns, check_not_all_missing, to_pandas
from .executors import check_executor, map_tasks
from .results.inference import CombinedFitsMixin, InferenceMixin
from .warnings import DataWarning, reissue, silently, warn

__all__ = ["check_plausible_values", "fit_plausible_values", "PlausibleValuesResult",
           "combine"]


def check_plausible_values(plausible_values, formula) -> tuple:
    """Validate ``plausible_values`` -> (response name, list of columns)."""
    if not isinstance(plausible_values, dict) or not plausible_values:
        raise TypeError("plausible_values must be a dict: response name -> list of columns, "
                        "e.g. {'math': ['pv1math', ..., 'pv5math']}")
    lists = {k: ([v] if isinstance(v, str) else list(v)) for k, v in plausible_values.items()}
    lengths = {k: len(v) for k, v in lists.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"plausible-value lists have unequal lengths: {lengths}")
    parsed = parse_formula(formula)
    target = _response_column(parsed)
    for k in lists:
        if k == parsed.response and target != k:
            raise ValueError(
                f"plausible values replace a column: key them by the column the response "
                f"{k!r} is computed from ({', '.join(map(repr, sorted(parsed.response_columns)))})"
                + ("" if target else "; a response made of several columns cannot have them"))
        if k != target:
            raise ValueError(
                f"plausible-value name {k!r} is not the response of the formula "
                f"({parsed.response!r}); only the outcome may have plausible values")
    cols = lists[target]
    if len(cols) < 2:
        raise ValueError("plausible values need at least two columns, got "
                         f"{len(cols)}")
    if len(set(cols)) != len(cols):
        raise ValueError(f"plausible-value columns are repeated: {cols}")
    names = {c for c in cols if isinstance(c, str)}
    used = parsed.predictor_model_columns(names) & names
    if used:
        raise ValueError(f"plausible-value column(s) {', '.join(map(repr, sorted(used)))} "
                         "also appear on the right of '~': a plausible value cannot explain "
                         "itself")
    return target, cols


def _response_column(parsed):
    """The column the plausible values replace: the response, or the one column
    a response expression such as ``np.log(math)`` is computed from (None when
    it uses several)."""
    if parsed.response_is_column:
        return parsed.response
    columns = parsed.response_columns
    return next(iter(columns)) if len(columns) == 1 else None


def combine(estimates: np.ndarray, variances: np.ndarray):
    """Rubin-type combination of K estimates (EdSurvey note, eqs. 6-8).

    Parameters
    ----------
    estimates : (K, m)
    variances : (K, m) or (K, m, m)
        Sampling variances (or covariance matrices) of each fit.

    Returns
    -------
    mean, total variance, imputation variance, sampling variance

    Notes
    -----
    .. math::

        \\bar\\beta = \\frac1K \\sum_k \\beta_k,\\quad
        V_{imp} = \\frac{K+1}{(K-1)K} \\sum_k (\\beta_k - \\bar\\beta)^2,\\quad
        V_{samp} = \\frac1K \\sum_k \\mathrm{var}(\\beta_k),

    total variance ``V_imp + V_samp``: Rubin's rules, computed by
    :func:`pywemix.survey.pool.rubin` (the implementation :func:`pywemix.pool`
    uses).
    """
    from .survey.pool import rubin
    c = rubin(estimates, variances)
    return c.mean, c.total, c.imputation, c.within


class PlausibleValuesResult(CombinedFitsMixin, InferenceMixin):
    """Combined result of one fit per plausible value.

    Same interface as :class:`~pywemix.results.result.MixResult` for ``params``,
    ``bse``, ``cov_params``, ``var_components``, ``icc``, ``conf_int``,
    ``wald_test``, ``tidy`` and ``summary()``, plus ``fits`` (the per-value
    results), ``imputation_variance`` and ``sampling_variance``.
    ``fittedvalues``, ``resid`` and ``predict`` average the fits. There is
    no combined log-likelihood: ``llf``, ``aic`` and ``bic`` are NaN, with a
    warning (see :attr:`llf`); these come from
    :class:`~pywemix.results.inference.CombinedFitsMixin`, as for
    :class:`~pywemix.survey.pool.PooledResult`.
    """

    _fits_label = "plausible-value"

    def __init__(self, fits, response, columns, formula):
        d = self.__dict__
        d["fits"] = tuple(fits)
        d["response"], d["columns"], d["formula"] = response, list(columns), formula
        first = fits[0]
        names = first.params.index
        est = np.stack([f.params.to_numpy() for f in fits])
        out = {}
        for kind in ("robust", "model"):
            cov = np.stack([f.raw_cov_params(kind) for f in fits])
            out[kind] = combine(est, cov)
        mean, total, imp, samp = out["robust"]
        d["_params"] = pd.Series(mean, index=names, name="params")
        d["_cov"] = {k: v[1] for k, v in out.items()}
        d["imputation_variance"] = pd.Series(np.diag(imp), index=names)
        d["sampling_variance"] = pd.Series(np.diag(samp), index=names)
        vest = np.stack([f.var_components["variance"].to_numpy() for f in fits])
        d["_var_cov"] = {}
        for kind in ("robust", "model"):
            vcov = np.stack([f.raw_var_cov(kind) for f in fits])
            vmean, vtotal, vimp, _ = combine(vest, vcov)
            d["_var_cov"][kind] = vtotal
        vc = first.var_components.copy()
        vc["variance"] = vmean
        vc["std_error"] = np.sqrt(np.clip(np.diag(d["_var_cov"]["robust"]), 0, None))
        d["_var_components"] = vc
        d["_icc"] = float(np.mean([f.icc for f in fits]))
        for k in ("family", "link", "n_quad", "criterion", "nobs", "weighted", "weight_spec",
                  "cond_weights", "n_clusters", "optimization", "settings"):
            d[k] = getattr(first, k)
        d["converged"] = all(f.converged for f in fits)
        msgs = []
        for f in fits:
            msgs.extend(m for m in f.warnings if m not in msgs)
        d["warnings"] = tuple(msgs)
        d["_groups"] = first.groups

    def __setattr__(self, name, value):
        raise AttributeError("PlausibleValuesResult is immutable")

    @property
    def icc(self) -> float:
        """Mean of the per-value ICCs."""
        return self._icc

    @property
    def n_plausible(self) -> int:
        return len(self.fits)

    def ranef(self, kind: str = "mode", se: bool = False) -> dict:
        """Random effects combined over the plausible values.

        Parameters
        ----------
        kind : {"mode", "mean"}
            As :meth:`MixResult.ranef <pywemix.results.result.MixResult.ranef>`.
        se : bool
            Also give their standard errors: a tidy table per grouping factor
            with columns ``group``, ``term``, ``estimate``, ``std_error`` (the
            layout of ``MixResult.ranef(se=True)``).

        Returns
        -------
        dict
            Grouping-factor name -> DataFrame (wide without ``se``, tidy with it).

        Notes
        -----
        The estimate is the mean over the M plausible values of each fit's
        conditional mode (or mean). With ``se=True`` its variance combines the
        fits as the fixed effects are combined (Rubin 1987, by
        :func:`~pywemix.survey.pool.rubin`): the mean of the conditional
        variances plus :math:`(1 + 1/M)` times the variance of the modes
        between plausible values, :math:`T = \\bar U + (1 + 1/M) B`.
        """
        from .checks import check_bool
        if not check_bool(se, "se"):
            per = [f.ranef(kind) for f in self.fits]
            return {k: sum(p[k] for p in per) / len(per) for k in per[0]}
        from .survey.pool import rubin
        per = [f.ranef(kind, se=True) for f in self.fits]
        out = {}
        for name, first in per[0].items():
            est = np.stack([p[name]["estimate"].to_numpy() for p in per])
            var = np.stack([p[name]["std_error"].to_numpy() ** 2 for p in per])
            comb = rubin(est, var)
            out[name] = first.assign(estimate=comb.mean, std_error=np.sqrt(comb.total))
        return out

    def plot(self, kind: str = "coef", value: int = 0):
        """A plot as a matplotlib Figure (see :mod:`pywemix.results.plots`).

        ``kind="coef"`` (the default) draws the combined fixed effects with
        their 95% intervals (sampling + imputation variance) and each
        plausible value's estimates. Residual and random-effect diagnostics
        (``"resid_fitted"``, ``"qq_resid"``, ``"qq_ranef"``, ``"caterpillar"``)
        belong to one fit: they are drawn for ``fits[value]`` (default the
        first plausible value), which the figure's title names.
        """
        from .results.plots import KINDS, plot
        if kind not in KINDS:
            raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"value must be an integer index into fits, got {value!r}")
        if not 0 <= value < len(self.fits):
            raise ValueError(f"value must be between 0 and {len(self.fits) - 1} (one per "
                             f"plausible value: {', '.join(self.columns)}), got {value}")
        if kind == "coef":
            return plot(self, kind)
        fig = plot(self.fits[value], kind)
        fig.suptitle(f"plausible value {value + 1} of {len(self.fits)} "
                     f"({self.columns[value]})", fontsize=9)
        return fig

    def summary(self):
        from .results.summary import Summary
        return Summary(self)

    def __repr__(self):
        return (f"<PlausibleValuesResult {self.formula!r}: {len(self.fits)} plausible "
                f"values of {self.response!r}>")

    def _repr_html_(self):
        return self.summary()._repr_html_()


def _fit_one(shared, column):
    """One plausible-value fit: ``column`` as the response (picklable task)."""
    fit, formula, data, response = shared
    try:
        return fit(formula, data.assign(**{response: data[column]}))
    except (ValueError, TypeError) as exc:
        if column == response:
            raise
        raise type(exc)(f"plausible value {column!r} (fitted as {response!r}): {exc}") from exc


def fit_plausible_values(fit, formula, data, plausible_values, executor=None):
    """Fit ``fit(formula, data_k)`` once per plausible value and combine.

    ``fit`` is :func:`pywemix.mix` with every other argument bound.
    """
    response, cols = check_plausible_values(plausible_values, formula)
    data = to_pandas(data)
    check_columns(data, cols, "plausible-value column")
    check_not_all_missing(data, cols, "plausible-value column")
    check_executor(executor)
    missing = data[cols].isna().to_numpy()
    partly = missing.any(axis=1) & ~missing.all(axis=1)
    if partly.any():
        # every fit must use the same sample for the combination rules to hold
        warn(f"dropped {int(partly.sum())} rows where some plausible values are missing "
             f"and others are not ({', '.join(cols)}): every plausible value is fitted "
             "to the same rows", DataWarning)
        data = data.loc[~partly]
    # the data go to the workers once (scattered to a Dask cluster); each task
    # puts one plausible value in the response column. The fits only record
    # their warnings; each is issued once, here, at the user's line (also when
    # the fits ran in threads, other processes or on a cluster)
    fits = map_tasks(executor, _fit_one, cols,
                     shared=(silently(fit), formula, data, response),
                     desc="plausible values", unit="fit")
    result = PlausibleValuesResult(fits, response, cols, formula)
    reissue(result.warnings)
    return result

