"""What a combination of fits (plausible values, pooled imputations) has in
place of one fit's likelihood, per-row values and diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..warnings import PseudoLikelihoodWarning, warn
from .diagnostics import Residuals
from .plots import KINDS, plot
from .result import MixResult

__all__ = ["CombinedFitsMixin"]


class CombinedFitsMixin:
    """
    What a combination of M fits has in place of one fit's likelihood and per-row values.

    For plausible values and pooled imputations.

    A result stores ``fits`` and names them in ``_fits_label`` (for messages:
    ``"plausible-value"``, ``"imputed-data"``). ``groups`` is the first
    fit's; ``plot("coef")`` draws the combined estimates with the intervals
    of the default covariance kind, the other plots one fit's diagnostics.
    ``llf``, ``aic`` and ``bic``
    are NaN with a warning; ``fittedvalues``, ``residuals``/``resid`` and
    ``predict`` average the fits row by row; asking for another attribute of
    a single fit (``theta``, ``ranef`` of a pooled result...) raises an
    AttributeError that points to ``fits[k]``.
    """

    _fits_label = "combined"

    #: Whether the result combines fits (then it has no likelihood).
    combines_fits = True

    # -- likelihood-based quantities: none for the combination ---------------
    def _no_likelihood(self, what: str) -> float:
        warn(
            f"{what} is not defined for a combination of {len(self.fits)} "
            f"{self._fits_label} fits (there is no combined likelihood): it is NaN. "
            "Compare models with Wald tests (result.wald_test); each fit's own value "
            "is in result.fits[k]",
            PseudoLikelihoodWarning,
        )
        return np.nan

    @property
    def llf(self) -> float:
        """NaN, with a :class:`~pywemix.PseudoLikelihoodWarning`.

        The combined estimates average M fits to different responses (plausible
        values) or data sets (imputations), which is not the maximum of any
        likelihood, so there is no combined log-likelihood, AIC or BIC: the
        combination rules (Rubin 1987, *Multiple Imputation for Nonresponse in
        Surveys*; the EdSurvey note's eqs. 6-8) combine estimates and
        variances, not likelihoods. As the AIC and BIC of a single weighted
        fit, which warn that a pseudo-likelihood is not valid for model
        comparison but return the value, ``llf``, ``aic`` and ``bic`` warn and
        return NaN rather than raise. Use Wald tests (:meth:`wald_test`),
        which combine the fits by Rubin's rules; each fit's log-likelihood is
        ``fits[k].llf``. (R's ``mice::pool`` likewise pools no likelihood;
        ``mice::D3`` pools likelihood-ratio statistics, which needs unweighted
        refits.)
        """
        return self._no_likelihood("The log-likelihood (llf)")

    @property
    def aic(self) -> float:
        """NaN, with a :class:`~pywemix.PseudoLikelihoodWarning` (see :attr:`llf`)."""
        return self._no_likelihood("AIC")

    @property
    def bic(self) -> float:
        """NaN, with a :class:`~pywemix.PseudoLikelihoodWarning` (see :attr:`llf`)."""
        return self._no_likelihood("BIC")

    def information_criteria(self) -> tuple:
        """
        AIC and BIC: NaN, without the warning (see :attr:`llf`).

        Returns
        -------
        tuple of float
            ``(nan, nan)``: a combination of fits has no likelihood.
        """
        return np.nan, np.nan

    # -- per-row values: means over the fits ---------------------------------
    def _mean_over_fits(self, get, what: str, name: str) -> pd.Series:
        """``get(fit)`` averaged over the fits, row by row; the fits must give
        pandas Series over the same rows."""
        values = [get(f) for f in self.fits]
        first = values[0]
        for k, v in enumerate(values):
            if not isinstance(v, pd.Series):
                raise NotImplementedError(
                    f"{what} of fit {k} is a {type(v).__name__}, not a pandas Series: "
                    f"average them yourself, e.g. sum(f.{name} for f in result.fits) / "
                    f"{len(values)}"
                )
            if not v.index.equals(first.index):
                raise ValueError(
                    f"{what} cannot be averaged row by row: fit {k} has {len(v)} rows "
                    f"and fit 0 has {len(first)}, or they are other rows (the "
                    f"{self._fits_label} data sets kept different rows, e.g. after "
                    f"dropping missing values). Use each fit's own: result.fits[k].{name}"
                )
        return sum(values) / len(values)

    @property
    def fittedvalues(self) -> pd.Series:
        """
        Fitted values averaged over the fits, in the data's row order.

        On the response scale, random effects included (see :meth:`residuals`).
        """
        return self._mean_over_fits(
            lambda f: f.fittedvalues, "fittedvalues", "fittedvalues"
        ).rename("fittedvalues")

    def residuals(self, kind: str = "response") -> pd.Series:
        """Observation-level residuals averaged over the fits.

        Parameters
        ----------
        kind : {"response", "pearson"}
            As :meth:`MixResult.residuals
            <pywemix.results.result.MixResult.residuals>`.

        Returns
        -------
        Series
            The mean residual of each row.

        Raises
        ------
        ValueError
            For another ``kind``, or fits that kept different rows.

        Notes
        -----
        The mean over the M fits of each fit's residuals,
        :math:`\\frac1M \\sum_m (y_m - \\hat\\mu_m)`: for response residuals
        the mean response (mean plausible value, mean imputed value) minus
        ``fittedvalues``; Pearson residuals divide each fit's by its own
        residual standard deviation first. A mean over the fits is the
        combined point estimate of any per-row quantity (Rubin 1987,
        *Multiple Imputation for Nonresponse in Surveys*, ch. 3). The fits
        must have kept the same rows (a ValueError says so otherwise).
        Diagnostics of one fit: ``fits[k].residuals()``.
        """
        if kind not in ("response", "pearson"):
            raise ValueError(f"kind must be 'response' or 'pearson', got {kind!r}")
        return self._mean_over_fits(
            lambda f: f.residuals(kind), "residuals", f"residuals({kind!r})"
        ).rename("resid")

    @property
    def resid(self) -> pd.Series:
        """
        Response residuals averaged over the fits.

        Call it, ``resid(kind="pearson")``, for Pearson residuals; see
        :meth:`residuals`.
        """
        return Residuals.wrap(self.residuals("response"), self)

    def predict(self, newdata=None, **kwargs) -> pd.Series:
        """
        Average the fits' predictions.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; without it the fits must have kept the same rows.
        **kwargs
            As :meth:`MixResult.predict <pywemix.results.result.MixResult.predict>`.

        Returns
        -------
        Series
            The mean prediction of each row.

        Raises
        ------
        ValueError
            If the fits' predictions are not over the same rows.
        """
        return self._mean_over_fits(
            lambda f: f.predict(newdata, **kwargs), "predict", "predict(...)"
        )

    @property
    def groups(self) -> pd.DataFrame:
        """
        Number of units and weights per level (WeMix's groups table).

        The first fit's (the fits share their sample).
        """
        return self.fits[0].groups

    def _fit_title(self, value: int) -> str:
        """The title naming fit ``value`` in a plot of one fit."""
        return f"{self._fits_label} fit {value + 1} of {len(self.fits)}"

    def plot(self, kind: str = "coef", value: int = 0):
        """
        Draw a plot as a matplotlib Figure (see :mod:`pywemix.results.plots`).

        Parameters
        ----------
        kind : str, default "coef"
            ``"coef"`` draws the combined fixed effects with their 95%
            intervals (``conf_int()``: the default covariance kind, e.g.
            sampling + imputation variance) and each fit's estimates.
            Residual and random-effect diagnostics (``"resid_fitted"``,
            ``"qq_resid"``, ``"qq_ranef"``, ``"caterpillar"``) belong to one
            fit: they are drawn for ``fits[value]``, which the figure's title
            names.
        value : int, default 0
            Which fit the one-fit diagnostics are drawn for.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.

        Raises
        ------
        ValueError
            For an unknown kind or a ``value`` out of range.
        TypeError
            If ``value`` is not an integer.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"value must be an integer index into fits, got {value!r}")
        if not 0 <= value < len(self.fits):
            raise ValueError(
                f"value must be between 0 and {len(self.fits) - 1} (one per "
                f"{self._fits_label} fit), got {value}"
            )
        if kind == "coef":
            return plot(self, kind)
        fig = self.fits[value].plot(kind)
        fig.suptitle(self._fit_title(value), fontsize=9)
        return fig

    def __getattr__(self, name):
        if not name.startswith("_") and hasattr(MixResult, name):
            raise AttributeError(
                f"{name!r} is a property of one fit, not of the combination of "
                f"{len(self.fits)} {self._fits_label} fits: use result.fits[k].{name} "
                f"(k = 0..{len(self.fits) - 1})"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
