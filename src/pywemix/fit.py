"""``mix``: the one entry point that fits a weighted mixed model.

A short pipeline of the stages, each callable alone (as lme4's
``lFormula -> mkLmerDevfun -> optimizeLmer -> mkMerMod``):
:func:`pywemix.design.build_design`, :func:`pywemix.objective.make_objective`,
:func:`pywemix.estimation.optimize`, :func:`pywemix.estimation.estimate_variance`
and :func:`pywemix.results.make_result`. R equivalent: ``WeMix::mix``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from .checks import check_bool, check_positive_int
from .design.center import check_centering, make_centering
from .design.formula import parse_formula
from .design.model import build_design, response_values
from .design.scaling import PRESET_NONE, normalize_scaling, survey_preset
from .design.validate import badly_scaled
from .estimation import estimate_variance, optimize
from .objective import make_objective
from .objective.families import check_link, get_family
from .results.result import make_result
from .results.settings import FitSettings
from .warnings import FewGroupsWarning, collecting, warn

__all__ = ["mix"]

#: most Gauss-Hermite points per random effect: the rule's nodes come from an
#: eigendecomposition of an n_quad x n_quad matrix, and far fewer points reach
#: double precision for smooth integrands
MAX_QUAD = 1000


def _is_unit(design) -> bool:
    return bool(np.all(design.w1 == 1) and all(np.all(w == 1) for w in design.wg))


def mix(formula, data, weights=None, *, cond_weights: bool = False,
        family="gaussian", link: str | None = None, n_quad: int = 13,
        offset=None, center_group=None, center_grand=None, weight_scaling="none",
        survey: str | None = None, plausible_values=None, executor=None,
        reml: bool = False, start=None, max_iter: int | None = None,
        replicates=None, by=None):
    """Fit a mixed model with sampling weights at every level.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"y ~ x + (1 + x | school) + (1 | district)"``.
        Random terms: ``(1|g)``, ``(x|g)`` (correlated intercept and slope),
        ``(x||g)`` (uncorrelated), ``(0+x|g)``, ``(1|a/b)`` (``b`` nested in
        ``a``). Grouping factors must be nested; their levels are inferred.
    data : pandas.DataFrame, polars.DataFrame or dask.dataframe.DataFrame
        A Dask DataFrame is fitted on its workers (see :mod:`pywemix.dask`)
        and gives a :class:`~pywemix.dask.result.DaskMixResult`.
    weights : list of (str or None), optional
        One weight column per level, level 1 (observations) first; ``None`` at
        a level means unit conditional weights there. Default: unit weights.
    cond_weights : bool, default False
        ``False``: weights are unconditional (overall inverse selection
        probabilities, as in survey files); the level-l conditional weight is
        ``w_l / w_(l+1)``. ``True``: the weights are already conditional.
    family : {"gaussian", "binomial", "poisson"} or Family
        Distribution of the response. ``"binomial"`` takes 0/1, bool or a
        two-level categorical (second level = 1); ``"poisson"`` counts.
    link : str, optional
        ``"logit"`` (default), ``"probit"`` or ``"cloglog"`` for binomial;
        ``"log"`` for Poisson; ``"identity"`` for Gaussian.
    n_quad : int, default 13
        Adaptive Gauss-Hermite nodes per random effect (non-Gaussian families);
        ``n_quad=1`` is the Laplace approximation as lme4 defines it at any
        number of levels (joint conditional modes; with unit weights equal to
        ``glmer(nAGQ=1)``).
    offset : str or array-like, optional
        Column name (or values, one per row) added to the linear predictor.
    center_group : dict, optional
        Grouping factor -> columns to centre on their (level-1 weighted)
        group means, e.g. ``{"schoolid": ["escs"]}``.
    center_grand : list of str, optional
        Columns to centre on their (level-1 weighted) overall mean.
    weight_scaling : {"none", "size", "effective"} or {"A", "B"}
        Scaling of the level-1 weights within level-2 groups: method A (sum
        to the group size; Stata ``pwscale(size)``) or B (sum to the
        effective size; ``pwscale(effective)``).
    survey : {"PISA", "TIMSS", "TIMSS Advanced", "PIRLS", "NAEP"}, optional
        Survey preset of the EdSurvey note: PISA scales level 1 by method A;
        TIMSS/PIRLS take (total student weight, school weight) unconditional.
        When the data have the survey's replicate columns (PISA
        ``W_FSTURWT1..80``/``W_FSTUWT``; TIMSS/PIRLS ``JKZONE``/``JKREP``/
        ``TOTWGT``, any case) the standard errors come from them (see
        ``replicates``; ``replicates=False`` keeps the sandwich).
    plausible_values : dict, optional
        ``{response: [pv1, ..., pvK]}``: one fit per plausible value,
        combined by the EdSurvey rules (returns a PlausibleValuesResult).
    executor : concurrent.futures.Executor or distributed.Client, optional
        Runs the plausible-value fits in parallel (a Dask cluster receives the
        data once); see :func:`pywemix.executors.map_tasks`.
    reml : bool, default False
        Restricted maximum likelihood (Gaussian, unit weights only).
    start : array-like, optional
        Starting values, in the order of ``result.theta`` (lme4's ``theta``;
        other families: ``numpy.r_[res.params, res.theta]``); see
        :func:`pywemix.estimation.optimize` for the layout.
    max_iter : int, optional
        Maximum optimiser iterations.
    replicates : pywemix.Replicates, optional
        Replicate weights: every standard error from refits with them
        (returns a :class:`~pywemix.survey.ReplicateResult`).
    by : str, optional
        Fit one model per value of this column (returns a
        :class:`~pywemix.survey.ByResult`, value -> result).

    Returns
    -------
    MixResult

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
    ``lme4::lmer(REML = FALSE)`` for unit weights.
    """
    kwargs = dict(cond_weights=cond_weights, family=family, link=link, n_quad=n_quad,
                  offset=offset, center_group=center_group, center_grand=center_grand,
                  weight_scaling=weight_scaling, survey=survey, reml=reml, start=start,
                  max_iter=max_iter)
    if type(data).__module__.split(".")[0] in ("dask", "dask_expr"):
        from .dask import is_dask_dataframe, mix_dask, mix_dask_plausible_values
        if is_dask_dataframe(data):
            if replicates is not None or by is not None:
                raise ValueError("replicates= and by= need a data frame in memory; select the "
                                 "columns and rows you need and call .compute() on the dask "
                                 "frame, or loop over the subsets with executor=client")
            if plausible_values is not None:
                return mix_dask_plausible_values(formula, data, weights, plausible_values,
                                                 kwargs)
            return mix_dask(formula, data, weights, **kwargs)
    if replicates is not None or by is not None or survey is not None:
        from .survey.fit import survey_dispatch
        result = survey_dispatch(_BoundMix(weights, kwargs), formula, data,
                                 replicates=replicates, by=by, survey=survey,
                                 plausible_values=plausible_values, executor=executor)
        if result is not None:
            return result
    if plausible_values is not None:
        from .pv import fit_plausible_values
        return fit_plausible_values(_BoundMix(weights, kwargs), formula, data,
                                    plausible_values, executor)
    return fit_frame(formula, data, weights, **kwargs)


def fit_frame(formula, data, weights, *, cond_weights, family, link, n_quad, offset,
              center_group, center_grand, weight_scaling, survey, reml, start, max_iter,
              reuse=None):
    """``mix`` for one response: design -> objective -> optimum -> variance -> result.

    ``reuse`` (a :class:`_DesignReuse`) lets fits of data that differ only in
    the response share one design.
    """
    args = check_arguments(formula, family, link, cond_weights, n_quad, max_iter, reml,
                            weight_scaling, survey, center_group, center_grand)
    with collecting() as messages:
        design = reuse.get(data, args.parsed, args.family) if reuse is not None else None
        if design is None:
            design = build_design(args.parsed, data, weights, args.cond_weights,
                                  family=args.family, offset=offset,
                                  transform=args.transform, weight_scaling=args.scaling)
            if reuse is not None:
                reuse.put(data, args.parsed, design, list(messages))
        settings = fit_settings(formula, args, design)
        if settings.reml and settings.weighted:
            raise ValueError(
                "reml=True needs unit weights: WeMix's weighted pseudo-likelihood is "
                "defined for maximum likelihood only; fit with reml=False")
        warn_few_groups(design)
        # the optimisers probe points where the criterion is not defined
        # (overflow, singular matrices): such points are rejected, and what
        # goes wrong at the estimates is checked and reported by the stages
        try:
            with np.errstate(all="ignore"):
                objective = make_objective(design, args.family, n_quad=args.n_quad,
                                           reml=args.reml)
                optimum = optimize(objective, start=start, max_iter=args.max_iter)
                variance = estimate_variance(objective, optimum)
        except np.linalg.LinAlgError as exc:
            raise ValueError(_numerical_failure(design, exc)) from exc
    return make_result(design, settings, optimum, variance, messages)


def _numerical_failure(design, exc) -> str:
    """The message of a fit whose linear algebra failed, naming badly scaled predictors."""
    bad = badly_scaled(design.X, design.x_names)
    hint = (f"; predictors on very different scales (standard deviations "
            f"{', '.join(f'{k!r}: {v:.3g}' for k, v in bad.items())}) are the usual cause: "
            "rescale them" if bad else "; check for extreme values or a degenerate model")
    return f"the fit failed numerically (linear algebra: {exc}){hint}"


class _Arguments(NamedTuple):
    """The checked arguments of ``mix``."""

    parsed: object
    family: object
    cond_weights: bool
    n_quad: int
    max_iter: int | None
    reml: bool
    scaling: str
    survey: str | None
    center_group: dict
    center_grand: list
    transform: object


def check_arguments(formula, family, link, cond_weights, n_quad, max_iter, reml,
                     weight_scaling, survey, center_group, center_grand) -> _Arguments:
    """Every argument check of ``mix`` that needs no data (TypeError/ValueError)."""
    fam = _family(family, link)
    cond_weights = check_bool(cond_weights, "cond_weights")
    scaling, preset = _scaling(weight_scaling, survey, cond_weights)
    parsed = parse_formula(formula)
    groups, grand = check_centering(center_group, center_grand, parsed)
    n_quad = check_positive_int(n_quad, "n_quad")
    if n_quad > MAX_QUAD:
        raise ValueError(f"n_quad must be at most {MAX_QUAD} (points per random effect), got "
                         f"{n_quad}; adaptive quadrature is usually accurate with 5 to 25")
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=True)
    reml = check_bool(reml, "reml")
    if reml and fam is not None:
        raise ValueError("reml=True is only defined for the gaussian family")
    return _Arguments(parsed, fam, cond_weights, n_quad, max_iter, reml, scaling, preset,
                      groups, grand, make_centering(groups, grand))


def fit_settings(formula, args, design) -> FitSettings:
    """The settings record of a fit of ``design``."""
    fam = args.family
    return FitSettings(
        formula=formula, family=fam.name if fam else "gaussian",
        link=fam.link if fam else "identity", n_quad=args.n_quad if fam else None,
        reml=args.reml, weighted=not _is_unit(design),
        weight_spec=tuple(design.weight_spec), cond_weights=args.cond_weights,
        weight_scaling=normalize_scaling(args.scaling), survey=args.survey,
        center_group=tuple((g, tuple(c)) for g, c in args.center_group.items()),
        center_grand=tuple(args.center_grand), offset_column=design.offset_column,
        has_offset=bool(np.any(design.offset != 0)), family_object=fam)


def _family(family, link):
    """None for the Gaussian family, else a Family object (checks the link)."""
    if isinstance(family, str) and family.strip().lower() == "gaussian":
        link = check_link(link)
        if link not in (None, "identity"):
            raise ValueError(f"family 'gaussian' has no link {link!r}; its links are "
                             "'identity'")
        return None
    return get_family(family, link)


def warn_few_groups(design):
    """A :class:`FewGroupsWarning` when there are fewer than 20 top-level groups."""
    top = design.levels[-1]
    if top.n_groups < 20:
        warn(f"only {top.n_groups} top-level groups ({top.name}): cluster-robust "
             "standard errors are unreliable with fewer than 20 clusters",
             FewGroupsWarning)


class _BoundMix:
    """``mix`` with every argument but formula and data bound (picklable, so
    plausible-value fits can run in a process pool). Fits of data frames that
    differ only in the response (plausible values) share one design."""

    def __init__(self, weights, kwargs):
        self.weights, self.kwargs = weights, kwargs
        self.reuse = _DesignReuse()

    def __getstate__(self):
        return {"weights": self.weights, "kwargs": self.kwargs}

    def __setstate__(self, state):
        self.__init__(state["weights"], state["kwargs"])

    def __call__(self, formula, data):
        return fit_frame(formula, data, self.weights, reuse=self.reuse, **self.kwargs)


class _DesignReuse:
    """The design of the first data frame, for frames differing only in the response.

    A later frame reuses it when it has the same shape and columns, the same
    values in every column but the response, and missing responses in the same
    rows; only the response vector is replaced. The design's warnings (rows
    dropped, ...) are recorded for every fit that reuses it, but not issued
    again: the user sees them once.
    """

    def __init__(self):
        self.entry = None

    def get(self, data, parsed, family):
        if self.entry is None or not isinstance(data, pd.DataFrame):
            return None
        first, key, design, messages = self.entry
        resp = parsed.response
        if (key != (parsed, resp) or data.shape != first.shape
                or list(data.columns) != list(first.columns) or resp not in data.columns
                or not np.array_equal(data[resp].isna().to_numpy(),
                                      first[resp].isna().to_numpy())
                or not all(data[c].equals(first[c]) for c in data.columns if c != resp)):
            return None
        values = data[resp].iloc[design.row_positions]
        y = response_values(values, resp, family)
        frame = design.frame.copy(deep=False)
        frame[resp] = values.to_numpy()
        from .warnings import record
        for m in messages:
            record(m)
        return replace(design, y=y, frame=frame)

    def put(self, data, parsed, design, messages):
        if isinstance(data, pd.DataFrame) and self.entry is None:
            self.entry = (data, (parsed, parsed.response), design, messages)


def _scaling(weight_scaling, survey, cond_weights):
    """Level-1 scaling method and the survey preset's name (None without one).

    A preset without scaling (TIMSS, PIRLS, NAEP) gives
    :data:`~pywemix.design.scaling.PRESET_NONE`: no scaling and no
    unscaled-weight warning, since the EdSurvey note recommends no scaling
    for these surveys (the settings record ``"none"``).
    """
    method = normalize_scaling(weight_scaling)
    if survey is None:
        return method, None
    preset = survey_preset(survey)
    if method != "none" and method != preset["weight_scaling"]:
        raise ValueError(f"weight_scaling={weight_scaling!r} conflicts with the "
                         f"{preset['name']} preset ({preset['note']})")
    if preset.get("unconditional") and cond_weights:
        raise ValueError(f"the {preset['name']} preset takes the total student weight "
                         "and the school weight (unconditional): use cond_weights=False")
    method = preset["weight_scaling"]
    return (PRESET_NONE if method == "none" else method), preset["name"]
