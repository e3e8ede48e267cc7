"""Matching students to their schools: the school file's row of every student.

R equivalent: the merge EdSurvey's ``readPISA`` / ``readTIMSS`` make of the
student and school files (``getData`` then returns school variables on the
student rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["school_rows"]


def _comparable(student: pd.Series, school: pd.Series):
    """The two key columns in one dtype: numbers as float, anything else as text."""
    numeric = pd.api.types.is_numeric_dtype
    if numeric(student.dtype) and numeric(school.dtype):
        return student.astype("float64"), school.astype("float64")
    return student.astype("string"), school.astype("string")


def _describe(keys: pd.DataFrame, rows, limit: int = 5) -> str:
    shown = [tuple(_plain(v) for v in keys.iloc[i]) for i in rows[:limit]]
    shown = [s[0] if len(s) == 1 else s for s in shown]
    return ", ".join(map(repr, shown)) + (" ..." if len(rows) > limit else "")


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isfinite(v) and v.is_integer():
        return int(v)
    return v


def school_rows(
    student: pd.DataFrame, school: pd.DataFrame, student_file: str, school_file: str, counts=None
) -> np.ndarray:
    """For every student row, the position of its school in the school file.

    Parameters
    ----------
    student, school : DataFrame
        The key columns, in the same order (names may differ: NAEP's
        ``SCRPSU`` / ``SSCRPSU``).
    student_file, school_file : str
        Names for messages (quoted as they should show).
    counts : array, optional
        How many students each row of ``student`` stands for (its keys made
        unique first, as for a Dask DataFrame).

    Raises
    ------
    ValueError
        If a key repeats in the school file (naming the keys and how many),
        or some students find no school (naming the keys without a match
        and how many students have them).
    """
    s_cols, c_cols = list(student.columns), list(school.columns)
    pairs = [_comparable(student[a], school[b]) for a, b in zip(s_cols, c_cols)]
    left = pd.MultiIndex.from_arrays([p[0] for p in pairs], names=s_cols)
    right = pd.MultiIndex.from_arrays([p[1] for p in pairs], names=c_cols)
    dup = right.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(right.duplicated(keep="first"))
        raise ValueError(
            f"school file {school_file} has {int(dup.sum())} rows sharing "
            f"{len(rows)} school key(s) ({', '.join(c_cols)}): "
            f"{_describe(school, rows)}; each school must appear once"
        )
    pos = right.get_indexer(left)
    lost = pos < 0
    if lost.any():
        keys = student.loc[lost]
        first = np.flatnonzero(~keys.duplicated().to_numpy())
        n_lost = int(lost.sum() if counts is None else np.asarray(counts)[lost].sum())
        raise ValueError(
            f"{n_lost} rows of {student_file} find no school in "
            f"{school_file} on {', '.join(s_cols)}: {len(first)} key(s) without "
            f"a match, {_describe(keys, first)}"
        )
    return pos
