"""The result of a fit: an immutable object with statsmodels-style names.

R equivalents: ``WeMix::mix`` output and ``summary``; lme4's ``merMod``
accessors (``fixef``, ``ranef``, ``VarCorr``, ``logLik``, ``fitted``,
``residuals``, ``predict``).
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from .inference import InferenceMixin
from ..warnings import PseudoLikelihoodWarning, warn

__all__ = ["MixResult"]


def _frozen(a):
    a = np.array(a, dtype=float, copy=True)
    a.flags.writeable = False
    return a


class MixResult(InferenceMixin):
    """Estimates of a weighted mixed model (returned by :func:`pywemix.mix`).

    Attributes
    ----------
    params : Series
        Fixed-effect estimates.
    bse : Series
        Cluster-robust standard errors (top-level clusters), as WeMix reports.
    llf : float
        Maximised (pseudo-)log-likelihood (restricted if ``criterion`` is REML).
    var_components : DataFrame
        One row per variance and covariance and a ``Residual`` row, with
        cluster-robust standard errors.
    icc : float
    groups : DataFrame
        Per level: number of units and the mean and sum of the weights.
    converged : bool
    optimization : OptimizationRecord
        Iterations, evaluations, gradient norm and message of the optimiser.
    warnings : tuple of str
        Every warning issued while fitting.
    """

    _fields = ("formula", "family", "link", "n_quad", "criterion", "llf", "nobs",
               "converged", "optimization", "warnings", "weighted", "weight_spec",
               "cond_weights", "n_clusters", "extra")

    def __init__(self, *, params, cov_robust, cov_model, var_cov, var_components, groups,
                 modes, fitted_link, y, row_index, design, sigma2, covs, theta,
                 family_obj=None, extra_state=None, ranef_var=None, **fields):
        d = self.__dict__
        for k in self._fields:
            d[k] = fields.get(k)
        names = list(params.index)
        d["_params"] = pd.Series(_frozen(params.to_numpy()), index=names, name="params")
        d["_cov"] = {"robust": _frozen(cov_robust), "model": _frozen(cov_model)}
        d["_var_components"] = var_components.copy()
        d["_var_cov"] = {k: _frozen(v) for k, v in var_cov.items()}
        d["_groups"] = groups.copy()
        d["_modes"] = [_frozen(m) for m in modes]
        d["_ranef_var"] = [_frozen(v) for v in ranef_var] if ranef_var is not None else None
        d["_fitted_link"] = _frozen(fitted_link)
        d["_y"] = _frozen(y)
        d["_row_index"] = row_index
        d["_order"] = np.argsort(design.row_positions, kind="stable")
        d["_parsed"] = design.parsed
        d["_frame"] = design.frame.iloc[:0]
        d["_design"] = design
        d["_fixed_spec"] = design.fixed_spec
        d["_random_specs"] = design.random_specs
        d["_levels"] = design.levels
        d["_blocks"] = design.blocks
        d["_family"] = family_obj
        d["_state"] = extra_state or {}
        d["_offset_column"] = design.offset_column
        d["_has_offset"] = bool(np.any(design.offset != 0)) if design.offset is not None else False
        d["sigma2"] = float(sigma2)
        d["_covs"] = [_frozen(c) for c in covs]
        d["theta"] = _frozen(theta)

    def __setattr__(self, name, value):
        raise AttributeError("MixResult is immutable; fit a new model instead")

    def __delattr__(self, name):
        raise AttributeError("MixResult is immutable")

    @property
    def icc(self) -> float:
        """Intraclass correlation as WeMix reports it (``$ICC``).

        Notes
        -----
        .. math::

            \\mathrm{ICC} = \\frac{\\sum \\tau}{\\sum \\tau + \\sigma^2},

        where the sum runs over **every random-effect variance of every
        level, random slopes included** (covariances left out). For a
        random-intercept model this is the usual
        :math:`\\tau_{00} / (\\tau_{00} + \\sigma^2)`. With a random slope
        the slope variance :math:`\\tau_{11}` is added as it is, so the
        value depends on the scale of the covariate and is not the
        correlation of two units of a group at any one covariate value
        (that is :math:`v(x) / (v(x) + \\sigma^2)` with
        :math:`v(x) = \\tau_{00} + 2 x \\tau_{01} + x^2 \\tau_{11}`; compute
        it from ``var_components``). For binary families the residual
        variance is the latent-scale one (:math:`\\pi^2/3` logit, 1 probit,
        :math:`\\pi^2/6` cloglog); Poisson models have none (NaN). See
        :func:`pywemix.estimation.components.icc_of`.
        """
        from ..estimation.components import icc_of
        return icc_of(self._var_components, self.link or "identity")

    @property
    def scale(self) -> float:
        """Residual variance."""
        return self.sigma2

    # -- random effects, fitted values, residuals ---------------------------
    def ranef(self, kind: str = "mode", se: bool = False) -> dict:
        """Conditional modes of the random effects, per grouping factor.

        Parameters
        ----------
        kind : {"mode", "mean"}
            Conditional modes (lme4's ``ranef``), or conditional means by
            quadrature (WeMix Appendix A, eq. 26). For Gaussian models the two
            coincide. For three or more levels, a lower level's modes are
            conditional on the modes of the levels above.
        se : bool
            Also give their conditional standard deviations (lme4's
            ``ranef(m, condVar = TRUE)``); see :mod:`pywemix.results.ranef`.

        Returns a dict: grouping-factor name -> DataFrame. Without ``se``:
        indexed by group id, one column per effect. With ``se=True``: a tidy
        table with columns ``group``, ``term``, ``estimate``, ``std_error``.
        """
        if kind not in ("mode", "mean"):
            raise ValueError(f"kind must be 'mode' or 'mean', got {kind!r}")
        from ..checks import check_bool
        if check_bool(se, "se"):
            from .ranef import ranef_table
            return ranef_table(self, kind)
        values = self._modes
        if kind == "mean" and self._family is not None:
            values = self._state["objective"].conditional_means(self._state["phi"])
        out = {}
        for lev, blocks, m in zip(self._levels, self._blocks, values):
            cols = [n for b in blocks for n in b.names]
            out[lev.name] = pd.DataFrame(np.array(m), index=lev.labels, columns=cols)
        return out

    def _in_data_order(self, values, name):
        s = pd.Series(np.asarray(values)[self._order], index=self._row_index[self._order],
                      name=name)
        return s

    def _mean(self, eta):
        return eta if self._family is None else self._family.mean(eta)

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted means (response scale) including the random effects, in data order."""
        return self._in_data_order(self._mean(self._fitted_link), "fittedvalues")

    def residuals(self, kind: str = "response") -> pd.Series:
        """Observation-level residuals, in the data's row order.

        Parameters
        ----------
        kind : {"response", "pearson"}
            ``y - mu``, or ``(y - mu) / sqrt(V(mu))`` with ``V`` the family's
            variance function (``sigma^2`` for Gaussian models).
        """
        mu = self._mean(self._fitted_link)
        r = self._y - mu
        if kind == "pearson":
            sd = np.sqrt(self.sigma2) if self._family is None else \
                np.sqrt(self._family.variance(mu))
            r = r / sd
        elif kind != "response":
            raise ValueError(f"kind must be 'response' or 'pearson', got {kind!r}")
        return self._in_data_order(r, "resid")

    @property
    def resid(self) -> pd.Series:
        """Response residuals ``y - fittedvalues`` (call it, ``resid(kind=
        "pearson")``, for Pearson residuals), in the data's row order."""
        from .diagnostics import Residuals
        return Residuals.wrap(self.residuals("response"), self)

    def simulate(self, n: int = 1, seed=None) -> pd.DataFrame:
        """Draw responses from the fitted model (new random effects each time).

        Returns a DataFrame with one column per draw (``sim_1``, ...), rows
        in the data's order. See :func:`pywemix.results.diagnostics.simulate`.
        """
        from .diagnostics import simulate
        return simulate(self, n, seed)

    def plot(self, kind: str = "resid_fitted"):
        """A diagnostic plot as a matplotlib Figure (see :mod:`pywemix.results.plots`)."""
        from .plots import plot
        return plot(self, kind)

    def predict(self, newdata=None, *, type: str = "response", include_random: bool = True,
                allow_new_levels: bool = False, offset=None) -> pd.Series:
        """Predicted values.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when omitted.
        type : {"response", "link"}
            Mean of the response, or the linear predictor (the same for
            Gaussian models).
        include_random : bool
            Add the conditional modes of the groups (lme4's ``re.form=NULL``);
            ``False`` gives the fixed part only (``re.form=NA``).
        allow_new_levels : bool
            Predict groups not in the fit with random effects of zero.
        """
        from .predict import linear_predictor
        if type not in ("response", "link"):
            raise ValueError(f"type must be 'response' or 'link', got {type!r}")
        for name, value in (("include_random", include_random),
                            ("allow_new_levels", allow_new_levels)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if newdata is None:
            if not include_random:
                raise ValueError("include_random=False needs newdata")
            eta = self._in_data_order(self._fitted_link, "predicted")
            return eta if type == "link" else eta.transform(self._mean)
        eta = linear_predictor(self, newdata, include_random, allow_new_levels, offset)
        index = getattr(newdata, "index", None)
        values = eta if type == "link" else self._mean(eta)
        return pd.Series(values, index=index if isinstance(index, pd.Index) else None,
                         name="predicted")

    # -- information criteria -----------------------------------------------
    @property
    def df_modelwc(self) -> int:
        """Number of estimated parameters (fixed effects, covariance terms, residual)."""
        return len(self._params) + len(self.theta) + (1 if self._family is None else 0)

    def _ic_warning(self, what):
        if self.weighted:
            warn(
                f"{what} of a weighted fit is based on a pseudo-likelihood and is not "
                "valid for model comparison; use Wald tests (result.wald_test) instead", PseudoLikelihoodWarning)

    def _criteria(self):
        """(AIC, BIC) without the pseudo-likelihood warning (for anova tables)."""
        k = self.df_modelwc
        return -2 * self.llf + 2 * k, -2 * self.llf + np.log(self.nobs) * k

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 k``."""
        self._ic_warning("AIC")
        return self._criteria()[0]

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + k log(nobs)``."""
        self._ic_warning("BIC")
        return self._criteria()[1]

    # -- reporting -----------------------------------------------------------
    def summary(self):
        """A WeMix-style report; prints as text and renders as HTML in Jupyter."""
        from .summary import Summary
        return Summary(self)

    def __repr__(self):
        return (f"<MixResult {self.formula!r}: {self.family}, {len(self._levels) + 1} "
                f"levels, nobs={self.nobs}, llf={self.llf:.6g}>")

    def _repr_html_(self):
        return self.summary()._repr_html_()
