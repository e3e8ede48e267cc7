"""What the workers compute on one partition (a pandas DataFrame).

Two passes over the data, each a function of one partition and a small
picklable plan:

1. :func:`scan_partition`: rows dropped for missing values or zero weights,
   the values of the categorical predictors, a few complete rows, and the
   table of groups (one row per distinct combination of the grouping columns
   and the level-2+ weights).
2. :func:`partition_statistics`: for every level-2 group present in the
   partition, ``G' W G`` with ``G = [Z_2 ... Z_L X (y - offset)]``, the sums
   of the weights, and a few totals used by the checks.

A group may span partitions: everything returned is a sum, added up on the
client by :mod:`pywemix.dask.design`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.frame import check_predictor_types, numeric_array
from ..design.model import fixed_columns, response_frame
from ..design.sufficient import group_crossprod, group_sum
from ..design.weights import conditional_weights, validate_weights
from .transforms import centre_rows, centre_sums, power_sums, term_statistics

__all__ = ["Plan", "Model", "scan_partition", "partition_statistics", "complete_rows"]

#: Complete rows each partition returns for building the model specs.
SAMPLE_ROWS = 50


@dataclass(frozen=True)
class Plan:
    """What a partition needs to know to select the model's rows.

    Attributes
    ----------
    parsed : ParsedFormula
    spec : list of (str or None)
        Weight column per level, level 1 first.
    needed : list of str
        Model columns (response, predictors, grouping columns, offset).
    predictors : list of str
        Predictor columns (types checked as in memory).
    categorical : list of str
        Predictor columns coded as categories.
    group_columns : list of tuple of str
        The grouping factors of the random terms.
    offset_column : str or None
    cond_weights : bool
    centre_groups : tuple of (str, tuple of str, list of str)
        Per grouping factor centred within: its name, its columns and the
        columns centred.
    centre_grand : tuple of str
        Columns centred on their grand mean.
    """

    parsed: object
    spec: list
    needed: list
    predictors: list
    categorical: list
    group_columns: list
    offset_column: str | None
    cond_weights: bool
    centre_groups: tuple = ()
    centre_grand: tuple = ()

    @property
    def weight_columns(self) -> list:
        """The weight columns of every level, each once."""
        return list(dict.fromkeys(w for w in self.spec if w is not None))

    @property
    def upper_weight_columns(self) -> list:
        """The weight columns of the levels above the observations, each once."""
        return list(dict.fromkeys(w for w in self.spec[1:] if w is not None))

    @property
    def all_group_columns(self) -> list:
        """The columns of every grouping factor, each once."""
        return list(dict.fromkeys(c for cols in self.group_columns for c in cols))


@dataclass(frozen=True)
class Model:
    """What a partition needs to compute the statistics (from pass 1).

    Attributes
    ----------
    categories : dict
        Column -> full list of categories (in the fit's order).
    fixed_spec : ModelSpec
        formulaic spec of the fixed part.
    random_specs : list of list of ModelSpec
        Per level (2 up), the specs of its random terms.
    level2_columns : tuple of str
        Columns identifying a level-2 group.
    level2_index : pandas.Index
        Level-2 group keys in the fit's order (position = group index).
    parents : tuple of ndarray
        Per level from 2 up to the one below the top, each group's parent.
    centre : tuple of (str, int or None, ndarray or float)
        Centering steps: column, level position (None for the grand mean)
        and the means (:func:`pywemix.dask.transforms.centre_rows`).
    """

    categories: dict
    fixed_spec: Any
    random_specs: list | None  # None until the second pass has made them
    level2_columns: tuple
    level2_index: pd.Index
    parents: tuple = ()
    centre: tuple = ()


KEPT = "(kept)"


def complete_rows(part: pd.DataFrame, plan: Plan, counts: dict | None = None):
    """The model's columns of the complete rows, and which of them are used
    (no weight is zero).

    ``counts``, when given, receives the numbers of rows dropped (missing
    values per column; zero weights per level).
    """
    cols = list(dict.fromkeys(plan.needed + plan.weight_columns))
    frame = part[cols]
    missing = frame[plan.needed].isna().to_numpy()
    bad = missing.any(axis=1)
    if counts is not None:
        counts["n_rows"] = len(frame)
        counts["n_incomplete"] = int(bad.sum())
        counts["missing"] = dict(zip(plan.needed, missing.sum(axis=0).astype(int).tolist()))
    if bad.any():
        frame = frame.loc[~bad]
    arrays = validate_weights(frame, plan.spec)
    check_predictor_types(frame, plan.predictors)
    keep = np.ones(len(frame), dtype=bool)
    zero_rows = [0] * len(plan.spec)
    for lvl, col in enumerate(plan.spec):
        if col is not None:
            zero = arrays[col] == 0
            zero_rows[lvl] = int(zero.sum())
            keep &= ~zero
    if counts is not None:
        counts["zero_rows"] = zero_rows
    return frame, keep


def used_rows(part: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The rows a fit uses: complete, with no zero weight."""
    frame, keep = complete_rows(part, plan)
    return frame if keep.all() else frame.loc[keep]


def used_mask(part: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Which rows of ``part`` (by position) a fit uses."""
    mask = np.array(part[plan.needed].notna().all(axis=1), dtype=bool)
    mask[mask] = complete_rows(part, plan)[1]
    return mask


def scan_partition(part: pd.DataFrame, plan: Plan) -> dict:
    """Pass 1 over one partition (see the module notes)."""
    counts: dict = {}
    frame, keep = complete_rows(part, plan, counts)
    used = frame.loc[keep]
    cats = {}
    for c in plan.categorical:
        s = used[c]
        cats[c] = pd.unique(
            s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
        ).tolist()
    table = (
        frame[plan.all_group_columns + plan.upper_weight_columns]
        .assign(**{KEPT: keep})
        .drop_duplicates()
    )
    counts.update(
        categories=cats, table=table, sample=used.head(SAMPLE_ROWS), centre=centre_sums(used, plan)
    )
    return counts


def model_rows(frame: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Used rows as the formula sees them: categoricals on the fit's
    category lists, centred columns centred."""
    frame = with_categories(frame, model.categories)
    if not model.centre:
        return frame
    return centre_rows(frame, model.centre, level_codes(frame, model))


def level_codes(frame: pd.DataFrame, model: Model) -> list:
    """Each row's group index at every level, level 2 first."""
    codes = [level2_codes(frame, model)]
    for parent in model.parents:
        codes.append(parent[codes[-1]])
    return codes


def partition_term_statistics(part: pd.DataFrame, plan: Plan, model: Model, terms) -> dict:
    """The first statistics pass of learned formula transforms on one partition
    (:func:`pywemix.dask.transforms.term_statistics`)."""
    frame = used_rows(part, plan)
    if len(frame) == 0:
        return {}
    return term_statistics(model_rows(frame, model), terms)


def partition_power_sums(part: pd.DataFrame, plan: Plan, model: Model, terms, degrees) -> dict:
    """The second pass, for ``poly`` terms (:func:`pywemix.dask.transforms.power_sums`)."""
    frame = used_rows(part, plan)
    if len(frame) == 0:
        return {k: np.zeros(2 * d + 1) for k, (_, d) in degrees.items()}
    return power_sums(model_rows(frame, model), terms, degrees)


def with_categories(frame: pd.DataFrame, categories: dict) -> pd.DataFrame:
    """``frame`` with every categorical predictor coded on the fit's full
    category list (the same in every partition)."""
    if not categories:
        return frame
    frame = frame.copy(deep=False)
    for c, cats in categories.items():
        vals = frame[c]
        if isinstance(vals.dtype, pd.CategoricalDtype):
            vals = vals.astype(object)
        if not all(isinstance(v, (bool, np.bool_)) for v in cats) and all(
            isinstance(v, str) for v in cats
        ):
            vals = vals.astype(str)
        frame[c] = pd.Categorical(vals, categories=cats)
    return frame


def response_values(frame: pd.DataFrame, parsed, family=None) -> np.ndarray:
    """The response of the rows (a column or an expression): finite for the
    Gaussian family, coded by ``family.response`` otherwise (a ``cbind``
    response: (successes, trials); without a family, for the statistics
    pass of a GLMM, its proportion); whether it is constant is checked over
    all partitions."""
    name = parsed.response
    values = response_frame(frame, parsed)
    if family is not None:
        return family.response(values, name)
    if isinstance(values, pd.DataFrame):  # cbind(successes, failures)
        s, f = (values[c].to_numpy(dtype=float) for c in values.columns)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s + f > 0, s / (s + f), 0.0)
    y = numeric_array(values.to_frame(name), name, "response")
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(
            f"response {name!r} has {int(bad.sum())} non-finite values "
            f"(e.g. {y[bad][0]}): remove those rows or transform the response"
        )
    return y


def response_categories(part: pd.DataFrame, plan: Plan) -> list:
    """The distinct response values of a partition's used rows (the
    categories of an ordinal response, gathered over the partitions)."""
    frame = used_rows(part, plan)
    return pd.unique(response_frame(frame, plan.parsed).dropna()).tolist()


def design_blocks(frame: pd.DataFrame, plan: Plan, model: Model, family=None):
    """(X, list of Z per level, y, offset, conditional level-1 weights, raw
    weight arrays) of complete rows."""
    frame = model_rows(frame, model)
    if model.random_specs is None:  # pragma: no cover - set by the second pass
        raise RuntimeError("the model's random-effect specs are not made yet")
    X = fixed_columns(model.fixed_spec.get_model_matrix(frame, na_action="raise"), family)[0]
    Z = [
        np.hstack(
            [sp.get_model_matrix(frame, na_action="raise").to_numpy(dtype=float) for sp in specs]
        )
        for specs in model.random_specs
    ]
    y = response_values(frame, plan.parsed, family)
    off = (
        numeric_array(frame, plan.offset_column, "offset")
        if plan.offset_column is not None
        else np.zeros(len(frame))
    )
    arrays = validate_weights(frame, plan.spec)
    w1 = conditional_weights(arrays, plan.spec, plan.cond_weights)[0]
    w1 = np.ones(len(frame)) if w1 is None else w1
    return X, Z, y, off, w1, arrays


def level2_codes(frame: pd.DataFrame, model: Model) -> np.ndarray:
    """Index of each row's level-2 group in the fit."""
    cols = list(model.level2_columns)
    keys = pd.MultiIndex.from_frame(frame[cols]) if len(cols) > 1 else pd.Index(frame[cols[0]])
    codes = model.level2_index.get_indexer(keys)
    if np.any(codes < 0):  # pragma: no cover - the groups come from the same rows
        raise RuntimeError("a row's level-2 group was not found in the group table")
    return codes


def partition_statistics(part: pd.DataFrame, plan: Plan, model: Model) -> dict:
    """Pass 2 over one partition: per level-2 group sums (module notes)."""
    frame = used_rows(part, plan)
    p = len(model.fixed_spec.column_names)
    if len(frame) == 0:
        return dict(codes=np.zeros(0, dtype=np.int64), n_rows=0)
    X, Z, y, off, w1, arrays = design_blocks(frame, plan, model)
    codes = level2_codes(frame, model)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    G = np.hstack(Z + [X, (y - off)[:, None]])[order]
    w = w1[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = dict(
        codes=codes[starts],
        M=group_crossprod(G, w, starts),
        n=group_sum(w, starts),
        npos=group_sum((w > 0).astype(float), starts),
        sw2=group_sum(w * w, starts),
        xtx=X.T @ X,
        n_rows=len(frame),
        finite_X=bool(np.all(np.isfinite(X))),
        finite_Z=[bool(np.all(np.isfinite(z))) for z in Z],
        wmin=float(w1.min()),
        wmax=float(w1.max()),
        p=p,
        ymin=float(y.min()),
        ymax=float(y.max()),
        offset_max=float(np.max(np.abs(off))),
    )
    raw = {c: float(v.sum()) for c, v in arrays.items()}
    out["raw_w1_sum"] = (
        raw.get(plan.spec[0], float(len(frame))) if plan.spec[0] else float(len(frame))
    )
    if len(plan.spec) > 1 and plan.spec[0] and plan.spec[1] and not plan.cond_weights:
        out["n_w1_below_w2"] = int(np.sum(arrays[plan.spec[0]] < arrays[plan.spec[1]]))
    return out
