"""Tables of a fit: variance components, ICC, the groups table.

R equivalents: WeMix's ``summary(mix)$varDF``, ``$ICC`` and ``$ngroups``
(lme4: ``VarCorr``, ``ngrps``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["variance_table", "icc_of", "groups_table", "assemble_var_cov"]


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
