"""Checks of a model's columns that catch silently wrong fits.

Each check names the column, term or grouping factor at fault. R's
``model.frame``/``model.matrix`` and lme4's ``lFormula`` make the same kinds
of refusal (a factor with one level, a response on both sides, values out of
double-precision range).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from ..warnings import DataWarning, warn

__all__ = [
    "check_response_not_predictor",
    "check_terms",
    "check_magnitude",
    "check_centered",
    "warn_dependent_random",
    "check_mixed_types",
    "badly_scaled",
    "warn_scales",
    "warn_numbers_as_text",
    "warn_number_levels",
]

#: values beyond this magnitude overflow once squared or multiplied by weights
_HUGE = 1e100
#: nonzero values all below this magnitude underflow once squared
_TINY = 1e-100
#: lme4's check.scaleX tolerance: standard deviations beyond 1e3 or below
#: 1e-3, or differing by more than a factor of 1e3
_SCALE_TOL = 1e3


def check_response_not_predictor(parsed, predictors) -> None:
    """Refuse a response column that is also a predictor or grouping factor."""
    if parsed.response_is_column and parsed.response in predictors:
        raise ValueError(
            f"the response {parsed.response!r} also appears on the right of '~' (as a "
            "predictor or grouping factor): it would explain itself; remove it there"
        )


def check_terms(structure, what: str = "fixed-effects") -> None:
    """Refuse terms that give no column, and columns named twice.

    ``structure``: per term, an entry with ``term`` and ``columns`` (a
    formulaic ModelSpec's ``structure``).

    formulaic drops a categorical with a single level from a model with an
    intercept (R's ``model.matrix`` stops: "contrasts can be applied only to
    factors with 2 or more levels"); a data column called ``Intercept`` is
    merged with the intercept.
    """
    seen: dict = {}
    for part in structure:
        term = str(part.term)
        if not part.columns and term != "1":
            raise ValueError(
                f"{what} term {term!r} gives no column: a categorical with a single "
                "level in the rows used cannot be estimated beside the intercept; drop it "
                "from the formula"
            )
        for col in part.columns:
            if col in seen and seen[col] != term:
                raise ValueError(
                    f"{what} column {col!r} comes from two terms ({seen[col]!r} and "
                    f"{term!r}): rename the data column {term!r}"
                )
            seen[col] = term


def check_magnitude(M: np.ndarray, names, what: str) -> None:
    """Refuse columns whose values overflow or underflow double precision.

    Parameters
    ----------
    M : ndarray (n,) or (n, p)
        Finite values.
    names : sequence of str
        Column names, for the message.
    what : str
        "response", "fixed-effect column", ...
    """
    A = np.abs(np.asarray(M, dtype=float).reshape(len(M), -1))
    if A.size == 0:
        return
    top = A.max(axis=0)
    for j, name in enumerate(names):
        if top[j] > _HUGE:
            raise ValueError(
                f"{what} {name!r} has values up to {top[j]:.3g}: values above {_HUGE:g} "
                "cannot be handled in double precision; rescale it (e.g. divide by a "
                "power of 10)"
            )
        if 0 < top[j] < _TINY:
            raise ValueError(
                f"{what} {name!r} has values no larger than {top[j]:.3g}: values below "
                f"{_TINY:g} cannot be handled in double precision; rescale it (e.g. "
                "multiply by a power of 10)"
            )


def check_centered(before: pd.DataFrame, after: pd.DataFrame) -> None:
    """Refuse a centred column that centring reduced to rounding error.

    A column constant within the groups it is centred on becomes zero up to
    rounding, and its coefficient the ratio of two rounding errors.
    """
    for c in after.columns:
        if c not in before.columns or not pd.api.types.is_float_dtype(after[c].dtype):
            continue
        old = np.asarray(before[c], dtype=float)
        new = np.asarray(after[c], dtype=float)
        if old.shape != new.shape or np.array_equal(old, new, equal_nan=True):
            continue
        scale = np.nanmax(np.abs(old)) if old.size else 0.0
        if scale > 0 and np.nanmax(np.abs(new)) <= 1e-10 * scale:
            raise ValueError(
                f"centring {c!r} leaves nothing: it is constant within the groups it is "
                "centred on (or overall, for center_grand), so its centred values are "
                "zero; leave it out of the centring or the model"
            )


def warn_dependent_random(Z: np.ndarray, names, group: str) -> None:
    """Warn when a grouping factor's random-effect columns are linearly dependent.

    lme4 fits such models, e.g. ``(f || g)`` for a factor ``f``
    (``(1 | g) + (0 + f | g)``), or a random slope of a variable constant in
    the data; the variances of the dependent effects are then not separately
    identified (only their combination is), so the warning is recorded.
    """
    if Z.shape[1] < 2:
        return
    norms = np.sqrt(np.einsum("ij,ij->j", Z, Z))
    if np.any(norms == 0):
        dependent = [names[j] for j in np.flatnonzero(norms == 0)]
        how = "zero in every row used"
    else:
        C = (Z / norms).T @ (Z / norms)
        _, piv, rank, _ = lapack.dpstrf(C, lower=1, tol=1e-12)
        if rank == Z.shape[1]:
            return
        dependent = [names[j] for j in sorted(piv[rank:] - 1)]
        how = f"a linear combination of the other effects of {group!r} in the data"
    warn(
        f"random effects of {group!r}: {', '.join(map(repr, dependent))} "
        f"{'is' if len(dependent) == 1 else 'are'} {how} ({', '.join(map(repr, names))}): "
        "their variances and covariances are not separately identified",
        DataWarning,
    )


def check_mixed_types(s: pd.Series, column: str) -> None:
    """Refuse an object column whose distinct values share a text form (``1`` and
    ``"1"``), which coding as text would merge."""
    values = s.dropna()
    try:
        n_distinct = values.nunique()
    except TypeError:  # unhashable values (lists, dicts): coded by their text
        return
    if values.astype(str).nunique() < n_distinct:
        types = sorted({type(v).__name__ for v in values})
        raise TypeError(
            f"column {column!r} mixes value types ({', '.join(types)}) with values that "
            "read the same (such as 1 and '1'): convert it to one type"
        )


def badly_scaled(X: np.ndarray, names) -> dict:
    """``name -> standard deviation`` of the continuous columns (not all 0/1)
    whose scale lme4's ``checkScaleX`` would report: an SD beyond
    ``[1e-3, 1e3]``, or all of them when two SDs differ by more than 1e3."""
    binary = ((X == 0.0) | (X == 1.0)).all(axis=0)
    cont = [j for j in range(X.shape[1]) if not binary[j]]
    sd = {names[j]: float(np.std(X[:, j], ddof=1)) for j in cont if len(X) > 1}
    sd = {k: v for k, v in sd.items() if v > 0}
    if not sd:
        return {}
    values = np.array(list(sd.values()))
    if values.max() / values.min() > _SCALE_TOL:
        return sd
    return {k: v for k, v in sd.items() if not 1 / _SCALE_TOL <= v <= _SCALE_TOL}


def warn_scales(X: np.ndarray, names) -> None:
    """Warn, as lme4's ``check.scaleX``, when predictors are on very different scales.

    The optimisers work on the scale of the data: a predictor with a standard
    deviation of 1e-4 (or 1e4) beside others of about 1 makes the random-slope
    parameters differ by orders of magnitude, which slows or stops the fit.
    """
    bad = badly_scaled(X, names)
    if bad:
        warn(
            "some predictors are on very different scales (standard deviations "
            f"{', '.join(f'{k!r}: {v:.3g}' for k, v in bad.items())}): rescale them (e.g. "
            "divide by a power of 10) for a reliable fit",
            DataWarning,
        )


def warn_numbers_as_text(frame: pd.DataFrame, columns, min_levels: int = 10) -> None:
    """Warn about predictor columns of text that all read as numbers.

    Such a column (a CSV column with one stray character, numbers exported
    as strings) is coded as a categorical, as R codes a character column as
    a factor; with more than ``min_levels`` distinct values it was most
    likely meant as a number (:func:`warn_number_levels` of each column).
    """
    for c in columns:
        s = frame[c]
        if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            warn_number_levels(c, s.dropna().unique(), min_levels)


def warn_number_levels(column: str, distinct, min_levels: int = 10) -> None:
    """The warning of :func:`warn_numbers_as_text` from a text column's
    distinct (non-missing) values."""
    if len(distinct) <= min_levels or not all(isinstance(v, str) for v in distinct):
        return
    if pd.to_numeric(pd.Series(distinct), errors="coerce").notna().all():
        warn(
            f"column {column!r} holds numbers stored as text: it is coded as a categorical "
            f"with {len(distinct)} levels; if it is a number, convert it with "
            f"pd.to_numeric(data[{column!r}])",
            DataWarning,
        )
