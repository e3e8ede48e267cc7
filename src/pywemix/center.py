"""Group- and grand-mean centering of predictors (WeMix ``center_group``,
``center_grand``; vignette eqs. 12-15).

Centering is applied to the complete rows the model uses, before the design
matrices are built, with means weighted by the level-1 weights.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sufficient import group_sum

__all__ = ["check_centering", "make_centering"]


def check_centering(center_group, center_grand, parsed) -> tuple:
    """Validate the centering arguments against the model's variables.

    Returns ``(dict group -> list of columns, list of columns)``.
    """
    model_cols = parsed.required_columns - {parsed.response}
    groups = {t.group_name: t for t in parsed.random}
    cg = {}
    if center_group is not None:
        if not isinstance(center_group, dict):
            raise TypeError("center_group must be a dict: grouping factor -> list of columns, "
                            "e.g. {'schoolid': ['escs']}")
        for g, cols in center_group.items():
            if g not in groups:
                raise ValueError(f"center_group: {g!r} is not a grouping factor of the model "
                                 f"(grouping factors: {sorted(groups)})")
            cols = [cols] if isinstance(cols, str) else list(cols)
            _check_cols(cols, model_cols, "center_group")
            cg[g] = cols
    grand = []
    if center_grand is not None:
        grand = [center_grand] if isinstance(center_grand, str) else list(center_grand)
        _check_cols(grand, model_cols, "center_grand")
    return cg, grand


def _check_cols(cols, model_cols, arg):
    for c in cols:
        if c not in model_cols:
            raise ValueError(f"{arg}: column {c!r} is not a predictor in the model "
                             f"(predictors: {sorted(model_cols)})")


def make_centering(center_group: dict, center_grand: list):
    """A design transform that centres the given columns (see ``build_design``).

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

    def transform(frame: pd.DataFrame, levels, arrays, spec) -> pd.DataFrame:
        frame = frame.copy()
        w = arrays[spec[0]] if spec[0] is not None else np.ones(len(frame))
        by_name = {lev.name: lev for lev in levels}
        for g, cols in center_group.items():
            lev = by_name[g]
            sw = group_sum(w, lev.starts)
            for c in cols:
                x = _numeric(frame, c)
                mean = group_sum(w * x, lev.starts) / sw
                frame[c] = x - mean[lev.codes]
        for c in center_grand:
            x = _numeric(frame, c)
            frame[c] = x - np.sum(w * x) / np.sum(w)
        return frame

    return transform


def _numeric(frame, c):
    s = frame[c]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise TypeError(f"cannot centre column {c!r}: it is not numeric (dtype {s.dtype})")
    return s.to_numpy(dtype=float)
