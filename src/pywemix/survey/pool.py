"""Pooling of fits to multiply imputed data (and plausible values) by Rubin's rules.

One implementation, :func:`rubin`, serves both :func:`pool` and the
plausible-value combination of :mod:`pywemix.pv`. R equivalents:
``mice::pool`` (Barnard-Rubin degrees of freedom, ``fmi``, ``riv``);
``EdSurvey`` and ``BIFIEsurvey`` combine plausible values the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..results.inference import (CombinedFitsMixin, InferenceMixin, check_alpha,
                                 variance_labels)
from ..results.terms import fitted_design, term_columns
from ..warnings import DataWarning, collecting, warn

__all__ = ["rubin", "RubinCombination", "barnard_rubin_df", "pool", "PooledResult"]


@dataclass(frozen=True)
class RubinCombination:
    """Rubin's rules for M estimates.

    ``mean`` (k,); ``within`` (mean sampling variance), ``between`` (variance
    between the estimates), ``imputation`` (``(1 + 1/M) between``) and
    ``total`` (``within + imputation``), each (k,) or (k, k); ``m``.
    """

    mean: np.ndarray
    within: np.ndarray
    between: np.ndarray
    imputation: np.ndarray
    total: np.ndarray
    m: int


def rubin(estimates, variances) -> RubinCombination:
    """Combine M estimates and their sampling variances by Rubin's rules.

    Parameters
    ----------
    estimates : array (M, k)
    variances : array (M, k) or (M, k, k)
        Sampling variances (or covariance matrices) of each estimate.

    Notes
    -----
    Rubin (1987, Multiple Imputation for Nonresponse in Surveys):

    .. math::

        \\bar Q = \\frac1M \\sum_m Q_m,\\quad
        \\bar U = \\frac1M \\sum_m U_m,\\quad
        B = \\frac{1}{M-1} \\sum_m (Q_m - \\bar Q)(Q_m - \\bar Q)',\\quad
        T = \\bar U + (1 + 1/M) B.

    For plausible values this is the rule of the PISA manual (OECD 2009,
    on plausible values) and the EdSurvey note (eqs. 6-8), ``V_imp = (1 + 1/M) B``.
    """
    Q = np.asarray(estimates, dtype=float)
    U = np.asarray(variances, dtype=float)
    M = Q.shape[0]
    if M < 2:
        raise ValueError(f"Rubin's rules need at least two estimates, got {M}")
    mean = Q.mean(axis=0)
    dev = Q - mean
    B = (np.einsum("ma,mb->ab", dev, dev) if U.ndim == 3 else np.sum(dev ** 2, axis=0)) \
        / (M - 1)
    within = U.mean(axis=0)
    imputation = (1.0 + 1.0 / M) * B
    return RubinCombination(mean, within, B, imputation, within + imputation, M)


def barnard_rubin_df(comb: RubinCombination, dfcom=np.inf):
    """Degrees of freedom, relative increase in variance and fraction of
    missing information of each estimate.

    Returns ``(df, riv, fmi)``, arrays (k,).

    Notes
    -----
    With ``b``, ``u``, ``t`` the diagonals of ``B``, ``Ubar``, ``T``,
    ``lambda = (1 + 1/M) b / t``, ``riv = (1 + 1/M) b / u``,
    ``nu_old = (M - 1) / lambda^2``,
    ``nu_obs = (nu_com + 1) / (nu_com + 3) nu_com (1 - lambda)`` and
    ``nu = nu_old nu_obs / (nu_old + nu_obs)`` (Barnard and Rubin 1999,
    Biometrika 86: 948-955); ``fmi = (riv + 2 / (nu + 3)) / (riv + 1)``
    (Rubin 1987; as ``mice::pool``). ``dfcom = inf`` gives Rubin's ``nu_old``.
    """
    diag = (lambda a: np.diag(a)) if comb.total.ndim == 2 else (lambda a: a)
    b, u, t = diag(comb.imputation), diag(comb.within), diag(comb.total)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(t > 0, b / t, 0.0)
        riv = np.where(u > 0, b / u, np.inf)
        old = np.where(lam > 0, (comb.m - 1) / lam ** 2, np.inf)
        if np.isinf(dfcom):
            df = old
        else:
            obs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
            df = np.where(np.isinf(old), obs, old * obs / (old + obs))
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    return df, riv, fmi


def _kinds(fit) -> list:
    """Covariance kinds every estimate of ``fit`` has (replicate, robust, model).

    The stored covariances are read (``raw_cov_params``): combining fits asks
    for no variance a user would be warned about."""
    out = []
    for kind in ("replicate", "robust", "model"):
        try:
            fit.raw_cov_params(kind)
            fit.raw_var_cov(kind)
        except (ValueError, KeyError):
            continue
        out.append(kind)
    return out


class PooledResult(CombinedFitsMixin, InferenceMixin):
    """Fits of one model on M imputed data sets pooled by Rubin's rules.

    ``params``, ``cov_params(kind)``, ``bse``, ``var_components``,
    ``var_cov``, ``wald_test``, ``conf_int`` and ``summary()`` as a fit;
    ``df`` (Barnard-Rubin), ``riv``, ``fmi`` (fraction of missing
    information), ``within_variance``, ``between_variance`` per fixed effect;
    ``fits``. ``tidy()`` adds ``df`` and ``fmi`` and uses t intervals.

    As a plausible-value result (both from
    :class:`~pywemix.results.inference.CombinedFitsMixin`): there is no
    pooled likelihood, so ``llf``, ``aic`` and ``bic`` are NaN with a
    :class:`~pywemix.PseudoLikelihoodWarning` pointing to Wald tests, and
    ``information_criteria()`` is (NaN, NaN); ``fittedvalues``,
    ``residuals``/``resid`` and ``predict`` are the means over the fits,
    row by row (a ValueError when the imputed data sets kept different
    rows); a single fit's attribute (``ranef``, ``theta``...) is
    ``fits[k].name``.
    """

    _fits_label = "imputed-data"

    def __init__(self, fits, dfcom=None, warnings=()):
        d = self.__dict__
        d["fits"] = tuple(fits)
        first = fits[0]
        kinds = [k for k in _kinds(first) if all(k in _kinds(f) for f in fits[1:])]
        if not kinds:
            raise ValueError("the fits have no covariance kind in common")
        d["_default"] = kinds[0]
        names = first.params.index
        est = np.stack([f.params.to_numpy() for f in fits])
        combos = {k: rubin(est, np.stack([f.raw_cov_params(k) for f in fits]))
                  for k in kinds}
        main = combos[kinds[0]]
        d["_params"] = pd.Series(main.mean, index=names, name="params")
        d["_cov"] = {k: c.total for k, c in combos.items()}
        vest = np.stack([f.var_components["variance"].to_numpy() for f in fits])
        vcombos = {k: rubin(vest, np.stack([f.raw_var_cov(k) for f in fits]))
                   for k in kinds}
        d["_var_cov"] = {k: c.total for k, c in vcombos.items()}
        vc = first.var_components.copy()
        vc["variance"] = vcombos[kinds[0]].mean
        vc["std_error"] = np.sqrt(np.clip(np.diag(vcombos[kinds[0]].total), 0, None))
        d["_var_components"] = vc
        d["_groups"] = first.groups
        d["dfcom"] = float(first.n_clusters - 1) if dfcom is None else float(dfcom)
        df, riv, fmi = barnard_rubin_df(main, d["dfcom"])
        for key, val in (("df", df), ("riv", riv), ("fmi", fmi),
                         ("within_variance", np.diag(main.within)),
                         ("between_variance", np.diag(main.between))):
            d[key] = pd.Series(val, index=names, name=key)
        d["_icc"] = float(np.mean([f.icc for f in fits]))
        d["formula"] = first.formula
        d["n_imputations"] = len(fits)
        # what the report needs of a fit: the first fit's settings and sample
        for key in ("settings", "family", "nobs", "n_clusters", "weighted"):
            d[key] = getattr(first, key)
        d["optimization"] = None
        msgs = list(warnings)
        for f in fits:
            msgs.extend(m for m in f.warnings if m not in msgs)
        d["warnings"] = tuple(msgs)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def icc(self) -> float:
        """Mean of the fits' ICCs."""
        return self._icc

    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        return super().cov_params(kind or self._default)

    def var_cov(self, kind: str | None = None) -> np.ndarray:
        return super().var_cov(kind or self._default)

    def std_errors(self, kind: str | None = None) -> pd.Series:
        return super().std_errors(kind or self._default)

    @property
    def bse(self) -> pd.Series:
        return self.std_errors()

    def wald_test(self, terms=None, *, R=None, q=None, kind="fixed", cov=None):
        return super().wald_test(terms, R=R, q=q, kind=kind, cov=cov or self._default)

    def conf_int(self, alpha=0.05, kind=None, which="fixed", *, cols=None):
        """Confidence intervals (arguments as a fit's ``conf_int``); the fixed
        effects' come from t distributions with the Barnard-Rubin degrees of
        freedom ``df``, as in :meth:`tidy` and :meth:`summary` (``mice``'s
        ``summary(pool(fit), conf.int = TRUE)``)."""
        kind = kind or self._default
        out = super().conf_int(alpha, kind, which, cols=cols)
        fixed = out.index.isin(self._params.index)
        if fixed.any():
            names = out.index[fixed]
            t = stats.t.ppf(1 - float(alpha) / 2, self.df[names].to_numpy())
            half = t * self._std_errors(kind)[names].to_numpy()
            est = self._params[names].to_numpy()
            out.loc[fixed, out.columns[0]] = est - half
            out.loc[fixed, out.columns[1]] = est + half
        return out

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """As a fit's ``tidy``, with ``df`` and ``fmi`` columns; the fixed
        effects' p-values and intervals use t distributions with the
        Barnard-Rubin degrees of freedom."""
        alpha = check_alpha(alpha)
        out = super().tidy(alpha, kind or self._default)
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

    def summary(self):
        """The report of the pooled fits (a :class:`~pywemix.results.summary.Summary`:
        text, HTML in Jupyter, LaTeX, dict/JSON).

        The fixed-effects table adds the Barnard-Rubin degrees of freedom,
        the p-values of t tests with them, and the fraction of missing
        information (``fmi``).
        """
        from ..results.summary import Summary
        t = self.tidy().set_index("term")
        t = t[t["kind"] == "fixed"]
        fixed = pd.DataFrame({"Estimate": t["estimate"], "Std. Error": t["std_error"],
                              "t value": t["statistic"], "df": t["df"],
                              "Pr(>|t|)": t["p_value"], "fmi": t["fmi"]}).rename_axis(None)
        return Summary(
            self, fixed=fixed,
            header=[("Pooled fits", f"{self.n_imputations} imputations, Rubin's rules; "
                     f"{self._default} variances; Barnard-Rubin df with complete-data "
                     f"df {self.dfcom:g}")],
            se_note=(f"Standard errors: Rubin's total variance (mean {self._default} "
                     "variance + (1 + 1/M) x between-imputation variance)."))

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

    Raises
    ------
    ValueError
        When the fits are not of one model: another family or link; other
        fixed-effect terms (named), or the same terms with other columns (a
        factor level missing from one data set); other variance components.
        And when they cannot be fits to one data set: no top-level group
        in common, or other numbers of rows and no row (index label) in
        common: fits to different samples (two countries) belong in
        ``mix(..., by=...)``, not in ``pool``.

    Warns
    -----
    DataWarning
        When fits may be to different data: other numbers of rows (``"fit 1
        has 574 rows, fit 0 596"``), or the same number in other top-level
        groups. The warning is also recorded in ``warnings`` of the result.

    Notes
    -----
    The responses may differ (plausible values or imputed outcomes fitted
    one by one, ``pv1 ~ x``, ``pv2 ~ x``), and so may the row labels: the
    imputed data sets of ``mice::complete(imp, "long")`` stacked in one
    frame have other labels for the same rows, so fits with as many rows in
    the same top-level groups pass whatever their labels. Estimates are averaged and variances combined by :func:`rubin`; the
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
    for i, f in enumerate(fits[1:], start=1):
        _check_family(i, f, fits[0])
        _check_fixed_effects(i, f, fits[0])
        labels, labels0 = variance_labels(f.var_components), \
            variance_labels(fits[0].var_components)
        if labels != labels0:
            raise ValueError(f"fit {i} has the variance components {labels}, fit 0 "
                             f"{labels0}: pool() combines fits of the same model")
    with collecting() as messages:
        for i, f in enumerate(fits[1:], start=1):
            message = _compare_rows(i, f, fits[0])
            if message:
                warn(message, DataWarning)
    return PooledResult(fits, dfcom, warnings=messages)


def _setting(fit, name):
    """A fit's ``family`` or ``link`` (a pooled result keeps its link in its settings)."""
    try:
        return getattr(fit, name)
    except AttributeError:
        return getattr(getattr(fit, "settings", None), name, None)


def _check_family(i, fit, first) -> None:
    """Fits of other families or links are other models: a ValueError saying which."""
    (fam, link), (fam0, link0) = ((_setting(f, "family"), _setting(f, "link") or "identity")
                                  for f in (fit, first))
    if fam != fam0:
        raise ValueError(f"fit {i} is a {fam} model ({link} link), fit 0 a {fam0} model "
                         f"({link0} link): pool() combines fits of the same model to "
                         "imputed data sets")
    if link != link0:
        raise ValueError(f"fit {i} has the {link} link, fit 0 the {link0} link (both "
                         f"{fam} models): pool() combines fits of the same model to "
                         "imputed data sets")


def _check_fixed_effects(i, fit, first) -> None:
    """Fits with other fixed effects: a ValueError naming the terms (or the
    columns) that differ. The response may differ (plausible values pooled
    by hand)."""
    names, names0 = list(fit.params.index), list(first.params.index)
    if names == names0:
        return
    terms, terms0 = term_columns(fit), term_columns(first)
    extra = [t for t in terms if t not in terms0]
    missing = [t for t in terms0 if t not in terms]
    if terms and terms0 and (extra or missing):
        what = [f"the term(s) {extra} that fit 0 has not"] if extra else []
        what += [f"not the term(s) {missing} of fit 0"] if missing else []
        raise ValueError(f"fit {i} has {' and '.join(what)}: pool() combines fits of the "
                         f"same model (formulas: fit {i} {fit.formula!r}, fit 0 "
                         f"{first.formula!r})")
    differ = [t for t in terms0 if t in terms and terms[t] != terms0[t]]
    if differ:
        t = differ[0]
        raise ValueError(f"the term {t!r} has the columns {terms[t]} in fit {i} but "
                         f"{terms0[t]} in fit 0 (a level missing from one data set?): "
                         "pool() combines fits of the same model, with the same fixed "
                         "effects")
    order = " (the same in another order: fit the data sets with one formula)" \
        if sorted(names) == sorted(names0) else ""
    raise ValueError(f"fit {i} has fixed effects {names}, fit 0 has {names0}{order}: "
                     "pool() combines fits of the same model")


def _rows(fit) -> tuple:
    """(number of rows, their index labels or None, top-level group labels or
    None) of a fit (its first fit's design for a combination; no row labels
    for a Dask fit, whose rows stay on the workers)."""
    n, design = int(fit.nobs), fitted_design(fit)
    if design is None:
        return n, None, None
    frame = getattr(design, "frame", None)
    rows = frame.index if frame is not None and len(frame) == n else None
    levels = getattr(design, "levels", None)
    return n, rows, (levels[-1].labels if levels else None)


def _compare_rows(i, fit, first):
    """Whether fit ``i`` and fit 0 are fits to one data set: a ValueError when
    they cannot be (no top-level group in common; other numbers of rows and
    no row label in common), a message to warn with when they may not be
    (other numbers of rows, other top-level groups), else None.

    Imputations of one data set have the same rows and groups; their row
    labels may differ (data sets stacked in one long frame, as
    ``mice::complete(imp, "long")``), so equal numbers of rows in the same
    groups pass whatever the labels.
    """
    (n, rows, groups), (n0, rows0, groups0) = _rows(fit), _rows(first)
    other = ("they are fits to different samples (two countries?), not to imputations "
             "of one data set, and pool() would count the differences between the "
             "samples as imputation variance; fit them with mix(..., by=...) instead")
    shared = None
    if groups is not None and groups0 is not None:
        shared = int(groups.isin(groups0).sum())
        if shared == 0:
            raise ValueError(f"fit {i} and fit 0 have no top-level group in common ({n} "
                             f"and {n0} rows, {len(groups)} and {len(groups0)} groups): "
                             f"{other}")
    common = int(rows.isin(rows0).sum()) if rows is not None and rows0 is not None \
        else None
    if n != n0:
        if common == 0:
            raise ValueError(f"fit {i} has {n} rows, fit 0 {n0}, and no row (index label) "
                             f"in common: {other}")
        return (f"fit {i} has {n} rows, fit 0 {n0}: pool() combines imputations of one "
                "data set, which have the same rows"
                + (f" ({common} index labels are in both)" if common is not None else ""))
    if shared is not None and (shared != len(groups) or shared != len(groups0)):
        return (f"fit {i} has other top-level groups than fit 0 ({shared} of its "
                f"{len(groups)} are in fit 0, which has {len(groups0)}): pool() combines "
                "imputations of one data set, which have the same groups")
    return None


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
