"""Levels of a nested model: which grouping factor sits at which level.

Level 1 is the observation; level 2 the grouping factor with the most groups,
and so on up. Every level must be nested in the one above it, because weights
at every level only make sense for a nested (multistage) sample.

R equivalent: the ``levels`` / ``nested`` bookkeeping inside ``WeMix::mix``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Level", "group_codes", "order_levels", "sorted_levels"]


@dataclass(frozen=True)
class Level:
    """One level (2, 3, ...) of the hierarchy, on data sorted by group.

    Attributes
    ----------
    number : int
        The level (2 for the lowest grouping factor).
    name : str
        The grouping factor's name (``school:district`` for a nested factor).
    columns : tuple of str
        Data columns whose combination identifies a group.
    codes : ndarray of int, shape (n,)
        Group index of each (sorted) row; groups are contiguous.
    starts : ndarray of int, shape (n_groups,)
        First row of each group.
    parent : ndarray of int or None
        Index of each group's parent group at the next level (None at the top).
    labels : pandas.Index
        The group identifiers, as in the data.
    """

    number: int
    name: str
    columns: tuple
    codes: np.ndarray
    starts: np.ndarray
    parent: np.ndarray | None
    labels: pd.Index

    @property
    def n_groups(self) -> int:
        """Number of groups at this level."""
        return len(self.starts)

    def child_starts(self, parent_level: Level) -> np.ndarray:
        """Where each parent's block of children begins in this level's groups."""
        parent = self.parent
        if parent is None:  # pragma: no cover - a top level has no parent
            raise ValueError("the top level has no parent level")
        change = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
        if len(change) != parent_level.n_groups:  # pragma: no cover - guarded by nesting
            raise RuntimeError("groups are not sorted by their parents")
        return change


def _name(columns) -> str:
    return ":".join(reversed(columns))


def group_codes(frame: pd.DataFrame, columns) -> np.ndarray:
    """Integer code of each row's group for the combination of ``columns``."""
    columns = list(columns)
    if len(columns) == 1:
        col = frame[columns[0]]
        codes, _ = pd.factorize(
            col.to_numpy() if isinstance(col.dtype, np.dtype) else col, sort=False
        )
        return codes.astype(np.int64)
    return frame.groupby(columns, sort=False, observed=True).ngroup().to_numpy(np.int64)


def order_levels(frame: pd.DataFrame, groups) -> list:
    """Order grouping factors from the lowest level up and check they are nested.

    Parameters
    ----------
    frame : DataFrame
    groups : sequence of tuple of str
        The distinct grouping factors of the random terms.

    Returns
    -------
    list of (tuple, ndarray)
        ``(columns, codes)`` from level 2 upwards.

    Raises
    ------
    ValueError
        If two factors are crossed, define the same groups, or a level has a
        single group.
    """
    coded = []
    for cols in groups:
        codes = group_codes(frame, cols)
        coded.append((cols, codes, int(codes.max()) + 1))
    coded.sort(key=lambda item: -item[2])
    for cols, _codes, n in coded:
        if n < 2:
            raise ValueError(
                f"grouping factor {_name(cols)!r} has a single group in the data: a "
                "random effect needs at least two groups"
            )
    for (low, lc, ln), (up, uc, un) in zip(coded[:-1], coded[1:]):
        pairs = np.unique(np.stack([lc, uc], axis=1), axis=0)
        if ln == un and len(pairs) == ln:
            raise ValueError(
                f"grouping factors {_name(low)!r} and {_name(up)!r} define the same "
                "groups: use one of them"
            )
        per_low = np.bincount(pairs[:, 0], minlength=ln)
        if np.any(per_low > 1):
            bad = int(np.flatnonzero(per_low > 1)[0])
            row = int(np.flatnonzero(lc == bad)[0])
            gid = ", ".join(str(frame[c].iloc[row]) for c in low)
            uppers = sorted(
                {
                    str(v)
                    for v in pd.unique(
                        frame.loc[lc == bad, list(up)].astype(str).agg(":".join, axis=1)
                    )
                }
            )
            a, b = "/".join(up), "/".join(low)
            hint = (
                f" If the ids of one factor are numbered within the groups of the "
                f"other, identify each group within its parent with the nested form: "
                f"(1 | {b}/{a}) when {_name(up)} is numbered within {_name(low)}, or "
                f"(1 | {a}/{b}) when {_name(low)} is numbered within {_name(up)}."
            )
            raise ValueError(
                f"grouping factors {_name(low)!r} and {_name(up)!r} are crossed, not "
                f"nested: {_name(low)} {gid} occurs in {_name(up)} "
                f"{', '.join(uppers[:4])}. Weights at every level need a nested "
                f"(multistage) design, where each group lies in exactly one group of "
                f"the level above.{hint}"
            )
    return [(cols, codes) for cols, codes, _ in coded]


def _labels(frame: pd.DataFrame, columns, starts) -> pd.Index:
    if len(columns) == 1:
        col = frame[columns[0]]
        first = (
            col.to_numpy()[starts]
            if isinstance(col.dtype, np.dtype)
            else np.asarray(col.array.take(starts))
        )
        return pd.Index(first, name=columns[0])
    first = frame.iloc[starts]
    joined = first[list(reversed(columns))].astype(str).agg(":".join, axis=1)
    return pd.Index(joined.to_numpy(), name=_name(columns))


def sorted_levels(frame: pd.DataFrame, ordered) -> tuple:
    """Sort rows so that every level's groups are contiguous.

    Parameters
    ----------
    frame : DataFrame
    ordered : list of (tuple, ndarray)
        Output of :func:`order_levels`.

    Returns
    -------
    order : ndarray of int
        Row permutation (positions in ``frame``).
    levels : list of Level
        From level 2 upwards, on the sorted rows.
    """
    keys = [codes for _, codes in ordered]
    order = np.lexsort(keys) if len(keys) > 1 else np.argsort(keys[0], kind="stable")
    raw = []
    for cols, codes in ordered:
        c = codes[order]
        change = np.concatenate(([True], c[1:] != c[:-1]))
        new = np.cumsum(change) - 1
        raw.append((cols, new, np.flatnonzero(change)))
    levels = []
    for i, (cols, codes, starts) in enumerate(raw):
        parent = raw[i + 1][1][starts] if i + 1 < len(raw) else None
        levels.append(
            Level(
                i + 2,
                _name(cols),
                tuple(cols),
                codes,
                starts,
                parent,
                _labels(frame, cols, order[starts]),
            )
        )
    return order, levels
