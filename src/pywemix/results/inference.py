"""Wald inference shared by every result: t values, intervals, Wald tests, tidy.

A result holds an :class:`~pywemix.results.covariances.Estimates` record
(estimates and a registry of covariance kinds with its default);
:class:`InferenceMixin` derives every output from it. R equivalents:
``WeMix::waldTest``, ``confint``, ``broom.mixed::tidy``.
"""

from __future__ import annotations

import difflib
import html

import numpy as np
import pandas as pd
from scipy import stats

from ..estimation.variance import SE_FLOOR
from ..warnings import PseudoLikelihoodWarning, PywemixWarning, warn
from .covariances import Covariance, Estimates, standard_errors
from .terms import expand_terms, term_columns

__all__ = [
    "InferenceMixin",
    "WaldTestResult",
    "variance_labels",
    "variance_intervals",
    "check_alpha",
    "loglik_value",
]


def variance_labels(vc: pd.DataFrame) -> list:
    """Readable names of variance-component rows: ``var(Intercept|school)``,
    ``cov(Intercept,escs|school)``, ``var(Residual)``."""
    out = []
    for _, r in vc.iterrows():
        if r["group"] == "Residual":
            out.append("var(Residual)")
        elif r["var2"] is None or (isinstance(r["var2"], float) and np.isnan(r["var2"])):
            out.append(f"var({r['var1']}|{r['group']})")
        else:
            out.append(f"cov({r['var1']},{r['var2']}|{r['group']})")
    return out


class WaldTestResult:
    """Outcome of a Wald test: ``statistic`` (chi-square), ``df``, ``p_value``.

    ``terms`` are the names tested as given (terms or columns; or a
    description of ``R``); ``columns`` the fixed-effect columns (or variance
    labels) they stand for, a factor's or interaction's name standing for
    all its columns. ``kind`` says what was tested (``"fixed"`` effects or
    ``"variance"`` components), ``cov`` the covariance kind the test used
    (``"robust"``, ``"replicate"``, ...) and ``cov_description`` what that
    is. ``statistic, df, p_value = result`` unpacks.
    """

    def __init__(
        self, statistic, df, p_value, terms, kind, columns=None, cov=None, cov_description=None
    ):
        self.statistic, self.df, self.p_value = float(statistic), int(df), float(p_value)
        self.terms, self.kind = list(terms), kind
        self.columns = list(terms) if columns is None else list(columns)
        self.cov, self.cov_description = cov, cov_description

    def _tested(self) -> str:
        """The names tested, followed by the columns when a name stands for
        others (``st29q03 (columns: st29q03[T.b], st29q03[T.c])``)."""
        if self.columns == self.terms:
            return ", ".join(self.terms)
        return f"{', '.join(self.terms)} (columns: {', '.join(self.columns)})"

    def _what(self) -> str:
        return (
            self.kind
            if self.cov is None
            else f"{self.kind}; {self.cov_description or self.cov} covariance"
        )

    def __repr__(self):
        return (
            f"Wald test ({self._what()}) of {self._tested()}: chi2 = "
            f"{self.statistic:.4f}, df = {self.df}, p = {self.p_value:.4g}"
        )

    def __iter__(self):
        return iter((self.statistic, self.df, self.p_value))

    def _repr_html_(self):
        return (
            f"<p><b>Wald test</b> ({html.escape(self._what())}) of "
            f"{html.escape(self._tested())}: "
            f"&chi;<sup>2</sup> = {self.statistic:.4f}, df = {self.df}, "
            f"p = {self.p_value:.4g}</p>"
        )


def _wald(est, cov, R, q):
    diff = R @ est - q
    M = R @ cov @ R.T
    rank = np.linalg.matrix_rank(M)
    if rank == 0:
        raise ValueError(
            "the tested combination of estimates has zero variance (rank 0): "
            "there is nothing to test"
        )
    stat = float(diff @ np.linalg.pinv(M) @ diff)
    return stat, rank, float(stats.chi2.sf(stat, rank))


def check_alpha(alpha) -> float:
    """``alpha`` as a float strictly between 0 and 1 (TypeError / ValueError otherwise).

    ``alpha`` is 1 - the confidence level, as in statsmodels' and R's
    ``confint(level = 1 - alpha)``. An ``alpha`` above 0.5 (intervals of
    less than 50% confidence) is almost always a confidence level given in
    its place (``alpha=0.95``): it is used as given, with a
    :class:`~pywemix.PywemixWarning`.
    """
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(
        alpha, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if alpha > 0.5:
        warn(
            f"alpha={alpha:g} gives {100 * (1 - alpha):.3g}% intervals: alpha is 1 - the "
            f"confidence level (alpha={1 - alpha:.3g} for {100 * alpha:.3g}% intervals)",
            PywemixWarning,
        )
    return float(alpha)


def _is_variance_row(vc: pd.DataFrame) -> np.ndarray:
    """Which rows of a variance-component table are variances (not covariances)."""
    return vc["var2"].isna().to_numpy()


def variance_intervals(var_components: pd.DataFrame, var_cov, alpha: float = 0.05) -> pd.DataFrame:
    """Wald confidence intervals of the variance components, never negative for a variance.

    The one computation behind ``conf_int(which="variance")`` (standard-
    deviation scale) and ``tidy()`` (variance scale) of every result.

    Parameters
    ----------
    var_components : DataFrame
        A result's ``var_components`` (columns ``group``, ``var1``,
        ``var2``, ``variance``).
    var_cov : array-like (m, m)
        Covariance of those estimates (``var_cov(kind)``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        Indexed by the ``tidy()`` labels (``var(Intercept|school)``,
        ``cov(Intercept,escs|school)``, ``var(Residual)``), with columns
        ``estimate``, ``std_error``, ``conf_low``, ``conf_high``,
        ``variance`` (True for a variance, False for a covariance) and
        ``note`` (empty unless the interval was truncated at 0, the estimate
        is on the boundary or there is no standard error). ``attrs["notes"]``
        lists the notes.

    Notes
    -----
    A variance :math:`\\hat\\tau^2` with standard error :math:`s` gets the
    Wald interval on the variance scale, truncated at zero,

    .. math::

        \\left[\\max(0, \\hat\\tau^2 - z_{1-\\alpha/2}\\, s),\\;
              \\hat\\tau^2 + z_{1-\\alpha/2}\\, s\\right],

    and its standard deviation the square roots of those limits (the same
    interval, so ``conf_int`` and ``tidy`` always agree). That is the scale
    on which WeMix (``summary.WeMixResults``) and EdSurvey (``mixed.sdf``)
    report the variance terms and their standard errors, and the interval a
    WeMix user computes from them; statsmodels' ``MixedLMResults.conf_int``
    is also a Wald interval on the parameter scale. It is the truncation
    that keeps a variance's interval non-negative; a covariance's interval is
    the plain Wald one. lme4's ``confint(method = "Wald")`` gives ``NA`` for
    variance parameters and Stata's ``mixed`` transforms a Wald interval on
    the log standard deviation (StataCorp, *Stata Multilevel Mixed-Effects
    Reference Manual*, ``mixed``, Methods and formulas); neither exists at
    the boundary, where a variance estimate of 0 here gets :math:`[0,
    z s]` and a note. Near or on the boundary a Wald interval does not have
    its nominal coverage (Self and Liang 1987, *JASA* 82, 605-610); for an
    unweighted fit, ``bootstrap_lrt`` tests a variance against zero.
    """
    vc = var_components
    est = vc["variance"].to_numpy(dtype=float)
    diag = np.diag(np.asarray(var_cov, dtype=float))
    se = np.where(np.isfinite(diag), np.sqrt(np.clip(diag, 0, None)), np.nan)
    z = stats.norm.ppf(1 - check_alpha(alpha) / 2)
    low, high = est - z * se, est + z * se
    variance = _is_variance_row(vc)
    labels = variance_labels(vc)
    notes = np.full(len(est), "", dtype=object)
    boundary = variance & (est <= 0)
    truncated = variance & (low < 0) & ~boundary
    notes[truncated] = [
        f"{lab}: the Wald interval's lower limit ({lo:.3g}) is below 0 "
        "and is set to 0 (a variance cannot be negative); near the "
        "boundary the interval does not have its nominal coverage"
        for lab, lo in zip(np.asarray(labels)[truncated], low[truncated])
    ]
    notes[boundary] = [
        f"{lab}: the estimate is on the boundary (0): lower limit 0, "
        "upper limit estimate + z * SE; a Wald interval does not have its "
        "nominal coverage there"
        for lab in np.asarray(labels)[boundary]
    ]
    missing = ~np.isfinite(se)
    notes[missing] = [
        f"{lab}: no standard error, no interval" for lab in np.asarray(labels)[missing]
    ]
    low = np.where(variance & np.isfinite(low), np.maximum(low, 0.0), low)
    out = pd.DataFrame(
        {
            "estimate": est,
            "std_error": se,
            "conf_low": low,
            "conf_high": high,
            "variance": variance,
            "note": notes,
        },
        index=pd.Index(labels, name="term"),
    )
    out.attrs["notes"] = [n for n in notes if n]
    return out


def loglik_value(result) -> float:
    """``result.llf`` as a float, NaN for results that have none (plausible-value
    combinations, pooled fits), without their warning (for reports and tables)."""
    if getattr(result, "combines_fits", False):
        return np.nan
    llf = result.llf
    return np.nan if llf is None else float(llf)


def _finite_array(x, name, ndim):
    """``x`` as a finite float array of at most ``ndim`` dimensions."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {x!r}") from None
    a = np.atleast_2d(a) if ndim == 2 else np.atleast_1d(a)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has missing or infinite values")
    return a


def _se_ratio(cov_robust, cov_model) -> float:
    """Median ratio of robust to model-based standard errors (NaN if undefined)."""
    r, m = np.diag(cov_robust), np.diag(cov_model)
    ok = np.isfinite(r) & np.isfinite(m) & (r > 0) & (m > 0)
    return float(np.median(np.sqrt(r[ok] / m[ok]))) if ok.any() else np.nan


def _unknown_term_message(unknown, names, kind, terms=()) -> str:
    """The error for term names that are not among ``names`` (nor ``terms``,
    the formula's terms that stand for several columns), with the closest
    names and, for a name of the other kind, the ``kind`` to use."""
    hints = []
    for t in map(str, unknown):
        lower = {n.lower(): n for n in [*names, *terms]}
        close = [lower[m] for m in difflib.get_close_matches(t.lower(), lower, n=2, cutoff=0.6)]
        if kind == "fixed" and t.startswith(("var(", "cov(", "sd(")):
            hints.append(f"{t!r} is a variance term: test it with kind='variance'")
        elif kind == "variance" and t.startswith("sd("):
            hints.append(f"{t!r}: variance terms are tested as variances, {'var(' + t[3:]!r}")
        elif any(c in t for c in "=<>"):
            hints.append(
                f"{t!r}: hypotheses written as text (statsmodels' 'x1 = 0') are "
                "not parsed; name the terms tested against 0, or give R and q "
                "(R b = q)"
            )
        elif close:
            hints.append(f"{t!r}: did you mean {' or '.join(map(repr, close))}?")
    return (
        f"unknown {kind} term(s) {list(unknown)}"
        + (f" ({'; '.join(hints)})" if hints else "")
        + f"; available: {names}"
        + (f"; and the terms {list(terms)}, each standing for its columns" if terms else "")
    )


def _nonempty_list(value, scalars, name, what, hint) -> list:
    """``value`` as a non-empty list (one of ``scalars`` as a list of one);
    TypeError if it is not a sequence, ValueError if it is empty."""
    if isinstance(value, scalars):
        value = [value]
    try:
        value = list(value)
    except TypeError:
        raise TypeError(f"{name} must be {what}, got {value!r}") from None
    if not value:
        raise ValueError(f"{name} is empty: {hint}")
    return value


def _selection_matrix(terms, names, kind, model=None) -> tuple:
    """(R, terms, columns): rows of the identity over ``names`` picking the
    columns ``terms`` (a name or a list of names) stand for; with
    ``kind="fixed"`` a term's name stands for all its columns (see
    :func:`~pywemix.results.terms.expand_terms`, the terms read from
    ``model``). Errors name the unknown or repeated terms, and a column
    named twice (as itself and through its term, or through two terms)."""
    terms = _nonempty_list(
        terms, (str,), "terms", "a list of term names", "give at least one term to test"
    )
    odd = [t for t in terms if not isinstance(t, str)]
    if odd:
        raise TypeError(
            f"terms must be names of terms (strings), got {odd[0]!r}"
            + (
                ": a constraint matrix (statsmodels' r_matrix) is given as R=, with q= "
                "for its right-hand side"
                if np.ndim(odd[0]) or np.ndim(terms) > 1
                else ""
            )
        )
    expanded = expand_terms(terms, names, model if kind == "fixed" else None)
    unknown = [t for t, cols in expanded if not cols]
    if unknown:
        grouped = (
            [t for t, cols in term_columns(model).items() if cols != [t] and t != "1"]
            if kind == "fixed" and model is not None
            else []
        )
        raise ValueError(_unknown_term_message(unknown, names, kind, grouped))
    repeated = sorted({t for t in terms if terms.count(t) > 1})
    if repeated:
        raise ValueError(f"terms are repeated: {repeated}; give each term once")
    columns = _columns_named_once(expanded)
    R = np.zeros((len(columns), len(names)))
    R[np.arange(len(columns)), [names.index(c) for c in columns]] = 1.0
    return R, terms, columns


def _columns_named_once(expanded) -> list:
    """The columns of ``expand_terms``' (name, columns) pairs, in order; a
    ValueError when a column is named twice (a factor and one of its
    columns, or two terms sharing a column)."""
    by: dict = {}
    for name, cols in expanded:
        for c in cols:
            if c in by:
                first = by[c]
                how = [
                    f"as itself ({n!r})" if n == c else f"by the term {n!r}" for n in (first, name)
                ]
                raise ValueError(
                    f"column {c!r} is named twice: {how[0]} and {how[1]}; a term "
                    "stands for all its columns, so name each column once (the term, "
                    "or some of its columns)"
                )
            by[c] = name
    return list(by)


def _constraint_matrix(R, names, kind) -> np.ndarray:
    """``R`` as a finite (r, len(names)) array without all-zero rows."""
    R = _finite_array(R, "R", 2)
    if R.shape[0] == 0:
        raise ValueError("R has no rows: give at least one constraint")
    if R.shape[1] != len(names):
        raise ValueError(
            f"R must have {len(names)} columns (one per {kind} term: {names}), got {R.shape[1]}"
        )
    zero = np.flatnonzero(~np.any(R != 0, axis=1))
    if len(zero):
        raise ValueError(
            f"row {zero[0]} of R is all zeros: every constraint must involve at least one term"
        )
    return R


def _variance_label(row: str) -> str:
    """The ``tidy()`` label of a ``conf_int`` row (``sd(a|g)`` -> ``var(a|g)``)."""
    return "var" + row[2:] if row.startswith("sd(") else row


def _row_positions(cols, names, which) -> list:
    """Positions in ``names`` of ``cols`` (names or integer positions, as
    statsmodels' ``conf_int(cols=...)``); errors name what is not there."""
    picked = _nonempty_list(
        cols,
        (str, int, np.integer),
        "cols",
        "names or positions of rows",
        "give at least one row (a name or a position)",
    )
    out = []
    for c in picked:
        if isinstance(c, str):
            if c not in names:
                kind = "variance" if which == "variance" else "fixed"
                raise ValueError(
                    _unknown_term_message([c], names, kind).replace(
                        f"unknown {kind} term(s)", f"cols: no row (which={which!r})"
                    )
                )
            out.append(names.index(c))
        elif isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
            if not -len(names) <= c < len(names):
                raise ValueError(
                    f"cols: position {c} is out of range: the table has {len(names)} rows ({names})"
                )
            out.append(int(c) % len(names))
        else:
            raise TypeError(f"cols must be names or integer positions of rows, got {c!r}")
    return out


def _missing_covariance_message(est, V, names, used, kind, cov) -> str:
    """The error of a Wald test whose terms have no covariance: which terms,
    why, and what to do instead."""
    idx = np.flatnonzero(used)
    bad = [i for i in idx if not np.all(np.isfinite(V[i, idx]))]
    reasons = []
    for i in bad:
        if kind == "variance" and names[i].startswith("var(") and est[i] < SE_FLOOR:
            why = (
                f"estimate {est[i]:.3g}: at or near the boundary of 0, below "
                f"exp(-3.6) = {SE_FLOOR:.3g}, where WeMix and pywemix give no "
                "standard error"
            )
        else:
            why = "not estimated (NaN; see result.warnings)"
        reasons.append(f"{names[i]} ({why})")
    advice = (
        "leave them out of the test; whether a variance is zero is not a Wald "
        "question (at the boundary the statistic is not chi-square: Self and "
        "Liang 1987, JASA 82, 605-610): for an unweighted fit compare the models "
        "with and without the random effect by pywemix.bootstrap_lrt or anova"
        if kind == "variance"
        else f"leave them out of the test, or try another covariance (cov='{cov}' was used)"
    )
    return (
        f"the covariance ({cov}) of the tested {kind} term(s) is not available for "
        f"{', '.join(reasons)}: {advice}"
    )


class InferenceMixin:
    """The estimates of a result and Wald-type inference from them.

    A result holds one :class:`~pywemix.results.covariances.Estimates`
    record, ``estimates`` (fixed effects, variance components, ICC and the
    registry of covariance kinds with its default), and says whether it is
    ``weighted``; this mixin reads them for every output. ``kind=None``
    (or ``cov=None`` in :meth:`wald_test`) is always the result's default
    kind, :attr:`default_kind`; a kind the result does not have is a
    ValueError listing :attr:`variance_kinds`.
    """

    estimates: Estimates

    @property
    def params(self) -> pd.Series:
        """Fixed-effect estimates (a copy)."""
        return self.estimates.params  # a copy

    @property
    def var_components(self) -> pd.DataFrame:
        """
        Variances and covariances of the random effects and the residual.

        With the standard errors of the default covariance kind (R:
        ``VarCorr()``; WeMix: ``vars``).
        """
        return self.estimates.var_components  # a copy

    @property
    def variance_kinds(self) -> tuple:
        """
        The covariance kinds of the result, the default first.

        For example ``("replicate", "robust", "model")``.
        """
        return self.estimates.covariances.names

    @property
    def default_kind(self) -> str:
        """The covariance kind every output shows unless another is named."""
        return self.estimates.covariances.default

    def covariance(self, kind: str | None = None) -> Covariance:
        """
        Return the covariance record of a kind.

        Parameters
        ----------
        kind : str, optional
            One of :attr:`variance_kinds`; None (default) is :attr:`default_kind`.

        Returns
        -------
        Covariance
            The :class:`~pywemix.results.covariances.Covariance` record: its
            description, covariances and, for totals, parts. Reading it issues
            no warning.

        Raises
        ------
        ValueError
            If the result has no covariance of that kind.
        """
        return self.estimates.covariances.get(kind)

    def _kind(self, kind, argument: str = "kind") -> Covariance:
        """The record of ``kind``, warning when model-based variances of a
        weighted fit are asked for (see ``cov_params``)."""
        record = self.estimates.covariances.get(kind, argument)
        self._warn_model_kind(record)
        return record

    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        """Covariance of the fixed effects.

        Parameters
        ----------
        kind : str, optional
            One of :attr:`variance_kinds`; None (default) is the result's
            default, :attr:`default_kind`. ``"robust"``: cluster-robust
            sandwich over the top-level groups (WeMix's default; for plausible
            values, the mean sampling variance plus the imputation variance);
            ``"model"``: inverse observed information; ``"replicate"``: the
            replication variance of replicate weights. For weighted fits
            ``"model"`` issues a :class:`~pywemix.PseudoLikelihoodWarning`
            (see Notes).

        Returns
        -------
        DataFrame
            Terms by terms (R: ``vcov()``); ``attrs["variance"]`` names the kind.

        Raises
        ------
        ValueError
            If the result has no covariance of that kind.

        See Also
        --------
        std_errors : Their standard errors.
        conf_int : Wald confidence intervals.
        wald_test : Wald tests of linear hypotheses.

        Notes
        -----
        The model-based covariance of a weighted fit inverts the Hessian of a
        pseudo-log-likelihood :math:`\\sum_i w_i \\log f_i`, which is the
        variance only if every unit of weight is an independent observation
        (frequency weights). With sampling weights it is far too small (on the
        bundled PISA-like example, standard errors 30 to 80 times smaller than
        the cluster-robust ones). Stata's ``mixed`` therefore implies
        ``vce(robust)`` whenever ``pweight`` is given (Stata Multilevel Mixed-
        Effects Reference Manual, ``mixed``, "Survey data"). pywemix still
        computes it (it is right for frequency weights and useful to gauge the
        design effect) but issues the warning whenever it is asked for.
        """
        record = self._kind(kind)
        idx = self.estimates.params.index
        out = pd.DataFrame(np.array(record.fixed), index=idx, columns=idx)
        out.attrs.update(_kind_attrs(record))
        return out

    def raw_cov_params(self, kind: str | None = None) -> np.ndarray:
        """
        Covariance of the fixed effects, as stored: no pseudo-likelihood warning.

        For code that combines fits (plausible values, replicates); users
        call :meth:`cov_params`.

        Parameters
        ----------
        kind : str, optional
            One of :attr:`variance_kinds`; None (default) is :attr:`default_kind`.

        Returns
        -------
        ndarray
            The covariance matrix, in the order of ``params``.
        """
        return np.array(self.covariance(kind).fixed)

    def raw_var_cov(self, kind: str | None = None) -> np.ndarray:
        """
        Covariance of the variance components, as stored: no pseudo-likelihood warning.

        See :meth:`raw_cov_params`; users call :meth:`var_cov`.

        Parameters
        ----------
        kind : str, optional
            One of :attr:`variance_kinds`; None (default) is :attr:`default_kind`.

        Returns
        -------
        ndarray
            The covariance matrix, in the order of the rows of ``var_components``.
        """
        return np.array(self.covariance(kind).components)

    def _warn_model_kind(self, record: Covariance) -> None:
        """A :class:`PseudoLikelihoodWarning` when model-based variances of a
        weighted fit are asked for (see ``cov_params``)."""
        if record.name != "model" or not getattr(self, "weighted", False):
            return
        kinds = self.estimates.covariances
        ratio = _se_ratio(kinds.get("robust").fixed, record.fixed) if "robust" in kinds else np.nan
        factor = (
            (
                f" (here, over the fixed effects, a median {ratio:.3g} times smaller "
                "than the cluster-robust ones)"
            )
            if np.isfinite(ratio)
            else ""
        )
        warn(
            "model-based (kind='model') standard errors of a weighted fit invert the "
            "Hessian of a pseudo-likelihood, which treats the weights as frequency "
            "weights (every unit of weight an independent observation); with sampling "
            f"weights they are too small{factor}. Use {_instead(kinds)}",
            PseudoLikelihoodWarning,
        )

    def var_cov(self, kind: str | None = None) -> np.ndarray:
        """Covariance of the variance-component estimates (rows of ``var_components``).

        For linear fits it is blockwise by level, as WeMix computes it; for
        quadrature families it is the joint sandwich.

        Parameters
        ----------
        kind : str, optional
            As :meth:`cov_params` (None: the default); ``"model"`` of a weighted
            fit warns.

        Returns
        -------
        ndarray
            The covariance matrix, in the order of the rows of ``var_components``.
        """
        return np.array(self._kind(kind).components)

    def std_errors(self, kind: str | None = None) -> pd.Series:
        """
        Standard errors of the fixed effects.

        Parameters
        ----------
        kind : str, optional
            As :meth:`cov_params` (None: the default); ``"model"`` warns for
            weighted fits.

        Returns
        -------
        Series
            One per fixed effect; ``attrs["variance"]`` names the kind.
        """
        return self._std_errors(self._kind(kind))

    def _std_errors(self, record) -> pd.Series:
        """Standard errors of a kind (a record, or a kind's name), without warnings."""
        if not isinstance(record, Covariance):
            record = self.covariance(record)
        out = pd.Series(
            standard_errors(record.fixed), index=self.estimates.params.index, name="bse"
        )
        out.attrs.update(_kind_attrs(record))
        return out

    @property
    def bse(self) -> pd.Series:
        """
        Standard errors of the fixed effects, of the default covariance kind.

        ``attrs["variance"]`` names the kind (statsmodels' ``bse``).
        """
        return self._std_errors(self.covariance())

    @property
    def tvalues(self) -> pd.Series:
        """``params / bse``."""
        return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the t values against the standard normal."""
        return pd.Series(
            2 * stats.norm.sf(np.abs(self.tvalues.to_numpy())),
            index=self.params.index,
            name="pvalues",
        )

    @property
    def icc_std_error(self) -> float:
        """
        Standard error of the ICC, of the default covariance kind.

        NaN when that kind has none: the sandwich of a single fit gives none.
        """
        return self.covariance().icc_std_error

    def _parts(self, part: str) -> pd.Series:
        record = self.covariance()
        if not record.is_total:
            raise AttributeError(
                f"{part}_variance belongs to a combination of fits (plausible values, pooled "
                f"imputations); the standard errors of this {type(self).__name__} are "
                f"{record.description}"
            )
        values = np.diag(getattr(record, part).fixed)
        return pd.Series(values, index=self.estimates.params.index, name=f"{part}_variance")

    @property
    def sampling_variance(self) -> pd.Series:
        """
        Sampling part of the default kind's total variance of each fixed effect.

        The mean over the fits of their variances of that kind, :math:`\\bar U`
        in Rubin's rules: with :attr:`imputation_variance` it adds up to
        ``bse ** 2``. Only results that combine fits have it (others raise
        AttributeError).
        """
        return self._parts("sampling")

    @property
    def imputation_variance(self) -> pd.Series:
        """
        Imputation part of the default kind's total variance of each fixed effect.

        :math:`(1 + 1/M) B`, with :math:`B` the variance of the estimates over
        the :math:`M` fits (see :attr:`sampling_variance`).
        """
        return self._parts("imputation")

    def conf_int(
        self,
        alpha: float = 0.05,
        kind: str | None = None,
        which: str = "fixed",
        *,
        cols: str | int | list | None = None,
    ) -> pd.DataFrame:
        """
        Wald confidence intervals (R: ``confint(method = "Wald")``).

        Parameters
        ----------
        alpha : float
            1 - confidence level.
        kind : str, optional
            Which covariance of the estimates to use (one of
            :attr:`variance_kinds`; None: the default).
        which : {"fixed", "variance", "all"}
            Fixed effects; variance components (variances as standard
            deviations, rows ``sd(...)``; covariances on their own scale,
            rows ``cov(...)``); or both.
        cols : str, int or list of them, optional
            Only these rows: names (``"x"``, ``"sd(Intercept|school)"``) or
            positions in the table (as statsmodels' ``conf_int(cols=...)``).

        Returns
        -------
        DataFrame
            Columns ``"2.5 %"`` and ``"97.5 %"`` (for ``alpha=0.05``), as R's
            ``confint``. With variance components, ``attrs["notes"]`` says
            which intervals were truncated at 0 or are on the boundary;
            ``attrs["variance"]`` names the covariance kind and
            ``attrs["variance_description"]`` says what it is.

        Notes
        -----
        The variance intervals are those of :func:`variance_intervals`: the
        Wald interval of the variance truncated at 0, and for a standard
        deviation the square roots of its limits, so they are the
        intervals of ``tidy()`` on the standard-deviation scale and never
        negative.
        """
        alpha = check_alpha(alpha)
        if not isinstance(which, str) or which not in ("fixed", "variance", "all"):
            raise ValueError(f"which must be 'fixed', 'variance' or 'all', got {which!r}")
        record = self._kind(kind)
        z = stats.norm.ppf(1 - alpha / 2)
        parts, notes = [], []
        if which in ("fixed", "all"):
            se = self._std_errors(record)
            parts.append(
                pd.DataFrame({"lower": self.params - z * se, "upper": self.params + z * se})
            )
        if which in ("variance", "all"):
            vi = variance_intervals(self.estimates.var_components, record.components, alpha)
            root = vi["variance"].to_numpy()
            lo, hi = vi["conf_low"].to_numpy(), vi["conf_high"].to_numpy()
            names = [("sd" + n[3:]) if v else n for n, v in zip(vi.index, root)]
            parts.append(
                pd.DataFrame(
                    {
                        "lower": np.where(root, np.sqrt(np.abs(lo)), lo),
                        "upper": np.where(root, np.sqrt(np.abs(hi)), hi),
                    },
                    index=names,
                )
            )
            notes = vi.attrs["notes"]
        out = pd.concat(parts)
        out.columns = [f"{100 * alpha / 2:g} %", f"{100 * (1 - alpha / 2):g} %"]
        if cols is not None:
            out = out.iloc[_row_positions(cols, list(out.index), which)]
            notes = [
                n for n in notes if any(n.startswith(_variance_label(r) + ":") for r in out.index)
            ]
        out.attrs = {"notes": list(notes), **_kind_attrs(record)}
        return out

    def wald_test(
        self,
        terms: str | list | None = None,
        *,
        R=None,
        q=None,
        kind: str = "fixed",
        cov: str | None = None,
    ) -> WaldTestResult:
        """
        Wald test that fixed effects (or variance terms) are zero, or ``R b = q``.

        Parameters
        ----------
        terms : str or list of str, optional
            With ``kind="fixed"``: names of fixed-effect columns
            (``"escs"``, ``"st29q03[T.Agree]"``) or of terms of the formula,
            a term standing for all its columns, as Stata's ``testparm`` and
            R's ``car::Anova``: a factor (``"st29q03"``, ``"C(x)"``) or an
            interaction (``"escs:st04q01"``, its factors in any order). With
            ``kind="variance"``: variance-component labels (e.g.
            ``"var(Intercept|schoolid)"``; see ``tidy()``). Tested jointly
            against zero (or ``q``). A column named twice (as itself and
            through its term) is an error. Without ``terms`` and ``R``:
            every fixed effect, or every random-effect variance and
            covariance (not the residual variance), as WeMix's ``waldTest``
            tests all coefficients by default.
        R : array-like (r, k), optional
            Constraint matrix over all fixed effects (or variance terms).
        q : array-like (r,), optional
            Right-hand side (default zeros): one value per row of ``R``, or
            per tested column (``WaldTestResult.columns``) with ``terms``.
        kind : {"fixed", "variance"}
            Test fixed effects or variance components.
        cov : str, optional
            The covariance kind (one of :attr:`variance_kinds`; None: the
            default); ``"model"`` warns for weighted fits (see ``cov_params``).

        Returns
        -------
        WaldTestResult
            The chi-square statistic, degrees of freedom (rank of ``R V R'``: the
            number of columns tested unless they are collinear), p-value,
            the names tested (``terms``) and their columns (``columns``), and
            the covariance kind used (``cov``, ``cov_description``). Valid
            for weighted fits (unlike likelihood-ratio tests).

        Raises
        ------
        ValueError
            For an unknown term, both ``terms`` and ``R``, a ``q`` of the wrong
            length, or a covariance missing for a tested term.

        See Also
        --------
        pywemix.anova : Likelihood-ratio tests (unweighted fits).

        Notes
        -----
        The statistic is

        .. math:: W = (R\\hat\\beta - q)^\\top (R V R^\\top)^{-} (R\\hat\\beta - q)
                  \\sim \\chi^2_{\\operatorname{rank}(R V R^\\top)},

        with :math:`V` the covariance of kind ``cov``. WeMix: ``waldTest()``;
        Stata: ``test``/``testparm``. The columns of a term come from the fixed part's formulaic
        ``ModelSpec`` (:func:`~pywemix.results.terms.term_columns`); results
        that combine fits (plausible values, replicates, pooled fits) use
        their first fit's.
        """
        record = self._kind(cov, "cov")
        cov = record.name
        if kind == "fixed":
            est, V, names = self.params.to_numpy(), np.array(record.fixed), list(self.params.index)
        elif kind == "variance":
            vc = self.var_components
            est, V, names = (
                vc["variance"].to_numpy(),
                np.array(record.components),
                variance_labels(vc),
            )
        else:
            raise ValueError(f"kind must be 'fixed' or 'variance', got {kind!r}")
        if terms is not None and R is not None:
            raise ValueError(
                "give either terms (a list of names) or a constraint matrix R, not both"
            )
        if terms is None and R is None:
            terms = [n for n in names if n != "var(Residual)"]
        if terms is not None:
            R, label, columns = _selection_matrix(terms, names, kind, self)
        else:
            R = _constraint_matrix(R, names, kind)
            label = columns = [f"{R.shape[0]} linear constraint(s)"]
        q = np.zeros(R.shape[0]) if q is None else _finite_array(q, "q", 1)
        if q.shape != (R.shape[0],):
            raise ValueError(f"q must have {R.shape[0]} values, got {q.shape}")
        used = np.any(R != 0, 0)
        if not np.all(np.isfinite(V[np.ix_(used, used)])):
            raise ValueError(_missing_covariance_message(est, V, names, used, kind, cov))
        stat, df, p = _wald(est, V, R, q)
        return WaldTestResult(stat, df, p, label, kind, columns, cov, record.description)

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """
        One row per parameter, as broom's ``tidy``.

        Columns: ``term``, ``kind`` (fixed/family/variance: ``family`` for the
        family's parameters, a dispersion or the ordinal thresholds), ``estimate``,
        ``std_error``, ``statistic``, ``p_value``, ``conf_low``,
        ``conf_high``. Variance components are on the variance scale, with
        the intervals of :func:`variance_intervals` (Wald, a variance's
        truncated at 0: the intervals of ``conf_int(which="variance")``
        squared) and no p-value (a variance of zero is on the boundary, where
        the z test does not hold). ``attrs["notes"]`` says which intervals
        were truncated at 0 or are on the boundary; ``attrs["variance"]``
        names the covariance kind of the standard errors and
        ``attrs["variance_description"]`` says what it is.

        Parameters
        ----------
        alpha : float
            1 - confidence level of the intervals.
        kind : str, optional
            Which covariance of the estimates to use (one of
            :attr:`variance_kinds`; None: the default; ``"model"`` warns for
            weighted fits, see ``cov_params``).

        Returns
        -------
        DataFrame
            The table described above.
        """
        alpha = check_alpha(alpha)
        record = self._kind(kind)
        z = stats.norm.ppf(1 - alpha / 2)
        se = self._std_errors(record).to_numpy()
        est = self.params.to_numpy()
        family = getattr(getattr(self, "settings", None), "family_object", None)
        kinds = np.where(
            self.params.index.isin(family.aux_names if family else ()), "family", "fixed"
        )
        fixed = pd.DataFrame(
            {
                "term": self.params.index,
                "kind": kinds,
                "estimate": est,
                "std_error": se,
                "statistic": est / se,
                "p_value": 2 * stats.norm.sf(np.abs(est / se)),
                "conf_low": est - z * se,
                "conf_high": est + z * se,
            }
        )
        vi = variance_intervals(self.estimates.var_components, record.components, alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = vi["estimate"] / vi["std_error"]
        var = pd.DataFrame(
            {
                "term": vi.index,
                "kind": "variance",
                "estimate": vi["estimate"].to_numpy(),
                "std_error": vi["std_error"].to_numpy(),
                "statistic": stat.to_numpy(),
                "p_value": np.nan,
                "conf_low": vi["conf_low"].to_numpy(),
                "conf_high": vi["conf_high"].to_numpy(),
            }
        )
        out = pd.concat([fixed, var], ignore_index=True)
        out.attrs = {"notes": list(vi.attrs["notes"]), **_kind_attrs(record)}
        return out


def _instead(kinds) -> str:
    """What to use instead of model-based variances: the default kind."""
    default = kinds.default_kind
    if default.name == "robust":
        return "the cluster-robust ones (kind='robust', the default)"
    robust = " or the cluster-robust ones (kind='robust')" if "robust" in kinds else ""
    return f"the default ones (kind=None: {default.description}){robust}"


def _kind_attrs(record: Covariance) -> dict:
    """The ``attrs`` entries naming the covariance kind of a table."""
    return {"variance": record.name, "variance_description": record.description}
