"""Combination of M fits by Rubin's rules into one :class:`Estimates` record.

Rubin's rules (:func:`rubin`, with Barnard and Rubin's degrees of freedom,
:func:`barnard_rubin_df`) in one place. Plausible values
(:mod:`pywemix.survey.plausible`), pooled imputations
(:mod:`pywemix.survey.pool`) and plausible values with replicate weights
(:mod:`pywemix.survey.result`) all combine their fits here: the estimates
are averaged, and every covariance kind the fits share becomes a *total*
with two parts, the mean sampling covariance and the imputation covariance,
so that sampling + imputation equals the total that ``bse`` and every report
show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..results.covariances import Covariance, make_estimates

__all__ = [
    "rubin",
    "RubinCombination",
    "barnard_rubin_df",
    "combine_fits",
    "total_covariance",
    "common_kinds",
]


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


def rubin(estimates: np.ndarray | list, variances: np.ndarray | list) -> RubinCombination:
    """
    Combine M estimates and their sampling variances by Rubin's rules.

    Parameters
    ----------
    estimates : array (M, k)
        The estimates :math:`Q_m` of the M fits.
    variances : array (M, k) or (M, k, k)
        Sampling variances (or covariance matrices) of each estimate.

    Returns
    -------
    RubinCombination
        ``mean``, ``within``, ``between``, ``imputation``, ``total`` and ``m``.

    Raises
    ------
    ValueError
        With fewer than two estimates.

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
    R equivalent: ``mice::pool.scalar``.

    Examples
    --------
    >>> from pywemix.survey import rubin
    >>> c = rubin([[1.0], [2.0], [3.0]], [[0.5], [0.5], [0.5]])
    >>> float(c.mean[0]), float(c.between[0]), round(float(c.total[0]), 4)
    (2.0, 1.0, 1.8333)
    """
    Q = np.asarray(estimates, dtype=float)
    U = np.asarray(variances, dtype=float)
    M = Q.shape[0]
    if M < 2:
        raise ValueError(f"Rubin's rules need at least two estimates, got {M}")
    mean = Q.mean(axis=0)
    dev = Q - mean
    B = (np.einsum("ma,mb->ab", dev, dev) if U.ndim == 3 else np.sum(dev**2, axis=0)) / (M - 1)
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
        old = np.where(lam > 0, (comb.m - 1) / lam**2, np.inf)
        if np.isinf(dfcom):
            df = old
        else:
            obs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
            df = np.where(np.isinf(old), obs, old * obs / (old + obs))
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    return df, riv, fmi


def common_kinds(fits) -> list:
    """Covariance kinds every fit has, in the first fit's order (default first)."""
    names = list(fits[0].variance_kinds)
    return [k for k in names if all(k in f.variance_kinds for f in fits[1:])]


def total_covariance(
    name: str, records, estimates, components, iccs, *, title: str, label: str
) -> tuple:
    """The total covariance of kind ``name`` over M fits, with its parts.

    Parameters
    ----------
    name : str
        The kind (the total keeps the name of the fits' kind).
    records : sequence of Covariance
        Each fit's record of that kind.
    estimates : array (M, p)
        The fits' fixed effects.
    components : array (M, m)
        The fits' variance components.
    iccs : array (M,)
        The fits' ICCs.
    title : str
        The total's name in its description (``"plausible-value total over 5
        values"``).
    label : str
        The fits in words (``"plausible values"``, ``"imputations"``).

    Returns
    -------
    (Covariance, RubinCombination)
        The total (its ``sampling`` and ``imputation`` parts add up to it)
        and Rubin's combination of the fixed effects.

    Notes
    -----
    For each of the fixed effects, the variance components and the ICC:
    :math:`T = \\bar U + (1 + 1/M) B` (Rubin 1987; the EdSurvey note's eqs.
    6-8 for plausible values), ``sampling`` :math:`\\bar U` and
    ``imputation`` :math:`(1 + 1/M) B`.
    """
    M = len(records)
    fixed = rubin(estimates, np.stack([r.fixed for r in records]))
    comp = rubin(components, np.stack([r.components for r in records]))
    icc = rubin(np.asarray(iccs, dtype=float)[:, None], np.array([[[r.icc]] for r in records]))
    inner = records[0].description
    sampling = Covariance(
        "sampling",
        f"mean over the {M} {label} of {inner}",
        fixed.within,
        comp.within,
        icc.within[0, 0],
    )
    imputation = Covariance(
        "imputation",
        f"(1 + 1/{M}) x the variance between the {M} {label}",
        fixed.imputation,
        comp.imputation,
        icc.imputation[0, 0],
    )
    total = Covariance(
        name,
        f"{title}: sampling ({inner}) + imputation",
        fixed.total,
        comp.total,
        icc.total[0, 0],
        sampling=sampling,
        imputation=imputation,
    )
    return total, fixed


def combine_fits(fits, kinds, *, title: str, label: str, records=None) -> tuple:
    """The combined estimates of M fits of one model.

    Parameters
    ----------
    fits : sequence of results
    kinds : sequence of str
        The covariance kinds to combine (each a total), the default first.
    title, label : str
        As :func:`total_covariance`.
    records : dict, optional
        kind -> list of per-fit Covariance records to use instead of the fits'
        own (plausible values with replicates: the replicate records).

    Returns
    -------
    (Estimates, dict)
        The record (default ``kinds[0]``) and, per kind, Rubin's combination
        of the fixed effects.
    """
    first = fits[0]
    est = np.stack([f.params.to_numpy() for f in fits])
    vest = np.stack([f.var_components["variance"].to_numpy() for f in fits])
    iccs = np.array([f.icc for f in fits], dtype=float)
    totals, combos = [], {}
    for kind in kinds:
        per_fit = (records or {}).get(kind) or [f.covariance(kind) for f in fits]
        total, combos[kind] = total_covariance(
            kind, per_fit, est, vest, iccs, title=title, label=label
        )
        totals.append(total)
    table = first.var_components
    table["variance"] = vest.mean(axis=0)
    params = pd.Series(est.mean(axis=0), index=first.params.index)
    return make_estimates(params, table, float(np.mean(iccs)), totals, kinds[0]), combos
