"""Side-by-side comparison of fits (as linearmodels' ``compare``, pyfixest's
``etable``, R's ``modelsummary``)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .results.inference import loglik_value
from .survey import ByResult

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

    def standard_errors_note(self) -> str:
        """Which covariance kind each model's standard errors are (one line)."""
        described = self.attrs.get("variance_description", {})
        texts = list(dict.fromkeys(described.values()))
        if len(texts) == 1:
            return f"Standard errors: {texts[0]}"
        return "Standard errors: " + "; ".join(f"{n}: {d}" for n, d in described.items())

    def __repr__(self) -> str:
        return self.formatted().to_string() + "\n" + self.standard_errors_note()

    def _repr_html_(self) -> str:
        return self.formatted().to_html() + f"<p>{html.escape(self.standard_errors_note())}</p>"


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


def compare(*results, names: list | tuple | None = None, kind: str | None = None) -> pd.DataFrame:
    """
    Show the estimates of several fits side by side, as R's ``modelsummary``.

    One column pair (estimate, std. error) per model.

    Parameters
    ----------
    *results : results of :func:`pywemix.mix`
        Fits (any result type); a :class:`~pywemix.survey.ByResult` gives one
        column pair per group, labelled by its value.
    names : list of str, optional
        Column labels, one per column pair (default ``"(1)"``, ``"(2)"``,
        ..., and the values of a ``ByResult``'s groups).
    kind : str, optional
        Standard errors to show: None (default) each model's default
        covariance kind (cluster-robust, or replication for replicate
        weights, ...); or a kind every model has (``"robust"``, ``"model"``).

    Returns
    -------
    ComparisonTable
        A DataFrame. Rows: the fixed effects and variance components of all
        models (``tidy()`` terms), then ``nobs``, ``llf`` and ``top-level
        groups``; columns: a MultiIndex (model, ``estimate`` / ``std_error``).
        It prints in fixed notation (see :class:`ComparisonTable`), with a
        line saying which kind of standard errors each model shows;
        ``.formatted()`` gives the strings of the table, ``attrs["variance"]``
        and ``attrs["variance_description"]`` the kind of each column pair.

    Raises
    ------
    ValueError
        Without models, with a wrong number of names or repeated names, or a
        ``kind`` some model does not have.
    TypeError
        If an argument is not a fitted model.

    See Also
    --------
    anova : Likelihood-ratio tests of nested fits.

    Examples
    --------
    >>> import pywemix
    >>> sleep = pywemix.datasets.load_sleepstudy()
    >>> m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", sleep)
    >>> m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep)
    >>> table = pywemix.compare(m0, m1, names=["intercept", "slope"])
    >>> round(float(table.loc["Days", ("slope", "estimate")]), 2)
    10.47
    """
    if not results:
        raise ValueError("compare needs at least one fitted model")
    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])
    for r in results:
        if not hasattr(r, "tidy"):
            raise TypeError(f"compare takes fitted models, got {type(r).__name__}")
    labels, fits = [], []
    for k, r in enumerate(results):
        groups = list(r.items()) if isinstance(r, ByResult) else [(f"({k + 1})", r)]
        labels += [str(g) for g, _ in groups]
        fits += [f for _, f in groups]
    results = tuple(fits)
    names = labels if names is None else list(names)
    if len(names) != len(results):
        raise ValueError(f"{len(names)} names for {len(results)} models")
    if len(set(names)) != len(names):
        raise ValueError("model names must be distinct")
    parts, order, kinds = [], [], {}
    for name, r in zip(names, results):
        t = r.tidy(kind=kind).set_index("term")
        kinds[name] = (t.attrs["variance"], t.attrs["variance_description"])
        t = t[["estimate", "std_error"]]
        order.extend(t.index)
        parts.append(t)
    terms = list(dict.fromkeys(order))
    fixed = [t for t in terms if not t.startswith(("var(", "cov(", "sd("))]
    variance = [t for t in terms if t not in fixed]
    rows = fixed + variance
    table = pd.concat([p.reindex(rows) for p in parts], axis=1, keys=names)
    foot = pd.DataFrame(
        {
            (n, "estimate"): [r.nobs, loglik_value(r), int(r.groups["n_units"].iloc[-1])]
            for n, r in zip(names, results)
        },
        index=["nobs", "llf", "top-level groups"],
    )
    for n in names:
        foot[(n, "std_error")] = np.nan
    foot = foot[table.columns]
    out = ComparisonTable(pd.concat([table, foot]))
    out.attrs = {
        "variance": {n: k for n, (k, _) in kinds.items()},
        "variance_description": {n: d for n, (_, d) in kinds.items()},
    }
    return out
