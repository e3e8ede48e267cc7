"""Random effects with their conditional standard deviations.

R equivalents: lme4's ``ranef(m, condVar = TRUE)`` and
``as.data.frame(ranef(m, condVar = TRUE))`` (columns ``condval``,
``condsd``); broom.mixed's ``tidy(m, effects = "ran_vals")``.

Notes
-----
*Linear models.* Given the estimates, the random effects of a group are
normal a posteriori. With :math:`T_l = \\Sigma_l / \\sigma^2` and
:math:`M_{11}` the (level-1 weighted) cross-products of the group's
random-effect columns (for upper levels: the same quantity with the lower
levels integrated out), the variance given the effects of the levels above is

.. math::

    V_l = \\sigma^2 (I + T_l M_{11})^{-1} T_l ,

which for unit weights is lme4's ``sigma^2 Lambda (L L')^{-1} Lambda'``
block (Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5.1). The conditional
mode of a lower level is :math:`-K a`, linear in the effects :math:`a` of its
ancestors, so by the law of total variance

.. math::

    \\mathrm{Var}(u_l \\mid y) = V_l + K_a P_a K_a^\\top, \\qquad
    \\mathrm{Cov}(u_l, a \\mid y) = -K_a P_a,

with :math:`P_a` the joint conditional covariance of the ancestors, built from
the top level down. These are the variances lme4 reports (for every level,
unconditional on the other levels). With weights the same formulas use the
weighted pseudo-likelihood, as WeMix does for the modes (Appendix A of the
WeMix vignette, Bailey et al.).

*Quadrature families.* ``kind="mode"``: the inverse of the negative Hessian of
the (weighted) log-density of the group's effects at the mode, given the modes
of the levels above (for two levels exactly lme4's Laplace ``condVar``).
``kind="mean"``: the posterior variance computed with the same adaptive
Gauss-Hermite nodes and weights as the posterior means (WeMix Appendix A,
eq. 26, with the second moment in place of the first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design.sufficient import group_sum

__all__ = ["ranef_table", "conditional_variances"]


def _gaussian_covariances(objective, sigma2, covs) -> list:
    """``Var(u_l | y)`` per group, level 2 first: arrays (J_l, q_l, q_l)."""
    L = len(covs)
    M = objective.M2
    cond, gain = [], []
    for li, C in enumerate(covs):
        T = C / sigma2
        q = objective.q[li]
        A = np.eye(q) + np.matmul(T, M[:, :q, :q])
        cond.append(sigma2 * np.linalg.solve(A, np.broadcast_to(T, A.shape)))
        if li == L - 1:
            break
        K = np.linalg.solve(A, np.matmul(T, M[:, :q, q:]))
        gain.append(K[:, :, : sum(objective.q[li + 1 :])])  # columns of the ancestors
        S = M[:, q:, q:] - np.matmul(np.swapaxes(M[:, :q, q:], 1, 2), K)
        M = group_sum(objective.wg[li][:, None, None] * S, objective.child_starts[li])
    out = [None] * L
    out[-1] = joint = cond[-1]
    for li in range(L - 2, -1, -1):
        P = joint[objective.levels[li].parent]  # ancestors of each group
        Ka = gain[li]
        cross = -np.matmul(Ka, P)
        out[li] = cond[li] - np.matmul(cross, np.swapaxes(Ka, 1, 2))
        joint = np.concatenate(
            [
                np.concatenate([out[li], cross], axis=2),
                np.concatenate([np.swapaxes(cross, 1, 2), P], axis=2),
            ],
            axis=1,
        )
    return out


def _quadrature_posterior(objective, phi) -> list:
    """Posterior variances (J_l, q_l) of the effects by adaptive quadrature."""
    objective.evaluate(phi, adapt=True, derivs=False)
    Cs = objective.factors(objective.split(phi)[1])
    L = len(objective.levels)
    out = [None] * L
    weight = np.ones((objective.levels[-1].n_groups, 1))
    for li in range(L - 1, -1, -1):
        post, V = objective.node_posteriors(li)
        J, K, N, _ = V.shape
        w = weight[:, :, None] * post
        mean = np.einsum("jks,jksq->jq", w, V)
        second = np.einsum("jks,jksq,jksr->jqr", w, V, V)
        cov_v = second - mean[:, :, None] * mean[:, None, :]
        out[li] = np.einsum("ab,jbc,ac->ja", Cs[li], cov_v, Cs[li])
        if li > 0:
            weight = w.reshape(J, K * N)[objective.levels[li - 1].parent]
    return out


def conditional_variances(result, kind: str = "mode") -> list:
    """Conditional variances of the random effects, level 2 first, (J_l, q_l).

    See the module notes for what they are for each family and ``kind``.
    """
    objective = result.objective.function
    if result.family_object is None:
        covs = _gaussian_covariances(objective, result.sigma2, result.random_effects_covariances)
        return [np.diagonal(c, axis1=1, axis2=2).copy() for c in covs]
    if kind == "mean":
        return _quadrature_posterior(objective, result.optimization.x)
    return [np.array(v) for v in result.conditional_variances]


def ranef_table(result, kind: str = "mode") -> dict:
    """Per grouping factor a tidy table of the random effects.

    Returns a dict: grouping-factor name -> DataFrame with columns ``group``
    (the group's id), ``term`` (the effect), ``estimate`` (conditional mode or
    mean) and ``std_error`` (conditional standard deviation), one row per
    group and effect, effect by effect (the layout of lme4's
    ``as.data.frame(ranef(m, condVar = TRUE))``).
    """
    values = result.ranef(kind)
    variances = conditional_variances(result, kind)
    out = {}
    for (name, wide), var in zip(values.items(), variances):
        J, q = wide.shape
        sd = np.sqrt(np.clip(np.asarray(var, dtype=float), 0.0, None))
        out[name] = pd.DataFrame(
            {
                "group": np.tile(wide.index.to_numpy(), q),
                "term": np.repeat(np.asarray(wide.columns, dtype=object), J),
                "estimate": wide.to_numpy().T.ravel(),
                "std_error": sd.T.ravel(),
            }
        )
    return out
