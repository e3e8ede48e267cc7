"""Predictions from a fit: fixed part plus the conditional modes of known groups.

R equivalent: ``predict.merMod`` (``re.form``, ``allow.new.levels``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..design.frame import check_columns, to_pandas
from ..design.model import fixed_columns, fixed_matrix, random_matrix
from ..objective.linpred import add_random
from ..objective.linpred import linear_predictor as predictor

__all__ = ["linear_predictor"]


def _categoricals_like(newdata: pd.DataFrame, frame: pd.DataFrame, skip=()) -> pd.DataFrame:
    """Give ``newdata`` the fitted frame's category orders (grouping columns in
    ``skip`` keep their values: new groups are handled by ``allow_new_levels``)."""
    newdata = newdata.copy()
    for c in frame.columns:
        if c in skip and c in newdata.columns:
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                newdata[c] = newdata[c].astype(str)
            continue
        if c not in newdata.columns:
            continue
        if not isinstance(frame[c].dtype, pd.CategoricalDtype):
            newdata[c] = _numeric_like(newdata[c], c)
            continue
        cats = frame[c].cat.categories
        vals = newdata[c]
        if isinstance(vals.dtype, pd.CategoricalDtype):
            vals = vals.astype(object)
        if cats.dtype == bool:
            vals = _as_bool(vals, c)
        elif all(isinstance(v, str) for v in cats):
            vals = vals.astype(str)
        unknown = set(pd.unique(vals.dropna())) - set(cats)
        if unknown:
            raise ValueError(
                f"column {c!r} of newdata has levels not seen in the fit: "
                f"{sorted(map(str, unknown))[:5]}"
            )
        newdata[c] = pd.Categorical(vals, categories=cats)
    return newdata


def _as_bool(values: pd.Series, name: str) -> pd.Series:
    """A column that was logical in the fit: True/False, or the numbers 1/0
    (not text, whose truth value would be that of a non-empty string)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(bool)
    numbers = (bool, np.bool_, int, float, np.integer, np.floating)
    bad = [v for v in pd.unique(values.dropna()) if not (isinstance(v, numbers) and v in (0, 1))]
    if bad:
        raise ValueError(
            f"column {name!r} was logical (True/False) in the fit; newdata "
            f"has other values such as {bad[:3]}"
        )
    return values.astype(bool)


def _numeric_like(values: pd.Series, name: str) -> pd.Series:
    """A column that was numeric in the fit must be numeric in ``newdata``
    (numbers stored as Python objects are accepted, as in the fit)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return _finite(values, name)
    present = values.dropna()
    if not pd.api.types.is_bool_dtype(values.dtype) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in present
    ):
        return _finite(values.astype(float), name)
    sample = ", ".join(repr(v) for v in pd.unique(present)[:3])
    raise TypeError(
        f"column {name!r} of newdata must be numeric, as in the fit, but has "
        f"dtype {values.dtype} (values such as {sample})"
    )


def _finite(values: pd.Series, name: str) -> pd.Series:
    """Refuse infinite values (the fit refuses them too)."""
    n_inf = int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())
    if n_inf:
        raise ValueError(f"column {name!r} of newdata has {n_inf} infinite values")
    return values


def _check_unique_columns(data: pd.DataFrame, needed) -> None:
    """Refuse newdata with several columns of a name the prediction uses."""
    dup = sorted(set(data.columns[data.columns.duplicated()]) & set(needed))
    if dup:
        raise ValueError(
            f"newdata has several columns named {', '.join(map(repr, dup))}, "
            "which the model uses: rename them"
        )


def linear_predictor(
    result, newdata=None, include_random=True, allow_new_levels=False, offset=None
) -> np.ndarray:
    """Linear predictor ``X beta + sum_l Z_l u_l`` for ``newdata``.

    Groups not in the fit get random effects of zero when
    ``allow_new_levels`` is true, and an error otherwise. Rows with a missing
    value in a variable the prediction needs get NaN (R's ``na.pass``).
    """
    if not isinstance(newdata, pd.DataFrame) and isinstance(newdata, dict):
        newdata = pd.DataFrame(newdata)
    data = to_pandas(newdata)
    design, column = result.design, result.settings.offset_column
    parsed = design.parsed
    needed = parsed.predictor_model_columns(design.frame.columns)
    centering = design.centering
    if not include_random and not (centering and centering.group_means):
        needed = needed - {c for t in parsed.random for c in t.group}
    check_columns(data, sorted(needed))
    _check_unique_columns(data, needed | ({column} if column else set()))
    if offset is None and column is not None:
        needed = needed | {column}
        check_columns(data, [column], "offset column")
    off = _offset(result, data, offset)
    complete = data[sorted(needed)].notna().all(axis=1).to_numpy() & np.isfinite(
        np.broadcast_to(off, (len(data),))
    )
    out = np.full(len(data), np.nan)
    if complete.any():
        rows = data if complete.all() else data.loc[complete]
        off_rows = off if np.ndim(off) == 0 else np.asarray(off)[complete]
        out[complete] = _complete_rows(
            result, rows, needed, include_random, allow_new_levels, off_rows
        )
    return out


def _complete_rows(result, data, needed, include_random, allow_new_levels, off):
    """``linear_predictor`` for rows without missing values."""
    design = result.design
    frame = design.frame
    groups = {c for t in design.parsed.random for c in t.group}
    data = _categoricals_like(data[sorted(needed)], frame, skip=groups)
    centering = design.centering
    centred = {g for g, _ in centering.group_means} if centering is not None else set()
    keys = {
        lev.name: _group_keys(data, lev, frame)
        for lev in design.levels
        if include_random or lev.name in centred
    }
    if centering is not None:
        data = centering.apply(data, keys)
    X = fixed_columns(
        _checked(lambda: fixed_matrix(design.fixed_spec, data)), result.family_object
    )[0]
    eta = predictor(X, result.fe_params.to_numpy(), off)
    if not include_random:
        return eta
    Z, codes, effects = [], [], []
    for lev, specs, modes in zip(design.levels, design.random_specs, result.conditional_modes):
        codes.append(_known_groups(lev, keys[lev.name], allow_new_levels))
        Z.append(
            np.hstack(
                [
                    _checked(lambda sp=sp: random_matrix(sp, data)).to_numpy(dtype=float)
                    for sp in specs
                ]
            )
        )
        # new groups point at an appended row of zeros
        effects.append(np.vstack([modes, np.zeros((1, modes.shape[1]))]))
    return add_random(eta, Z, codes, effects)


def _known_groups(lev, keys, allow_new_levels) -> np.ndarray:
    """Position of each row's group in the fit, ``lev.n_groups`` for a new group
    (an error unless ``allow_new_levels``)."""
    pos = lev.labels.get_indexer(pd.Index(keys))
    new = pos < 0
    if new.any() and not allow_new_levels:
        bad = pd.unique(pd.Series(np.asarray(keys))[new])[:5]
        raise ValueError(
            f"newdata has {int(new.sum())} rows in {lev.name} groups not in the "
            f"fit (for example {list(map(str, bad))}); pass allow_new_levels=True "
            "to predict them with random effects of zero"
        )
    return np.where(new, lev.n_groups, pos)


def _group_keys(data, lev, frame) -> np.ndarray:
    """Each row's group label at level ``lev``, comparable with ``lev.labels``.

    Id columns are first given the fitted data's type where that loses
    nothing (float ids 3.0 after a merge, ids read as strings), so that known
    groups are found whatever the id column's type in ``newdata``.
    """
    cols = {c: _like(data[c], frame[c]) for c in lev.columns}
    if len(lev.columns) == 1:
        return np.asarray(cols[lev.columns[0]])
    joined = pd.DataFrame({c: cols[c] for c in reversed(lev.columns)}).astype(str)
    return joined.agg(":".join, axis=1).to_numpy()


def _like(values: pd.Series, fitted: pd.Series) -> pd.Series:
    """``values`` converted to the dtype of the fitted id column, if lossless."""
    if isinstance(fitted.dtype, pd.CategoricalDtype):
        cats = fitted.cat.categories
        if all(isinstance(v, str) for v in cats):
            return values.astype(str)
        try:
            return values.astype(cats.dtype)
        except (TypeError, ValueError):
            return values
    if pd.api.types.is_integer_dtype(fitted.dtype):
        num = pd.to_numeric(values, errors="coerce")
        if num.notna().all() and np.all(np.mod(num, 1) == 0):
            return num.astype(np.int64)
    elif pd.api.types.is_float_dtype(fitted.dtype):
        num = pd.to_numeric(values, errors="coerce")
        if num.notna().all():
            return num.astype(float)
    elif values.dtype != fitted.dtype:
        return values.astype(str)
    return values


def _checked(build):
    """A design matrix of new rows; levels formulaic has not seen are an error
    (formulaic would code them as the reference level with a warning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mm = build()
    for w in caught:
        if w.category.__name__ == "DataMismatchWarning":
            raise ValueError(f"newdata has values not seen in the fit: {w.message}")
        if (
            not issubclass(w.category, (FutureWarning, DeprecationWarning))
            and "Pandas4Warning" not in w.category.__name__
        ):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return mm


def _offset(result, data, offset):
    """Offset of the new rows: the fit's offset column, or ``offset`` given."""
    if offset is not None:
        try:
            off = np.asarray(offset, dtype=float)
        except (TypeError, ValueError):
            raise TypeError("offset must be numeric (one value per row of newdata)") from None
        if off.shape not in ((len(data),), ()):
            raise ValueError(f"offset must have one value per row of newdata ({len(data)})")
        return off
    col = result.settings.offset_column
    if col is not None:
        if col not in data.columns:
            raise ValueError(f"newdata needs the offset column {col!r} used in the fit")
        values = data[col]
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype
        ):
            raise TypeError(
                f"offset column {col!r} of newdata must be numeric, got dtype {values.dtype}"
            )
        return values.to_numpy(dtype=float)
    if result.settings.has_offset:
        raise ValueError(
            "the model was fitted with an offset array: pass offset= with "
            "one value per row of newdata"
        )
    return 0.0
