"""Refits of a model with replicate weights, reusing the full-sample design.

A replicate changes only weights, so every refit reuses the design (and the
GLMM's quadrature setup through ``dataclasses.replace(design, w1=..., wg=...)``).
For the Gaussian family with factors constant within the top-level groups,
the usual school-level replication, only the top groups' weights change:
the per-group sufficient statistics and their integrated forms are shared,
and all replicates are optimised at once, as one batch of small Newton
problems started from the full-sample estimates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..estimation import optimize
from ..estimation.batched import maximize_batch
from ..estimation.search import newton_batch
from ..executors import one_blas_thread
from ..objective import make_objective
from ..objective.batched import TwoLevelBatch
from ..objective.covariance import CovarianceStructure
from ..objective.gaussian import GaussianObjective
from ..warnings import ConvergenceWarning, collecting, warn
from .replicates import factor_rule, paired_halves, resolve_column

__all__ = [
    "ReplicateWeights",
    "replicate_weights",
    "ReplicateEstimates",
    "refit_replicates",
    "row_factors",
    "group_factors",
    "within_rounding",
    "check_groups_left",
    "check_factors_vary",
    "within_top",
    "chunk_step",
]


#: Relative difference below which a row's replicate factor counts as its group's.
ROUNDING = 1e-6

#: Replicate columns are read in chunks of about this many cells.
CHUNK_CELLS = 1 << 22


@dataclass(frozen=True)
class ReplicateWeights:
    """Conditional weights of every replicate, on the design's sorted rows.

    ``top`` (R, G): top-level group weights; ``rows`` (R, n): level-1
    conditional weights, or None when every row factor equals its group's
    (then the level-1 weights are those of the full sample); ``paired``:
    whether consecutive replicates are the two half-samples of a zone;
    ``objectives``: for level-1 weights that vary within groups but are not
    held as rows (fits on Dask), a function ``r -> GaussianObjective`` of
    replicate r built from per-group statistics (``rows`` is then None).
    """

    top: np.ndarray
    rows: np.ndarray | None
    paired: bool
    objectives: object = None


def _total_weight(design, data, rep):
    """Full-sample total weight of each sorted row and its description."""
    if rep.full_weight is not None:
        col = resolve_column(data, rep.full_weight, "full-sample weight column")
        return _column(data, design, col, "full-sample weight column"), col
    spec, raw = design.weight_spec, design.raw_weights
    used = [c for c in spec if c is not None]
    if not used:
        raise ValueError(
            "replicates need the full-sample weight: the model has no "
            "weights, so give Replicates(..., full_weight='column')"
        )
    if design.cond_weights:
        total = np.ones(design.n_obs)
        for c in used:
            total = total * raw[c]
        return total, " x ".join(used)
    return raw[used[0]], used[0]


def _column(data, design, col, what):
    values = data[col].loc[design.frame.index]
    try:
        v = values.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{what} {col!r} must be numeric, got dtype {values.dtype}") from None
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValueError(
            f"{what} {col!r} has {int(bad.sum())} missing or infinite values "
            "in the rows the model uses"
        )
    if (v < 0).any():
        raise ValueError(f"{what} {col!r} has {int((v < 0).sum())} negative values")
    return v


def within_top(design):
    """Each row's weight within its top-level group: the level-1 conditional
    weight times the conditional weights of the middle levels."""
    u = design.w1.copy()
    for lev, w in zip(design.levels[:-1], design.wg[:-1]):
        u = u * w[lev.codes]
    return u


def replicate_weights(design, data, rep) -> ReplicateWeights:
    """Replicate weights of ``rep`` (a :class:`Replicates`) on ``design``'s rows.

    See :class:`Replicates` (Notes) for the construction. The design's
    centring (``center_group``, ``center_grand``) stays that of the full
    sample. Replicates are read in chunks of ``CHUNK_CELLS`` cells, so that only
    the top-level weights (R, G) are kept when the factors are constant
    within groups.
    """
    full, full_name = _total_weight(design, data, rep)
    cols = [resolve_column(data, c, "replicate weight column") for c in rep.columns]
    rows = data.index.get_indexer(design.frame.index)
    rule = factor_rule(rep)
    u = within_top(design)
    step = chunk_step(design.n_obs)
    tops, levels1, paired, same = [], [], True, True
    for k in range(0, len(cols), step):
        F = _factors(data, rows, cols[k : k + step], full, full_name, rule, design.frame.index)
        same = same and bool(np.all(F[:, full > 0] == 1))
        top, level1 = _split_factors(design, F, u)
        check_groups_left(top, cols[k : k + step])
        tops.append(top)
        levels1.append(level1)
        paired = paired and paired_halves(F)
    check_factors_vary(same, cols, full_name)
    rows_w = None
    if any(x is not None for x in levels1):
        rows_w = np.concatenate(
            [
                x if x is not None else np.broadcast_to(design.w1, t.shape[:1] + design.w1.shape)
                for x, t in zip(levels1, tops)
            ]
        )
    return ReplicateWeights(
        top=np.concatenate(tops), rows=rows_w, paired=paired and len(cols) % 2 == 0
    )


def chunk_step(n_obs: int) -> int:
    """How many replicate columns :func:`replicate_weights` reads at once
    (about :data:`CHUNK_CELLS` cells; even, so that pairs stay together).
    Whether row factors vary within groups is decided per chunk."""
    return max(2, (CHUNK_CELLS // max(1, n_obs)) // 2 * 2)


def check_factors_vary(same: bool, cols, full_name) -> None:
    """A ValueError when every replicate factor is 1 (``same``): the replicate
    weights equal the full-sample weight ``full_name``, the variance would be 0."""
    if same:
        raise ValueError(
            f"every replicate weight column ({', '.join(map(repr, cols[:3]))}"
            f"{', ...' if len(cols) > 3 else ''}) equals the full-sample weight "
            f"{full_name!r} in the rows the model uses, so the replicate "
            "variance would be 0: check the replicate columns"
        )


def row_factors(design, data, rep, cols) -> tuple:
    """Row factors (R, n) of the replicate columns ``cols`` of ``rep`` on the
    design's rows, checked as :func:`replicate_weights` checks them, and the
    full-sample weight of every row with its name.

    ``design`` needs ``weight_spec``, ``raw_weights``, ``cond_weights``,
    ``n_obs`` and ``frame`` (whose index labels are those of ``data``): the
    rows of a part of the data (a Dask partition) will do.
    """
    full, full_name = _total_weight(design, data, rep)
    rows = data.index.get_indexer(design.frame.index)
    F = _factors(data, rows, cols, full, full_name, factor_rule(rep), design.frame.index)
    return F, full, full_name


def _factors(data, rows, cols, full, full_name, rule=None, labels=None):
    """Row factors ``column / full`` (R, n) of some replicate columns, checked
    (against ``rule``, a :class:`FactorRule` for weights joined from a frame;
    ``labels``: the rows' index labels, for messages)."""
    block = data[cols].iloc[rows]
    bad = [
        c
        for c in cols
        if not pd.api.types.is_numeric_dtype(block[c].dtype)
        or pd.api.types.is_bool_dtype(block[c].dtype)
    ]
    if bad:
        raise TypeError(
            f"replicate weight column {bad[0]!r} must be numeric, got dtype {block[bad[0]].dtype}"
        )
    F = block.to_numpy(dtype=float, na_value=np.nan).T
    for check, what in (
        (~np.isfinite(F), "missing or infinite values"),
        (F < 0, "negative values"),
        ((full == 0) & (F > 0), None),
    ):
        n_bad = check.sum(axis=1)
        if n_bad.any():
            r = int(np.flatnonzero(n_bad)[0])
            if what is None:
                cause = (
                    rule.cause
                    if rule is not None
                    else "check the full-sample weight (Replicates(..., full_weight=...))"
                )
                raise ValueError(
                    f"replicate weight column {cols[r]!r} is positive in "
                    f"{int(n_bad[r])} rows where the full-sample weight "
                    f"{full_name!r} is 0, which no replication method "
                    f"gives: {cause}"
                )
            raise ValueError(
                f"replicate weight column {cols[r]!r} has {int(n_bad[r])} "
                f"{what} in the rows the model uses"
            )
    F = np.divide(F, full, out=np.zeros_like(F), where=full > 0)
    if rule is not None:
        _check_factor_rule(F, full > 0, rule, cols, full_name, labels)
    return F


def _check_factor_rule(F, used, rule, cols, full_name, labels) -> None:
    """A ValueError naming the first replicate column with factors ``rule``
    forbids (rows with a positive full weight ``used``), how many, an
    example and its row label, and the likely cause."""
    outside = rule.outside(F) & used[None, :]
    n_bad = outside.sum(axis=1)
    if not n_bad.any():
        return
    r = int(np.flatnonzero(n_bad)[0])
    i = int(np.flatnonzero(outside[r])[0])
    label = (
        labels[i].item()
        if labels is not None and isinstance(labels[i], np.generic)
        else (labels[i] if labels is not None else None)
    )
    where = f" in the row labelled {label!r}" if labels is not None else ""
    raise ValueError(
        f"replicate weight column {cols[r]!r} gives {int(n_bad[r])} of the {int(used.sum())} "
        f"rows a factor (replicate weight / full-sample weight {full_name!r}) that these "
        f"replicate weights cannot have ({rule.what}; e.g. {F[r, i]:.6g}{where}): "
        f"{rule.cause}"
    )


def check_groups_left(top, cols) -> None:
    """A replicate whose weights leave no top-level group has no estimate."""
    empty = np.flatnonzero(~(top > 0).any(axis=1))
    if len(empty):
        raise ValueError(
            f"replicate weight column {cols[empty[0]]!r} is 0 in every row the "
            "model uses (or in every top-level group), so it leaves no group to "
            "refit: drop it from the replicate columns or fix it"
        )


def _split_factors(design, F, u):
    """Top-group weights (R, G) and level-1 weights (R, n) or None, from row
    factors ``F``: a group's factor is the ``u``-weighted mean of its rows'."""
    top = design.levels[-1].starts
    fg = group_factors(np.add.reduceat(F * u, top, axis=1), np.add.reduceat(u, top))
    per_row = fg[:, design.levels[-1].codes]
    rest = np.divide(F, per_row, out=np.ones_like(F), where=per_row > 0)
    same = within_rounding(rest[per_row > 0])
    return design.wg[-1][None, :] * fg, None if same else design.w1[None, :] * rest


def group_factors(uF: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each top-level group's factor ``f_g`` (R, G): the mean of its rows'
    factors weighted by their weights within the group, from the sums
    ``uF`` (R, G) of ``u_i F_ir`` and ``u`` (G,) of ``u_i`` over its rows."""
    return uF / u[None, :]


def within_rounding(ratio) -> bool:
    """Whether row factors relative to their group's (``ratio``, any shape)
    are all 1 up to :data:`ROUNDING`: survey files round their weights, and
    factors within 1e-6 of their group's are the group's (the usual
    school-level replication)."""
    return bool(np.allclose(ratio, 1.0, rtol=0, atol=ROUNDING))


@dataclass(frozen=True)
class ReplicateEstimates:
    """Estimates of every replicate refit: fixed effects (R, p), the
    variance-component column of ``var_components`` (R, m), and whether
    each refit converged (R,)."""

    params: np.ndarray
    var: np.ndarray
    converged: np.ndarray


def refit_replicates(result, weights: ReplicateWeights, max_iter: int = 100, refit=None):
    """Refit the full-sample ``result`` (a MixResult) once per replicate.

    Starts from the full-sample estimates and keeps only what the variance
    needs: fixed effects and variance components. Warnings of the refits
    are collected, and non-converged refits reported in one warning.
    ``refit``, when given, is called as ``refit(result, weights, max_iter)``
    instead of the in-memory refits (a GLMM fitted on Dask refits on its
    actors) and returns a :class:`ReplicateEstimates`.
    """
    design = result.design
    with collecting(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if refit is not None:
            est = refit(result, weights, max_iter)
        elif result.family_object is None:
            est = _refit_gaussian(result, design, weights, max_iter)
        else:
            est = _refit_glmm(result, design, weights, max_iter)
    bad = int((~est.converged).sum())
    if bad:
        warn(
            f"{bad} of {len(est.converged)} replicate refits did not converge; their "
            "estimates are used as they are",
            ConvergenceWarning,
        )
    return est


def _refit_gaussian(result, design, weights, max_iter):
    reml = bool(result.settings.reml)
    base = result.objective.function
    R = weights.top.shape[0]
    theta0 = np.asarray(result.theta, dtype=float)
    if weights.rows is None and weights.objectives is None:
        return _solve_batch(base, np.tile(theta0, (R, 1)), weights.top, reml, max_iter)
    parts = []
    for r in range(R):  # row factors vary within groups: new cross-products
        if weights.objectives is not None:
            obj = weights.objectives(r)
        else:
            d_r = replace(design, w1=weights.rows[r], wg=[*design.wg[:-1], weights.top[r]])
            obj = GaussianObjective(d_r, base.structure)
        parts.append(_solve_batch(obj, theta0[None, :], weights.top[r : r + 1], reml, max_iter))
    return ReplicateEstimates(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("params", "var", "converged"))
    )


def _solve_batch(objective, theta0, W, reml, max_iter):
    """Maximise the profiled likelihood for each row of top weights ``W`` (b, G)."""
    scale = W.sum(axis=1)

    def fg(X, idx):
        llf, grad, _, _ = batch_profile(objective, X, W[idx], reml)
        return -llf / scale[idx], -grad / scale[idx, None]

    lower = objective.structure.theta_lower()
    res = newton_batch(fg, theta0, lower, gtol=1e-10, max_iter=max_iter)
    _, _, beta, sigma2 = batch_profile(objective, res.x, W, reml)
    st = objective.structure
    # covariances with the batch axis last, so that cov_to_phi's element
    # indexing returns one row per element
    covs = [np.moveaxis(T * sigma2[:, None, None], 0, -1) for T in st.relative_cov(res.x)]
    var = np.column_stack([np.asarray(st.cov_to_phi(covs)).reshape(-1, len(sigma2)).T, sigma2])
    return ReplicateEstimates(beta, var, res.converged & np.all(np.isfinite(var), axis=1))


def batch_profile(objective, theta, W, reml: bool = False):
    """Profiled log-likelihood, gradient, fixed effects and residual variance
    of a Gaussian objective at ``theta`` (b, k) with top-level weights ``W`` (b, G).

    Notes
    -----
    The level recursion of :meth:`GaussianObjective.integrate` does not
    involve the top-level weights, so it runs once for the batch of
    parameters; each problem then totals the top groups' quadratic forms
    ``S_g``, counts ``n_g`` and log-determinants ``D_g`` with its own
    weights, ``S = sum_g w_g S_g``, and profiles as
    :meth:`GaussianObjective.profiled_grad` does:
    ``beta = S_XX^{-1} S_Xy``, ``PRSS = S_yy - S_yX beta``,
    ``l = -N/2 (log(2 pi PRSS / N) + 1) - D/2`` (REML: ``N - p`` and
    ``- log|S_XX| / 2``), ``dl = -N/2 c' dS c / PRSS - dD/2``.
    """
    st = objective.structure
    top = objective.integrate(st.relative_cov(theta), dT=st.relative_cov_grad(theta))
    S = np.einsum("bg,bgij->bij", W, top.S)
    dS = np.einsum("bg,bkgij->bkij", W, top.dS)
    N = W @ np.asarray(top.n, dtype=float)
    D = np.einsum("bg,bg->b", W, np.broadcast_to(top.D, W.shape))
    dD = np.einsum("bg,bkg->bk", W, top.dD)
    p = objective.p
    Sxx = S[:, :p, :p]
    sign, logdet_x = np.linalg.slogdet(Sxx)
    singular = sign <= 0
    Sxx = np.where(singular[:, None, None], np.eye(p), Sxx)
    beta = np.linalg.solve(Sxx, S[:, :p, p][..., None])[..., 0]
    prss = S[:, p, p] - np.einsum("bi,bi->b", S[:, :p, p], beta)
    c = np.concatenate([beta, -np.ones((len(beta), 1))], axis=1)
    dprss = np.einsum("bi,bkij,bj->bk", c, dS, c)
    dof = N - p if reml else N
    llf = -0.5 * dof * (np.log(2 * np.pi * prss / dof) + 1) - 0.5 * D
    grad = -0.5 * dof[:, None] * dprss / prss[:, None] - 0.5 * dD
    if reml:
        llf = llf - 0.5 * logdet_x
        grad = grad - 0.5 * np.einsum("bij,bkji->bk", np.linalg.inv(Sxx), dS[:, :, :p, :p])
    bad = ~np.isfinite(llf) | (prss <= 0) | singular
    return np.where(bad, -np.inf, llf), grad, beta, prss / dof


def _refit_glmm(result, design, weights, max_iter):
    """GLMM refits started at the full-sample estimates: all at once as one
    batch of Newton problems (:func:`~pywemix.estimation.batched.maximize_batch`)
    when the model has two levels and a family without auxiliary parameters
    or trials, and one fit each for the others (more levels, the families
    with thresholds or a dispersion, binomial counts, or a refit the batch
    did not bring to convergence)."""
    fam, n_quad = result.family_object, result.settings.n_quad
    start = np.r_[result.params.to_numpy(), np.asarray(result.theta, dtype=float)]
    structure = CovarianceStructure.from_design(design)
    R, p = weights.top.shape[0], len(result.params)
    params = np.full((R, p), np.nan)
    var = np.full((R, len(structure.element_labels())), np.nan)
    ok = np.zeros(R, dtype=bool)
    todo = np.arange(R)
    if TwoLevelBatch.fits(design, fam):
        batch = TwoLevelBatch(design, structure, fam, n_quad)
        with one_blas_thread():  # small products: threads cost more than they save
            fit = maximize_batch(
                batch,
                start,
                weights.top,
                weights.rows,
                correct=range(p, len(start)),
                max_iter=max_iter,
            )
        done = fit.converged & np.all(np.isfinite(fit.x), axis=1)
        params[done] = fit.x[done, :p]
        var[done] = _var_elements(structure, fit.x[done, p:])
        ok[done] = True
        todo = np.flatnonzero(~done)
    for r in todo:  # each a full quadrature fit from the full-sample estimates
        w1 = design.w1 if weights.rows is None else weights.rows[r]
        d_r = replace(design, w1=w1, wg=[*design.wg[:-1], weights.top[r]])
        try:
            objective = make_objective(d_r, fam, n_quad=n_quad)
            opt = optimize(objective, start=start, max_iter=max_iter)
        except (ValueError, np.linalg.LinAlgError):
            continue
        params[r] = np.asarray(opt.params, dtype=float)  # with the family parameters
        var[r] = np.asarray(objective.structure.cov_to_phi(list(opt.covariances)), dtype=float)
        ok[r] = bool(opt.converged)
    return ReplicateEstimates(params, var, ok)


def _var_elements(structure, chol) -> np.ndarray:
    """The variance-component elements (b, m) of Cholesky parameters ``chol`` (b, k)."""
    # covariances with the batch axis last, so that cov_to_phi's element
    # indexing returns one row per element
    covs = [np.moveaxis(C @ np.swapaxes(C, -1, -2), 0, -1) for C in structure.factors(chol)]
    return np.asarray(structure.cov_to_phi(covs)).reshape(-1, len(chol)).T
