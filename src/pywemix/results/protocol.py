"""The contract every result of pywemix keeps: :class:`Result` and its :class:`Report`.

Every object :func:`pywemix.mix` (or :func:`pywemix.pool`) returns implements
:class:`Result`: :class:`~pywemix.results.result.MixResult` (and its Dask
subclass :class:`~pywemix.dask.result.DaskMixResult`),
:class:`~pywemix.survey.ReplicateResult`,
:class:`~pywemix.survey.PlausibleValuesResult`,
:class:`~pywemix.survey.PooledResult` and :class:`~pywemix.survey.ByResult`
(whose tables are indexed by (group, term)). Code that takes "a pywemix
result" can be written against it:

>>> from pywemix.results.protocol import Result
>>> def report(result: Result) -> str:
...     return f"{result.default_kind}: {result.bse.round(2).to_dict()}"

The variance shown is always one covariance kind: ``default_kind`` unless a
method is given ``kind`` (or ``cov`` for :meth:`Result.wald_test`) from
``variance_kinds``; tables say which in ``attrs["variance"]``, reports in
their header. The classes are checked against the protocol structurally
(``isinstance(obj, Result)`` checks that the members exist).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pandas as pd

__all__ = ["Result", "Report"]


@runtime_checkable
class Report(Protocol):
    """A result's report (``result.summary()``): text, HTML, LaTeX, dict and JSON.

    ``as_dict()`` follows :meth:`pywemix.results.summary.Summary.as_dict`
    (by-group reports: :meth:`pywemix.survey.BySummary.as_dict`);
    ``to_json()`` is that dict as strict JSON, what ``pywemix fit --json``
    prints.
    """

    def as_text(self) -> str: ...

    def as_html(self) -> str: ...

    def as_latex(self) -> str: ...

    def as_dict(self) -> dict: ...

    def to_json(self, indent: int = 1) -> str: ...


@runtime_checkable
class Result(Protocol):
    """What every result offers, whatever produced it.

    Attributes
    ----------
    formula : str
        The model formula.
    params : Series
        Fixed-effect estimates (by-group results: indexed by (group, term)).
    bse : Series
        Their standard errors, of the default covariance kind.
    var_components : DataFrame
        Variance components with standard errors of the default kind.
    variance_kinds : tuple of str
        The covariance kinds available, the default first.
    default_kind : str
        The kind every output shows unless another is named.
    warnings : tuple of str
        The warnings issued while fitting.
    """

    formula: str

    @property
    def params(self) -> pd.Series: ...

    @property
    def bse(self) -> pd.Series: ...

    @property
    def var_components(self) -> pd.DataFrame: ...

    @property
    def variance_kinds(self) -> tuple: ...

    @property
    def default_kind(self) -> str: ...

    @property
    def warnings(self) -> tuple: ...

    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        """Covariance of the fixed effects (None: the default kind)."""

    def conf_int(self, alpha: float = 0.05, kind: str | None = None, which: str = "fixed",
                 *, cols: Any = None) -> pd.DataFrame:
        """Wald confidence intervals of the kind (``attrs["variance"]`` names it)."""

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """One row per parameter (``attrs["variance"]`` names the kind)."""

    def wald_test(self, terms: Any = None, *, R: Any = None, q: Any = None,
                  kind: str = "fixed", cov: str | None = None) -> Any:
        """A Wald test with covariance kind ``cov`` (None: the default); the
        result names the kind (``WaldTestResult.cov``; a by-group table's
        ``attrs["variance"]``)."""

    def summary(self) -> Report:
        """The report (its header names the covariance kind)."""

    def plot(self, kind: str = ...) -> Any:
        """A matplotlib Figure; ``"coef"`` draws ``conf_int()`` of the default kind."""
