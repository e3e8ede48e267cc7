"""The design of a Gaussian model on a Dask DataFrame, from two passes.

The client never holds the rows: pass 1 (:func:`pywemix.dask.passes.scan_partition`)
brings back the rows dropped, the categories of the categorical predictors,
a few complete rows and the table of groups with their weights; pass 2
(:func:`pywemix.dask.passes.partition_statistics`) the per-level-2-group
cross-products, added up here by group (a group may span partitions). Only
O(groups x p^2) numbers reach the client.

The checks are those of :func:`pywemix.design.build_design` and raise the
same errors: weights that vary within a group (across partitions too),
grouping factors that are not nested, rank-deficient fixed effects,
constant responses, too few observations per group.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..design.frame import check_columns
from ..design.levels import order_levels, sorted_levels
from ..design.model import (
    DesignBase,
    check_identifiable,
    check_rank,
    fixed_columns,
    fixed_matrix,
    random_blocks,
)
from ..design.scaling import normalize_scaling, warn_unscaled_sums
from ..design.weights import conditional_weights, constant_within, normalize_weight_spec
from ..warnings import DataWarning, WeightWarning, warn
from .client import has_client
from .passes import (
    KEPT,
    Model,
    Plan,
    model_rows,
    partition_power_sums,
    partition_statistics,
    partition_term_statistics,
    response_categories,
    scan_partition,
)
from .transforms import centre_model, learned_specs, learned_states, learned_terms, poly_degrees

__all__ = ["DaskDesign", "build_dask_design", "stream_partitions"]


@dataclass(frozen=True, kw_only=True)
class DaskDesign(DesignBase):
    """The design of a model fitted on a Dask DataFrame: no rows, only what the
    estimation and the result need (the fields of
    :class:`~pywemix.design.model.DesignBase`, which it shares with
    :class:`~pywemix.design.model.ModelDesign`, and per-group statistics).

    ``levels`` are on the table of level-2 groups (``codes`` and ``starts``
    count level-2 groups, not rows); ``w1`` is the smallest and largest
    conditional level-1 weight (for messages); ``frame`` a few used rows,
    categoricals on their full category lists (the template that
    :meth:`DaskMixResult.predict` codes new rows by); ``offset`` the largest
    absolute offset (0 without one).

    Attributes
    ----------
    n_obs : int
        Rows used.
    M2, n2 : ndarray
        Per-level-2-group sufficient statistics (see
        :meth:`GaussianObjective.from_statistics`).
    groups : DataFrame
        Per level: units and the mean and sum of the given weights.
    plan, model : Plan, Model
        What the partitions need (:mod:`pywemix.dask.passes`).
    """

    n_obs: int
    M2: np.ndarray = field(repr=False)
    n2: np.ndarray = field(repr=False)
    groups: pd.DataFrame = field(repr=False)
    plan: Plan = field(repr=False)
    model: Model = field(repr=False)


def _tasks(ddf, fn, args, numbered=False) -> list:
    """Delayed ``fn(partition, *args)`` per partition (``numbered``:
    ``fn(partition, k, *args)`` for partition ``k``); ``args`` go into the
    graph once."""
    import dask

    shared = [dask.delayed(a, pure=True, traverse=False) for a in args]
    return [
        dask.delayed(fn, pure=True)(p, *([k] if numbered else []), *shared)
        for k, p in enumerate(ddf.to_delayed())
    ]


def _compute(ddf, fn, *args) -> list:
    """``fn(partition, *args)`` for every partition, computed on the scheduler
    in use."""
    import dask

    return list(dask.compute(*_tasks(ddf, fn, args)))


def _stream(ddf, fn, *args, numbered=False):
    """The results of ``fn(partition, *args)`` one at a time, in partition
    order: with a ``distributed.Client`` they run in parallel and each is
    fetched (and released on the cluster) when its turn comes, so the client
    holds one partition's result at a time; otherwise as :func:`_compute`.
    ``numbered``: ``fn(partition, k, *args)`` for partition ``k``."""
    if not has_client():
        import dask

        yield from dask.compute(*_tasks(ddf, fn, args, numbered))
        return
    from distributed import get_client

    futures = get_client().compute(_tasks(ddf, fn, args, numbered))
    for k in range(len(futures)):
        result = futures[k].result()
        futures[k] = None
        yield result


def stream_partitions(ddf, fn, *args, numbered=False):
    """``fn(partition, *args)`` (``numbered``: ``fn(partition, k, *args)``) for
    every partition of ``ddf``, the results one at a time in partition order:
    on a ``distributed.Client`` in parallel, the client holding one result
    at a time (a pass over the data for layers above, e.g. the replicate
    statistics of :mod:`pywemix.survey.dask_refit`)."""
    return _stream(ddf, fn, *args, numbered=numbered)


def make_plan(parsed, ddf, spec, offset_column, cond_weights, centering=None) -> Plan:
    """The columns a partition needs, checked against the frame's columns."""
    cols = pd.Index(ddf.columns)
    needed = sorted(parsed.model_columns(cols) | ({offset_column} if offset_column else set()))
    meta = pd.DataFrame({c: pd.Series(dtype=t) for c, t in ddf.dtypes.items()})
    check_columns(meta, needed)
    check_columns(meta, [w for w in spec if w is not None], "weight column")
    predictors = sorted(parsed.predictor_model_columns(cols))
    categorical = [
        c
        for c in predictors
        if not pd.api.types.is_numeric_dtype(meta[c].dtype)
        or pd.api.types.is_bool_dtype(meta[c].dtype)
    ]
    groups = list(dict.fromkeys(t.group for t in parsed.random))
    centre_groups: tuple = ()
    centre_grand: tuple = ()
    if centering is not None:
        by_name = {t.group_name: t.group for t in parsed.random}
        centre_groups = tuple((g, by_name[g], list(c)) for g, c in centering.center_group.items())
        centre_grand = tuple(centering.center_grand)
    return Plan(
        parsed,
        spec,
        needed,
        predictors,
        categorical,
        groups,
        offset_column,
        cond_weights,
        centre_groups,
        centre_grand,
    )


def build_dask_design(
    parsed,
    ddf,
    weights,
    cond_weights,
    *,
    offset=None,
    weight_scaling="none",
    family=None,
    centering=None,
) -> DaskDesign:
    """Pass 1, the model specs (and the passes of learned transforms), pass 2
    and the checks (module notes)."""
    if offset is not None and not isinstance(offset, str):
        raise TypeError(
            f"on a Dask DataFrame the offset must be a column name, got {type(offset).__name__}"
        )
    spec = normalize_weight_spec(weights, len({t.group for t in parsed.random}) + 1)
    plan = make_plan(parsed, ddf, spec, offset, cond_weights, centering)
    ddf = ddf[list(dict.fromkeys(plan.needed + plan.weight_columns))]  # read only these
    scans = _compute(ddf, scan_partition, plan)
    table, levels, n_dropped = _group_table(scans, plan, ddf)
    centering, steps = centre_model([s["centre"] for s in scans], plan, table, levels, centering)
    lev2 = levels[0]
    keys = table.iloc[lev2.starts][list(lev2.columns)]
    index = (
        pd.MultiIndex.from_frame(keys)
        if len(lev2.columns) > 1
        else pd.Index(keys.iloc[:, 0].to_numpy())
    )
    model = Model(
        _categories(scans, plan, ddf),
        None,
        None,
        tuple(lev2.columns),
        index,
        tuple(lev.parent for lev in levels[:-1]),
        steps,
    )
    sample = model_rows(pd.concat([s["sample"] for s in scans if len(s["sample"])]), model)
    mm, Zs, blocks, model = _model_specs(ddf, plan, model, sample, levels)
    M2, n2, totals = _add_up(_stream(ddf, partition_statistics, plan, model), lev2.n_groups)
    x_names = fixed_columns(mm, family)[1]  # no intercept for ordinal models
    keep = [list(mm.columns).index(n) for n in x_names]
    totals["xtx"] = totals["xtx"][np.ix_(keep, keep)]
    if not (totals["finite_X"] and totals["finite_Z"]):
        _name_infinite(ddf, plan, "fixed-effect" if not totals["finite_X"] else "random-effect")
    _check_totals(totals, parsed, x_names, levels, Zs, family is None)
    warn_unscaled_sums(totals["npos"], n2, totals["sw2"], weight_scaling, repr(levels[0].name))
    M2, n2 = _scale(M2, n2, totals, weight_scaling)
    arrays = {c: table[c].to_numpy(dtype=float) for c in plan.upper_weight_columns}
    cond = conditional_weights(arrays, [None] + spec[1:], cond_weights)
    wg = [
        (cond[i][lev.starts] if cond[i] is not None else np.ones(lev.n_groups))
        for i, lev in enumerate(levels, start=1)
    ]
    groups = _groups_table(spec, levels, arrays, totals)
    return DaskDesign(
        parsed,
        x_names,
        blocks,
        levels,
        np.array([totals["wmin"], totals["wmax"]]),
        wg,
        sample,
        model.fixed_spec,
        model.random_specs,
        spec,
        cond_weights,
        n_dropped,
        np.array([totals["offset_max"]]),
        offset,
        centering,
        _response_levels(ddf, plan, family),
        n_obs=totals["n_rows"],
        M2=M2,
        n2=n2,
        groups=groups,
        plan=plan,
        model=model,
    )


def _response_levels(ddf, plan, family):
    """The categories of an ordinal response over all partitions' used rows
    (None for the other families)."""
    if family is None or not hasattr(family, "categories_of"):
        return None
    values = [v for part in _compute(ddf, response_categories, plan) for v in part]
    return family.for_response(pd.Series(values, name=plan.parsed.response), plan.parsed.response)[
        1
    ]


def _model_specs(ddf, plan, model, sample, levels):
    """The fixed and random model specs, their state learned from all rows
    (:mod:`pywemix.dask.transforms`): (fixed model matrix of the sample,
    random blocks of the sample, their blocks, the model with the specs)."""
    parsed = plan.parsed
    mm = fixed_matrix(f"{parsed.fixed}", sample)
    Zs, blocks, rspecs = random_blocks(parsed, sample, levels)
    specs = [mm.model_spec] + [s for level in rspecs for s in level]
    terms = learned_terms(specs, set(plan.categorical))
    if terms:
        model = replace(model, fixed_spec=mm.model_spec, random_specs=rspecs)
        first = [f for f in _compute(ddf, partition_term_statistics, plan, model, terms) if f]
        degrees = poly_degrees(terms, first)
        second = _compute(ddf, partition_power_sums, plan, model, terms, degrees) if degrees else []
        new = iter(learned_specs(specs, learned_states(terms, first, second, degrees)))
        mm = fixed_matrix(next(new), sample)
        Zs, blocks, rspecs = random_blocks(
            parsed, sample, levels, [[next(new) for _ in level] for level in rspecs]
        )
    return mm, Zs, blocks, replace(model, fixed_spec=mm.model_spec, random_specs=rspecs)


def _group_table(scans, plan, ddf):
    """Rows dropped (warnings), weight and nesting checks, and the sorted
    table of level-2 groups with the levels built on it."""
    n_rows = sum(s["n_rows"] for s in scans)
    n_bad = sum(s["n_incomplete"] for s in scans)
    if n_bad:
        per = {c: sum(s["missing"][c] for s in scans) for c in plan.needed}
        detail = ", ".join(f"{c}: {k}" for c, k in per.items() if k)
        warn(
            f"dropped {n_bad} of {n_rows} rows with missing values in model variables ({detail})",
            DataWarning,
        )
    if n_bad == n_rows:
        raise ValueError("no complete rows left after dropping missing values")
    table = pd.concat([s["table"] for s in scans], ignore_index=True).drop_duplicates()
    ordered = order_levels(table, plan.group_columns)
    names = [":".join(reversed(cols)) for cols, _ in ordered]
    for lvl in range(1, len(plan.spec)):
        col = plan.spec[lvl]
        if col is not None:
            cols, codes = ordered[lvl - 1]
            first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()

            def label(g, cols=cols, first=first):
                return ":".join(str(table[c].iloc[first[g]]) for c in reversed(cols))

            constant_within(table[col].to_numpy(dtype=float), codes, col, names[lvl - 1], label)
    n_zero = _zero_weight_messages(scans, plan, table, ordered, names)
    kept = table.loc[table[KEPT].to_numpy(dtype=bool)].drop(columns=KEPT).drop_duplicates()
    if len(kept) == 0:
        raise ValueError("no rows left after dropping rows with zero weights")
    ordered = order_levels(kept, plan.group_columns)
    order, levels = sorted_levels(kept, ordered)
    return kept.iloc[order], levels, n_zero


def _zero_weight_messages(scans, plan, table, ordered, names) -> int:
    """Warn about rows and groups dropped for zero weights; their row count."""
    total = 0
    for lvl, col in enumerate(plan.spec):
        rows = sum(s["zero_rows"][lvl] for s in scans)
        if col is None or rows == 0:
            continue
        total += rows
        if lvl == 0:
            warn(f"dropped {rows} rows with level-1 weight {col!r} equal to 0", DataWarning)
        else:
            cols, codes = ordered[lvl - 1]
            k = len(np.unique(codes[table[col].to_numpy() == 0]))
            warn(
                f"dropped {k} {names[lvl - 1]} groups ({rows} rows) with weight {col!r} equal to 0",
                DataWarning,
            )
    return total


def _categories(scans, plan, ddf) -> dict:
    """Full category list of every categorical predictor, ordered as in memory
    (a pandas Categorical keeps its order; bool is False, True; strings sorted)."""
    out: dict[str, list] = {}
    for c in plan.categorical:
        seen = {v for s in scans for v in s["categories"][c]}
        dtype = ddf.dtypes[c]
        if pd.api.types.is_bool_dtype(dtype):
            out[c] = [False, True]
        elif isinstance(dtype, pd.CategoricalDtype) and ddf[c].cat.known:
            out[c] = [v for v in dtype.categories if v in seen]
        else:
            out[c] = sorted({str(v) for v in seen})
    return out


def _add_up(stats, J):
    """Per-group sums over partitions (a group may span several) and totals,
    from the partitions' statistics one at a time."""
    sums: dict = {}
    totals: dict = {}
    seen = np.zeros(J, dtype=bool)
    for s in stats:
        if not s["n_rows"]:
            continue
        seen[s["codes"]] = True
        for key in ("M", "n", "npos", "sw2"):
            # a group occurs once per partition: no repeated index within one +=
            if key not in sums:
                sums[key] = np.zeros((J,) + s[key].shape[1:])
            sums[key][s["codes"]] += s[key]
        for key, combine in _TOTALS.items():
            value = s.get(key, 0) if key == "n_w1_below_w2" else s[key]
            totals[key] = value if key not in totals else combine(totals[key], value)
    if not seen.all():  # pragma: no cover - every group has used rows
        raise RuntimeError(f"statistics of {int(seen.sum())} of {J} level-2 groups")
    totals["finite_Z"] = all(totals["finite_Z"])
    totals.update(npos=sums["npos"], sw2=sums["sw2"])
    return sums["M"], sums["n"], totals


def _both(a, b):
    """Logical and of two flags (or, elementwise, of two lists of flags)."""
    return [x and y for x, y in zip(a, b)] if isinstance(a, list) else a and b


#: How the partitions' totals combine.
_TOTALS: dict[str, Callable] = {
    "xtx": operator.add,
    "n_rows": operator.add,
    "finite_X": _both,
    "finite_Z": _both,
    "wmin": min,
    "wmax": max,
    "ymin": min,
    "ymax": max,
    "offset_max": max,
    "raw_w1_sum": operator.add,
    "n_w1_below_w2": operator.add,
}


def _name_infinite(ddf, plan, what) -> None:
    """Name the predictor columns with infinite values (one more pass, only when
    the design's columns are not all finite), as in-memory fits do."""
    cols = [c for c in plan.predictors if c not in plan.categorical]
    if not cols:
        return
    counts = (
        ddf[cols]
        .map_partitions(lambda d: np.isinf(d.astype(float)).sum(), meta=pd.Series(dtype=float))
        .compute()
    )
    counts = counts.groupby(level=0).sum()
    bad = {c: int(counts[c]) for c in cols if counts.get(c, 0) > 0}
    if bad:
        raise ValueError(
            f"{what} column(s) {', '.join(map(repr, bad))} have "
            f"{', '.join(map(str, bad.values()))} infinite values"
        )


def _check_totals(totals, parsed, x_names, levels, Zs, gaussian) -> None:
    """The checks of build_design, from the totals."""
    if not totals["finite_X"]:
        raise ValueError("fixed-effect columns have infinite or undefined values")
    if not totals["finite_Z"]:
        raise ValueError("random-effect columns have infinite or undefined values")
    n = totals["n_rows"]
    if totals["ymin"] == totals["ymax"]:
        raise ValueError(
            f"response {parsed.response!r} is constant ({totals['ymin']:g}) "
            f"in all {n} rows used: there is nothing to model"
        )
    # a square root of X'X has the same column norms and cosines as X
    vals, vecs = np.linalg.eigh(totals["xtx"])
    check_rank(np.sqrt(np.clip(vals, 0, None))[:, None] * vecs.T, x_names)
    check_identifiable(levels, Zs, n, gaussian)
    spec_below = totals["n_w1_below_w2"]
    if spec_below and spec_below / n > 0.5:
        warn(
            "level-1 weights are below the level-2 weights in "
            f"{100 * spec_below / n:.0f}% of rows: they look conditional already. With "
            "cond_weights=False they are divided by the level-2 weight again; if they "
            "are conditional (student weight / school weight), pass cond_weights=True",
            WeightWarning,
        )


def _scale(M2, n2, totals, method):
    """Level-1 weight scaling within level-2 groups (a factor per group)."""
    method = normalize_scaling(method)
    if method == "none":
        return M2, n2
    num, den = (totals["npos"], n2) if method == "size" else (n2, totals["sw2"])
    factor = np.divide(num, den, out=np.zeros_like(n2, dtype=float), where=den > 0)
    return M2 * factor[:, None, None], n2 * factor


def _groups_table(spec, levels, arrays, totals) -> pd.DataFrame:
    """As :func:`pywemix.estimation.components.groups_table`, from the totals."""
    rows = []
    names = ["Obs"] + [lev.name for lev in levels]
    counts = [totals["n_rows"]] + [lev.n_groups for lev in levels]
    for lvl, (name, n) in enumerate(zip(names, counts)):
        col = spec[lvl]
        if lvl == 0:
            total = totals["raw_w1_sum"] if col is not None else float(n)
        else:
            total = float(np.sum(arrays[col][levels[lvl - 1].starts])) if col else float(n)
        rows.append(
            dict(
                level=lvl + 1,
                group=name,
                n_units=int(n),
                weight=col if col is not None else "(none)",
                mean_weight=total / n,
                sum_weight=total,
            )
        )
    return pd.DataFrame(rows)
