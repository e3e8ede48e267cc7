"""Tables of a fit: variance components, ICC, the groups table.

R equivalents: WeMix's ``summary(mix)$varDF``, ``$ICC`` and ``$ngroups``
(lme4: ``VarCorr``, ``ngrps``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["variance_table", "icc_of", "groups_table", "assemble_var_cov",
           "boundary_messages"]


def variance_table(structure, levels, covs, sigma2, phi_cov) -> pd.DataFrame:
    """One row per variance and covariance, plus the residual at level 1.

    ``phi_cov`` is, per level, the covariance of (free elements, sigma^2); the
    residual's standard error comes from level 2's block, as in WeMix.
    """
    rows = []
    phi = structure.cov_to_phi(covs)
    for i, (li, v1, v2) in enumerate(structure.element_labels()):
        sl = structure.level_slices()[li]
        k = i - sl.start
        var = float(phi[i])
        se = _se(phi_cov[li], k) if phi_cov is not None else np.nan
        rows.append(dict(level=li + 2, group=levels[li].name, var1=v1, var2=v2,
                         variance=var, std_error=se))
    se_res = _se(phi_cov[0], -1) if phi_cov is not None else np.nan
    rows.append(dict(level=1, group="Residual", var1=None, var2=None,
                     variance=float(sigma2), std_error=se_res))
    df = pd.DataFrame(rows, columns=["level", "group", "var1", "var2", "variance",
                                     "std_error"])
    return df


def _se(cov, k):
    v = cov[k, k]
    return float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else np.nan


#: Latent-scale residual variance of binary links (logistic, normal, Gumbel).
LATENT_RESIDUAL = {"logit": np.pi ** 2 / 3, "probit": 1.0, "cloglog": np.pi ** 2 / 6}


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
    var = table[table["var2"].isna()]
    tau = float(var.loc[var["level"] > 1, "variance"].sum())
    if link == "identity":
        resid = float(var.loc[var["level"] == 1, "variance"].sum())
    elif link in LATENT_RESIDUAL:
        resid = LATENT_RESIDUAL[link]
    else:
        return np.nan
    total = tau + resid
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
        rows.append(dict(level=lvl + 1, group=name, n_units=int(n),
                         weight=col if col is not None else "(none)",
                         mean_weight=float(np.mean(w)), sum_weight=float(np.sum(w))))
    return pd.DataFrame(rows)


def assemble_var_cov(structure, blocks) -> np.ndarray:
    """Covariance of all variance-component estimates, in ``variance_table`` order.

    ``blocks`` holds, per level, the covariance of (that level's free
    elements, residual variance), as the blockwise estimator gives them.
    Elements of different levels get covariance 0 (they are estimated in
    separate blocks); the residual variance's own entry comes from level 2's
    block, its covariance with each level's elements from that level's block.
    """
    slices = structure.level_slices()
    m = slices[-1].stop if slices else 0
    V = np.zeros((m + 1, m + 1))
    for sl, B in zip(slices, blocks):
        k = sl.stop - sl.start
        V[sl, sl] = B[:k, :k]
        V[sl, m] = V[m, sl] = B[:k, k]
    V[m, m] = blocks[0][-1, -1]
    return V


#: A Cholesky diagonal below this (relative to the residual standard
#: deviation for linear models) makes a fit singular, as lme4's ``isSingular``.
SINGULAR_TOL = 1e-4


def boundary_messages(structure, theta, levels, covs) -> list:
    """Messages for variance components on or near the boundary.

    ``theta`` holds the lower-triangular Cholesky factors of every block (of
    the relative covariances for linear fits, of the covariances for the
    quadrature families), ``covs`` the covariance matrices per level. A
    variance that is exactly 0 is reported as such; a block whose Cholesky
    factor has a diagonal element below ``SINGULAR_TOL`` is singular
    (a variance near 0, or correlations of +-1), as lme4 reports a
    "boundary (singular) fit".
    """
    msgs, pos = [], 0
    for li, (sizes, names) in enumerate(zip(structure.sizes, structure.names)):
        off = 0
        for k, nm in zip(sizes, names):
            r, c = np.tril_indices(k)
            lam = np.zeros((k, k))
            lam[r, c] = theta[pos:pos + len(r)]
            pos += len(r)
            where = f"at level {li + 2} ({levels[li].name})"
            zero = [i for i in range(k) if np.all(lam[i] == 0)]
            for i in zero:
                msgs.append(f"variance of {nm[i]!r} {where} is estimated on the boundary "
                            "(exactly 0): the data show no variation of this effect between "
                            "groups; consider dropping it")
            near = [i for i in range(k) if i not in zero and abs(lam[i, i]) < SINGULAR_TOL]
            if near and k == 1:
                msgs.append(f"variance of {nm[0]!r} {where} is essentially zero "
                            f"({covs[li][off, off]:.3g}), on the boundary of the parameter "
                            "space: the data show almost no variation of this effect "
                            "between groups")
            elif near:
                S = covs[li][off:off + k, off:off + k]
                sd = np.sqrt(np.clip(np.diag(S), 0, None))
                with np.errstate(invalid="ignore", divide="ignore"):
                    corr = S / np.outer(sd, sd)
                pairs = [f"corr({nm[i]}, {nm[j]}) = {corr[i, j]:+.3f}"
                         for i in range(k) for j in range(i) if np.isfinite(corr[i, j])]
                detail = f" ({'; '.join(pairs)})" if pairs else ""
                msgs.append(f"singular fit {where}: the covariance of "
                            f"{', '.join(map(repr, nm))} is on the boundary of the parameter "
                            f"space (a variance near 0 or a correlation of +-1){detail}; "
                            "consider a simpler random-effect structure")
            off += k
    return msgs
