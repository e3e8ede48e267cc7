"""The model frame: the rows and columns a model uses, checked and cleaned.

Turns user data (pandas or polars) into a pandas DataFrame that holds only
the complete rows of the variables the model refers to, with categorical
columns in a fixed level order. R equivalent: ``stats::model.frame``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..warnings import DataWarning, warn
from .validate import check_mixed_types

__all__ = [
    "to_pandas",
    "check_columns",
    "drop_incomplete",
    "complete_rows",
    "prepare_categoricals",
    "categorical_values",
    "is_text",
    "numeric_values",
]


def to_pandas(data) -> pd.DataFrame:
    """Return ``data`` as a pandas DataFrame (accepts polars DataFrames).

    Raises
    ------
    TypeError
        If ``data`` is neither a pandas nor a polars DataFrame.
    """
    if isinstance(data, pd.DataFrame):
        if isinstance(data.columns, pd.MultiIndex):
            raise TypeError(
                "data has MultiIndex columns: give it one name per column, e.g. "
                "data.columns = ['_'.join(map(str, c)) for c in data.columns]"
            )
        return data
    module = type(data).__module__ or ""
    if module.startswith("polars") and hasattr(data, "to_pandas"):
        return _from_polars(data)
    raise TypeError(f"data must be a pandas or polars DataFrame, got {type(data).__name__}")


def check_columns(data: pd.DataFrame, columns, what: str = "column") -> None:
    """Raise a ``ValueError`` naming every column of ``columns`` not in ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        dotted = [str(d) for d in data.columns if any(str(d).startswith(f"{c}.") for c in missing)]
        hint = (
            f"; a name with a dot such as {dotted[0]!r} must be written in backticks "
            f"in a formula: `{dotted[0]}`"
            if dotted
            else ""
        )
        raise ValueError(
            f"unknown {what}{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in sorted(missing))}: not in the data "
            f"(columns are {', '.join(map(str, list(data.columns)[:20]))}"
            f"{', ...' if data.shape[1] > 20 else ''}){hint}"
        )


def check_not_all_missing(data: pd.DataFrame, columns, what: str = "column") -> None:
    """Raise a ``ValueError`` naming the columns of ``columns`` missing in every row."""
    if len(data) == 0:
        return
    empty = [c for c in columns if data[c].isna().all()]
    if empty:
        raise ValueError(
            f"every value of {what}{'s' if len(empty) > 1 else ''} "
            f"{', '.join(map(repr, empty))} is missing (all {len(data)} rows): "
            "check the column or leave it out"
        )


def drop_incomplete(data: pd.DataFrame, columns) -> pd.DataFrame:
    """Drop rows with a missing value in any of ``columns``, warning with the count.

    Raises
    ------
    ValueError
        If ``data`` has no rows, if a column is missing in every row (naming
        it), or if no row is complete.
    """
    rows = complete_rows({c: data[c] for c in columns}, len(data))
    return data if rows is None else data.iloc[rows]


def complete_rows(columns: dict, n_rows: int) -> np.ndarray | None:
    """Positions of the rows without a missing value in any of ``columns``
    (None when every row is complete), warning with the count of the others.

    Parameters
    ----------
    columns : dict
        Column name -> Series (or array), ``n_rows`` long.
    n_rows : int

    Raises
    ------
    ValueError
        If there are no rows, if a column is missing in every row (naming
        it), or if no row is complete.
    """
    if n_rows == 0:
        raise ValueError("the data frame has no rows: there is nothing to fit")
    if not columns:
        return None
    missing = {c: _missing(v) for c, v in columns.items()}
    empty = [c for c, m in missing.items() if m.all()]
    if empty:
        raise ValueError(
            f"every value of {' and '.join(map(repr, empty))} is missing "
            f"(all {n_rows} rows): check the column"
            f"{'s' if len(empty) > 1 else ''} or leave "
            f"{'them' if len(empty) > 1 else 'it'} out of the model"
        )
    bad = np.logical_or.reduce(list(missing.values()))
    n_bad = int(bad.sum())
    if not n_bad:
        return None
    per = {c: int(m.sum()) for c, m in missing.items() if m.any()}
    detail = ", ".join(f"{c}: {k}" for c, k in per.items())
    warn(
        f"dropped {n_bad} of {n_rows} rows with missing values in model variables ({detail})",
        DataWarning,
    )
    if n_bad == n_rows:
        raise ValueError("no complete rows left after dropping missing values")
    return np.flatnonzero(~bad)


def _missing(values) -> np.ndarray:
    """Whether each value of a Series (or array) is missing."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.isnan(np.asarray(values))
    if isinstance(values, pd.Series) and not isinstance(dtype, np.dtype):
        return np.asarray(values.array.isna())  # an extension array's own mask
    return np.asarray(pd.isna(values))


def check_predictor_types(data: Mapping[str, Any], columns) -> None:
    """Refuse predictor columns whose type has no sensible coding (complex,
    dates and times), naming them."""
    for c in columns:
        dtype = data[c].dtype
        if pd.api.types.is_complex_dtype(dtype):
            raise TypeError(
                f"column {c!r} is complex ({dtype}): use its real part, "
                "imaginary part or modulus as a real column"
            )
        if (
            pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype)
        ):
            raise TypeError(
                f"column {c!r} holds dates or times ({dtype}): convert it to a "
                "number (e.g. days since a start date) or to a categorical"
            )


def _all_numbers(s: pd.Series) -> bool:
    values = s.dropna()
    return len(values) > 0 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    )


def prepare_categoricals(data: pd.DataFrame, columns) -> pd.DataFrame:
    """Give every non-numeric model column a fixed category order
    (:func:`categorical_values` of each of ``columns``)."""
    data = data.copy(deep=False)
    for c in columns:
        data[c] = categorical_values(data[c], c)
    return data


def categorical_values(s: pd.Series, name: str, rows=None):
    """The model frame's values of a non-numeric (or logical) column.

    A pandas Categorical keeps its order (first category = reference) without
    its unused categories; text is coded with its distinct values sorted;
    bool becomes a categorical with ``False`` first; numbers stored as Python
    objects become float.

    Parameters
    ----------
    s : Series
    name : str
        The column's name, for messages.
    rows : ndarray of int, optional
        Positions of the rows to keep (default: all).

    Returns
    -------
    pandas.Categorical or ndarray
    """
    if is_text(s):
        return _text_categorical(s, rows)
    if rows is not None:
        s = s.iloc[rows]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.array.remove_unused_categories()
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Categorical(s.astype(bool), categories=[False, True])
    if s.dtype == object and _all_numbers(s):
        return s.to_numpy(dtype=float)  # numbers stored as Python objects
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.array
    if s.dtype == object:
        check_mixed_types(s, name)
    codes, uniques = pd.factorize(s.astype(str), sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques))


def is_text(s: pd.Series) -> bool:
    """Whether every value of ``s`` is a string (or missing)."""
    if isinstance(s.dtype, pd.StringDtype):
        return True
    return s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string"


def _text_categorical(s: pd.Series, rows) -> pd.Categorical:
    """The categorical of a text column, its levels sorted: the distinct
    values are found once (a factorisation of the column) and only they are
    sorted (Python's order of strings, which ``pd.factorize(sort=True)``
    gives too)."""
    codes, uniques = s.array.factorize()
    if rows is not None:
        codes = codes[rows]
    used = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
    values = [str(v) for v, u in zip(uniques, used) if u]
    order = sorted(range(len(values)), key=values.__getitem__)
    # rank of each used distinct value; the last entry maps a missing value (-1) to -1
    remap = np.full(len(used) + 1, -1, dtype=np.int64)
    remap[np.flatnonzero(used)[order]] = np.arange(len(order))
    dtype = _distinct_categories(pd.Index([values[i] for i in order]))
    return pd.Categorical.from_codes(remap[codes], dtype=dtype, **_NO_VALIDATION)


#: ``from_codes`` without its check of the codes (made in range above), where
#: pandas offers that (``validate=``, pandas >= 2.1; pyproject allows 2.0)
_NO_VALIDATION: dict[str, Any] = (
    {"validate": False}
    if "validate" in inspect.signature(pd.Categorical.from_codes).parameters
    else {}
)


def _distinct_categories(categories: pd.Index) -> pd.CategoricalDtype:
    """The unordered categorical dtype of ``categories``, known to be distinct
    and not missing: without pandas' check of that (where pandas offers it;
    the check hashes a string index, the largest cost of a small model frame)."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    return pd.CategoricalDtype(categories) if fast is None else fast(categories, False)


def numeric_array(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Return ``data[column]`` as float, with a clear error if it is not numeric."""
    return numeric_values(data[column], column, what)


def numeric_values(s: pd.Series, column: str, what: str) -> np.ndarray:
    """Return the Series ``s`` (column ``column``) as float, with a clear
    error if it is not numeric."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        sample = ", ".join(repr(v) for v in pd.unique(s.dropna())[:3])
        raise TypeError(
            f"{what} {column!r} must be numeric, but has dtype {s.dtype} (values such as {sample})"
        )
    return s.to_numpy(dtype=float)


def _from_polars(data) -> pd.DataFrame:
    """Convert a polars DataFrame column by column (no pyarrow needed).

    Enum and Categorical columns become pandas categoricals (an Enum keeps its
    category order; a Categorical's categories are sorted, as strings are).
    """
    cols = {}
    for name in data.columns:
        s = data[name]
        dtype = str(s.dtype)
        if dtype.startswith("Enum"):
            cats = list(s.dtype.categories)
            cols[name] = pd.Categorical(s.cast(str).to_list(), categories=cats)
        elif dtype.startswith("Categorical"):
            cols[name] = pd.Series(s.cast(str).to_list(), dtype=object)
        elif dtype in ("String", "Utf8") or dtype.startswith("Date") or dtype == "Object":
            cols[name] = pd.Series(s.to_list(), dtype=object)
        else:
            values = s.to_numpy()
            if s.null_count() and values.dtype.kind in "iub":
                values = s.cast(float).to_numpy()
            cols[name] = values
    return pd.DataFrame(cols)
