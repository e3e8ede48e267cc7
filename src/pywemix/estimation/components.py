"""Tables of a fit: variance components, ICC, the groups table.

R equivalents: WeMix's ``summary(mix)$varDF``, ``$ICC`` and ``$ngroups``
(lme4: ``VarCorr``, ``ngrps``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "variance_table",
    "icc_of",
    "icc_from_covariances",
    "groups_table",
    "boundary_messages",
    "dependent_effects",
    "random_grams",
]


def variance_table(structure, levels, covs, sigma2, std_errors) -> pd.DataFrame:
    """One row per variance and covariance, plus the residual at level 1.

    Parameters
    ----------
    structure : CovarianceStructure
    levels : list of Level
    covs : list of ndarray
        Covariance matrix of each level's random effects.
    sigma2 : float or None
        Residual variance; None for families without one (no residual row).
    std_errors : ndarray
        Standard error of each row (from
        :meth:`~pywemix.estimation.variance.VarianceEstimate.std_errors`).
    """
    elements = structure.cov_to_elements(covs)
    labels = list(structure.element_labels())
    level = [li + 2 for li, _, _ in labels]
    group = [levels[li].name for li, _, _ in labels]
    var1 = [v1 for _, v1, _ in labels]
    var2 = [v2 for _, _, v2 in labels]
    variance = [float(v) for v in elements]
    if sigma2 is not None:
        level.append(1)
        group.append("Residual")
        var1.append(None)
        var2.append(None)
        variance.append(float(sigma2))
    # built column by column (far quicker than from row dicts); the effect labels
    # are text or None (object columns: no NaN in one and None in the other)
    return pd.DataFrame(
        {
            "level": np.array(level, dtype=np.int64),
            "group": group,
            "var1": pd.Series(var1, dtype=object),
            "var2": pd.Series(var2, dtype=object),
            "variance": np.array(variance, dtype=float),
            "std_error": np.asarray(std_errors, dtype=float),
        }
    )


#: Latent-scale residual variance of binary links (logistic, normal, Gumbel).
LATENT_RESIDUAL = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}


def icc_of(table: pd.DataFrame, link: str = "identity") -> float:
    """WeMix's intraclass correlation.

    Notes
    -----
    ``ICC = sum(tau) / (sum(tau) + sigma^2)``, the sum running over every
    random-effect variance (not covariances) of every level, as WeMix reports.
    For a random-intercept model this is the usual
    ``tau_00 / (tau_00 + sigma^2)``. Binary links use the latent-scale
    residual variance (``pi^2/3`` logit, 1 probit, ``pi^2/6`` cloglog);
    WeMix reports none for them. Poisson models have no ICC (NaN).
    """
    variance = table["var2"].isna().to_numpy()
    level = table["level"].to_numpy()
    values = table["variance"].to_numpy(dtype=float)
    return _icc(
        float(values[variance & (level > 1)].sum()),
        float(values[variance & (level == 1)].sum()),
        link,
    )


def icc_from_covariances(covs, sigma2, link: str = "identity") -> float:
    """:func:`icc_of` from the random effects' covariance matrices (level 2
    first) and the residual variance (None without one), without the table:
    the variances are the matrices' diagonals."""
    tau = float(sum(np.trace(np.asarray(C, dtype=float)) for C in covs))
    return _icc(tau, 0.0 if sigma2 is None else float(sigma2), link)


def _icc(tau: float, residual: float, link: str) -> float:
    """``tau / (tau + residual)``, the residual latent for binary links and
    undefined (NaN) for other families."""
    if link in LATENT_RESIDUAL:
        residual = LATENT_RESIDUAL[link]
    elif link != "identity":
        return np.nan
    total = tau + residual
    return tau / total if total > 0 else np.nan


def groups_table(design) -> pd.DataFrame:
    """Per level: name, number of units, and the mean and sum of its weights.

    The weights are those given (unconditional unless ``cond_weights``); a
    level without a weight column shows conditional weight 1.
    """
    rows = []
    names = ["Obs"] + [lev.name for lev in design.levels]
    counts = [design.n_obs] + [lev.n_groups for lev in design.levels]
    for lvl, (name, n) in enumerate(zip(names, counts)):
        col = design.weight_spec[lvl]
        if col is None:
            w = np.ones(n)
        else:
            v = design.raw_weights[col]
            w = v if lvl == 0 else v[design.levels[lvl - 1].starts]
        rows.append(
            dict(
                level=lvl + 1,
                group=name,
                n_units=int(n),
                weight=col if col is not None else "(none)",
                mean_weight=float(np.mean(w)),
                sum_weight=float(np.sum(w)),
            )
        )
    return pd.DataFrame(rows)


#: A Cholesky diagonal below this (relative to the residual standard
#: deviation for linear models) makes a fit singular, as lme4's ``isSingular``.
SINGULAR_TOL = 1e-4


def dependent_effects(gram, tol: float = 1e-10) -> np.ndarray:
    """Which effects of a level are linearly dependent in the data.

    ``gram`` is the (weighted) cross-product ``Z_l' W Z_l`` of the level's
    random-effect columns; returns a boolean mask of the effects that take
    part in a linear dependence (non-zero in a null vector of the correlation
    form of ``gram``), whose variances and covariances are then not
    separately identified.
    """
    gram = np.asarray(gram, dtype=float)
    d = np.sqrt(np.clip(np.diag(gram), 0, None))
    zero = d == 0
    C = gram / np.outer(np.where(zero, 1.0, d), np.where(zero, 1.0, d))
    lam, V = np.linalg.eigh(C)
    null = V[:, lam <= tol * max(float(lam[-1]), 1e-300)]
    return zero | np.any(np.abs(null) > 1e-6, axis=1)


def _effect_list(names) -> str:
    """'the intercept, a and b' from effect names."""
    names = ["the intercept" if n == "Intercept" else str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def boundary_messages(structure, cholesky, levels, covs, grams=None) -> list:
    """Messages for variance components on or near the boundary.

    Parameters
    ----------
    structure : CovarianceStructure
    cholesky : ndarray
        The lower-triangular Cholesky elements of every block, laid out as
        :meth:`CovarianceStructure.packing` says: lme4's ``theta``, the
        factors of ``Sigma_l / sigma^2`` (``sigma = 1`` for binomial and
        Poisson models, whose ``theta`` factors the covariances themselves).
    levels : list of Level
    covs : list of ndarray
        The covariance matrix of each level's random effects.
    grams : list of ndarray, optional
        Per level, the cross-product ``Z_l' W Z_l`` of its random-effect
        columns (:func:`dependent_effects`).

    Returns
    -------
    list of str

    Notes
    -----
    A variance that is exactly 0 (a zero row of the factor) is reported as
    such; a block whose factor has a diagonal element below ``SINGULAR_TOL``
    is singular (a variance near 0, or correlations of +-1), as lme4's
    ``isSingular`` reports a "boundary (singular) fit". Where the effects
    involved are linearly dependent in the data (``grams``; e.g. the
    intercept and every level of a factor, as ``(f || g)`` expands), the
    boundary point is one of many with the same likelihood: the message says
    that those effects are not separately identified instead.
    """
    msgs = []
    for li, L in enumerate(structure.factors(cholesky)):
        where = f"at level {li + 2} ({levels[li].name})"
        names = [n for nm in structure.names[li] for n in nm]
        dependent = (
            dependent_effects(grams[li]) if grams is not None else np.zeros(len(names), dtype=bool)
        )
        said, off = False, 0
        for k, nm in zip(structure.sizes[li], structure.names[li]):
            block = slice(off, off + k)
            lam, S = L[block, block], covs[li][block, block]
            zero = np.all(lam == 0, axis=1)
            singular = np.any(~zero & (np.abs(np.diag(lam)) < SINGULAR_TOL))
            if (zero.any() or singular) and dependent[block].any():
                if not said:
                    msgs.append(
                        _unidentified_message(
                            [n for n, dep in zip(names, dependent) if dep], levels[li].name
                        )
                    )
                said, off = True, off + k
                continue
            for i in np.flatnonzero(zero):
                msgs.append(
                    f"variance of {nm[i]!r} {where} is estimated on the boundary "
                    "(exactly 0): the data show no variation of this effect between "
                    "groups; consider dropping it"
                )
            if singular:
                msgs.append(_singular_message(nm, S, where))
            off += k
    return msgs


def _unidentified_message(names, group) -> str:
    """The message for a boundary estimate among linearly dependent effects."""
    return (
        f"{_effect_list(names)} of {group} are not separately identified (their "
        "random-effect columns are linearly dependent in the data): the variances on "
        "the boundary are one of many equivalent solutions with the same likelihood, "
        "not evidence of no variation between groups; only their combined variance "
        "is estimated; consider dropping one of them (e.g. (0 + f | g) instead of "
        "(f || g), which lme4 expands to (1 | g) + (0 + f | g))"
    )


def _singular_message(names, S, where) -> str:
    """The message for a singular block with covariance ``S`` (a variance near 0
    for one effect; the correlations for several)."""
    if len(names) == 1:
        return (
            f"variance of {names[0]!r} {where} is essentially zero ({S[0, 0]:.3g}), "
            "on the boundary of the parameter space: the data show almost no "
            "variation of this effect between groups"
        )
    sd = np.sqrt(np.clip(np.diag(S), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = S / np.outer(sd, sd)
    pairs = [
        f"corr({names[i]}, {names[j]}) = {corr[i, j]:+.3f}"
        for i in range(len(names))
        for j in range(i)
        if np.isfinite(corr[i, j])
    ]
    detail = f" ({'; '.join(pairs)})" if pairs else ""
    return (
        f"singular fit {where}: the covariance of {', '.join(map(repr, names))} is on "
        "the boundary of the parameter space (a variance near 0 or a correlation of "
        f"+-1){detail}; consider a simpler random-effect structure"
    )


def random_grams(design) -> list | None:
    """Per level, ``Z_l' W_1 Z_l`` of the random-effect columns of an in-memory
    design (for :func:`boundary_messages`); None without the rows."""
    Z, w1 = getattr(design, "Z", None), getattr(design, "w1", None)
    if Z is None or w1 is None:
        return None
    return [Zl.T @ (w1[:, None] * Zl) for Zl in Z]
