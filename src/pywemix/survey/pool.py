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
from ..results.terms import fitted_design, term_columns
from ..warnings import DataWarning, collecting, warn
from .combine import RubinCombination, barnard_rubin_df, combine_fits, common_kinds, rubin

__all__ = ["rubin", "RubinCombination", "barnard_rubin_df", "pool", "PooledResult"]


class PooledResult(CombinedFitsMixin, InferenceMixin):
    """
    Fits of one model on M imputed data sets pooled by Rubin's rules.

    Made by :func:`pool`. R equivalent: ``mice``'s ``mipo``.

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

    Parameters
    ----------
    fits : sequence of results
        The fits, checked by :func:`pool`.
    dfcom : float, optional
        Complete-data degrees of freedom (default: top-level clusters - 1).
    warnings : sequence of str, default ()
        Messages of the pooling, kept with the fits' own in ``warnings``.

    Raises
    ------
    ValueError
        If the fits have no covariance kind in common.
    """

    _fits_label = "imputed-data"

    def __init__(self, fits, dfcom=None, warnings=()):
        d = self.__dict__
        d["fits"] = tuple(fits)
        first = fits[0]
        kinds = common_kinds(fits)
        if not kinds:
            raise ValueError("the fits have no covariance kind in common")
        d["estimates"], combos = combine_fits(
            fits, kinds, title=f"Rubin's total over {len(fits)} imputations", label="imputations"
        )
        main = combos[kinds[0]]
        names = first.params.index
        d["dfcom"] = float(first.n_clusters - 1) if dfcom is None else float(dfcom)
        df, riv, fmi = barnard_rubin_df(main, d["dfcom"])
        for key, val in (
            ("df", df),
            ("riv", riv),
            ("fmi", fmi),
            ("within_variance", np.diag(main.within)),
            ("between_variance", np.diag(main.between)),
        ):
            d[key] = pd.Series(val, index=names, name=key)
        d["formula"] = first.formula
        d["n_imputations"] = len(fits)
        # what the report needs of a fit: the first fit's settings and sample
        for key in ("settings", "family", "nobs", "n_clusters", "weighted"):
            d[key] = getattr(first, key)
        d["optimization"] = None
        d["converged"] = all(f.converged for f in fits)
        msgs = list(warnings)
        for f in fits:
            msgs.extend(m for m in f.warnings if m not in msgs)
        d["warnings"] = tuple(msgs)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def icc(self) -> float:
        """Mean of the fits' ICCs."""
        return self.estimates.icc

    def conf_int(
        self,
        alpha: float = 0.05,
        kind: str | None = None,
        which: str = "fixed",
        *,
        cols: str | int | list | None = None,
    ) -> pd.DataFrame:
        """
        Confidence intervals, t intervals for the fixed effects.

        The fixed effects' come from t distributions with the Barnard-Rubin
        degrees of freedom ``df``, as in :meth:`tidy` and :meth:`summary`
        (``mice``'s ``summary(pool(fit), conf.int = TRUE)``).

        Parameters
        ----------
        alpha : float, default 0.05
            1 - confidence level.
        kind : str, optional
            One of ``variance_kinds`` (None: the default).
        which : {"fixed", "variance", "all"}
            As a fit's ``conf_int``.
        cols : str, int or list of them, optional
            As a fit's ``conf_int``.

        Returns
        -------
        DataFrame
            Lower and upper bounds; ``attrs["variance"]`` names the kind.
        """
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
        """
        One row per parameter, as a fit's ``tidy``, with ``df`` and ``fmi`` columns.

        The fixed effects' p-values and intervals use t distributions with the
        Barnard-Rubin degrees of freedom.

        Parameters
        ----------
        alpha : float, default 0.05
            1 - confidence level of the intervals.
        kind : str, optional
            One of ``variance_kinds`` (None: the default).

        Returns
        -------
        DataFrame
            The table; ``attrs["variance"]`` names the covariance kind.
        """
        alpha = check_alpha(alpha)
        out = super().tidy(alpha, kind)
        fixed = out["kind"].isin(("fixed", "family")).to_numpy()
        df = np.full(len(out), np.nan)
        df[fixed] = self.df.to_numpy()
        fmi = np.full(len(out), np.nan)
        fmi[fixed] = self.fmi.to_numpy()
        out["df"], out["fmi"] = df, fmi
        t = stats.t.ppf(1 - alpha / 2, df[fixed])
        out.loc[fixed, "p_value"] = 2 * stats.t.sf(np.abs(out.loc[fixed, "statistic"]), df[fixed])
        est, se = out.loc[fixed, "estimate"], out.loc[fixed, "std_error"]
        out.loc[fixed, "conf_low"], out.loc[fixed, "conf_high"] = est - t * se, est + t * se
        return out

    def summary(self) -> Summary:
        """
        Report the pooled fits (R: ``summary(mice::pool(fit))``).

        The fixed-effects table adds the Barnard-Rubin degrees of freedom,
        the p-values of t tests with them, and the fraction of missing
        information (``fmi``).

        Returns
        -------
        Summary
            Text, HTML in Jupyter, LaTeX, dict/JSON.
        """
        t = self.tidy().set_index("term")
        t = t[t["kind"] == "fixed"]
        fixed = pd.DataFrame(
            {
                "Estimate": t["estimate"],
                "Std. Error": t["std_error"],
                "t value": t["statistic"],
                "df": t["df"],
                "Pr(>|t|)": t["p_value"],
                "fmi": t["fmi"],
            }
        ).rename_axis(None)
        return Summary(
            self,
            fixed=fixed,
            header=[
                (
                    "Pooled fits",
                    f"{self.n_imputations} imputations, Rubin's rules; "
                    f"Barnard-Rubin df with complete-data df {self.dfcom:g}",
                )
            ],
        )

    def _fit_title(self, value: int) -> str:
        return f"imputed data set {value + 1} of {len(self.fits)}"

    def _repr_html_(self):
        return self.summary()._repr_html_()

    def __repr__(self):
        return f"<PooledResult {self.formula!r}: {self.n_imputations} fits>"


def pool(fits, dfcom: float | None = None) -> PooledResult:
    """
    Pool fits of the same model on multiply imputed data sets.

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
        The pooled estimates, with Rubin's total covariance of every kind the
        fits share.

    Raises
    ------
    TypeError
        When ``fits`` is not a sequence of fits.
    ValueError
        When there are fewer than two fits, or they are not of one model:
        another family or link; other
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

    See Also
    --------
    rubin : The combination itself.
    barnard_rubin_df : Degrees of freedom and fraction of missing information.
    pywemix.mix : ``plausible_values=`` fits and pools in one call.

    Notes
    -----
    The responses may differ (plausible values or imputed outcomes fitted
    one by one, ``pv1 ~ x``, ``pv2 ~ x``), and so may the row labels: the
    imputed data sets of ``mice::complete(imp, "long")`` stacked in one
    frame have other labels for the same rows, so fits with as many rows in
    the same top-level groups pass whatever their labels. Estimates are
    averaged and variances combined by :func:`rubin`; the
    degrees of freedom and the fraction of missing information come from
    :func:`barnard_rubin_df`. Plausible values (``mix(...,
    plausible_values=...)``) are combined by the same function, so pooling
    the per-value fits gives the same estimates and variances. R
    equivalent: ``mice::pool``.

    With :math:`M` fits, estimates :math:`\\hat\\beta_m` and covariances
    :math:`U_m`:

    .. math::

        \\bar\\beta = \\frac1M \\sum_m \\hat\\beta_m, \\quad
        \\bar U = \\frac1M \\sum_m U_m, \\quad
        B = \\frac{1}{M-1} \\sum_m (\\hat\\beta_m - \\bar\\beta)
            (\\hat\\beta_m - \\bar\\beta)^\\top, \\quad
        T = \\bar U + (1 + 1/M) B.

    Examples
    --------
    Fit each plausible value alone, then pool the fits:

    >>> import pywemix
    >>> data = pywemix.datasets.load_pisa()
    >>> fits = [pywemix.mix(f"pv{i}math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"],
    ...                     cond_weights=True, weight_scaling="size") for i in (1, 2, 3)]
    >>> pooled = pywemix.pool(fits)
    >>> pooled.n_imputations
    3
    >>> list(pooled.tidy().columns[-2:])
    ['df', 'fmi']
    """
    given = fits
    try:
        fits = list(fits) if not isinstance(fits, (str, bytes, pd.DataFrame)) else None
    except TypeError:
        fits = None
    if fits is None:
        raise TypeError(
            f"pool needs a list of fits (results of pywemix.mix), got {type(given).__name__}"
        )
    if len(fits) < 2:
        raise ValueError("pool needs a list of at least two fits")
    for i, f in enumerate(fits):
        if not all(hasattr(f, a) for a in ("params", "cov_params", "var_components")):
            raise TypeError(
                f"pool needs fits (results of pywemix.mix such as MixResult or "
                f"ReplicateResult), but item {i} is a {type(f).__name__}"
            )
    dfcom = _check_dfcom(dfcom)
    for i, f in enumerate(fits[1:], start=1):
        _check_family(i, f, fits[0])
        _check_fixed_effects(i, f, fits[0])
        labels, labels0 = variance_labels(f.var_components), variance_labels(fits[0].var_components)
        if labels != labels0:
            raise ValueError(
                f"fit {i} has the variance components {labels}, fit 0 "
                f"{labels0}: pool() combines fits of the same model"
            )
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
    (fam, link), (fam0, link0) = (
        (_setting(f, "family"), _setting(f, "link") or "identity") for f in (fit, first)
    )
    if fam != fam0:
        raise ValueError(
            f"fit {i} is a {fam} model ({link} link), fit 0 a {fam0} model "
            f"({link0} link): pool() combines fits of the same model to "
            "imputed data sets"
        )
    if link != link0:
        raise ValueError(
            f"fit {i} has the {link} link, fit 0 the {link0} link (both "
            f"{fam} models): pool() combines fits of the same model to "
            "imputed data sets"
        )


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
        raise ValueError(
            f"fit {i} has {' and '.join(what)}: pool() combines fits of the "
            f"same model (formulas: fit {i} {fit.formula!r}, fit 0 "
            f"{first.formula!r})"
        )
    differ = [t for t in terms0 if t in terms and terms[t] != terms0[t]]
    if differ:
        t = differ[0]
        raise ValueError(
            f"the term {t!r} has the columns {terms[t]} in fit {i} but "
            f"{terms0[t]} in fit 0 (a level missing from one data set?): "
            "pool() combines fits of the same model, with the same fixed "
            "effects"
        )
    order = (
        " (the same in another order: fit the data sets with one formula)"
        if sorted(names) == sorted(names0)
        else ""
    )
    raise ValueError(
        f"fit {i} has fixed effects {names}, fit 0 has {names0}{order}: "
        "pool() combines fits of the same model"
    )


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
    other = (
        "they are fits to different samples (two countries?), not to imputations "
        "of one data set, and pool() would count the differences between the "
        "samples as imputation variance; fit them with mix(..., by=...) instead"
    )
    shared = None
    if groups is not None and groups0 is not None:
        shared = int(groups.isin(groups0).sum())
        if shared == 0:
            raise ValueError(
                f"fit {i} and fit 0 have no top-level group in common ({n} "
                f"and {n0} rows, {len(groups)} and {len(groups0)} groups): "
                f"{other}"
            )
    common = int(rows.isin(rows0).sum()) if rows is not None and rows0 is not None else None
    if n != n0:
        if common == 0:
            raise ValueError(
                f"fit {i} has {n} rows, fit 0 {n0}, and no row (index label) in common: {other}"
            )
        return (
            f"fit {i} has {n} rows, fit 0 {n0}: pool() combines imputations of one "
            "data set, which have the same rows"
            + (f" ({common} index labels are in both)" if common is not None else "")
        )
    if shared is not None and (shared != len(groups) or shared != len(groups0)):
        return (
            f"fit {i} has other top-level groups than fit 0 ({shared} of its "
            f"{len(groups)} are in fit 0, which has {len(groups0)}): pool() combines "
            "imputations of one data set, which have the same groups"
        )
    return None


def _check_dfcom(dfcom):
    """``dfcom``: None or a positive number (``np.inf`` allowed)."""
    if dfcom is None:
        return None
    if isinstance(dfcom, bool) or not isinstance(dfcom, (int, float, np.number)):
        raise TypeError(f"dfcom must be a positive number (or np.inf), got {dfcom!r}")
    if not dfcom > 0:
        raise ValueError(
            f"dfcom, the complete-data degrees of freedom, must be positive, got {dfcom!r}"
        )
    return float(dfcom)
