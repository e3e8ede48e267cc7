"""Group- and grand-mean centering of predictors (WeMix ``center_group``,
``center_grand``; vignette eqs. 12-15).

Centering is applied to the complete rows the model uses, before the design
matrices are built, with means weighted by the level-1 weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .sufficient import group_sum

__all__ = ["check_centering", "make_centering", "Centering", "numeric_values"]


def check_centering(center_group, center_grand, parsed) -> tuple:
    """Validate the centering arguments against the model's variables.

    Returns ``(dict group -> list of columns, list of columns)``.
    """
    names = parsed.predictor_names
    shown = sorted(parsed.predictor_columns - {c for t in parsed.random for c in t.group})
    groups = {t.group_name: t for t in parsed.random}
    cg = {}
    if center_group is not None:
        if not isinstance(center_group, dict):
            raise TypeError(
                "center_group must be a dict: grouping factor -> list of columns, "
                "e.g. {'schoolid': ['escs']}"
            )
        for g, cols in center_group.items():
            if g not in groups:
                raise ValueError(
                    f"center_group: {g!r} is not a grouping factor of the model "
                    f"(grouping factors: {sorted(groups)})"
                )
            cols = _column_list(cols, "center_group")
            _check_cols(cols, names, shown, "center_group")
            cg[g] = cols
    grand = []
    if center_grand is not None:
        grand = _column_list(center_grand, "center_grand")
        _check_cols(grand, names, shown, "center_grand")
    return cg, grand


def _column_list(cols, arg) -> list:
    """A column name or a list of them, as a list."""
    if isinstance(cols, str):
        return [cols]
    if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) for c in cols):
        raise TypeError(f"{arg} takes a column name or a list of column names, got {cols!r}")
    return list(cols)


def _check_cols(cols, names, shown, arg):
    for c in cols:
        if c not in names:
            raise ValueError(
                f"{arg}: column {c!r} is not a predictor in the model (predictors: {shown})"
            )


def make_centering(center_group: dict, center_grand: list):
    """The centering of a model (see ``build_design``), or None without any.

    Notes
    -----
    Group-mean centering: :math:`x_{ij} - \\bar x_{\\cdot j}` with
    :math:`\\bar x_{\\cdot j} = \\sum_i w_{ij} x_{ij} / \\sum_i w_{ij}`;
    grand-mean centering: :math:`x_{ij} - \\bar x_{\\cdot\\cdot}` with the
    weighted mean over all rows; :math:`w_{ij}` the level-1 weights as given
    (1 without level-1 weights).
    """
    if not center_group and not center_grand:
        return None
    return Centering(dict(center_group), list(center_grand))


class Centering:
    """Group- and grand-mean centering of predictor columns.

    :meth:`fit` centres the model's rows and keeps the means it subtracted,
    so that :meth:`apply` centres new rows (for ``predict``) the same way.
    """

    def __init__(self, center_group: dict, center_grand: list):
        self.center_group, self.center_grand = center_group, center_grand
        self.grand_means: dict = {}
        self.group_means: dict = {}  # (grouping factor, column) -> Series by group label

    def fit(self, frame: pd.DataFrame, levels, arrays, spec):
        """Centre ``frame`` (rows sorted by group); returns (frame, fitted Centering)."""
        out = Centering(self.center_group, self.center_grand)
        frame = frame.copy()
        w = arrays[spec[0]] if spec[0] is not None else np.ones(len(frame))
        by_name = {lev.name: lev for lev in levels}
        for g, cols in self.center_group.items():
            lev = by_name[g]
            sw = group_sum(w, lev.starts)
            for c in cols:
                x = numeric_values(frame, c)
                mean = group_sum(w * x, lev.starts) / sw
                frame[c] = x - mean[lev.codes]
                out.group_means[(g, c)] = pd.Series(mean, index=lev.labels)
        for c in self.center_grand:
            x = numeric_values(frame, c)
            out.grand_means[c] = float(np.sum(w * x) / np.sum(w))
            frame[c] = x - out.grand_means[c]
        return frame, out

    def fitted(self, group_means: dict, grand_means: dict) -> Centering:
        """This centering with means computed elsewhere (a Dask fit adds them
        up over partitions): ``group_means`` maps (grouping factor, column) to
        a Series by group label, ``grand_means`` a column to its mean."""
        out = Centering(self.center_group, self.center_grand)
        out.group_means, out.grand_means = dict(group_means), dict(grand_means)
        return out

    def apply(self, data: pd.DataFrame, keys: dict) -> pd.DataFrame:
        """Centre new rows with the fitted means.

        ``keys`` maps a grouping factor's name to each row's group label.
        Rows of groups not in the fit are centred on the (unweighted) mean of
        their group's rows in ``data``.
        """
        data = data.copy()
        for (g, c), means in self.group_means.items():
            x = numeric_values(data, c)
            key = pd.Index(keys[g])
            m = means.reindex(key).to_numpy()
            new = np.isnan(m)
            if new.any():
                own = pd.Series(x).groupby(np.asarray(key)).transform("mean").to_numpy()
                m = np.where(new, own, m)
            data[c] = x - m
        for c, m in self.grand_means.items():
            data[c] = numeric_values(data, c) - m
        return data


def numeric_values(frame, c):
    """``frame[c]`` as float; TypeError naming a column that is not numeric."""
    s = frame[c]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise TypeError(f"cannot centre column {c!r}: it is not numeric (dtype {s.dtype})")
    return s.to_numpy(dtype=float)
