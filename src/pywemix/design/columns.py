"""Design columns of plain terms, straight from the model frame's category codes.

Most survey models name columns only: ``y ~ x + f + (1 + x | g)``. Their
design is the intercept, the numeric columns as they are and, for a
categorical, one indicator column per level (treatment contrasts; the first
level is the reference when the columns it would add are already spanned).
This module builds that matrix directly from the frame (a categorical's codes
are those the model frame holds), with formulaic's column names and term
order, so that the numbers are those of formulaic's ``model_matrix`` to the
bit (tested). Anything else -- transforms, interactions, ``C()``, splines,
learned state -- is left to formulaic (:func:`plain_matrix` returns None).

R equivalent: ``stats::model.matrix`` with ``contr.treatment``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from formulaic import Formula

__all__ = ["TermColumns", "plain_terms", "plain_matrix"]


class TermColumns(NamedTuple):
    """The columns one term of a formula gives (formulaic's ``structure`` entry)."""

    term: str
    columns: list


@lru_cache(maxsize=512)
def plain_terms(expr: str):
    """The terms of a right-hand side ``expr`` if each is the intercept or one
    column name, in formulaic's order (intercept first); else None.

    Returns
    -------
    tuple of str or None
        ``"1"`` for the intercept, a column name otherwise.
    """
    try:
        terms = list(Formula(expr))
    except Exception:  # noqa: BLE001 - formulaic reports it when it builds the matrix
        return None
    out = []
    for term in terms:
        if len(term.factors) != 1:
            return None
        factor = term.factors[0]
        method = factor.eval_method.value
        if method == "literal" and factor.expr == "1":
            out.append("1")
        elif method == "lookup":
            out.append(factor.expr)
        else:
            return None
    return tuple(out)


def _kind(series) -> str | None:
    """``"numeric"``, ``"categorical"`` or None (for formulaic to code)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return "numeric"
    return None


def plain_matrix(expr: str, frame: pd.DataFrame):
    """The design matrix of ``expr`` on ``frame`` when every term is plain.

    Parameters
    ----------
    expr : str
        A right-hand side (the fixed part, or a random term's effects).
    frame : DataFrame
        The model frame: complete rows; categoricals as pandas Categoricals
        without unused categories (:func:`~pywemix.design.frame.prepare_categoricals`).

    Returns
    -------
    (ndarray (n, p), list of str, list of TermColumns) or None
        The C-contiguous float matrix, its column names and the columns of
        each term; None when a term needs formulaic (a transform, an
        interaction, a column that is neither numeric nor categorical, a name
        that is not a column).

    Notes
    -----
    A categorical term is coded with all its levels when nothing before it
    spans the intercept (no intercept and no earlier categorical), else with
    every level but the first (formulaic's and patsy's full-rank rule for
    main effects). Names: ``f[T.b]`` (reduced), ``f[b]`` (full).
    """
    terms = plain_terms(expr)
    if terms is None:
        return None
    kinds: list[str | None] = []
    columns = {}  # each column read from the frame once
    for t in terms:
        if t == "1":
            kinds.append("1")
            continue
        if t not in frame.columns:
            return None
        columns[t] = frame[t]
        kinds.append(_kind(columns[t]))
        if kinds[-1] is None:
            return None
    n = len(frame)
    blocks: list[tuple[str, np.ndarray | None, int]] = []
    names: list[str] = []
    structure: list = []
    spanned = False
    for t, kind in zip(terms, kinds):
        if kind == "1":
            cols, spanned = ["Intercept"], True
            blocks.append(("1", None, 0))
        elif kind == "numeric":
            cols = [t]
            blocks.append(("numeric", columns[t].to_numpy(), 0))
        else:
            values = columns[t].array
            levels = list(values.categories)
            first = 1 if spanned else 0
            fmt = "{name}[T.{field}]" if spanned else "{name}[{field}]"
            cols = [fmt.format(name=t, field=level) for level in levels[first:]]
            blocks.append(("categorical", np.asarray(values.codes), first))
            spanned = True
        names.extend(cols)
        structure.append(TermColumns(t, cols))
    return _fill(n, blocks, [len(s.columns) for s in structure]), names, structure


def _fill(n: int, blocks, widths) -> np.ndarray:
    """The matrix of :func:`plain_matrix`'s column blocks."""
    M = np.zeros((n, sum(widths)))
    j = 0
    for (kind, values, first), width in zip(blocks, widths):
        if kind == "1":
            M[:, j] = 1.0
        elif kind == "numeric":
            M[:, j] = values
        else:
            # the indicator of level k (k >= first) is column j + k - first
            rows = np.flatnonzero(values >= first) if first else np.arange(n)
            M[rows, j + values[rows] - first] = 1.0
        j += width
    return M
