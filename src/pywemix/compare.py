"""Side-by-side comparison of fits (as linearmodels' ``compare``, pyfixest's
``etable``, R's ``modelsummary``)."""
from __future__ import annotations

import numpy as np
import pandas as pd


__all__ = ["compare"]


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
    DataFrame
        Rows: the fixed effects and variance components of all models
        (``tidy()`` terms), then ``nobs``, ``llf`` and ``groups``; columns: a
        MultiIndex (model, ``estimate`` / ``std_error``).
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
        {(n, "estimate"): [r.nobs, np.nan if r.llf is None else r.llf,
                           int(r.groups["n_units"].iloc[-1])]
         for n, r in zip(names, results)},
        index=["nobs", "llf", "top-level groups"])
    for n in names:
        foot[(n, "std_error")] = np.nan
    foot = foot[table.columns]
    return pd.concat([table, foot])
