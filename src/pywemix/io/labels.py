"""Value labels and missing-value codes of SPSS, SAS and Stata files.

Shared by :func:`~pywemix.io.read_data` (whole files) and
:class:`~pywemix.io.ColumnFile` (the columns a model needs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["labels_to_categoricals", "whole_numbers_as_int", "is_missing_code"]


def whole_numbers_as_int(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns holding only whole numbers (and NaN) as integers.

    SPSS, SAS and Stata store numbers as doubles: without this, ids read as
    ``1.0`` and print so in group labels. Columns without missing values
    become ``int64``, the others pandas' nullable ``Int64``.
    """
    out = {}
    for col in df.columns:
        s = df[col]
        if s.dtype != np.float64:
            continue
        v = s.to_numpy()
        ok = ~np.isnan(v)
        if (
            not ok.any()
            or not np.all(np.abs(v[ok]) < 2.0**53)
            or not np.all(v[ok] == np.round(v[ok]))
        ):
            continue
        out[col] = s.astype("int64") if ok.all() else s.astype("Int64")
    return df.assign(**out) if out else df


def is_missing_code(code, ranges) -> bool:
    """Whether ``code`` lies in one of SPSS's user-missing ranges
    (pyreadstat's ``missing_ranges``: dicts with ``lo`` and ``hi``)."""
    for r in ranges or ():
        lo, hi = r.get("lo"), r.get("hi")
        try:
            if lo <= code <= hi:
                return True
        except TypeError:  # a string code against numeric ranges, or the reverse
            continue
    return False


def labels_to_categoricals(
    df: pd.DataFrame,
    labels: dict,
    missing: dict | None = None,
    ordered: bool = False,
    all_labels: bool = False,
) -> pd.DataFrame:
    """Labelled columns as pandas categoricals, their categories in code order.

    Parameters
    ----------
    df : DataFrame
        Raw values, user-missing codes already read as missing.
    labels : dict
        Column -> {code: label} (pyreadstat's ``variable_value_labels``).
    missing : dict, optional
        Column -> user-missing ranges (pyreadstat's ``missing_ranges``): codes
        in them are not categories.
    ordered : bool
        Ordered categoricals (survey readers: the codes' order is meaningful).
    all_labels : bool
        Categories: every labelled code that is not missing (the same
        categories whatever rows are read), instead of the codes present.

    Notes
    -----
    A column is converted only if every value present has a label; a column
    with labels on some values only (a score with labelled missing codes, say)
    keeps its numbers. Codes sharing a label give one category.
    """
    for col, mapping in (labels or {}).items():
        if col not in df.columns or not mapping:
            continue
        values = df[col]
        present = set(values.dropna().unique())
        if not present <= set(mapping):
            continue
        ranges = (missing or {}).get(col)
        codes = [
            k
            for k in sorted(mapping, key=_sort_key)
            if (k in present) or (all_labels and not is_missing_code(k, ranges))
        ]
        if all_labels and present:
            kind = type(next(iter(present)))
            codes = [k for k in codes if k in present or _same_kind(k, kind)]
        order = list(dict.fromkeys(mapping[k] for k in codes))
        df[col] = pd.Categorical(values.map(mapping), categories=order, ordered=ordered)
    return df


def _sort_key(code):
    """Numbers before strings, each in their natural order."""
    return (
        (0, float(code), "") if isinstance(code, (int, float, np.number)) else (1, 0.0, str(code))
    )


def _same_kind(code, kind) -> bool:
    numeric = (int, float, np.number)
    return isinstance(code, numeric) if issubclass(kind, numeric) else isinstance(code, str)
