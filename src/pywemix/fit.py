"""``mix``: the one entry point that fits a weighted mixed model.

``mix`` checks its arguments once (:class:`~pywemix.arguments.MixArguments`)
and hands them to the survey layer (:func:`pywemix.survey.fit_survey`),
which fits each sample through the stages (:mod:`pywemix.pipeline`, as
lme4's ``lFormula -> mkLmerDevfun -> optimizeLmer -> mkMerMod``) or on Dask
(:mod:`pywemix.dask`). R equivalent: ``WeMix::mix``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from .arguments import MixArguments
from .results.result import MixResult
from .survey import ByResult, PlausibleValuesResult, ReplicateResult, Replicates
from .survey.data import SurveyData
from .survey.dispatch import fit_survey

__all__ = ["mix"]

_Result = MixResult | ReplicateResult | PlausibleValuesResult | ByResult


@overload
def mix(
    formula: str,
    data: Any,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    trials: str | None = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: str | None = ...,
    plausible_values: Mapping | None = ...,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: Any = ...,
    by: str,
) -> ByResult: ...


@overload
def mix(
    formula: str,
    data: SurveyData,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: str | Literal[False] | None = ...,
    plausible_values: Mapping | None = ...,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: Any = ...,
    by: None = ...,
) -> MixResult | ReplicateResult | PlausibleValuesResult: ...


@overload
def mix(
    formula: str,
    data: Any,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    trials: str | None = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: str | None = ...,
    plausible_values: Mapping | None = ...,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: Replicates,
    by: None = ...,
) -> ReplicateResult: ...


@overload
def mix(
    formula: str,
    data: Any,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    trials: str | None = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: None = ...,
    plausible_values: Mapping,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: None | Literal[False] = ...,
    by: None = ...,
) -> PlausibleValuesResult: ...


@overload
def mix(
    formula: str,
    data: Any,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    trials: str | None = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: None = ...,
    plausible_values: None = ...,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: None | Literal[False] = ...,
    by: None = ...,
) -> MixResult: ...


@overload
def mix(
    formula: str,
    data: Any,
    weights: list | None = ...,
    *,
    cond_weights: bool = ...,
    family: Any = ...,
    link: str | None = ...,
    n_quad: int = ...,
    offset: Any = ...,
    trials: str | None = ...,
    center_group: dict | None = ...,
    center_grand: list | None = ...,
    weight_scaling: str = ...,
    survey: str | None = ...,
    plausible_values: Mapping | None = ...,
    executor: Any = ...,
    reml: bool = ...,
    start: Any = ...,
    max_iter: int | None = ...,
    replicates: Any = ...,
    by: str | None = ...,
) -> _Result: ...


def mix(
    formula,
    data,
    weights=None,
    *,
    cond_weights: bool = False,
    family="gaussian",
    link: str | None = None,
    n_quad: int = 13,
    offset=None,
    trials: str | None = None,
    center_group=None,
    center_grand=None,
    weight_scaling="none",
    survey: str | Literal[False] | None = None,
    plausible_values=None,
    executor=None,
    reml: bool = False,
    start=None,
    max_iter: int | None = None,
    replicates=None,
    by=None,
):
    """
    Fit a mixed model with sampling weights at every level.

    Parameters
    ----------
    formula : str
        An lme4-style formula, e.g. ``"y ~ x + (1 + x | school) + (1 | district)"``.
        Random terms: ``(1|g)``, ``(x|g)`` (correlated intercept and slope),
        ``(x||g)`` (uncorrelated), ``(0+x|g)``, ``(1|a/b)`` (``b`` nested in
        ``a``). Grouping factors must be nested; their levels are inferred.
    data : pandas.DataFrame, polars.DataFrame, dask.dataframe.DataFrame or SurveyData
        A Dask DataFrame is fitted on its workers (see :mod:`pywemix.dask`)
        and gives a :class:`~pywemix.dask.result.DaskMixResult`. Survey data
        (:func:`pywemix.read_survey`, :func:`pywemix.survey_data`) bring their
        own defaults, as EdSurvey's ``mixed.sdf``: a response naming a scale
        (``"math ~ escs + (1|cntschid)"``) is fitted once per plausible value;
        the survey's level weights, preset and replicate weights apply; each
        is overridden by its argument here (``survey=False``: no preset).
        Names in the formula ignore case, and only the columns the model
        needs are read (:func:`pywemix.survey.bind.bind_survey_data`).
    weights : list of (str or None), optional
        One weight column per level, level 1 (observations) first; ``None`` at
        a level means unit conditional weights there. Default: unit weights;
        with ``survey``, the preset's level weights found in the data (PISA
        ``W_FSTUWT``, ``W_SCHGRNRABWT``; TIMSS/PIRLS ``TOTWGT``, ``SCHWGT``;
        TALIS ``TCHWGT``, ``SCHWGT``; NAEP ``ORIGWT``, ``SMSRSWT``), a
        :class:`~pywemix.SurveyWarning` naming those missing (their level
        unweighted).
    cond_weights : bool, default False
        ``False``: weights are unconditional (overall inverse selection
        probabilities, as in survey files); the level-l conditional weight is
        ``w_l / w_(l+1)``. ``True``: the weights are already conditional.
    family : {"gaussian", "binomial", "poisson", "negative_binomial", "gamma", "ordinal"} or Family
        Distribution of the response. ``"binomial"`` takes 0/1, bool or a
        two-level categorical (second level = 1), or successes out of trials
        written ``cbind(successes, failures) ~ ...`` as in lme4 (or a
        proportion with ``trials=``); ``"poisson"`` counts;
        ``"negative_binomial"`` overdispersed counts (NB2, glmmTMB's
        ``nbinom2``, with an estimated ``dispersion``); ``"gamma"`` positive
        values (estimated ``dispersion``); ``"ordinal"`` ordered categories
        (a cumulative link model as ``ordinal::clmm``: an ordered
        categorical or whole numbers, thresholds ``"1|2"``, ... instead of
        an intercept). Family parameters follow the fixed effects in
        ``params`` (:mod:`pywemix.objective.families`).
    link : str, optional
        ``"logit"`` (default), ``"probit"`` or ``"cloglog"`` for binomial;
        ``"log"`` for Poisson and negative binomial; ``"log"`` (default) or
        ``"inverse"`` for gamma; ``"logit"`` (default) or ``"probit"`` for
        ordinal; ``"identity"`` for Gaussian.
    n_quad : int, default 13
        Adaptive Gauss-Hermite nodes per random effect (non-Gaussian families);
        ``n_quad=1`` is the Laplace approximation as lme4 defines it at any
        number of levels (joint conditional modes; with unit weights equal to
        ``glmer(nAGQ=1)``).
    offset : str or array-like, optional
        Column name (or values, one per row) added to the linear predictor.
    trials : str, optional
        Binomial family: the column of each row's number of trials, the
        response being the proportion of successes (as ``glm``'s
        ``weights=`` with a proportion); the same fit as
        ``cbind(successes, failures)``.
    center_group : dict, optional
        Grouping factor -> columns to centre on their (level-1 weighted)
        group means, e.g. ``{"schoolid": ["escs"]}``.
    center_grand : list of str, optional
        Columns to centre on their (level-1 weighted) overall mean.
    weight_scaling : {"none", "size", "effective"} or {"A", "B"}
        Scaling of the level-1 weights within level-2 groups: method A (sum
        to the group size; Stata ``pwscale(size)``) or B (sum to the
        effective size; ``pwscale(effective)``).
    survey : {"PISA", "TIMSS", "TIMSS Advanced", "PIRLS", "NAEP", "TALIS"} or False, optional
        Survey preset (:mod:`pywemix.presets`; ``False``: none, not even
        survey data's own), as the EdSurvey note: PISA
        scales level 1 by method A; TIMSS/PIRLS take (total student weight,
        school weight) unconditional; TALIS (teacher weight, school weight)
        unconditional with method A. The standard errors come from the
        survey's replicate weights (PISA ``W_FSTURWT1..80``/``W_FSTUWT``;
        TIMSS/PIRLS ``JKZONE``/``JKREP``/``TOTWGT``; NAEP
        ``SRWT01..62``/``ORIGWT``; TALIS ``TRWGT1..100``/``TCHWGT``; any
        case; see ``replicates``). Data without any of them give the
        sandwich with a :class:`~pywemix.SurveyWarning`; data with only some
        of them are an error; ``replicates=False`` keeps the sandwich
        without a warning.
    plausible_values : dict, optional
        ``{response: [pv1, ..., pvK]}``: one fit per plausible value,
        combined by the EdSurvey rules (returns a PlausibleValuesResult).
    executor : concurrent.futures.Executor or distributed.Client, optional
        Runs the plausible-value fits, or the groups of ``by``, in parallel
        (a Dask cluster receives the data once); see
        :func:`pywemix.executors.map_tasks`.
    reml : bool, default False
        Restricted maximum likelihood (Gaussian, unit weights only).
    start : array-like, optional
        Starting values, in the order of ``result.theta`` (lme4's ``theta``;
        other families: ``numpy.r_[res.params, res.theta]``); see
        :func:`pywemix.estimation.optimize` for the layout.
    max_iter : int, optional
        Maximum optimiser iterations.
    replicates : pywemix.Replicates or False, optional
        Replicate weights: every standard error from refits with them
        (returns a :class:`~pywemix.survey.ReplicateResult`). ``False``: no
        replicates, not even a survey preset's. Not yet on a Dask DataFrame
        (NotImplementedError).
    by : str, optional
        Fit one model per value of this column (returns a
        :class:`~pywemix.survey.ByResult`, value -> result).

    Returns
    -------
    MixResult
        A :class:`~pywemix.results.result.MixResult` (a
        :class:`~pywemix.dask.result.DaskMixResult` on Dask), or with
        ``replicates`` (or a preset's) a
        :class:`~pywemix.survey.ReplicateResult`, with ``plausible_values`` a
        :class:`~pywemix.survey.PlausibleValuesResult`, with ``by`` a
        :class:`~pywemix.survey.ByResult`. Every one implements
        :class:`pywemix.results.protocol.Result`.

    Raises
    ------
    ValueError
        For a formula, column, weight, level or argument the data cannot
        honour; the message names the term, column or level at fault.
    TypeError
        For an argument of the wrong type (data that is not a data frame, a
        flag that is not a bool, ...).

    See Also
    --------
    pywemix.read_survey : Open a survey's file with its weights and plausible values.
    pywemix.pool : Pool fits to multiply imputed data.
    pywemix.compare : Estimates of several fits side by side.
    pywemix.anova : Likelihood-ratio tests of nested unweighted fits.

    Notes
    -----
    The pseudo-log-likelihood (WeMix vignette, eqs. 18-19) is

    .. math::

        \\ell = \\sum_g w_g \\log \\int g(u_g) \\prod_{j \\in g}
        \\Big[\\int g(u_j) \\prod_{i \\in j} f(y_i \\mid u)^{w_{i|j}} du_j
        \\Big]^{w_{j|g}} du_g

    with conditional weights at every level. For the Gaussian family the
    integrals are analytic (:mod:`pywemix.objective.gaussian`). Standard errors are
    cluster-robust at the top level (WeMix eqs. 7-9, :mod:`pywemix.estimation.variance`).

    R equivalents: ``WeMix::mix(formula, data, weights, cWeights)``;
    ``lme4::lmer(REML = FALSE)`` for unit weights; ``lme4::glmer`` (with
    ``nAGQ``) for the other families; EdSurvey's ``mixed.sdf`` for survey
    presets, plausible values and replicates.

    Examples
    --------
    Students in schools, with conditional weights at both levels (level 1
    scaled by method A); standard errors are cluster-robust, as WeMix's:

    >>> import pywemix
    >>> data = pywemix.datasets.load_pisa()
    >>> fit = pywemix.mix("pv1math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"],
    ...                   cond_weights=True, weight_scaling="size")
    >>> fit.params.round(2)
    Intercept    471.70
    escs          25.58
    Name: params, dtype: float64
    >>> fit.default_kind
    'robust'

    Five plausible values, one fit each, combined by Rubin's rules:

    >>> pvs = {"math": [f"pv{i}math" for i in range(1, 6)]}
    >>> pv = pywemix.mix("math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"],
    ...                  cond_weights=True, weight_scaling="size", plausible_values=pvs)
    >>> type(pv).__name__
    'PlausibleValuesResult'

    Unit weights give lme4's maximum-likelihood fit,
    ``lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)``:

    >>> sleep = pywemix.datasets.load_sleepstudy()
    >>> pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep).params.round(2)
    Intercept    251.41
    Days          10.47
    Name: params, dtype: float64
    """
    # every parameter but data, by name: the checked record of this call
    args = MixArguments(**{k: v for k, v in locals().items() if k != "data"})
    return fit_survey(args, data)
