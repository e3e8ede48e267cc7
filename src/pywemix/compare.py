"""Side-by-side comparison of fits (as linearmodels' ``compare``, pyfixest's
``etable``, R's ``modelsummary``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .results.inference import loglik_value

__all__ = ["compare", "ComparisonTable"]

_COUNT_ROWS = ("nobs", "top-level groups")


class ComparisonTable(pd.DataFrame):
    """The numeric table of :func:`compare`, printed in fixed notation.

    A DataFrame (slicing and arithmetic give plain DataFrames) whose text and
    HTML displays format each row on its own: counts as integers, the
    log-likelihood with two decimals, estimates and standard errors with the
    same number of decimals per row (about four significant digits of the
    row's largest value, two to six decimals). pandas' default display would
    switch a whole column to scientific notation as soon as a weighted
    log-likelihood (often of the order of -1e7) sits under small estimates.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def formatted(self) -> pd.DataFrame:
        """The table as strings, as printed (missing cells empty)."""
        out = pd.DataFrame("", index=self.index, columns=self.columns, dtype=object)
        for label in self.index:
            row = self.loc[label].to_numpy(dtype=float)
            out.loc[label] = _format_row(label, row)
        return out

    def __repr__(self) -> str:
        return self.formatted().to_string()

    def _repr_html_(self) -> str:
        return self.formatted().to_html()


def _format_row(label, row: np.ndarray) -> list:
    finite = np.abs(row[np.isfinite(row)])
    if label in _COUNT_ROWS:
        decimals = 0
    elif label == "llf":
        decimals = 2
    else:
        top = finite.max() if finite.size and finite.max() > 0 else 1.0
        decimals = int(min(6, max(2, 3 - np.floor(np.log10(top)))))
    return ["" if not np.isfinite(v) else f"{v:.{decimals}f}" for v in row]


def compare(*results, names=None, kind: str = "robust") -> pd.DataFrame:
    """A table with one column pair (estimate, std. error) per model.

    Parameters
    ----------
    *results : MixResult or PlausibleValuesResult
    names : list of str, optional
        Column labels (default ``"(1)"``, ``"(2)"``, ...).
    kind : {"robust", "model"}
        Standard errors to show.

    Returns
    -------
    ComparisonTable
        A DataFrame. Rows: the fixed effects and variance components of all
        models (``tidy()`` terms), then ``nobs``, ``llf`` and ``top-level
        groups``; columns: a MultiIndex (model, ``estimate`` / ``std_error``).
        It prints in fixed notation (see :class:`ComparisonTable`);
        ``.formatted()`` gives those strings.
    """
    if not results:
        raise ValueError("compare needs at least one fitted model")
    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])
    for r in results:
        if not hasattr(r, "tidy"):
            raise TypeError(f"compare takes fitted models, got {type(r).__name__}")
    names = [f"({k + 1})" for k in range(len(results))] if names is None else list(names)
    if len(names) != len(results):
        raise ValueError(f"{len(names)} names for {len(results)} models")
    if len(set(names)) != len(names):
        raise ValueError("model names must be distinct")
    parts, order = [], []
    for name, r in zip(names, results):
        t = r.tidy(kind=kind).set_index("term")[["estimate", "std_error"]]
        order.extend(t.index)
        parts.append(t)
    terms = list(dict.fromkeys(order))
    fixed = [t for t in terms if not t.startswith(("var(", "cov(", "sd("))]
    variance = [t for t in terms if t not in fixed]
    rows = fixed + variance
    table = pd.concat([p.reindex(rows) for p in parts], axis=1, keys=names)
    foot = pd.DataFrame(
        {(n, "estimate"): [r.nobs, loglik_value(r),
                           int(r.groups["n_units"].iloc[-1])]
         for n, r in zip(names, results)},
        index=["nobs", "llf", "top-level groups"])
    for n in names:
        foot[(n, "std_error")] = np.nan
    foot = foot[table.columns]
    return ComparisonTable(pd.concat([table, foot]))
