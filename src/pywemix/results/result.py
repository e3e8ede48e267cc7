"""The result of a fit: an immutable object with statsmodels-style names.

R equivalents: ``WeMix::mix`` output and ``summary``; lme4's ``merMod``
accessors (``fixef``, ``ranef``, ``VarCorr``, ``logLik``, ``fitted``,
``residuals``, ``predict``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..checks import check_bool
from ..estimation.components import groups_table, icc_from_covariances, variance_table
from ..estimation.optimum import Optimum
from ..estimation.variance import VarianceEstimate
from ..objective.covariance import CovarianceStructure
from ..objective.linpred import linear_predictor
from ..objective.make import make_objective
from ..warnings import PseudoLikelihoodWarning, warn
from .covariances import Covariance, make_estimates
from .diagnostics import Residuals, simulate
from .inference import InferenceMixin
from .plots import plot
from .predict import linear_predictor as predict_linear_predictor
from .ranef import ranef_table
from .settings import FitSettings
from .summary import Summary

__all__ = ["MixResult", "make_result"]


def _frozen(a):
    a = np.array(a, dtype=float, copy=True)
    a.flags.writeable = False
    return a


def _stage_kinds(variance: VarianceEstimate) -> list:
    """The covariance kinds of one fit: the sandwich (default) and the model-based one."""
    return [
        Covariance(
            "robust",
            f"cluster-robust (sandwich over {variance.n_clusters} top-level groups)",
            variance.fixed_robust,
            variance.components_robust,
        ),
        Covariance(
            "model",
            "model-based (inverse information; treats the weights as frequency weights)",
            variance.fixed_model,
            variance.components_model,
        ),
    ]


class RandomEffects(dict):
    """
    The dict returned by ``ranef()``: grouping factor -> DataFrame.

    Its KeyError for an unknown factor lists the model's grouping factors.
    """

    def __missing__(self, key):
        raise KeyError(
            f"{key!r} is not a grouping factor of the model; its grouping factors are {list(self)}"
        )


def make_result(design, settings, optimum, variance, warnings=(), *, arguments=None) -> MixResult:
    """Stage 4: the immutable result of a fit from the outputs of the stages.

    Parameters
    ----------
    design : ModelDesign
        From :func:`pywemix.design.build_design`.
    settings : FitSettings
        How the model was fitted (:class:`pywemix.results.settings.FitSettings`).
    optimum : Optimum
        From :func:`pywemix.estimation.optimize`.
    variance : VarianceEstimate
        From :func:`pywemix.estimation.estimate_variance`.
    warnings : sequence of str
        Messages issued while fitting (kept in ``result.warnings``).
    arguments : MixArguments, optional
        The checked arguments of ``mix`` (kept as ``result.arguments``, for
        refits); None for a result made from the stages by hand.

    Returns
    -------
    MixResult
        The result, as :func:`pywemix.mix` returns it.

    Raises
    ------
    TypeError
        If ``settings``, ``optimum`` or ``variance`` is not of its stage's type.

    See Also
    --------
    pywemix.mix : All four stages in one call.

    Notes
    -----
    The variance table, fitted values and the groups table are derived here;
    nothing is re-estimated. R equivalent: ``lme4::mkMerMod``.
    """
    for value, cls, name in (
        (settings, FitSettings, "settings"),
        (optimum, Optimum, "optimum"),
        (variance, VarianceEstimate, "variance"),
    ):
        if not isinstance(value, cls):
            raise TypeError(f"{name} must be of type {cls.__name__}, got {type(value).__name__}")
    return MixResult(design, settings, optimum, variance, tuple(warnings), arguments)


class MixResult(InferenceMixin):
    """
    Estimates of a weighted mixed model (returned by :func:`pywemix.mix`).

    Made by :func:`make_result` (stage 4); users do not construct it. R
    equivalents: lme4's ``merMod``, WeMix's ``WeMixResults``.

    Parameters
    ----------
    design : ModelDesign
        From :func:`pywemix.design.build_design`.
    settings : FitSettings
        How the model was fitted.
    optimum : Optimum
        From :func:`pywemix.estimation.optimize`.
    variance : VarianceEstimate
        From :func:`pywemix.estimation.estimate_variance`.
    warnings : sequence of str, default ()
        Messages issued while fitting.
    arguments : MixArguments, optional
        The checked arguments of ``mix`` (None for a result made by hand).

    Attributes
    ----------
    params : Series
        Fixed-effect estimates, then the family's parameters where it has
        them (``dispersion``; ordinal thresholds ``"1|2"``, ...): see
        ``fe_params`` and ``family_params``.
    bse : Series
        Cluster-robust standard errors (top-level clusters), as WeMix reports
        (the default covariance kind, ``"robust"``; ``cov_params("model")``
        gives the model-based one).
    estimates : Estimates
        Estimates and covariance kinds, read by every output
        (:mod:`pywemix.results.covariances`).
    llf : float
        Maximised (pseudo-)log-likelihood (restricted if ``criterion`` is REML).
    var_components : DataFrame
        One row per variance and covariance and a ``Residual`` row, with
        cluster-robust standard errors.
    icc : float
    groups : DataFrame
        Per level: number of units and the mean and sum of the weights.
    converged : bool
    optimization : Optimum
        Iterations, evaluations, gradient norm and message of the optimiser
        (an ``OptimizationRecord``), with the estimates it ended at.
    warnings : tuple of str
        Every warning issued while fitting.
    settings : FitSettings
        How the model was fitted (family, weights, scaling, centering, ...).
    design : ModelDesign
        The model's design (rows sorted by group).
    variance_estimate : VarianceEstimate
        Model-based and robust covariances of all estimates.
    arguments : MixArguments or None
        The checked arguments of the ``mix`` call (None for a result made
        from the stages by hand).
    sigma2 : float
        Residual variance (NaN for non-Gaussian families).
    theta : ndarray
        lme4's ``theta`` (``lme4::getME(m, "theta")``): the lower-triangular
        Cholesky elements of each level's covariance relative to the
        residual variance, ``Sigma_l / sigma^2``, in lme4's order: the
        blocks (random terms) as lme4 orders them (usually level 2 first,
        each level's terms in formula order; see
        :func:`pywemix.objective.covariance.lme4_block_order`), each block's
        factor column by column (for a 3x3 block (1,1), (2,1), (3,1),
        (2,2), (3,2), (3,3)). One definition for every family: binomial and Poisson
        models have ``sigma = 1``, so for them it is the Cholesky factor of
        ``Sigma_l`` itself. ``mix(..., start=)`` takes the same order.
    """

    # set once in __init__ through __dict__ (the result is immutable)
    _design: Any
    _settings: FitSettings
    _optimum: Optimum
    _variance: VarianceEstimate
    warnings: tuple
    arguments: Any
    estimates: Any
    _modes: list
    _ranef_var: list
    _covs: list
    _levels: Any
    _blocks: Any
    _family: Any
    sigma2: float
    theta: np.ndarray

    def __init__(self, design, settings, optimum, variance, warnings=(), arguments=None):
        d = self.__dict__
        d["_design"], d["_settings"] = design, settings
        d["_optimum"], d["_variance"] = optimum, variance
        d["warnings"] = tuple(warnings)
        d["arguments"] = arguments
        structure = CovarianceStructure.from_design(design)
        sigma2 = optimum.sigma2 if settings.family == "gaussian" else None
        table = variance_table(
            structure, design.levels, optimum.covariances, sigma2, variance.std_errors()
        )
        family = settings.family_object
        names = list(design.x_names) + (list(family.aux_names) if family else [])
        d["estimates"] = make_estimates(
            pd.Series(optimum.params, index=names),
            table,
            icc_from_covariances(optimum.covariances, sigma2, settings.link or "identity"),
            _stage_kinds(variance),
            "robust",
        )
        d["_modes"] = [_frozen(m) for m in optimum.modes]
        d["_ranef_var"] = [_frozen(v) for v in optimum.mode_variances]
        d["_covs"] = [_frozen(c) for c in optimum.covariances]
        d["_levels"], d["_blocks"] = design.levels, design.blocks
        d["_family"] = family.with_aux(optimum.family_params) if family else None
        d["sigma2"] = float(optimum.sigma2)
        d["theta"] = _frozen(optimum.theta)
        d.update(self._from_rows(design, optimum))

    @staticmethod
    def _from_rows(design, optimum) -> dict:
        """What the result sets from the design's rows when it is made: nothing
        for a fit in memory, whose fitted linear predictor, order back to the
        data's rows and groups table are made on first use (a Dask result,
        whose rows stay on the workers, overrides it)."""
        return {}

    @cached_property
    def _fitted_link(self) -> np.ndarray:
        """The fitted linear predictor of the design's rows (made on first use)."""
        design, optimum = self._design, self._optimum
        return linear_predictor(
            design.X,
            optimum.beta,
            design.offset,
            design.Z,
            [lev.codes for lev in design.levels],
            optimum.modes,
        )

    @cached_property
    def _order(self) -> np.ndarray:
        """The order of the design's rows back to the data's (made on first use)."""
        return np.argsort(self._design.row_positions, kind="stable")

    @cached_property
    def _groups(self) -> pd.DataFrame:
        """The groups table, made on first use (most fits of a survey analysis
        -- replicates, plausible values -- never show it); a Dask result sets
        it from its design."""
        return groups_table(self._design)

    def __setattr__(self, name, value):
        raise AttributeError("MixResult is immutable; fit a new model instead")

    def __delattr__(self, name):
        raise AttributeError("MixResult is immutable")

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_objective", None)  # rebuilt on demand
        return state

    # -- how the model was fitted and what the stages returned ---------------
    @property
    def settings(self):
        """The :class:`~pywemix.results.settings.FitSettings` of the fit."""
        return self._settings

    @property
    def design(self):
        """The :class:`~pywemix.design.ModelDesign` (rows sorted by group)."""
        return self._design

    @property
    def optimization(self):
        """The optimiser's :class:`~pywemix.estimation.Optimum` (its record and estimates)."""
        return self._optimum

    @property
    def variance_estimate(self):
        """The :class:`~pywemix.estimation.VarianceEstimate` of the fit."""
        return self._variance

    @property
    def objective(self):
        """The fit's :class:`~pywemix.objective.MixObjective` (built again on first use)."""
        if "_objective" not in self.__dict__:
            s = self._settings
            self.__dict__["_objective"] = make_objective(
                self._design, self._family, n_quad=s.n_quad or 1, reml=s.reml
            )
        return self.__dict__["_objective"]

    @property
    def family_object(self):
        """
        The :class:`~pywemix.objective.families.Family` of the fit (None for Gaussian).

        It is bound to the estimated family parameters (dispersion, thresholds).
        """
        return self._family

    @property
    def fe_params(self) -> pd.Series:
        """
        The fixed effects alone, as statsmodels' ``MixedLMResults.fe_params``.

        That is ``params`` without the family parameters: the dispersion of
        negative binomial and gamma models, the thresholds of ordinal ones.
        """
        return self.params.iloc[: len(self._design.x_names)]

    @property
    def family_params(self) -> pd.Series:
        """
        The family's parameters: ``params`` after the fixed effects.

        The ``dispersion`` of negative binomial and gamma models, the
        thresholds ``"1|2"``, ``"2|3"``, ... of ordinal ones
        (``ordinal::clmm``'s); empty for the other families.
        """
        return self.params.iloc[len(self._design.x_names) :]

    @property
    def random_effects_covariances(self) -> list:
        """Covariance matrix of each level's random effects (level 2 first; read-only)."""
        return list(self._covs)

    @property
    def conditional_modes(self) -> list:
        """Conditional modes per level, arrays (groups, effects) in the design's order."""
        return list(self._modes)

    @property
    def conditional_variances(self) -> list:
        """Conditional variances of the random effects per level (groups, effects)."""
        return list(self._ranef_var)

    def to_data_order(self, values, name=None):
        """
        Put per-row values in the design's order back into the data's row order.

        Parameters
        ----------
        values : array_like
            One value per used row in the design's order (1-D), or 2-D with one
            column per draw.
        name : str or list of str, optional
            Name of the Series (1-D) or the columns of the DataFrame (2-D).

        Returns
        -------
        Series or DataFrame
            Indexed like the rows of the data used in the fit.
        """
        values, order = np.asarray(values), self._order
        index = self._design.frame.index[order]
        if values.ndim == 2:
            return pd.DataFrame(values[order], index=index, columns=name)
        return pd.Series(values[order], index=index, name=name)

    @property
    def groups(self) -> pd.DataFrame:
        """Number of units and weights per level (WeMix's groups table)."""
        return self._groups.copy()

    # -- settings as attributes (statsmodels-style names) ---------------------
    formula = property(lambda self: self._settings.formula, doc="The model formula.")
    family = property(lambda self: self._settings.family, doc="Family name.")
    link = property(lambda self: self._settings.link, doc="Link function name.")
    n_quad = property(
        lambda self: self._settings.n_quad,
        doc="Quadrature points per random effect (None if Gaussian).",
    )
    criterion = property(lambda self: self._settings.criterion, doc='"ML" or "REML".')
    weighted = property(
        lambda self: self._settings.weighted, doc="Whether any weight differs from 1."
    )
    weight_spec = property(
        lambda self: list(self._settings.weight_spec), doc="Weight column per level, level 1 first."
    )
    cond_weights = property(
        lambda self: self._settings.cond_weights,
        doc="Whether the weights were given as conditional weights.",
    )
    llf = property(lambda self: self._optimum.llf, doc="Maximised (pseudo-)log-likelihood.")
    converged = property(lambda self: self._optimum.converged, doc="Optimiser converged.")
    nobs = property(lambda self: self._design.n_obs, doc="Observations used.")
    n_clusters = property(
        lambda self: self._variance.n_clusters,
        doc="Top-level groups (clusters of the robust variance).",
    )

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
        return self.estimates.icc

    @property
    def scale(self) -> float:
        """Residual variance."""
        return self.sigma2

    # -- random effects, fitted values, residuals ---------------------------
    def ranef(self, kind: str = "mode", se: bool = False) -> dict:
        """
        Conditional modes of the random effects, per grouping factor.

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

        Returns
        -------
        RandomEffects
            A dict: grouping-factor name -> DataFrame (an unknown name raises a
            KeyError listing the grouping factors). Without ``se``: indexed by
            group id, one column per effect. With ``se=True``: a tidy table
            with columns ``group``, ``term``, ``estimate``, ``std_error``.

        Raises
        ------
        ValueError
            If ``kind`` is not ``"mode"`` or ``"mean"``.
        """
        if kind not in ("mode", "mean"):
            raise ValueError(f"kind must be 'mode' or 'mean', got {kind!r}")
        if check_bool(se, "se"):
            return RandomEffects(ranef_table(self, kind))
        values = self._modes
        if kind == "mean" and self._family is not None:
            values = self.objective.function.conditional_means(self._optimum.x)
        out = RandomEffects()
        for lev, blocks, m in zip(self._levels, self._blocks, values):
            cols = [n for b in blocks for n in b.names]
            out[lev.name] = pd.DataFrame(np.array(m), index=lev.labels, columns=cols)
        return out

    def _mean(self, eta):
        return eta if self._family is None else self._family.mean(eta)

    @property
    def fittedvalues(self) -> pd.Series:
        """Fitted means (response scale) including the random effects, in data order."""
        return self.to_data_order(self._mean(self._fitted_link), "fittedvalues")

    def residuals(self, kind: str = "response") -> pd.Series:
        """
        Observation-level residuals, in the data's row order.

        Parameters
        ----------
        kind : {"response", "pearson"}
            ``y - mu``, or ``(y - mu) / sqrt(V(mu))`` with ``V`` the family's
            variance function (``sigma^2`` for Gaussian models; ``mu (1 -
            mu) / n`` for a binomial response with ``n`` trials, whose ``y`` is
            the proportion of successes; an ordinal response has ``y`` its
            category number 1, ..., K and no Pearson residuals).

        Returns
        -------
        Series
            One residual per used row (R: ``residuals(m, type = kind)``).

        Raises
        ------
        ValueError
            If ``kind`` is not ``"response"`` or ``"pearson"``.
        """
        mu = self._mean(self._fitted_link)
        if self._family is None:
            r = self._design.y - mu
        else:  # a proportion for a binomial response with trials
            r = self._family.observed(self._design.y) - mu
        if kind == "pearson":
            sd = (
                np.sqrt(self.sigma2)
                if self._family is None
                else np.sqrt(
                    self._family.variance(mu) / self._family.response_weight(self._design.y)
                )
            )
            r = r / sd
        elif kind != "response":
            raise ValueError(f"kind must be 'response' or 'pearson', got {kind!r}")
        return self.to_data_order(r, "resid")

    @property
    def resid(self) -> pd.Series:
        """
        Response residuals ``y - fittedvalues``, in the data's row order.

        Call it, ``resid(kind="pearson")``, for Pearson residuals.
        """
        return Residuals.wrap(self.residuals("response"), self)

    def simulate(self, n: int = 1, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
        """
        Draw responses from the fitted model (new random effects each time).

        R: ``simulate()`` of lme4.

        Parameters
        ----------
        n : int, default 1
            Number of draws.
        seed : int or numpy Generator, optional
            For reproducible draws.

        Returns
        -------
        DataFrame
            One column per draw (``sim_1``, ...), rows in the data's order.

        See Also
        --------
        pywemix.results.diagnostics.simulate : The function behind it.
        """
        return simulate(self, n, seed)

    def plot(self, kind: str = "resid_fitted"):
        """
        Draw a diagnostic plot as a matplotlib Figure.

        Parameters
        ----------
        kind : {"resid_fitted", "qq_resid", "qq_ranef", "caterpillar", "coef"}
            The plot (see :func:`pywemix.results.plots.plot`); ``"coef"`` draws
            ``conf_int()`` of the default covariance kind.

        Returns
        -------
        ResultFigure
            A ``matplotlib.figure.Figure`` that also displays itself in Jupyter.
        """
        return plot(self, kind)

    def predict(
        self,
        newdata=None,
        *,
        type: str = "response",
        include_random: bool = True,
        allow_new_levels: bool = False,
        offset=None,
    ) -> pd.Series | pd.DataFrame:
        """
        Predict values (R: ``predict()`` of lme4; ``predict.clmm`` for ``type="prob"``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when omitted.
        type : {"response", "link", "prob"}
            Mean of the response, the linear predictor (the same for
            Gaussian models), or, for ordinal models, the probability of
            each category (a DataFrame with one column per category, as
            ``predict.clmm``'s probabilities; ``"response"`` is then the
            expected category number 1, ..., K).
        include_random : bool
            Add the conditional modes of the groups (lme4's ``re.form=NULL``);
            ``False`` gives the fixed part only (``re.form=NA``).
        allow_new_levels : bool
            Predict groups not in the fit with random effects of zero.
        offset : array_like, optional
            Offset of the rows of ``newdata`` (one value a row); by default
            the fit's offset column of ``newdata``.

        Returns
        -------
        Series, or DataFrame for ``type="prob"``
            One prediction per row (of ``newdata``, or of the data fitted);
            for ``type="prob"``, one column per category of an ordinal
            response.

        Raises
        ------
        ValueError
            For an unknown ``type``, ``include_random=False`` without
            ``newdata``, or a missing or malformed offset.
        TypeError
            If ``include_random`` or ``allow_new_levels`` is not a bool.
        """
        if type not in ("response", "link", "prob"):
            raise ValueError(f"type must be 'response', 'link' or 'prob', got {type!r}")
        if type == "prob" and not hasattr(self._family, "probabilities"):
            raise ValueError(
                "type='prob' gives the probabilities of the categories of an "
                f"ordinal model; this is a {self.family} model"
            )
        for name, value in (
            ("include_random", include_random),
            ("allow_new_levels", allow_new_levels),
        ):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if newdata is None:
            if not include_random:
                raise ValueError("include_random=False needs newdata")
            eta = self.to_data_order(self._fitted_link, "predicted")
        else:
            values = predict_linear_predictor(
                self, newdata, include_random, allow_new_levels, offset
            )
            index = getattr(newdata, "index", None)
            eta = pd.Series(
                values, index=index if isinstance(index, pd.Index) else None, name="predicted"
            )
        if type == "prob":
            return pd.DataFrame(
                self._family.probabilities(eta.to_numpy()),
                index=eta.index,
                columns=list(self._family.categories),
            )
        return eta if type == "link" else eta.transform(self._mean)

    # -- information criteria -----------------------------------------------
    @property
    def df_modelwc(self) -> int:
        """Number of estimated parameters (fixed effects, covariance terms, residual)."""
        return len(self.estimates.params) + len(self.theta) + (1 if self._family is None else 0)

    def _ic_warning(self, what):
        if self.weighted:
            warn(
                f"{what} of a weighted fit is based on a pseudo-likelihood and is not "
                "valid for model comparison; use Wald tests (result.wald_test) instead",
                PseudoLikelihoodWarning,
            )

    def information_criteria(self) -> tuple:
        """
        AIC and BIC without the pseudo-likelihood warning (for anova tables).

        Returns
        -------
        tuple of float
            ``(aic, bic)``: :math:`-2\\ell + 2k` and :math:`-2\\ell + k \\log n`.
        """
        k = self.df_modelwc
        return -2 * self.llf + 2 * k, -2 * self.llf + np.log(self.nobs) * k

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 k``."""
        self._ic_warning("AIC")
        return self.information_criteria()[0]

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + k log(nobs)``."""
        self._ic_warning("BIC")
        return self.information_criteria()[1]

    # -- reporting -----------------------------------------------------------
    def summary(self) -> Summary:
        """
        Report of the fit, as WeMix's ``summary()``.

        Returns
        -------
        Summary
            Prints as text and renders as HTML in Jupyter.
        """
        return Summary(self)

    def __repr__(self):
        return (
            f"<MixResult {self.formula!r}: {self.family}, {len(self._levels) + 1} "
            f"levels, nobs={self.nobs}, llf={self.llf:.6g}>"
        )

    def _repr_html_(self):
        return self.summary()._repr_html_()
