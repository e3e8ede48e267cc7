"""Scaling of level-1 weights within groups (the survey presets that choose
one are in :mod:`pywemix.presets`).

Method A (``"size"``, Stata's ``pwscale(size)``): weights sum to the group's
sample size; method B (``"effective"``, ``pwscale(effective)``): they sum to
the group's effective sample size (WeMix vignette eqs. 10-11; EdSurvey note
eqs. 3-5 and Table 1). Both give *conditional* level-1 weights and do not
depend on whether the weights given are conditional or unconditional.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..warnings import WeightWarning, warn
from .frame import check_columns, to_pandas
from .levels import group_codes
from .sufficient import group_sum

__all__ = [
    "scale_weights",
    "scale_within",
    "normalize_scaling",
    "warn_unscaled",
    "warn_unscaled_sums",
    "SMALL_GROUP",
    "PRESET_NONE",
]

#: ``weight_scaling`` value meaning "no scaling, chosen by a survey preset"
#: (TIMSS, PIRLS, NAEP: the EdSurvey note recommends no level-1 scaling for
#: them). It scales as ``"none"`` but gives no unscaled-weight warning: the
#: preset is an informed choice. ``mix(..., survey=...)`` passes it to
#: :func:`~pywemix.design.model.build_design`; results record ``"none"``.
PRESET_NONE = "none (survey preset)"

#: Median level-2 group size below which unscaled, varying level-1 weights are
#: warned about (see :func:`warn_unscaled`).
SMALL_GROUP = 30

_ALIASES = {
    "none": "none",
    None: "none",
    PRESET_NONE: "none",
    "size": "size",
    "a": "size",
    "effective": "effective",
    "b": "effective",
}


def normalize_scaling(method, name: str = "weight_scaling") -> str:
    """``"none"``, ``"size"`` or ``"effective"`` from a name or alias (A, B).

    Parameters
    ----------
    method : str or None
        A method name or alias (case-insensitive); None means ``"none"``.
    name : str
        The argument's name, for error messages.
    """
    if method is not None and not isinstance(method, str):
        raise TypeError(
            f"{name} must be a string ('none', 'size' or 'effective'), got "
            f"{type(method).__name__} {method!r}"
        )
    key = method.lower() if isinstance(method, str) else method
    if key not in _ALIASES:
        raise ValueError(
            f"unknown {name} {method!r}; use 'none', 'size' (method A) or 'effective' (method B)"
        )
    return _ALIASES[key]


def scale_within(w: np.ndarray, starts: np.ndarray, method: str) -> np.ndarray:
    """Scale weights within contiguous groups.

    Notes
    -----
    Method A: :math:`w^*_{ij} = w_{ij}\\, n_j / \\sum_i w_{ij}`;
    method B: :math:`w^*_{ij} = w_{ij} \\sum_i w_{ij} / \\sum_i w_{ij}^2`,
    where :math:`n_j` counts the rows of group j with a positive weight. A
    group whose weights are all zero keeps them at zero.
    """
    method = normalize_scaling(method)
    if method == "none":
        return w
    ends = np.r_[starts[1:], len(w)]
    codes = np.repeat(np.arange(len(starts)), ends - starts)
    s1 = group_sum(w, starts)
    num, den = (
        (group_sum((w > 0).astype(float), starts), s1)
        if method == "size"
        else (s1, group_sum(w * w, starts))
    )
    factor = np.divide(num, den, out=np.zeros_like(s1, dtype=float), where=den > 0)
    return w * factor[codes]


def warn_unscaled(
    w: np.ndarray, starts: np.ndarray, method: str, group: str = "level-2 groups"
) -> bool:
    """Warn when unscaled level-1 weights vary within small level-2 groups.

    Parameters
    ----------
    w : ndarray (n,)
        Conditional level-1 weights, rows sorted by group (zero weights
        already dropped).
    starts : ndarray (J,)
        First row of each level-2 group.
    method : str
        The ``weight_scaling`` asked for; only ``"none"`` can warn
        (:data:`PRESET_NONE`, no scaling chosen by a survey preset, does not).
    group : str
        The level-2 grouping factor's name, for the message.

    Returns
    -------
    bool
        Whether a :class:`~pywemix.warnings.WeightWarning` was issued.

    Notes
    -----
    Unscaled level-1 weights inflate each group's apparent size from
    :math:`n_j` to :math:`\\sum_i w_{i|j}`; with few rows per group the
    pseudo-maximum-likelihood estimates of the variance components are then
    biased, and scaling (method A or B) reduces the bias (Pfeffermann,
    Skinner, Holmes, Goldstein and Rasbash, 1998, JRSS B 60, 23-40;
    Rabe-Hesketh and Skrondal, 2006, JRSS A 169, 805-827; the EdSurvey note
    on mixed models: "especially when level-1 weights are very different
    from 1 and cluster size ... is small"). The warning is given when

    * no scaling is asked for (``method == "none"``),
    * the weights vary within some group (Kish's design effect
      :math:`n_j \\sum_i w_{i|j}^2 / (\\sum_i w_{i|j})^2` exceeds 1 by more
      than rounding): weights constant within every group only rescale
      each group's level-1 contribution,
    * they are not already scaled (sums equal to :math:`n_j`, method A, or
      to the effective size :math:`(\\sum_i w)^2 / \\sum_i w^2`, method B),
    * and the median group size is below :data:`SMALL_GROUP` (30). The
      literature gives no sharp cut-off: 30 covers school samples of PISA,
      TIMSS and PIRLS (about 20-35 students per school), where
      Rabe-Hesketh and Skrondal (2006) found that scaling changes the
      estimates.
    """
    if method == PRESET_NONE or normalize_scaling(method) != "none" or len(starts) == 0:
        return False
    sizes = np.diff(np.append(starts, len(w))).astype(float)
    return warn_unscaled_sums(sizes, group_sum(w, starts), group_sum(w * w, starts), method, group)


def warn_unscaled_sums(sizes, s1, s2, method: str, group: str = "level-2 groups") -> bool:
    """:func:`warn_unscaled` from each group's row count, sum of weights and sum
    of squared weights (for statistics added up over partitions)."""
    if method == PRESET_NONE or normalize_scaling(method) != "none" or len(sizes) == 0:
        return False
    sizes = np.asarray(sizes, dtype=float)
    median = float(np.median(sizes))
    if median >= SMALL_GROUP:
        return False
    tol = 1e-6
    if np.all(sizes * s2 <= (1 + tol) * s1 * s1):
        return False  # constant within every group
    if np.allclose(s1, sizes, rtol=tol, atol=0) or np.allclose(s2, s1, rtol=tol, atol=0):
        return False  # already scaled by method A or B
    warn(
        f"the level-1 weights vary within the groups of {group} and are not scaled, "
        f"and the groups are small (median {median:g} rows): unscaled level-1 weights "
        "can bias the variance components in small groups (Rabe-Hesketh & Skrondal "
        "2006); consider weight_scaling='size' (method A, EdSurvey's choice for PISA) "
        "or 'effective' (method B), and compare with this fit",
        WeightWarning,
    )
    return True


def scale_weights(data, weight: str, group: str | list[str], method: str = "size") -> pd.Series:
    """
    Scaled (conditional) level-1 weights, as a Series aligned with ``data``.

    Parameters
    ----------
    data : DataFrame
        The data (pandas or polars).
    weight : str
        Level-1 weight column (conditional or unconditional: the result is
        the same).
    group : str or list of str
        Column(s) identifying the level-2 groups.
    method : {"size", "effective", "A", "B", "none"}
        Method A (sum to the group's sample size) or B (effective size).

    Returns
    -------
    Series
        Named ``"<weight>_scaled"``. Rows with a missing weight or group id
        are NaN; a group whose weights are all zero keeps zeros.

    Raises
    ------
    TypeError
        If the weight column is not numeric (strings, booleans) or ``method``
        is not a string.
    ValueError
        If a weight is negative or infinite, a column is unknown or
        ``method`` is not a known method.

    See Also
    --------
    pywemix.mix : Scales the weights itself with ``weight_scaling=``.

    Notes
    -----
    Method A: :math:`w^*_{ij} = w_{ij}\\, n_j / \\sum_i w_{ij}`;
    method B: :math:`w^*_{ij} = w_{ij} \\sum_i w_{ij} / \\sum_i w_{ij}^2`,
    where :math:`n_j` counts the rows of group j with a positive weight
    (Rabe-Hesketh and Skrondal 2006; Pfeffermann et al. 1998). R
    equivalents: EdSurvey's scaling of the level-1 weights in ``mixed.sdf``;
    Stata's ``pwscale(size)`` and ``pwscale(effective)``.

    Examples
    --------
    Method A: in every school the weights add up to the number of students.

    >>> import pywemix
    >>> data = pywemix.datasets.load_pisa()
    >>> data["w1_scaled"] = pywemix.scale_weights(data, "pwt1", "schoolid", "size")
    >>> data.groupby("schoolid")["w1_scaled"].sum().head(2)
    schoolid
    1    15.0
    2    21.0
    Name: w1_scaled, dtype: float64
    """
    data = to_pandas(data)
    method = normalize_scaling(method, "method")
    groups = [group] if isinstance(group, str) else _as_list(group, "group")
    if isinstance(weight, (list, tuple, set, dict, np.ndarray, pd.Index, pd.Series)):
        raise TypeError(f"weight must be one column name, got {weight!r}")
    check_columns(data, [weight] + groups)
    w = _weight_values(data, weight)
    name = f"{weight}_scaled"
    if method == "none":
        return pd.Series(w, index=data.index, name=name)
    out = np.full(len(w), np.nan)
    ok = np.isfinite(w) & ~data[groups].isna().any(axis=1).to_numpy()
    if not ok.any():
        return pd.Series(out, index=data.index, name=name)
    codes = group_codes(data.loc[ok], groups)
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    scaled = np.empty(len(codes))
    scaled[order] = scale_within(w[ok][order], starts, method)
    out[ok] = scaled
    return pd.Series(out, index=data.index, name=name)


def _as_list(group, name):
    try:
        groups = list(group)
    except TypeError:
        raise TypeError(f"{name} must be a column name or a list of them, got {group!r}") from None
    if not groups:
        raise ValueError(f"{name} is empty: give the column(s) of the level-2 groups")
    return groups


def _weight_values(data, weight):
    """The weight column as floats; TypeError if not numeric, ValueError if
    negative or infinite (missing values stay missing)."""
    s = data[weight]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise TypeError(f"weight column {weight!r} must be numeric, got dtype {s.dtype}")
    w = s.to_numpy(dtype=float)
    if np.any(np.isinf(w)):
        raise ValueError(f"weight column {weight!r} has {int(np.isinf(w).sum())} infinite values")
    if np.any(w[np.isfinite(w)] < 0):
        raise ValueError(f"weight column {weight!r} has negative values")
    return w
