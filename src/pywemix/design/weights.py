"""Sampling weights at every level: checks and conditional weights.

Survey files usually carry *unconditional* weights (the inverse of the overall
probability that a unit is in the sample); the likelihood needs *conditional*
ones (the inverse probability of a unit given its parent group). With
unconditional weights ``w_1, ..., w_L`` (level 1 first), the conditional
weight at level l is ``w_l / w_(l+1)`` and at the top level ``w_L``, as in
WeMix (argument ``cWeights``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..warnings import DataWarning, WeightWarning, warn
from .frame import check_columns

__all__ = [
    "check_unconditional",
    "normalize_weight_spec",
    "validate_weights",
    "constant_within",
    "zero_weight_rows",
    "conditional_weights",
]


#: Largest weight accepted: products and squares of weights (sandwich
#: variances) must stay finite in double precision.
MAX_WEIGHT = 1e100


def normalize_weight_spec(weights, n_levels: int) -> list:
    """Check the ``weights`` argument and return one entry (str or None) per level."""
    if weights is None:
        return [None] * n_levels
    if not isinstance(weights, (list, tuple, np.ndarray, pd.Index, pd.Series, str)):
        raise TypeError(
            f"weights must be a list with one column name (or None) per level, "
            f"level 1 first; got {type(weights).__name__} {weights!r}"
        )
    if isinstance(weights, str):
        raise TypeError(
            f"weights must be a list with one column name (or None) per level, level 1 "
            f"first; got the string {weights!r}. This model has {n_levels} levels, for "
            f"example weights=[{weights!r}, ...]"
        )
    weights = list(weights)
    if len(weights) != n_levels:
        raise ValueError(
            f"wrong number of weights: the model has {n_levels} levels (observations "
            f"and {n_levels - 1} grouping factor{'s' if n_levels > 2 else ''}), so "
            f"weights needs {n_levels} entries, level 1 first; got {len(weights)}"
        )
    for w in weights:
        if w is not None and not isinstance(w, str):
            raise TypeError(f"each weight must be a column name or None, got {w!r}")
    return weights


def validate_weights(frame: pd.DataFrame, spec) -> dict:
    """Check weight columns: present, numeric, finite, not missing, not negative.

    Returns a dict column -> float array.
    """
    cols = [w for w in spec if w is not None]
    check_columns(frame, cols, "weight column")
    out = {}
    for c in dict.fromkeys(cols):
        s = frame[c]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise TypeError(f"weight column {c!r} must be numeric, got dtype {s.dtype}")
        v = s.to_numpy(dtype=float)
        if not np.isfinite(v).all():
            n_na = int(np.isnan(v).sum())
            if n_na:
                raise ValueError(
                    f"weight column {c!r} has {n_na} missing values: weights "
                    "must be given for every row the model uses"
                )
            raise ValueError(f"weight column {c!r} has {int(np.isinf(v).sum())} infinite values")
        if v.max(initial=0.0) > MAX_WEIGHT:
            raise ValueError(
                f"weight column {c!r} has values up to {v.max():.3g}: weights above "
                f"{MAX_WEIGHT:g} cannot be handled in double precision; rescale them "
                "(a common factor of the top-level weights does not change the estimates)"
            )
        n_neg = int((v < 0).sum()) if v.min(initial=0.0) < 0 else 0
        if n_neg:
            raise ValueError(
                f"weight column {c!r} has {n_neg} negative values "
                f"(smallest {v.min():g}); weights must be >= 0"
            )
        out[c] = v
    return out


def constant_within(
    values: np.ndarray, codes: np.ndarray, column: str, level_name: str, labels
) -> None:
    """Raise if ``values`` vary within a group given by ``codes``."""
    n = int(codes.max()) + 1
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, codes, values)
    np.maximum.at(hi, codes, values)
    bad = np.flatnonzero(hi - lo > 1e-9 * np.maximum(1.0, np.abs(hi)))
    if len(bad):
        g = bad[0]
        raise ValueError(
            f"weight column {column!r} varies within {level_name} {labels(g)} "
            f"(from {lo[g]:g} to {hi[g]:g}) and in {len(bad)} {level_name} groups in "
            f"all: a level-2+ weight must be constant within its group. Check that the "
            f"weights are listed from level 1 up and that the nesting is the right way "
            f"round (in (1 | a/b), b is nested within a)"
        )


def zero_weight_rows(arrays, spec, level_codes, level_names) -> np.ndarray:
    """Rows to drop because their weight is zero at some level; warns with counts."""
    n = len(next(iter(arrays.values()))) if arrays else 0
    drop = np.zeros(n, dtype=bool)
    for lvl, col in enumerate(spec):
        if col is None:
            continue
        zero = arrays[col] == 0
        if not zero.any():
            continue
        if lvl == 0:
            warn(
                f"dropped {int(zero.sum())} rows with level-1 weight {col!r} equal to 0",
                DataWarning,
            )
        else:
            k = len(np.unique(level_codes[lvl - 1][zero]))
            warn(
                f"dropped {k} {level_names[lvl - 1]} groups "
                f"({int(zero.sum())} rows) with weight {col!r} equal to 0",
                DataWarning,
            )
        drop |= zero
    return drop


def conditional_weights(arrays, spec, cond_weights: bool) -> list:
    """Per-row conditional weights for each level (level 1 first).

    ``None`` at a level means a conditional weight of one there (no sampling at
    that level), whatever ``cond_weights`` says.

    Notes
    -----
    With unconditional weights :math:`w_l` the conditional weight is
    :math:`w_{l|l+1} = w_l / w_{l+1}`; a level without a weight column takes
    the unconditional weight of the level above it.
    """
    L = len(spec)
    if cond_weights:
        return [arrays[c] if c is not None else None for c in spec]
    uncond: list = [None] * (L + 1)
    for lvl in range(L - 1, -1, -1):
        col = spec[lvl]
        uncond[lvl] = arrays[col] if col is not None else uncond[lvl + 1]
    out: list = []
    for lvl in range(L):
        if spec[lvl] is None:
            out.append(None)
        elif uncond[lvl + 1] is None:
            out.append(uncond[lvl])
        else:
            out.append(uncond[lvl] / uncond[lvl + 1])
    return out


def check_unconditional(arrays, spec, levels) -> None:
    """Warn when unconditional level-1 weights look conditional already.

    Unconditional student weights are at least the school weight (a student's
    selection probability is at most the school's). If most level-1 weights
    are below the level-2 weights they are probably conditional, and dividing
    them by the school weight again is the double-division mistake of the
    WeMix vignette's Appendix C.
    """
    if len(spec) < 2 or spec[0] is None or spec[1] is None:
        return
    w1, w2 = arrays[spec[0]], arrays[spec[1]]
    frac = float(np.mean(w1 < w2))
    if frac > 0.5:
        warn(
            f"level-1 weights {spec[0]!r} are below the level-2 weights {spec[1]!r} in "
            f"{100 * frac:.0f}% of rows: they look conditional already. With "
            "cond_weights=False they are divided by the level-2 weight again; if they "
            "are conditional (student weight / school weight), pass cond_weights=True",
            WeightWarning,
        )
