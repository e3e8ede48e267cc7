"""Replicate refits of a fit on a Dask DataFrame: the rows stay on the workers.

The replicate weights are built as in memory (:func:`pywemix.survey.refit.replicate_weights`,
whose maths -- :func:`~pywemix.survey.refit.row_factors`,
:func:`~pywemix.survey.refit.group_factors`,
:func:`~pywemix.survey.refit.within_rounding` and its checks -- is reused
here), and refitted as in memory (:func:`~pywemix.survey.refit.refit_replicates`):

- Gaussian: one pass over the partitions gives, for every level-2 group and
  replicate, the sum of ``w_i F_ir`` (``w_i`` the conditional level-1 weight,
  ``F_ir`` the row factor), the sum of ``w_i`` and the smallest and largest
  ``F_ir``. On the client these become each top-level group's factor ``f_g``
  and weight (R, G), and the batched refits run on the full-sample
  statistics, exactly as in memory. When factors vary within groups (beyond
  :data:`~pywemix.survey.refit.ROUNDING`), the per-replicate cross-products
  ``sum_i w_i (F_ir / f_g) G_i G_i'`` of every level-2 group are computed in
  more passes, some replicates at a time (:data:`STATISTICS_CELLS`). The
  client holds O(replicates x groups) numbers, never rows.
- Binomial and Poisson: the actors of the fit (each holding whole top-level
  groups; :mod:`pywemix.dask.glmm`) keep the replicate weight columns of
  their rows and compute their groups' factors there; each refit evaluates
  the objective on the actors with that replicate's weights (a view of each
  actor sharing its rows), started at the full-sample optimum,
  :data:`CONCURRENT_REFITS` replicates at a time.

The replicate columns are read a chunk at a time, as in memory
(:func:`~pywemix.survey.refit.chunk_step`), so that a worker's temporaries do
not grow with the number of replicates; whether rounding of the factors
within a group counts is decided per chunk, as in memory.
- TIMSS/PIRLS JK2 weights are computed on each partition from its jackknife
  zone and indicator columns (:func:`jk2_columns`): the zones are found in one
  pass, no join by row label is needed.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..dask.design import stream_partitions
from ..dask.glmm import DistributedQuadrature, optimize_distributed
from ..dask.passes import design_blocks, level2_codes, used_mask
from ..design.scaling import normalize_scaling
from ..design.sufficient import group_crossprod, group_sum
from ..design.weights import conditional_weights, validate_weights
from ..executors import map_tasks
from ..objective.gaussian import GaussianObjective
from ..objective.make import MixObjective
from .refit import (
    ReplicateEstimates,
    ReplicateWeights,
    check_factors_vary,
    check_groups_left,
    chunk_step,
    group_factors,
    row_factors,
    within_rounding,
    within_top,
)
from .replicates import (
    Replicates,
    jk2_column_names,
    jk2_factors,
    jk2_names,
    jk2_summary,
    jk2_values,
    jk2_zones,
    paired_halves,
    resolve_column,
)

__all__ = ["replicate_columns", "jk2_columns", "dask_replicate_weights", "STATISTICS_CELLS"]

#: Largest number of cells (replicates x level-2 groups x entries of a
#: cross-product) of the per-replicate statistics one pass computes, when the
#: replicate factors vary within groups: 2**25 doubles are 256 MB on the client.
STATISTICS_CELLS = 1 << 25


def replicate_columns(data, rep: Replicates) -> tuple:
    """(replicate weight columns, full-sample weight column or None) of the
    data, names matched as in memory (ignoring case).

    Raises
    ------
    NotImplementedError
        For a replicate-weight DataFrame (joined to the data by row label,
        which a Dask DataFrame does not do).
    """
    if rep.frame is not None:
        raise NotImplementedError(
            "replicates=Replicates(<a DataFrame>) joins its columns to the data by row label, "
            "which is not done on a Dask DataFrame: add the replicate weights to the Dask "
            "DataFrame as columns (a merge on a key column) and name them, "
            "Replicates([...], method=..., full_weight=...); the TIMSS and PIRLS presets "
            "build JK2 weights from JKZONE and JKREP on the workers"
        )
    cols = [resolve_column(data, c, "replicate weight column") for c in rep.columns]
    full = (
        None
        if rep.full_weight is None
        else resolve_column(data, rep.full_weight, "full-sample weight column")
    )
    return cols, full


# -- JK2 weights from zone columns, per partition ------------------------------------


def jk2_columns(data, zone: str, rep: str, weight: str, method: str = "jk2") -> tuple:
    """JK2 replicate weights of a Dask DataFrame, as :func:`~pywemix.jackknife_weights`
    builds them, added as columns computed on each partition.

    Returns
    -------
    (dask DataFrame, Replicates)
        The data with the columns ``jk2_1 .. jk2_2H`` (lazy), and the
        :class:`Replicates` naming them, with ``weight`` as the full-sample weight.

    Notes
    -----
    One pass over the three columns finds the zones and checks them
    (:func:`~pywemix.survey.replicates.jk2_zones`, the checks of
    ``jackknife_weights`` over all rows); each partition then computes its
    rows' weights from their own zone and indicator.
    """
    zone, rep, weight = jk2_column_names(data, zone, rep, weight)
    summaries = list(stream_partitions(data[[zone, rep, weight]], _jk2_summary, zone, rep, weight))
    zones = jk2_zones(summaries, zone, rep, weight)
    names = jk2_names(len(zones))
    clash = [n for n in names if n in data.columns]
    if clash:
        raise ValueError(
            f"the data already have columns named as the JK2 replicate weights "
            f"({clash[:3]}): rename them"
        )
    meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in data.dtypes.items()})
    meta = meta.assign(**{n: pd.Series(dtype=float) for n in names})
    out = data.map_partitions(_add_jk2, zone, rep, weight, zones, names, meta=meta)
    return out, Replicates(names, method=method, full_weight=weight)


def _jk2_summary(part, zone, rep, weight) -> dict:
    return jk2_summary(*jk2_values(part, zone, rep, weight))


def _add_jk2(part, zone, rep, weight, zones, names) -> pd.DataFrame:
    """A partition with its rows' JK2 replicate weights."""
    z, r, w = jk2_values(part, zone, rep, weight)
    F = jk2_factors(z, r, zones)
    F *= w
    return pd.concat([part, pd.DataFrame(F.T, index=part.index, columns=names)], axis=1)


# -- replicate weights of a Dask fit ----------------------------------------------------


def dask_replicate_weights(result, rep: Replicates, sums=None) -> tuple:
    """The replicate weights of a fit on a Dask DataFrame (``result``, a
    :class:`~pywemix.dask.result.DaskMixResult`), and the refit to pass to
    :func:`~pywemix.survey.refit.refit_replicates`.

    Returns
    -------
    (ReplicateWeights, refit or None, sums)
        ``sums``: the per-group sums of a Gaussian fit, which fits of the same
        rows (plausible values) pass back in to reuse.
    """
    cols, _ = replicate_columns(result.data, rep)
    if result.family_object is not None:
        return _actor_weights(result, rep, cols) + (None,)
    design = result.design
    if sums is None or not _same_groups(sums, design):
        sums = _replicate_sums(design, result.data, rep, cols)
    fg, top, vary = _top_factors(result, sums, cols)
    objectives = _ReplicateObjectives(result, rep, cols, fg, top, vary) if vary.any() else None
    return ReplicateWeights(top, None, sums.paired, objectives), None, sums


@dataclass(frozen=True)
class _Sums:
    """Per-level-2-group sums over the partitions (module notes): ``a`` (R, J)
    of ``w F``, ``b`` (J,) of ``w``, ``lo``/``hi`` (R, J) the extreme factors;
    ``ones``: every factor is 1; ``paired``: consecutive replicates add to 2."""

    a: np.ndarray
    b: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    ones: bool
    paired: bool
    full_name: str | None  # None when no partition holds a model row
    n_obs: int
    index: pd.Index


def _same_groups(sums, design) -> bool:
    return sums.n_obs == design.n_obs and sums.index.equals(design.model.level2_index)


def _read_columns(design, data, rep, cols) -> list:
    """The columns a pass over the replicate columns ``cols`` reads."""
    full = replicate_columns(data, rep)[1]
    plan = design.plan
    extra = list(cols) + ([full] if full else [])
    return list(dict.fromkeys(plan.needed + plan.weight_columns + extra))


def _used(part, plan, columns) -> tuple:
    """The used rows of a partition (``columns`` of them, a fresh index) and
    what the factors need of them."""
    mask = used_mask(part, plan)
    rows = part[columns] if mask.all() else part[columns].iloc[np.flatnonzero(mask)]
    rows = rows.reset_index(drop=True)
    arrays = validate_weights(rows, plan.spec)
    w1 = conditional_weights(arrays, plan.spec, plan.cond_weights)[0]
    w1 = np.ones(len(rows)) if w1 is None else w1
    piece = SimpleNamespace(
        weight_spec=plan.spec,
        raw_weights=arrays,
        cond_weights=plan.cond_weights,
        n_obs=len(rows),
        frame=rows,
    )
    return rows, w1, piece


def _factors_of(piece, rows, rep, cols, k):
    """:func:`row_factors` of a partition's rows; its errors name the partition."""
    try:
        return row_factors(piece, rows, rep, cols)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{exc} (in partition {k} of the Dask DataFrame)") from None


def _partition_sums(part, k, plan, model, rep, cols, columns) -> dict:
    """One partition's per-level-2-group sums (see :class:`_Sums`)."""
    rows, w1, piece = _used(part, plan, columns)
    if len(rows) == 0:
        return {"n_rows": 0}
    sort, codes = _by_group(level2_codes(rows, model))
    w = sort(w1)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = dict(
        codes=codes[starts], b=group_sum(w, starts), ones=True, paired=True, n_rows=len(rows)
    )
    sums = []
    for chunk in _chunks(cols, len(rows)):  # the replicate columns a few at a time
        F, full, out["full_name"] = _factors_of(piece, rows, rep, chunk, k)
        F, full = sort(F), sort(full)
        lo, hi = np.minimum.reduceat(F, starts, axis=1), np.maximum.reduceat(F, starts, axis=1)
        ones = (
            bool(np.all(lo == 1) and np.all(hi == 1))
            if np.all(full > 0)
            else bool(np.all(F[:, full > 0] == 1))
        )
        out["ones"], out["paired"] = out["ones"] and ones, out["paired"] and paired_halves(F)
        sums.append((np.add.reduceat(F * w, starts, axis=1), lo, hi))
    out.update(
        {key: np.concatenate([x[i] for x in sums]) for i, key in enumerate(("a", "lo", "hi"))}
    )
    return out


def _chunks(cols, n_rows):
    """The replicate columns in chunks of about :data:`~pywemix.survey.refit.CHUNK_CELLS`
    cells (the size in-memory fits read them in): a worker's temporaries do not
    grow with the number of replicates."""
    step = chunk_step(n_rows)
    return [cols[k : k + step] for k in range(0, len(cols), step)]


def _by_group(codes):
    """A function putting per-row arrays (on their last axis) in the order of
    their groups, and the sorted codes (no copy when already sorted)."""
    if np.all(codes[1:] >= codes[:-1]):
        return (lambda x: x), codes
    order = np.argsort(codes, kind="stable")
    return (lambda x: x[..., order]), codes[order]


def _replicate_sums(design, data, rep, cols) -> _Sums:
    """One pass over the partitions: the sums of :class:`_Sums`, added up one
    partition at a time (a group may span partitions)."""
    J, R = design.levels[0].n_groups, len(cols)
    a, b = np.zeros((R, J)), np.zeros(J)
    lo, hi = np.full((R, J), np.inf), np.full((R, J), -np.inf)
    ones, paired, full_name, n = True, True, None, 0
    columns = _read_columns(design, data, rep, cols)
    for s in stream_partitions(
        data[columns], _partition_sums, design.plan, design.model, rep, cols, columns, numbered=True
    ):
        if not s["n_rows"]:
            continue
        c = s["codes"]  # each group once per partition
        a[:, c] += s["a"]
        b[c] += s["b"]
        lo[:, c] = np.minimum(lo[:, c], s["lo"])
        hi[:, c] = np.maximum(hi[:, c], s["hi"])
        ones, paired = ones and s["ones"], paired and s["paired"]
        full_name, n = s["full_name"], n + s["n_rows"]
    return _Sums(a, b, lo, hi, ones, paired and R % 2 == 0, full_name, n, design.model.level2_index)


def _level2_in_top(design, scaled: bool, b):
    """Per level-2 group: the factor ``c_j`` turning its sum of conditional
    level-1 weights into the within-top weight of its rows (the level-1
    scaling and the weights of the levels between; :func:`within_top`), and
    its top-level group."""
    levels, wg = design.levels, design.wg
    c = design.n2 / b if scaled else np.ones(len(b))
    code = np.arange(levels[0].n_groups)
    for li, lev in enumerate(levels[:-1]):
        c = c * wg[li][code]
        code = lev.parent[code]
    return c, code


def _top_factors(result, sums, cols) -> tuple:
    """Top-level group factors and weights (R, G) from the level-2 sums, and
    which replicates' level-1 weights change (:func:`_varying`); checked as
    in memory."""
    design = result.design
    scaled = normalize_scaling(result.settings.weight_scaling) != "none"
    c, top_of = _level2_in_top(design, scaled, sums.b)
    starts = np.flatnonzero(np.r_[True, top_of[1:] != top_of[:-1]])
    fg = group_factors(
        np.add.reduceat(sums.a * c, starts, axis=1), np.add.reduceat(sums.b * c, starts)
    )
    lo = np.minimum.reduceat(sums.lo, starts, axis=1)
    hi = np.maximum.reduceat(sums.hi, starts, axis=1)
    top = design.wg[-1][None, :] * fg
    check_groups_left(top, cols)
    check_factors_vary(sums.ones, cols, sums.full_name)
    same = [
        within_rounding(hi[r][fg[r] > 0] / fg[r][fg[r] > 0])
        and within_rounding(lo[r][fg[r] > 0] / fg[r][fg[r] > 0])
        for r in range(len(fg))
    ]
    return fg, top, _varying(same, design.n_obs)


def _varying(same, n_obs) -> np.ndarray:
    """Which replicates' level-1 weights change (R,), decided as
    :func:`~pywemix.survey.refit.replicate_weights` decides: for each chunk of
    :func:`~pywemix.survey.refit.chunk_step` replicates, when the row factors of
    one of them differ from their group's (``same``: per replicate, they do not)."""
    vary, step = ~np.asarray(same, dtype=bool), chunk_step(n_obs)
    for k in range(0, len(vary), step):
        vary[k : k + step] = vary[k : k + step].any()
    return vary


class _ReplicateObjectives:
    """``r -> GaussianObjective`` of replicate r: the full sample's statistics
    when its level-1 weights do not change (``vary[r]`` False; only its top
    weights do), else the per-group cross-products with its weights
    ``w_i F_ir / f_g``, computed on the workers for :data:`STATISTICS_CELLS`
    worth of such replicates per pass, then scaled as the fit's weights."""

    def __init__(self, result, rep, cols, fg, top, vary):
        design = result.design
        self.result, self.rep, self.cols, self.fg, self.top = result, rep, cols, fg, top
        self.which = np.flatnonzero(vary)  # the replicates with new cross-products
        d = design.M2.shape[-1]
        self.step = max(1, STATISTICS_CELLS // max(1, design.levels[0].n_groups * d * d))
        self.chunk, self.stats = None, None

    def __call__(self, r):
        design = self.result.design
        pos = np.searchsorted(self.which, r)
        if pos == len(self.which) or self.which[pos] != r:
            return self.result.objective.function
        if self.chunk != pos // self.step:
            self.chunk = pos // self.step
            self.stats = self._compute(
                self.which[self.chunk * self.step : (self.chunk + 1) * self.step]
            )
        k = pos - self.chunk * self.step
        stats = self.stats
        assert stats is not None  # computed above for this chunk
        return GaussianObjective.from_statistics(
            stats[0][k],
            stats[1][k],
            [*design.wg[:-1], self.top[r]],
            design.levels,
            self.result.objective.structure,
        )

    def _compute(self, which: np.ndarray) -> tuple:
        design, data = self.result.design, self.result.data
        cols = [self.cols[r] for r in which]
        J, d = design.levels[0].n_groups, design.M2.shape[-1]
        _, top_of = _level2_in_top(design, False, np.ones(J))
        M, n, b = np.zeros((len(cols), J, d, d)), np.zeros((len(cols), J)), np.zeros(J)
        columns = _read_columns(design, data, self.rep, cols)
        for s in stream_partitions(
            data[columns],
            _partition_crossproducts,
            design.plan,
            design.model,
            self.rep,
            cols,
            columns,
            self.fg[which],
            top_of,
            numbered=True,
        ):
            if s["n_rows"]:
                M[:, s["codes"]] += s["M"]
                n[:, s["codes"]] += s["n"]
                b[s["codes"]] += s["b"]
        scaled = normalize_scaling(self.result.settings.weight_scaling) != "none"
        s = design.n2 / b if scaled else np.ones(J)
        return M * s[None, :, None, None], n * s[None, :]


def _partition_crossproducts(part, k, plan, model, rep, cols, columns, fg, top_of) -> dict:
    """One partition's per-level-2-group ``G' W_r G`` and ``sum W_r`` for the
    replicates of ``cols``, ``W_r = w F_r / f_g`` (unscaled), and ``sum w``."""
    rows, w1, piece = _used(part, plan, columns)
    if len(rows) == 0:
        return {"n_rows": 0}
    X, Z, y, off, _, _ = design_blocks(rows, plan, model)
    sort, codes = _by_group(level2_codes(rows, model))
    G, w1 = sort(np.hstack(Z + [X, (y - off)[:, None]]).T).T, sort(w1)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    M, n, first = [], [], 0
    for chunk in _chunks(cols, len(rows)):
        F = sort(_factors_of(piece, rows, rep, chunk, k)[0])
        per_row = fg[first : first + len(chunk)][:, top_of[codes]]
        W = w1[None, :] * np.divide(F, per_row, out=np.ones_like(per_row), where=per_row > 0)
        M += [group_crossprod(G, W[r], starts) for r in range(len(W))]
        n.append(np.add.reduceat(W, starts, axis=1))
        first += len(chunk)
    return dict(
        codes=codes[starts],
        n_rows=len(rows),
        b=group_sum(w1, starts),
        M=np.stack(M),
        n=np.concatenate(n),
    )


# -- binomial and Poisson: the actors ----------------------------------------------------


def actor_columns(args, data, rep: Replicates) -> list:
    """The columns the actors of a binomial or Poisson fit keep for its
    replicate refits: the replicate weights, the full-sample weight and the
    model's weights."""
    cols, full = replicate_columns(data, rep)
    weights = [w for w in (args.weights or []) if w]
    return list(dict.fromkeys(cols + ([full] if full else []) + weights))


def _actor_weights(result, rep, cols) -> tuple:
    """Top-level factors computed by the actors from their rows, assembled and
    checked here; the refit that runs on them."""
    design = result.design
    actors = result.objective.function.actors
    plan = design.plan
    got = [
        g
        for g in _gather(
            [a.run(_actor_factors, rep, cols, plan.spec, plan.cond_weights) for a in actors]
        )
        if g is not None
    ]
    fg = np.zeros((len(cols), design.levels[-1].n_groups))
    for ids, f, *_ in got:
        fg[:, ids] = f
    top = design.wg[-1][None, :] * fg
    check_groups_left(top, cols)
    check_factors_vary(all(g[3] for g in got), cols, got[0][5])
    vary = _varying(np.all([g[2] for g in got], axis=0), design.n_obs)
    paired = all(g[4] for g in got) and len(cols) % 2 == 0
    return ReplicateWeights(top, None, paired), _ActorRefit(vary)


def _gather(futures) -> list:
    return [f.result() if hasattr(f, "result") else f for f in futures]


def _actor_factors(actor, rep, cols, spec, cond_weights):
    """On an actor: its groups' factors (kept in ``actor.state`` for the
    refits, a chunk of replicate columns at a time), and what the client
    checks: (top-group
    ids, factors (R, G_local), per replicate whether row factors equal their
    group's, whether all are 1, whether replicates pair up, the full weight's
    name)."""
    if actor.obj is None:
        return None
    rows = actor.carried
    arrays = validate_weights(rows, spec)
    piece = SimpleNamespace(
        weight_spec=spec, raw_weights=arrays, cond_weights=cond_weights, n_obs=len(rows), frame=rows
    )
    top, u = actor.block.levels[-1], within_top(actor.block)
    fgs, same, ones, paired = [], [], True, True
    for chunk in _chunks(cols, len(rows)):
        F, full, full_name = row_factors(piece, rows, rep, chunk)
        fg = group_factors(
            np.add.reduceat(F * u, top.starts, axis=1), np.add.reduceat(u, top.starts)
        )
        per_row = fg[:, top.codes]
        rest = np.divide(F, per_row, out=np.ones_like(F), where=per_row > 0)
        same += [within_rounding(rest[r][per_row[r] > 0]) for r in range(len(F))]
        ones, paired = ones and bool(np.all(F[:, full > 0] == 1)), paired and paired_halves(F)
        fgs.append(fg)
    fg = np.concatenate(fgs)
    actor.state["replicates"] = (fg, piece, rep, cols)
    return actor.ids[-1], fg, same, ones, paired, full_name


def _actor_view(actor, r, vary):
    """On an actor: a view of it (sharing its rows) that evaluates with
    replicate r's weights (its level-1 weights changed when ``vary[r]``),
    kept in ``actor.state["views"]`` while r is refitted."""
    if actor.obj is None:
        return 0.0
    fg, piece, rep, cols = actor.state["replicates"]
    view, block = copy.copy(actor), actor.block
    w1 = None
    if vary[r]:  # the row factors of replicate r relative to their group's
        F = row_factors(piece, piece.frame, rep, [cols[r]])[0][0]
        per_row = fg[r][block.levels[-1].codes]
        w1 = block.w1 * np.divide(F, per_row, out=np.ones_like(F), where=per_row > 0)
    total = view.use_weights(w1, block.wg[-1] * fg[r])
    actor.state.setdefault("views", {})[r] = view
    return total


def _actor_drop(actor, r):
    actor.state.get("views", {}).pop(r, None)


def _actor_call(actor, r, name, args):
    """On an actor: method ``name`` of replicate r's view (the actor itself
    when it holds no rows)."""
    return getattr(actor.state.get("views", {}).get(r, actor), name)(*args)


class _ReplicateRunner:
    """The runner of :class:`~pywemix.objective.partitioned.PartitionedQuadrature`
    calling the actors' views of replicate ``r``."""

    def __init__(self, r):
        self.r = r

    def __call__(self, actors, name, args):
        return _gather([a.run(_actor_call, self.r, name, args) for a in actors])


#: Replicates refitted at once on the actors (each from its own client thread;
#: the actors then hold this many replicate views): the optimisers' calls to
#: the actors overlap, which hides the round trips of small data.
CONCURRENT_REFITS = 4


class _ActorRefit:
    """The refits of a binomial or Poisson fit on its actors (as
    :func:`~pywemix.survey.refit.refit_replicates` does in memory): for each
    replicate the actors hold a view with its weights, and the optimiser
    starts at the full-sample estimates; :data:`CONCURRENT_REFITS` replicates
    at a time. The actors' own weights (the full sample's) never change."""

    def __init__(self, vary: np.ndarray):
        self.vary = vary  # per replicate: whether its level-1 weights change

    def __call__(self, result, weights, max_iter) -> ReplicateEstimates:
        R, m = weights.top.shape[0], len(result.var_components)
        params, var = np.full((R, len(result.params)), np.nan), np.full((R, m), np.nan)
        ok = np.zeros(R, dtype=bool)
        with ThreadPoolExecutor(min(R, CONCURRENT_REFITS)) as pool:
            done = map_tasks(
                pool,
                lambda r: self._one(result, weights, max_iter, r),
                range(R),
                desc="replicate refits",
                unit="refit",
            )
        for r, out in enumerate(done):
            if out is not None:
                params[r], var[r], ok[r] = out
        return ReplicateEstimates(params, var, ok)

    def _one(self, result, weights, max_iter, r):
        """(fixed effects, variance components, converged) of replicate r, or None."""
        design, structure = result.design, result.objective.structure
        family, n_quad = result.family_object, result.settings.n_quad
        actors = result.objective.function.actors
        start = np.r_[result.params.to_numpy(), np.asarray(result.theta, dtype=float)]
        d_r = replace(design, wg=[*design.wg[:-1], weights.top[r]])
        _gather([a.run(_actor_view, r, self.vary) for a in actors])
        try:
            with np.errstate(all="ignore"):
                function = DistributedQuadrature(
                    actors, d_r, structure, family, n_quad, _ReplicateRunner(r)
                )
                opt = optimize_distributed(
                    MixObjective(d_r, structure, family, function, n_quad=n_quad),
                    start=start,
                    max_iter=max_iter,
                )
        except (ValueError, np.linalg.LinAlgError):
            return None
        finally:
            _gather([a.run(_actor_drop, r) for a in actors])
        return (
            np.asarray(opt.beta, dtype=float),
            np.asarray(structure.cov_to_phi(list(opt.covariances)), dtype=float),
            bool(opt.converged),
        )
