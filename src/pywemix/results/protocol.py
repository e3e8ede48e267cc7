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
class Report(Protocol):  # numpydoc ignore=PR01
    """A result's report (``result.summary()``): text, HTML, LaTeX, dict and JSON.

    ``as_dict()`` follows :meth:`pywemix.results.summary.Summary.as_dict`
    (by-group reports: :meth:`pywemix.survey.BySummary.as_dict`);
    ``to_json()`` is that dict as strict JSON, what ``pywemix fit --json``
    prints.
    """

    def as_text(self) -> str:
        """
        Render the report as plain text.

        Returns
        -------
        str
            The report as fixed-width text (what ``print(result.summary())`` shows).
        """

    def as_html(self) -> str:
        """
        Render the report as HTML.

        Returns
        -------
        str
            An HTML fragment (what Jupyter shows).
        """

    def as_latex(self) -> str:
        """
        Render the report as LaTeX.

        Returns
        -------
        str
            LaTeX ``tabular`` environments of the report's tables.
        """

    def as_dict(self) -> dict:
        """
        Return the report as a dictionary of plain Python values.

        Returns
        -------
        dict
            The report's fields, as :meth:`pywemix.results.summary.Summary.as_dict`
            describes them.
        """

    def to_json(self, indent: int = 1) -> str:
        """
        Return :meth:`as_dict` as strict JSON.

        Parameters
        ----------
        indent : int, default 1
            Indentation of the JSON text.

        Returns
        -------
        str
            The JSON text (strict: no NaN or Infinity).
        """


@runtime_checkable
class Result(Protocol):  # numpydoc ignore=PR01
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
    def params(self) -> pd.Series:
        """Fixed-effect estimates (by-group results: indexed by (group, term))."""

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects, of the default covariance kind."""

    @property
    def var_components(self) -> pd.DataFrame:
        """Variance components with standard errors of the default kind."""

    @property
    def variance_kinds(self) -> tuple:
        """The covariance kinds available, the default first."""

    @property
    def default_kind(self) -> str:
        """The covariance kind every output shows unless another is named."""

    @property
    def warnings(self) -> tuple:
        """The warnings issued while fitting."""

    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        """
        Covariance matrix of the fixed effects (R: ``vcov()``).

        Parameters
        ----------
        kind : str, optional
            One of ``variance_kinds``; None is ``default_kind``.

        Returns
        -------
        DataFrame
            Terms by terms; ``attrs["variance"]`` names the kind.
        """

    def conf_int(
        self,
        alpha: float = 0.05,
        kind: str | None = None,
        which: str = "fixed",
        *,
        cols: Any = None,
    ) -> pd.DataFrame:
        """
        Wald confidence intervals (R: ``confint(method = "Wald")``).

        Parameters
        ----------
        alpha : float, default 0.05
            One minus the coverage.
        kind : str, optional
            One of ``variance_kinds``; None is ``default_kind``.
        which : {"fixed", "variance", "all"}, default "fixed"
            Fixed effects, variance components or both.
        cols : optional
            Terms to keep (None: all).

        Returns
        -------
        DataFrame
            Lower and upper bounds; ``attrs["variance"]`` names the kind.
        """

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """
        One row per parameter, as R's ``broom.mixed::tidy()``.

        Parameters
        ----------
        alpha : float, default 0.05
            One minus the coverage of the confidence intervals.
        kind : str, optional
            One of ``variance_kinds``; None is ``default_kind``.

        Returns
        -------
        DataFrame
            Estimates, standard errors, statistics, p-values and intervals;
            ``attrs["variance"]`` names the kind.
        """

    def wald_test(
        self,
        terms: Any = None,
        *,
        R: Any = None,
        q: Any = None,
        kind: str = "fixed",
        cov: str | None = None,
    ) -> Any:
        """
        Wald test of linear hypotheses :math:`R\\beta = q`.

        Parameters
        ----------
        terms : str or list of str, optional
            Terms whose coefficients are jointly zero under the hypothesis.
        R : array_like, optional
            Restriction matrix (instead of ``terms``).
        q : array_like, optional
            Right-hand side (default zeros).
        kind : {"fixed", "variance"}, default "fixed"
            Test fixed effects or variance components.
        cov : str, optional
            Covariance kind (None: the default).

        Returns
        -------
        WaldTestResult or DataFrame
            The test; it names the kind (``WaldTestResult.cov``; a by-group
            table's ``attrs["variance"]``).
        """

    def summary(self) -> Report:
        """
        Report of the fit (R: ``summary()``).

        Returns
        -------
        Report
            Its header names the covariance kind.
        """

    def plot(self, kind: str = ...) -> Any:
        """
        Draw a diagnostic or coefficient figure.

        Parameters
        ----------
        kind : str
            Which figure; ``"coef"`` draws ``conf_int()`` of the default kind.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
