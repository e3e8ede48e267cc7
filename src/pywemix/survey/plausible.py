"""Plausible values: one fit per value, combined by the EdSurvey rules.

R equivalent: ``EdSurvey::mixed.sdf`` with a plausible-value outcome. The
plausible values are never averaged before fitting.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_bool
from ..design.formula import parse_formula
from ..design.frame import check_columns, check_not_all_missing
from ..executors import map_chunks
from ..pipeline import FrameFit
from ..results.combined import CombinedFitsMixin
from ..results.inference import InferenceMixin
from ..results.summary import Summary
from ..warnings import DataWarning, carried, reissue, silently, warn
from .combine import combine_fits, common_kinds
from .pool import rubin

__all__ = [
    "check_plausible_values",
    "fit_plausible_values",
    "PlausibleValuesResult",
    "drop_partly_missing",
    "prepare_plausible_values",
    "fit_values",
]


def check_plausible_values(plausible_values, formula) -> tuple:
    """Validate ``plausible_values`` -> (response name, list of columns)."""
    if not isinstance(plausible_values, dict) or not plausible_values:
        raise TypeError(
            "plausible_values must be a dict: response name -> list of columns, "
            "e.g. {'math': ['pv1math', ..., 'pv5math']}"
        )
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
                + ("" if target else "; a response made of several columns cannot have them")
            )
        if k != target:
            raise ValueError(
                f"plausible-value name {k!r} is not the response of the formula "
                f"({parsed.response!r}); only the outcome may have plausible values"
            )
    cols = lists[target]
    if len(cols) < 2:
        raise ValueError(f"plausible values need at least two columns, got {len(cols)}")
    if len(set(cols)) != len(cols):
        raise ValueError(f"plausible-value columns are repeated: {cols}")
    names = {c for c in cols if isinstance(c, str)}
    used = parsed.predictor_model_columns(names) & names
    if used:
        raise ValueError(
            f"plausible-value column(s) {', '.join(map(repr, sorted(used)))} "
            "also appear on the right of '~': a plausible value cannot explain "
            "itself"
        )
    return target, cols


def _response_column(parsed):
    """The column the plausible values replace: the response, or the one column
    a response expression such as ``np.log(math)`` is computed from (None when
    it uses several)."""
    if parsed.response_is_column:
        return parsed.response
    columns = parsed.response_columns
    return next(iter(columns)) if len(columns) == 1 else None


class PlausibleValuesResult(CombinedFitsMixin, InferenceMixin):
    """
    Combined result of one fit per plausible value.

    Same interface as :class:`~pywemix.results.result.MixResult` for ``params``,
    ``bse``, ``cov_params``, ``var_components``, ``icc``, ``conf_int``,
    ``wald_test``, ``tidy`` and ``summary()``, plus ``fits`` (the per-value
    results), ``imputation_variance`` and ``sampling_variance``.
    ``fittedvalues``, ``resid`` and ``predict`` average the fits. There is
    no combined log-likelihood: ``llf``, ``aic`` and ``bic`` are NaN, with a
    warning (see :attr:`llf`); these come from
    :class:`~pywemix.results.combined.CombinedFitsMixin`, as for
    :class:`~pywemix.survey.pool.PooledResult`. R equivalent: EdSurvey's
    ``mixed.sdf`` results (and WeMix's ``mix`` with plausible values).

    Parameters
    ----------
    fits : sequence of results
        One fit per plausible value.
    response : str
        The name the plausible values replace in the formula.
    columns : list of str
        The plausible-value columns, one per fit.
    formula : str
        The model formula.
    """

    _fits_label = "plausible-value"

    def __init__(self, fits, response, columns, formula):
        d = self.__dict__
        d["fits"] = tuple(fits)
        d["response"], d["columns"], d["formula"] = response, list(columns), formula
        first = fits[0]
        d["estimates"], _ = combine_fits(
            fits,
            common_kinds(fits),
            title=f"plausible-value total over {len(fits)} values",
            label="plausible values",
        )
        for k in (
            "family",
            "link",
            "n_quad",
            "criterion",
            "nobs",
            "weighted",
            "weight_spec",
            "cond_weights",
            "n_clusters",
            "optimization",
            "settings",
        ):
            d[k] = getattr(first, k)
        d["converged"] = all(f.converged for f in fits)
        msgs = list(carried())  # a survey preset's, when the fits ran elsewhere
        for f in fits:
            msgs.extend(m for m in f.warnings if m not in msgs)
        d["warnings"] = tuple(msgs)

    def __setattr__(self, name, value):
        raise AttributeError("PlausibleValuesResult is immutable")

    @property
    def icc(self) -> float:
        """Mean of the per-value ICCs."""
        return self.estimates.icc

    @property
    def n_plausible(self) -> int:
        """Number of plausible values (fits) combined."""
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
        if not check_bool(se, "se"):
            per = [f.ranef(kind) for f in self.fits]
            return {k: sum(p[k] for p in per) / len(per) for k in per[0]}
        per = [f.ranef(kind, se=True) for f in self.fits]
        out = {}
        for name, first in per[0].items():
            est = np.stack([p[name]["estimate"].to_numpy() for p in per])
            var = np.stack([p[name]["std_error"].to_numpy() ** 2 for p in per])
            comb = rubin(est, var)
            out[name] = first.assign(estimate=comb.mean, std_error=np.sqrt(comb.total))
        return out

    def _fit_title(self, value: int) -> str:
        return f"plausible value {value + 1} of {len(self.fits)} ({self.columns[value]})"

    def summary(self) -> Summary:
        """
        Report the combined fits.

        Returns
        -------
        Summary
            Text, HTML in Jupyter, LaTeX, dict/JSON.
        """
        return Summary(self)

    def __repr__(self):
        return (
            f"<PlausibleValuesResult {self.formula!r}: {len(self.fits)} plausible "
            f"values of {self.response!r}>"
        )

    def _repr_html_(self):
        return self.summary()._repr_html_()


def _fit_one(shared, column):
    """One plausible-value fit: ``column`` as the response (picklable task)."""
    fit, data, response = shared
    try:
        return fit(data.assign(**{response: data[column]}))
    except (ValueError, TypeError) as exc:
        if column == response:
            raise
        raise type(exc)(f"plausible value {column!r} (fitted as {response!r}): {exc}") from exc


def drop_partly_missing(data, cols):
    """``data`` without the rows where some plausible values are missing and
    others are not, with a warning (every plausible value must be fitted to
    the same rows for the combination rules to hold). A pandas or a Dask
    DataFrame."""
    missing = data[cols].isna()
    partly = missing.any(axis=1) & ~missing.all(axis=1)
    n = partly.sum()
    n = int(n.compute() if hasattr(n, "compute") else n)
    if not n:
        return data
    warn(
        f"dropped {n} rows where some plausible values are missing and others are not "
        f"({', '.join(cols)}): every plausible value is fitted to the same rows",
        DataWarning,
    )
    return data[~partly]


def prepare_plausible_values(args, data) -> tuple:
    """``(response, columns, data)``: the plausible values of ``args`` checked
    against the data, and the data without the rows where some of them are
    missing and others are not (with a warning)."""
    response, cols = check_plausible_values(args.plausible_values, args.formula)
    check_columns(data, cols, "plausible-value column")
    check_not_all_missing(data, cols, "plausible-value column")
    return response, cols, drop_partly_missing(data, cols)


def fit_values(shared, columns) -> list:
    """The fits of some plausible values, one after the other (a picklable
    task of :func:`~pywemix.executors.map_chunks`): a design built for the
    first is reused by the others (:class:`~pywemix.pipeline.DesignReuse`)."""
    return [_fit_one(shared, c) for c in columns]


def fit_plausible_values(args, data, fit=None) -> PlausibleValuesResult:
    """One fit per plausible value of ``args.plausible_values``, combined.

    Parameters
    ----------
    args : MixArguments
        ``args.executor`` runs the fits (threads, processes or a Dask cluster,
        which receives the data once), in chunks of values, one per worker.
    data : pandas.DataFrame
    fit : callable, optional
        ``fit(data) -> result`` for one response (default: the in-memory
        pipeline, :class:`~pywemix.pipeline.FrameFit`).
    """
    response, cols, data = prepare_plausible_values(args, data)
    # the data go to each task once (to a Dask cluster once); each fit puts
    # one plausible value in the response column. The fits only record
    # their warnings; each is issued once, here, at the user's line (also when
    # the fits ran in threads, other processes or on a cluster)
    fit = FrameFit(args) if fit is None else fit
    fits = map_chunks(
        args.executor,
        fit_values,
        cols,
        shared=(silently(fit), data, response),
        desc="plausible values",
        unit="chunk",
    )
    result = PlausibleValuesResult(fits, response, cols, args.formula)
    reissue(result.warnings)
    return result
