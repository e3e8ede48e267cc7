"""Pooling of fits to multiply imputed data (and plausible values) by Rubin's rules.

One implementation, :func:`~pywemix.survey.combine.rubin`, serves both
:func:`pool` and the plausible-value combination of
:mod:`pywemix.survey.plausible`. R equivalents:
``mice::pool`` (Barnard-Rubin degrees of freedom, ``fmi``, ``riv``);
``EdSurvey`` and ``BIFIEsurvey`` combine plausible values the same way.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..results.combined import CombinedFitsMixin
from ..results.inference import InferenceMixin, check_alpha, variance_labels
from ..results.summary import Summary
from .combine import (RubinCombination, barnard_rubin_df, combine_fits, common_kinds,
                      rubin)

__all__ = ["rubin", "RubinCombination", "barnard_rubin_df", "pool", "PooledResult"]


class PooledResult(CombinedFitsMixin, InferenceMixin):
    """Fits of one model on M imputed data sets pooled by Rubin's rules.

    ``params``, ``cov_params(kind)``, ``bse``, ``var_components``,
    ``var_cov``, ``wald_test``, ``conf_int`` and ``summary()`` as a fit;
    ``df`` (Barnard-Rubin), ``riv``, ``fmi`` (fraction of missing
    information), ``within_variance``, ``between_variance`` per fixed effect;
    ``fits``. ``tidy()`` adds ``df`` and ``fmi`` and uses t intervals.

    As a plausible-value result (both from
    :class:`~pywemix.results.combined.CombinedFitsMixin`): there is no
    pooled likelihood, so ``llf``, ``aic`` and ``bic`` are NaN with a
    :class:`~pywemix.PseudoLikelihoodWarning` pointing to Wald tests, and
    ``information_criteria()`` is (NaN, NaN); ``fittedvalues``,
    ``residuals``/``resid`` and ``predict`` are the means over the fits,
    row by row (a ValueError when the imputed data sets kept different
    rows); a single fit's attribute (``ranef``, ``theta``...) is
    ``fits[k].name``.
    """

    _fits_label = "imputed-data"

    def __init__(self, fits, dfcom=None):
        d = self.__dict__
        d["fits"] = tuple(fits)
        first = fits[0]
        kinds = common_kinds(fits)
        if not kinds:
            raise ValueError("the fits have no covariance kind in common")
        d["estimates"], combos = combine_fits(
            fits, kinds, title=f"Rubin's total over {len(fits)} imputations",
            label="imputations")
        main = combos[kinds[0]]
        names = first.params.index
        d["dfcom"] = float(first.n_clusters - 1) if dfcom is None else float(dfcom)
        df, riv, fmi = barnard_rubin_df(main, d["dfcom"])
        for key, val in (("df", df), ("riv", riv), ("fmi", fmi),
                         ("within_variance", np.diag(main.within)),
                         ("between_variance", np.diag(main.between))):
            d[key] = pd.Series(val, index=names, name=key)
        d["formula"] = first.formula
        d["n_imputations"] = len(fits)
        # what the report needs of a fit: the first fit's settings and sample
        for key in ("settings", "family", "nobs", "n_clusters", "weighted"):
            d[key] = getattr(first, key)
        d["optimization"] = None
        d["converged"] = all(f.converged for f in fits)
        msgs = []
        for f in fits:
            msgs.extend(m for m in f.warnings if m not in msgs)
        d["warnings"] = tuple(msgs)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def icc(self) -> float:
        """Mean of the fits' ICCs."""
        return self.estimates.icc

    def conf_int(self, alpha=0.05, kind=None, which="fixed", *, cols=None):
        """Confidence intervals (arguments as a fit's ``conf_int``); the fixed
        effects' come from t distributions with the Barnard-Rubin degrees of
        freedom ``df``, as in :meth:`tidy` and :meth:`summary` (``mice``'s
        ``summary(pool(fit), conf.int = TRUE)``)."""
        out = super().conf_int(alpha, kind, which, cols=cols)
        fixed = out.index.isin(self.estimates.params.index)
        if fixed.any():
            names = out.index[fixed]
            t = stats.t.ppf(1 - float(alpha) / 2, self.df[names].to_numpy())
            half = t * self._std_errors(self.covariance(kind))[names].to_numpy()
            est = self.estimates.params[names].to_numpy()
            out.loc[fixed, out.columns[0]] = est - half
            out.loc[fixed, out.columns[1]] = est + half
        return out

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """As a fit's ``tidy``, with ``df`` and ``fmi`` columns; the fixed
        effects' p-values and intervals use t distributions with the
        Barnard-Rubin degrees of freedom."""
        alpha = check_alpha(alpha)
        out = super().tidy(alpha, kind)
        fixed = (out["kind"] == "fixed").to_numpy()
        df = np.full(len(out), np.nan)
        df[fixed] = self.df.to_numpy()
        fmi = np.full(len(out), np.nan)
        fmi[fixed] = self.fmi.to_numpy()
        out["df"], out["fmi"] = df, fmi
        t = stats.t.ppf(1 - alpha / 2, df[fixed])
        out.loc[fixed, "p_value"] = 2 * stats.t.sf(np.abs(out.loc[fixed, "statistic"]),
                                                   df[fixed])
        est, se = out.loc[fixed, "estimate"], out.loc[fixed, "std_error"]
        out.loc[fixed, "conf_low"], out.loc[fixed, "conf_high"] = est - t * se, est + t * se
        return out

    def summary(self) -> Summary:
        """The report of the pooled fits (a :class:`~pywemix.results.summary.Summary`:
        text, HTML in Jupyter, LaTeX, dict/JSON).

        The fixed-effects table adds the Barnard-Rubin degrees of freedom,
        the p-values of t tests with them, and the fraction of missing
        information (``fmi``).
        """
        t = self.tidy().set_index("term")
        t = t[t["kind"] == "fixed"]
        fixed = pd.DataFrame({"Estimate": t["estimate"], "Std. Error": t["std_error"],
                              "t value": t["statistic"], "df": t["df"],
                              "Pr(>|t|)": t["p_value"], "fmi": t["fmi"]}).rename_axis(None)
        return Summary(
            self, fixed=fixed,
            header=[("Pooled fits", f"{self.n_imputations} imputations, Rubin's rules; "
                     f"Barnard-Rubin df with complete-data df {self.dfcom:g}")])

    def _fit_title(self, value: int) -> str:
        return f"imputed data set {value + 1} of {len(self.fits)}"

    def _repr_html_(self):
        return self.summary()._repr_html_()

    def __repr__(self):
        return f"<PooledResult {self.formula!r}: {self.n_imputations} fits>"


def pool(fits, dfcom=None) -> PooledResult:
    """Pool fits of the same model on multiply imputed data sets.

    Parameters
    ----------
    fits : sequence of results
        Two or more fits (``mix`` results, replicate-weight results) of the
        same formula with the same fixed effects.
    dfcom : float, optional
        Complete-data degrees of freedom of the Barnard-Rubin formula;
        default the number of top-level clusters minus one (the reference
        degrees of freedom of a cluster-robust variance). ``np.inf`` gives
        Rubin's (1987) large-sample degrees of freedom. Must be positive.

    Returns
    -------
    PooledResult

    Notes
    -----
    Estimates are averaged and variances combined by :func:`rubin`; the
    degrees of freedom and the fraction of missing information come from
    :func:`barnard_rubin_df`. Plausible values (``mix(...,
    plausible_values=...)``) are combined by the same function, so pooling
    the per-value fits gives the same estimates and variances. R
    equivalent: ``mice::pool``.
    """
    given = fits
    try:
        fits = list(fits) if not isinstance(fits, (str, bytes, pd.DataFrame)) else None
    except TypeError:
        fits = None
    if fits is None:
        raise TypeError("pool needs a list of fits (results of pywemix.mix), got "
                        f"{type(given).__name__}")
    if len(fits) < 2:
        raise ValueError("pool needs a list of at least two fits")
    for i, f in enumerate(fits):
        if not all(hasattr(f, a) for a in ("params", "cov_params", "var_components")):
            raise TypeError(f"pool needs fits (results of pywemix.mix such as MixResult or "
                            f"ReplicateResult), but item {i} is a {type(f).__name__}")
    dfcom = _check_dfcom(dfcom)
    names = list(fits[0].params.index)
    for i, f in enumerate(fits[1:], start=1):
        if list(f.params.index) != names:
            raise ValueError(f"fit {i} has fixed effects {list(f.params.index)}, fit 0 has "
                             f"{names}: pool fits of the same model")
        if variance_labels(f.var_components) != variance_labels(fits[0].var_components):
            raise ValueError(f"fit {i} has other variance components than fit 0: pool fits "
                             "of the same model")
    return PooledResult(fits, dfcom)


def _check_dfcom(dfcom):
    """``dfcom``: None or a positive number (``np.inf`` allowed)."""
    if dfcom is None:
        return None
    if isinstance(dfcom, bool) or not isinstance(dfcom, (int, float, np.number)):
        raise TypeError(f"dfcom must be a positive number (or np.inf), got {dfcom!r}")
    if not dfcom > 0:
        raise ValueError(f"dfcom, the complete-data degrees of freedom, must be positive, "
                         f"got {dfcom!r}")
    return float(dfcom)
