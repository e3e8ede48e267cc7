"""Binomial and Poisson models on a Dask cluster: adaptive quadrature over
partitions that each hold whole top-level groups.

The used rows are shuffled so that every top-level group lies in one
partition; each partition becomes a Dask actor (a stateful object on a
worker) holding that partition's :class:`~pywemix.objective.quadrature.QuadratureObjective`.
The top-level groups are independent given the parameters, so the
pseudo-log-likelihood, its gradient and its Hessian are sums over the
partitions: every evaluation is one call per actor plus a sum on the client,
and the adaptive nodes (conditional modes) stay on the workers between
evaluations. The optimiser (Newton-Raphson with fixed nodes re-adapted at
every iteration) and the sandwich variance are those of in-memory fits. With
``n_quad=1`` each actor holds the joint Laplace objective of in-memory fits
(:class:`~pywemix.objective.laplace.LaplaceObjective`, which also decomposes
over top-level groups), maximised by the same BFGS
(:func:`~pywemix.estimation.laplace_fit.fit_laplace`).
R equivalents: ``lme4::glmer``; ``WeMix::mix(family=)``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..design.levels import Level
from ..design.scaling import scale_within
from ..estimation.components import boundary_messages
from ..estimation.glmm import (
    glm_evaluation,
    glm_newton,
    laplace_start,
    maximise,
    natural_start,
    quadrature_record,
)
from ..estimation.optimum import Optimum
from ..estimation.search import irls
from ..objective.laplace import LaplaceObjective
from ..objective.linpred import linear_predictor
from ..objective.partitioned import BlockDesign, PartitionedQuadrature
from ..objective.quadrature import QuadratureObjective
from ..warnings import BoundaryWarning, DataWarning, warn
from .passes import design_blocks, level_codes, used_mask, used_rows

__all__ = ["DistributedQuadrature", "optimize_distributed", "TOP"]

#: Column holding each row's top-level group while shuffling.
TOP = "__pywemix_top__"


def with_top_group(part: pd.DataFrame, plan, model, carry=()) -> pd.DataFrame:
    """The used rows of a partition with their top-level group index, and
    the columns ``carry`` (for layers above, e.g. replicate weights)."""
    frame = used_rows(part, plan)
    extra = [c for c in carry if c not in frame.columns]
    if extra:
        rows = np.flatnonzero(used_mask(part, plan))
        frame = frame.assign(**{c: part[c].to_numpy()[rows] for c in extra})
    return frame.assign(**{TOP: level_codes(frame, model)[-1].astype(np.int64)})


class PartitionQuadrature:
    """A Dask actor: the quadrature objective of one partition's groups.

    Parameters
    ----------
    part : DataFrame
        Used rows of whole top-level groups (with the ``TOP`` column).
    plan, model : Plan, Model
        As for the Gaussian passes (:mod:`pywemix.dask.passes`).
    family, n_quad, structure : as :class:`QuadratureObjective`
    wg : list of ndarray
        Global conditional weights of the groups of every level.
    scaling : str
        Level-1 weight scaling (within level-2 groups, which lie whole here).
    carry : sequence of str
        Columns kept for layers above, in the actor's row order
        (:attr:`carried`; e.g. the replicate weights of
        :mod:`pywemix.survey.dask_refit`, which compute on the actor
        through :meth:`run`).
    """

    def __init__(self, part, plan, model, family, n_quad, structure, wg, scaling, carry=()):
        self.n_rows = len(part)
        if self.n_rows == 0:
            self.obj, self.ids = None, [np.zeros(0, dtype=np.int64) for _ in wg]
            self.w1_total, self.carried = 0.0, part[list(carry)]
            self.state: dict = {}
            return
        self.family, self.n_quad = family, n_quad
        X, Z, y, off, w1, _ = design_blocks(part, plan, model, family)
        codes = level_codes(part, model)
        order = np.lexsort(codes)  # top level first, then down to level 2
        codes = [c[order] for c in codes]
        levels, ids = _local_levels(codes)
        w1 = scale_within(w1[order], levels[0].starts, scaling)
        local_wg = [w[i] for w, i in zip(wg, ids)]
        design = BlockDesign(
            y[order], X[order], off[order], [z[order] for z in Z], w1, local_wg, levels
        )
        # n_quad=1 is lme4's joint Laplace, as in memory; it decomposes over
        # top-level groups, which lie whole in this partition
        self.obj = (
            LaplaceObjective(design, structure, family)
            if n_quad == 1
            else QuadratureObjective(design, structure, family, n_quad)
        )
        self.block, self.structure, self.laplace = design, structure, None
        self.current = design
        self.ids, self.w1_total = ids, float(np.sum(w1))
        self.glm = (
            X[order],
            y[order],
            off[order],
            w1 * np.prod([w[lev.codes] for w, lev in zip(local_wg, levels)], axis=0),
        )
        self.carried = part[list(carry)].iloc[order].reset_index(drop=True)
        self.state = {}  # scratch space of the functions of :meth:`run`

    def run(self, fn, *args):
        """``fn(self, *args)`` on the worker holding this actor: computations
        of the layers above on the actor's rows (its :attr:`block`,
        :attr:`carried` columns), without moving them."""
        return fn(self, *args)

    def use_weights(self, w1=None, top=None) -> float:
        """Evaluate with other weights from now on: conditional level-1 weights
        ``w1`` (in the rows' order here, after scaling) and top-level group
        weights ``top`` (this actor's groups); None keeps the full sample's
        (both None: back to the full sample). Returns the total level-1 weight.

        The IRLS start and the separation checks keep the full sample's
        weights: a refit with other weights starts from given estimates.
        """
        if self.obj is None:
            return 0.0
        block = self.block
        if w1 is not None or top is not None:
            block = replace(
                block,
                w1=block.w1 if w1 is None else np.asarray(w1, dtype=float),
                wg=[*block.wg[:-1], block.wg[-1] if top is None else np.asarray(top, dtype=float)],
            )
        self.obj = (
            LaplaceObjective(block, self.structure, self.family)
            if self.n_quad == 1
            else QuadratureObjective(block, self.structure, self.family, self.n_quad)
        )
        self.current, self.laplace = block, None
        self.w1_total = float(np.sum(block.w1))
        return self.w1_total

    def totals(self):
        """(rows, total conditional level-1 weight, global top-group ids)."""
        return self.n_rows, self.w1_total, self.ids[-1]

    def evaluate(self, phi, adapt=True, derivs=True, hessian=False):
        """The partition's Evaluation (its top groups only); ``hessian`` for
        the Laplace objective (central differences of its exact gradient)."""
        if self.obj is None:
            return None
        if hessian:
            # only the Laplace objective (n_quad == 1) has a Hessian on request
            return self.obj.evaluate(
                phi,
                adapt=adapt,
                derivs=derivs,  # type: ignore[call-arg]
                hessian=True,
            )
        return self.obj.evaluate(phi, adapt=adapt, derivs=derivs)

    def adapted_gradient(self, phi, derivs=False):
        """The partition's exact gradient of the adapted objective
        (:meth:`~pywemix.objective.quadrature.QuadratureObjective.adapted_gradient`):
        ``(None, None)`` without rows, None where there is none."""
        if self.obj is None:
            return None, None
        method = getattr(self.obj, "adapted_gradient", None)
        return None if method is None else method(phi, derivs)

    def laplace_evaluate(self, phi, adapt=True, derivs=True, hessian=False):
        """The partition's Laplace objective (the start of the quadrature
        search), built on first use from the same rows."""
        if self.obj is None:
            return None
        if self.laplace is None:
            self.laplace = LaplaceObjective(self.current, self.structure, self.family)
        return self.laplace.evaluate(phi, adapt=adapt, derivs=derivs, hessian=hessian)

    def modes(self, phi):
        """Conditional modes and variances of the partition's groups, per level,
        and the number of rows whose fitted mean is numerically extreme."""
        if self.obj is None:
            return None
        modes, var = self.obj.conditional_modes(phi, variances=True)
        X, y, off, _ = self.glm
        obj = self.obj
        eta = linear_predictor(
            X, obj.split(phi)[0], off, obj.Z, [lev.codes for lev in obj.levels], modes
        )
        mu = self.family.mean(eta)
        extreme = (mu < 1e-10) | (mu > 1 - 1e-10) if self.family.name == "binomial" else mu < 1e-10
        return modes, var, int(extreme.sum())

    def column_sums(self):
        """Per fixed-effect column: (all 0/1, rows equal to 1, response sum over
        those rows, sum, sum of squares), and the row count."""
        if self.obj is None:
            return None
        X, y, _, _ = self.glm
        y = self.family.observed(y)  # a proportion for a binomial response with trials
        binary = np.all((X == 0) | (X == 1), axis=0)
        on = X == 1
        return binary, on.sum(axis=0), y @ on, X.sum(axis=0), (X * X).sum(axis=0), len(y)

    def means(self, phi):
        """Conditional means of the partition's groups, per level."""
        return None if self.obj is None else self.obj.conditional_means(phi)

    def node_posteriors(self, li):
        """(posterior weights, nodes) of level ``li`` from the last evaluation."""
        # called by the quadrature only (n_quad > 1)
        return None if self.obj is None else self.obj.node_posteriors(li)  # type: ignore[union-attr]

    def group_ids(self):
        """Global index of each local group, per level (level 2 first)."""
        return self.ids

    def y_sums(self):
        """(sum of w y, sum of w) with the GLM weights ``w`` (Poisson start)."""
        if self.obj is None:
            return 0.0, 0.0
        _, y, _, w = self.glm
        return float(w @ y), float(np.sum(w))

    def glm_pieces(self, beta, family):
        """Information and score of the weighted GLM at ``beta`` (IRLS step)."""
        if self.obj is None:
            return 0.0, 0.0
        X, y, off, w = self.glm
        _, d1, d2 = family.derivs(y, X @ beta + off)
        return (X * (w * -d2)[:, None]).T @ X, X.T @ (w * d1)

    def glm_evaluation(self, x, family):
        """:func:`~pywemix.estimation.glmm.glm_evaluation` of the partition's
        rows at ``x = (beta, a)`` (families with auxiliary parameters)."""
        return None if self.obj is None else glm_evaluation(family, *self.glm, x)

    def glm_start(self, family):
        """(sum of w * the family's start eta, sum of w, rows): the partition's
        part of the GLM start of a family with auxiliary parameters."""
        if self.obj is None:
            return 0.0, 0.0, 0
        _, y, _, w = self.glm
        return family.eta_start(y, w) * float(np.sum(w)), float(np.sum(w)), len(y)


def _local_levels(codes):
    """Levels of rows sorted by their global group codes (level 2 first), and
    the global index of each local group."""
    raw = []
    for c in codes:
        change = np.r_[True, c[1:] != c[:-1]]
        raw.append((np.cumsum(change) - 1, np.flatnonzero(change)))
    levels, ids = [], []
    for i, (local, starts) in enumerate(raw):
        parent = raw[i + 1][0][starts] if i + 1 < len(raw) else None
        levels.append(
            Level(i + 2, f"level {i + 2}", (), local, starts, parent, pd.RangeIndex(len(starts)))
        )
        ids.append(codes[i][starts])
    return levels, ids


class ActorRunner:
    """Calls a method of every actor at once and waits for the results (the
    ``runner`` of :class:`~pywemix.objective.partitioned.PartitionedQuadrature`);
    ``rename`` maps method names (e.g. ``evaluate`` to ``laplace_evaluate``)."""

    def __init__(self, rename=None):
        self.rename = dict(rename or {})

    def __call__(self, actors, name, args):
        name = self.rename.get(name, name)
        return _gather([getattr(a, name)(*args) for a in actors])


class DistributedQuadrature(PartitionedQuadrature):
    """The quadrature objective of a model whose groups are spread over actors.

    :class:`~pywemix.objective.partitioned.PartitionedQuadrature` with one
    block per Dask actor: each call is one call per actor (run on the workers
    in parallel) and a sum or an assembly by group on the client.
    """

    def __init__(self, actors, design, structure, family, n_quad, runner=None):
        super().__init__(
            actors, design, structure, family, n_quad, ActorRunner() if runner is None else runner
        )

    @property
    def actors(self) -> list:
        """The Dask actors, one per partition."""
        return self.parts


def _gather(futures) -> list:
    """Results of actor calls (submitted together, so they run in parallel)."""
    return [f.result() if hasattr(f, "result") else f for f in futures]


def _glm_start(obj, family, design, max_iter=50):
    """Fixed effects of the weighted GLM without random effects, by IRLS summed
    over the actors (as the in-memory start of ``optimize_quadrature``)."""
    beta = np.zeros(obj.p)
    if family.name == "poisson" and "Intercept" in design.x_names:
        sums = _gather([a.y_sums() for a in obj.actors])
        mean = sum(s[0] for s in sums) / sum(s[1] for s in sums)
        beta[design.x_names.index("Intercept")] = np.log(max(mean, 1e-3))

    def info_score(b):
        pieces = _gather([a.glm_pieces(b, family) for a in obj.actors])
        return sum(p[0] for p in pieces), sum(p[1] for p in pieces)

    return irls(info_score, beta, max_iter=max_iter)


def _glm_aux_start(obj, family, design):
    """``(beta, a)`` of the weighted GLM without random effects of a family with
    auxiliary parameters, summed over the actors (as in memory,
    :func:`pywemix.estimation.glmm.fixed_start`): the intercept at the
    weighted mean of the partitions' start, the auxiliary parameters at the
    family object's values, then Newton steps on the sums over the actors."""
    parts = [p for p in _gather([a.glm_start(family) for a in obj.actors]) if p[2]]
    beta = np.zeros(obj.p)
    if "Intercept" in design.x_names:
        beta[design.x_names.index("Intercept")] = sum(p[0] for p in parts) / sum(
            p[1] for p in parts
        )
    x0 = np.r_[beta, family.unconstrained(family.aux)]

    def evaluate(x):
        evs = [e for e in _gather([a.glm_evaluation(x, family) for a in obj.actors]) if e]
        return replace(
            evs[0],
            llf=sum(e.llf for e in evs),
            grad=sum(e.grad for e in evs),
            hess=sum(e.hess for e in evs),
        )

    return glm_newton(evaluate, x0)


def optimize_distributed(objective, *, start=None, max_iter: int = 200) -> Optimum:
    """:func:`pywemix.estimation.glmm.optimize_quadrature` on a
    :class:`DistributedQuadrature` (same optimiser, start, checks and
    warnings, from sums over the actors)."""
    design, family, obj = objective.design, objective.family, objective.function
    sums = [c for c in _gather([a.column_sums() for a in obj.actors]) if c is not None]
    _separation_check(sums, design.x_names, family)
    if start is None:
        fixed = (
            _glm_aux_start(obj, family, design) if family.n_aux else _glm_start(obj, family, design)
        )
        phi0 = np.r_[fixed, 0.5 * objective.structure.theta_start()]
        if objective.n_quad > 1:  # as in memory: from the Laplace maximum
            laplace = DistributedQuadrature(
                obj.actors,
                design,
                objective.structure,
                family,
                1,
                ActorRunner({"evaluate": "laplace_evaluate"}),
            )
            phi0 = laplace_start(laplace, phi0, max_iter)
    else:
        phi0 = natural_start(start, obj)
    scale = obj.w1_total
    phi, ev, iters, converged, message = maximise(obj, objective.n_quad, phi0, max_iter, scale)
    record = quadrature_record(design, objective.n_quad, scale, phi, ev, iters, converged, message)
    beta, chol = obj.split(phi)
    family_params = obj.family.aux
    covs = tuple(obj.covariances(chol))
    for msg in boundary_messages(objective.structure, chol, design.levels, covs):
        warn(msg, BoundaryWarning)
    modes, mode_var = obj.conditional_modes(phi, variances=True)
    _extreme_fit_check(obj.n_extreme, sums, design.x_names, family, beta)
    return Optimum.from_record(
        record,
        beta=beta,
        sigma2=np.nan,
        covariances=covs,
        theta=chol,
        llf=float(ev.llf),
        criterion="ML",
        modes=tuple(modes),
        mode_variances=tuple(mode_var),
        evaluation=ev,
        family_params=family_params,
    )


def _separation_check(sums, names, family) -> None:
    """The in-memory separation warning, from per-partition column sums."""
    if family.name != "binomial":
        return
    binary = np.all([c[0] for c in sums], axis=0)
    on, y_on = sum(c[1] for c in sums), sum(c[2] for c in sums)
    n = sum(c[5] for c in sums)
    for j, name in enumerate(names):
        if name == "Intercept" or not binary[j] or not 0 < on[j] < n:
            continue
        if y_on[j] in (0, on[j]):
            warn(
                f"perfect separation: the response is always {int(y_on[j] > 0)} where "
                f"{name!r} is 1; its coefficient is not identified and will be very large",
                DataWarning,
            )


def _extreme_fit_check(n_extreme, sums, names, family, beta) -> None:
    """The in-memory warning about fitted means numerically 0 or 1."""
    if not n_extreme:
        return
    n = sum(c[5] for c in sums)
    mean = sum(c[3] for c in sums) / n
    sd = np.sqrt(np.clip(sum(c[4] for c in sums) / n - mean**2, 0, None))
    size = np.abs(beta) * sd
    big = [nm for nm, sz in zip(names, size) if nm != "Intercept" and sz > 5]
    what = (
        "fitted probabilities numerically 0 or 1"
        if family.name == "binomial"
        else "fitted means numerically 0"
    )
    culprit = (
        f"; look at {', '.join(map(repr, big))}, whose coefficient"
        f"{'s are' if len(big) > 1 else ' is'} very large"
        if big
        else ""
    )
    warn(
        f"{what} in {n_extreme} rows: (quasi-)complete separation, the "
        f"estimates of the coefficients involved are not identified{culprit}",
        DataWarning,
    )


def make_actors(client, ddf, design, family, n_quad, structure, scaling, carry=()) -> list:
    """Shuffle the used rows by top-level group, persist them, and start one
    :class:`PartitionQuadrature` actor per partition (holding the columns
    ``carry`` of its rows too)."""
    plan, model = design.plan, design.model
    rows = ddf.map_partitions(with_top_group, plan, model, tuple(carry))
    shuffled = rows.shuffle(TOP, npartitions=max(1, ddf.npartitions))
    parts = client.compute(shuffled.to_delayed())
    futures = [
        client.submit(
            PartitionQuadrature,
            p,
            plan,
            model,
            family,
            n_quad,
            structure,
            design.wg,
            scaling,
            tuple(carry),
            actor=True,
        )
        for p in parts
    ]
    actors = [f.result() for f in futures]
    del parts
    return actors
