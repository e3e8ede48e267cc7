"""The model design: response, fixed and random design blocks, levels, weights.

``build_design`` is the first stage of a fit (lme4's ``lFormula``): it turns a
formula, a data frame and weight column names into numeric arrays sorted so
that the groups of every level are contiguous.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FormulaicError
from scipy.linalg import lapack

from .formula import ParsedFormula, parse_formula
from .frame import (check_columns, drop_incomplete, numeric_array,
                    prepare_categoricals, to_pandas)
from .levels import order_levels, sorted_levels
from .scaling import scale_within
from .weights import (check_unconditional, conditional_weights, constant_within, normalize_weight_spec,
                      validate_weights, zero_weight_rows)

__all__ = ["ModelDesign", "build_design", "fixed_matrix", "random_matrix"]


@dataclass(frozen=True)
class RandomBlock:
    """The random effects of one term at one level (one covariance block)."""

    expr: str
    names: tuple
    columns: slice  # columns of the level's Z


@dataclass(frozen=True)
class ModelDesign:
    """Numeric form of a mixed model, rows sorted by group at every level.

    Attributes
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
    x_names : list of str
    Z : list of ndarray (n, q_l), one per level from level 2 up
    blocks : list of list of RandomBlock, one list per level
    levels : list of Level, from level 2 up
    w1 : ndarray (n,)
        Conditional level-1 weights.
    wg : list of ndarray
        Conditional weights of the groups of each level (level 2 up).
    """

    parsed: ParsedFormula
    y: np.ndarray
    X: np.ndarray
    x_names: list
    Z: list
    blocks: list
    levels: list
    w1: np.ndarray
    wg: list
    frame: pd.DataFrame
    fixed_spec: object
    random_specs: list
    weight_spec: list
    cond_weights: bool
    raw_weights: dict = field(repr=False)
    n_dropped: int = 0
    offset: np.ndarray = None
    offset_column: str | None = None

    @property
    def row_positions(self) -> np.ndarray:
        """Position in the user's data of each (sorted) row."""
        return self.frame[_POSITION].to_numpy()

    @property
    def n_obs(self) -> int:
        return len(self.y)

    @property
    def n_levels(self) -> int:
        """Number of levels including the observation level."""
        return len(self.levels) + 1

    @property
    def response(self) -> str:
        return self.parsed.response


def fixed_matrix(spec_or_formula, frame: pd.DataFrame):
    """Fixed-effects design matrix from a formula string or a stored model spec."""
    try:
        if isinstance(spec_or_formula, str):
            mm = model_matrix(spec_or_formula, frame, na_action="raise")
        else:
            mm = spec_or_formula.get_model_matrix(frame, na_action="raise")
    except FormulaicError as exc:
        raise ValueError(f"cannot build the design matrix: {exc}") from None
    return mm


def random_matrix(expr_or_spec, frame: pd.DataFrame):
    """Random-effects design block for one term."""
    return fixed_matrix(expr_or_spec, frame)


def _check_rank(X: np.ndarray, names) -> None:
    if X.shape[1] == 0:
        return
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    zero = [names[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        raise ValueError(f"rank-deficient fixed-effects design: column(s) "
                         f"{', '.join(map(repr, zero))} are all zero")
    Xs = X / norms
    C = Xs.T @ Xs
    _, piv, rank, info = lapack.dpstrf(C, lower=1, tol=1e-10)
    if rank < X.shape[1]:
        aliased = [names[j] for j in sorted(piv[rank:] - 1)]
        raise ValueError(
            f"rank-deficient fixed-effects design: {len(aliased)} column(s) are linear "
            f"combinations of the others and cannot be estimated: "
            f"{', '.join(map(repr, aliased))}")


def _frame(data, parsed: ParsedFormula, spec, extra=()):
    if data.columns.duplicated().any():
        dup = sorted(set(data.columns[data.columns.duplicated()]))
        raise ValueError(f"data has duplicated column names: {dup}")
    needed = sorted(parsed.required_columns | set(extra))
    check_columns(data, needed)
    weights = [w for w in spec if w is not None]
    check_columns(data, weights, "weight column")
    frame = data[list(dict.fromkeys(needed + weights))]
    frame = frame.assign(**{_POSITION: np.arange(len(frame))})
    frame = drop_incomplete(frame, needed)
    categorical = [c for c in needed if c != parsed.response
                   and (not pd.api.types.is_numeric_dtype(frame[c].dtype)
                        or pd.api.types.is_bool_dtype(frame[c].dtype))]
    return prepare_categoricals(frame, categorical)


def _weights(frame, parsed, spec, cond_weights):
    groups = list(dict.fromkeys(t.group for t in parsed.random))
    arrays = validate_weights(frame, spec)
    ordered = order_levels(frame, groups)
    if len(spec) != len(ordered) + 1:  # pragma: no cover - checked by caller
        raise ValueError("wrong number of weights")
    names = [":".join(reversed(cols)) for cols, _ in ordered]
    for lvl in range(1, len(spec)):
        col = spec[lvl]
        if col is not None:
            cols, codes = ordered[lvl - 1]
            first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()

            def label(g, cols=cols, first=first):
                return ":".join(str(frame[c].iloc[first[g]]) for c in reversed(cols))
            constant_within(arrays[col], codes, col, names[lvl - 1], label)
    drop = zero_weight_rows(arrays, spec, [c for _, c in ordered], names)
    if drop.any():
        frame = frame.loc[~drop]
        if len(frame) == 0:
            raise ValueError("no rows left after dropping rows with zero weights")
        arrays = {k: v[~drop] for k, v in arrays.items()}
        ordered = order_levels(frame, groups)
    return frame, arrays, ordered, int(drop.sum())


def build_design(formula, data, weights=None, cond_weights=False,
                 transform=None, family=None, offset=None,
                 weight_scaling: str = "none") -> ModelDesign:
    """Build the numeric design of a weighted mixed model.

    Parameters
    ----------
    formula : str
        lme4-style formula.
    data : pandas.DataFrame or polars.DataFrame
    weights : list of (str or None), optional
        One weight column per level, level 1 first.
    cond_weights : bool
        Whether the weights are already conditional.
    transform : callable, optional
        ``transform(frame, levels, weight_arrays, weight_spec) -> frame``
        applied to the complete, sorted rows before the design matrices are
        built (used for centering).
    family : Family, optional
        Non-Gaussian family; checks and codes the response.
    offset : str or array-like, optional
        Column name or values added to the linear predictor.
    weight_scaling : {"none", "size", "effective"}
        Scaling of the conditional level-1 weights within level-2 groups.

    Returns
    -------
    ModelDesign
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    n_group_factors = len({t.group for t in parsed.random})
    spec = normalize_weight_spec(weights, n_group_factors + 1)
    data, offset_column = _with_offset(to_pandas(data), offset)
    frame = _frame(data, parsed, spec, [offset_column] if offset_column else [])
    frame, arrays, ordered, n_dropped = _weights(frame, parsed, spec, cond_weights)
    order, levels = sorted_levels(frame, ordered)
    frame = frame.iloc[order]
    arrays = {k: v[order] for k, v in arrays.items()}
    if transform is not None:
        frame = transform(frame, levels, arrays, spec)
    if family is None:
        y = numeric_array(frame, parsed.response, "response")
    else:
        y = family.response(frame[parsed.response], parsed.response)
    off = np.zeros(len(frame))
    if offset_column:
        off = numeric_array(frame, offset_column, "offset")
        if not np.all(np.isfinite(off)):
            raise ValueError(f"offset {_offset_label(offset, offset_column)} has "
                             f"{int((~np.isfinite(off)).sum())} infinite values")
    mm = fixed_matrix(f"{parsed.fixed}", frame)
    X = np.ascontiguousarray(mm.to_numpy(dtype=float))
    x_names = list(mm.columns)
    _check_rank(X, x_names)
    Z, blocks, rspecs = _random_blocks(parsed, frame, levels)
    if not cond_weights:
        check_unconditional(arrays, spec, levels)
    cond = conditional_weights(arrays, spec, cond_weights)
    w1 = cond[0] if cond[0] is not None else np.ones(len(y))
    w1 = scale_within(w1, levels[0].starts, weight_scaling)
    wg = [(cond[i][lev.starts] if cond[i] is not None else np.ones(lev.n_groups))
          for i, lev in enumerate(levels, start=1)]
    return ModelDesign(parsed, y, X, x_names, Z, blocks, levels, w1, wg, frame,
                       mm.model_spec, rspecs, spec, cond_weights, arrays, n_dropped,
                       off, offset_column if isinstance(offset, str) else None)


_OFFSET = "(offset)"
_POSITION = "(row position)"


def _offset_label(offset, column):
    return repr(offset) if isinstance(offset, str) else "array"


def _with_offset(data: pd.DataFrame, offset):
    """Return (data, offset column name or None), adding an array offset as a column."""
    if offset is None:
        return data, None
    if isinstance(offset, str):
        if offset not in data.columns:
            raise ValueError(f"offset column {offset!r} is not in the data")
        s = data[offset]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise TypeError(f"offset column {offset!r} must be numeric, got dtype {s.dtype}")
        return data, offset
    values = np.asarray(offset)
    if values.ndim != 1 or len(values) != len(data):
        raise ValueError(f"offset array must have one value per data row ({len(data)}), "
                         f"got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"offset array must be numeric, got dtype {values.dtype}")
    data = data.copy(deep=False)
    data[_OFFSET] = values.astype(float)
    return data, _OFFSET


def _random_blocks(parsed, frame, levels):
    Z, blocks, specs = [], [], []
    for lev in levels:
        cols, blk, sp, start = [], [], [], 0
        for term in parsed.random:
            if term.group != lev.columns:
                continue
            mm = random_matrix(term.expr, frame)
            if mm.shape[1] == 0:
                raise ValueError(f"random term ({term.expr} | {term.group_name}) has no "
                                 "effects")
            cols.append(mm.to_numpy(dtype=float))
            names = tuple(mm.columns)
            blk.append(RandomBlock(term.expr, names, slice(start, start + len(names))))
            sp.append(mm.model_spec)
            start += len(names)
        Z.append(np.ascontiguousarray(np.hstack(cols)))
        blocks.append(blk)
        specs.append(sp)
    return Z, blocks, specs
