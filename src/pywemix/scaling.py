"""Scaling of level-1 weights within groups, and survey presets.

Method A (``"size"``, Stata's ``pwscale(size)``): weights sum to the group's
sample size; method B (``"effective"``, ``pwscale(effective)``): they sum to
the group's effective sample size (WeMix vignette eqs. 10-11; EdSurvey note
eqs. 3-5 and Table 1). Both give *conditional* level-1 weights and do not
depend on whether the weights given are conditional or unconditional.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import check_columns, to_pandas
from .levels import group_codes
from .sufficient import group_sum

__all__ = ["scale_weights", "scale_within", "normalize_scaling", "survey_preset", "SURVEYS"]

_ALIASES = {"none": "none", None: "none", "size": "size", "a": "size", "effective": "effective",
            "b": "effective"}

#: Survey presets: level-1 scaling, and whether the weights must be unconditional.
SURVEYS = {
    "PISA": dict(weight_scaling="size", note="method A at level 1, none above"),
    "TIMSS": dict(weight_scaling="none", unconditional=True,
                  note="level 1 = total student weight / school weight, none above"),
    "TIMSS ADVANCED": dict(weight_scaling="none", unconditional=True,
                           note="level 1 = total student weight / school weight"),
    "PIRLS": dict(weight_scaling="none", unconditional=True,
                  note="level 1 = total student weight / school weight, none above"),
    "NAEP": dict(weight_scaling="none", note="no scaling"),
}


def normalize_scaling(method) -> str:
    """``"none"``, ``"size"`` or ``"effective"`` from a name or alias (A, B)."""
    key = method.lower() if isinstance(method, str) else method
    if key not in _ALIASES:
        raise ValueError(f"unknown weight_scaling {method!r}; use 'none', 'size' (method A) "
                         "or 'effective' (method B)")
    return _ALIASES[key]


def survey_preset(survey: str) -> dict:
    """The preset of a survey name (case-insensitive)."""
    if not isinstance(survey, str) or survey.upper() not in SURVEYS:
        raise ValueError(f"unknown survey preset {survey!r}; known: "
                         f"{', '.join(sorted(SURVEYS))}")
    return dict(SURVEYS[survey.upper()], name=survey.upper())


def scale_within(w: np.ndarray, starts: np.ndarray, method: str) -> np.ndarray:
    """Scale weights within contiguous groups.

    Notes
    -----
    Method A: :math:`w^*_{ij} = w_{ij}\\, n_j / \\sum_i w_{ij}`;
    method B: :math:`w^*_{ij} = w_{ij} \\sum_i w_{ij} / \\sum_i w_{ij}^2`,
    where :math:`n_j` counts the rows of group j with a positive weight.
    """
    method = normalize_scaling(method)
    if method == "none":
        return w
    ends = np.r_[starts[1:], len(w)]
    codes = np.repeat(np.arange(len(starts)), ends - starts)
    s1 = group_sum(w, starts)
    if method == "size":
        factor = group_sum((w > 0).astype(float), starts) / s1
    else:
        factor = s1 / group_sum(w * w, starts)
    return w * factor[codes]


def scale_weights(data, weight: str, group, method: str = "size") -> pd.Series:
    """Scaled (conditional) level-1 weights, as a Series aligned with ``data``.

    Parameters
    ----------
    data : DataFrame
    weight : str
        Level-1 weight column (conditional or unconditional: the result is
        the same).
    group : str or list of str
        Column(s) identifying the level-2 groups.
    method : {"size", "effective", "A", "B"}
        Method A (sum to the group's sample size) or B (effective size).

    Examples
    --------
    >>> data["w1_scaled"] = scale_weights(data, "pwt1", "schoolid", "size")  # doctest: +SKIP
    """
    data = to_pandas(data)
    groups = [group] if isinstance(group, str) else list(group)
    check_columns(data, [weight] + groups)
    if normalize_scaling(method) == "none":
        return data[weight].astype(float).rename(f"{weight}_scaled")
    w = data[weight].to_numpy(dtype=float)
    if np.any(w[np.isfinite(w)] < 0):
        raise ValueError(f"weight column {weight!r} has negative values")
    codes = group_codes(data, groups)
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    out = np.empty_like(w)
    out[order] = scale_within(np.nan_to_num(w[order], nan=0.0), starts, method)
    out[~np.isfinite(w)] = np.nan
    return pd.Series(out, index=data.index, name=f"{weight}_scaled")
