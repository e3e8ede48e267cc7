"""``mix``: the one entry point that fits a weighted mixed model.

A short orchestrator of the four stages: formula & design
(:mod:`pywemix.design`), objective (:mod:`pywemix.gaussian`), optimisation
(:mod:`pywemix.optimize`) and results (:mod:`pywemix.results`).
R equivalent: ``WeMix::mix``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .center import check_centering, make_centering
from .design import build_design
from .frame import numeric_array
from .formula import parse_formula
from .scaling import normalize_scaling, survey_preset
from .families import check_link, get_family
from .glmm import fit_quadrature
from .linear import fit_linear
from .results import MixResult
from .warnings import FewGroupsWarning, collecting, warn

__all__ = ["mix"]



def _is_unit(design) -> bool:
    return bool(np.all(design.w1 == 1) and all(np.all(w == 1) for w in design.wg))


def mix(formula, data, weights=None, *, cond_weights: bool = False,
        family="gaussian", link: str | None = None, n_quad: int = 13,
        offset=None, center_group=None, center_grand=None, weight_scaling="none",
        survey: str | None = None, plausible_values=None, executor=None,
        reml: bool = False, start=None, max_iter: int | None = None):
    """Fit a mixed model with sampling weights at every level.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"y ~ x + (1 + x | school) + (1 | district)"``.
        Random terms: ``(1|g)``, ``(x|g)`` (correlated intercept and slope),
        ``(x||g)`` (uncorrelated), ``(0+x|g)``, ``(1|a/b)`` (``b`` nested in
        ``a``). Grouping factors must be nested; their levels are inferred.
    data : pandas.DataFrame or polars.DataFrame
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
    plausible_values : dict, optional
        ``{response: [pv1, ..., pvK]}``: one fit per plausible value,
        combined by the EdSurvey rules (returns a PlausibleValuesResult).
    executor : concurrent.futures.Executor, optional
        Runs the plausible-value fits in parallel.
    reml : bool, default False
        Restricted maximum likelihood (Gaussian, unit weights only).
    start : array-like, optional
        Starting values: Gaussian, the relative Cholesky parameters (lme4's
        ``theta``); other families, the fixed effects then the Cholesky
        elements of each level's covariance.
    max_iter : int, optional
        Maximum optimiser iterations.

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
    integrals are analytic (:mod:`pywemix.gaussian`). Standard errors are
    cluster-robust at the top level (WeMix eqs. 7-9, :mod:`pywemix.variance`).

    R equivalents: ``WeMix::mix(formula, data, weights, cWeights)``;
    ``lme4::lmer(REML = FALSE)`` for unit weights.
    """
    kwargs = dict(cond_weights=cond_weights, family=family, link=link, n_quad=n_quad,
                  offset=offset, center_group=center_group, center_grand=center_grand,
                  weight_scaling=weight_scaling, survey=survey, reml=reml, start=start,
                  max_iter=max_iter)
    if plausible_values is not None:
        from .pv import fit_plausible_values
        return fit_plausible_values(_BoundMix(weights, kwargs), formula, data,
                                    plausible_values, executor)
    return _fit(formula, data, weights, **kwargs)


def _fit(formula, data, weights, *, cond_weights, family, link, n_quad, offset,
         center_group, center_grand, weight_scaling, survey, reml, start, max_iter,
         reuse=None):
    """``mix`` for one response. ``reuse`` (a :class:`_DesignReuse`) lets fits
    of data that differ only in the response share one design."""
    fam = _family(family, link)
    scaling, extra = _scaling(weight_scaling, survey, cond_weights)
    parsed = parse_formula(formula)
    transform = make_centering(*check_centering(center_group, center_grand, parsed))
    if not isinstance(cond_weights, (bool, np.bool_)):
        raise TypeError(f"cond_weights must be True or False, got {cond_weights!r}")
    if isinstance(n_quad, bool) or not isinstance(n_quad, (int, np.integer)):
        raise TypeError(f"n_quad must be a positive integer, got {n_quad!r}")
    if n_quad < 1:
        raise ValueError(f"n_quad must be a positive integer, got {n_quad!r}")
    if max_iter is not None:
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)):
            raise TypeError(f"max_iter must be a positive integer or None, got {max_iter!r}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer or None, got {max_iter!r}")
    if not isinstance(reml, (bool, np.bool_)):
        raise TypeError(f"reml must be True or False, got {reml!r}")
    if reml and fam is not None:
        raise ValueError("reml=True is only defined for the gaussian family")
    with collecting() as messages:
        design = reuse.get(data, parsed, fam) if reuse is not None else None
        if design is None:
            design = build_design(parsed, data, weights, bool(cond_weights), family=fam,
                                  offset=offset, transform=transform, weight_scaling=scaling)
            if reuse is not None:
                reuse.put(data, parsed, design, list(messages))
        weighted = not _is_unit(design)
        if reml and weighted:
            raise ValueError(
                "reml=True needs unit weights: WeMix's weighted pseudo-likelihood is "
                "defined for maximum likelihood only; fit with reml=False")
        if center_group or center_grand:
            extra["Centering"] = "; ".join(
                [f"{', '.join(c)} within {g}" for g, c in (center_group or {}).items()]
                + ([f"{', '.join(_as_list(center_grand))} grand mean"] if center_grand else []))
        top = design.levels[-1]
        if top.n_groups < 20:
            warn(f"only {top.n_groups} top-level groups ({top.name}): cluster-robust "
                 "standard errors are unreliable with fewer than 20 clusters",
                 FewGroupsWarning)
        # the optimisers probe points where the criterion is not defined
        # (overflow, singular matrices): such points are rejected, and what
        # goes wrong at the estimates is checked and reported by the fits
        with np.errstate(all="ignore"):
            if fam is None:
                fields = fit_linear(design, reml=bool(reml), start=start,
                                    max_iter=max_iter or 1000)
            else:
                fields = fit_quadrature(design, fam, n_quad=int(n_quad), start=start,
                                        max_iter=max_iter or 200)
    return MixResult(**fields, formula=formula, family=fam.name if fam else "gaussian",
                     link=fam.link if fam else "identity",
                     n_quad=int(n_quad) if fam else None, nobs=design.n_obs,
                     warnings=tuple(messages),
                     weighted=weighted, weight_spec=list(design.weight_spec),
                     cond_weights=bool(cond_weights), extra=extra)


def _family(family, link):
    """None for the Gaussian family, else a Family object (checks the link)."""
    if isinstance(family, str) and family.strip().lower() == "gaussian":
        link = check_link(link)
        if link not in (None, "identity"):
            raise ValueError(f"family 'gaussian' has no link {link!r}; its links are "
                             "'identity'")
        return None
    return get_family(family, link)


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
        return _fit(formula, data, self.weights, reuse=self.reuse, **self.kwargs)


class _DesignReuse:
    """The design of the first data frame, for frames differing only in the response.

    A later frame reuses it when it has the same shape and columns, the same
    values in every column but the response, and missing responses in the same
    rows; only the response vector is replaced. The design's warnings (rows
    dropped, ...) are issued again for every fit that reuses it.
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
        y = numeric_array(values.to_frame(), resp, "response") if family is None \
            else family.response(values, resp)
        frame = design.frame.copy(deep=False)
        frame[resp] = values.to_numpy()
        for m in messages:
            warn(m)
        return replace(design, y=y, frame=frame)

    def put(self, data, parsed, design, messages):
        if isinstance(data, pd.DataFrame) and self.entry is None:
            self.entry = (data, (parsed, parsed.response), design, messages)


def _as_list(x):
    return [x] if isinstance(x, str) else list(x)


def _scaling(weight_scaling, survey, cond_weights):
    """Level-1 scaling method and the summary lines describing it."""
    method = normalize_scaling(weight_scaling)
    extra = {}
    if survey is not None:
        preset = survey_preset(survey)
        if method != "none" and method != preset["weight_scaling"]:
            raise ValueError(f"weight_scaling={weight_scaling!r} conflicts with the "
                             f"{preset['name']} preset ({preset['note']})")
        if preset.get("unconditional") and cond_weights:
            raise ValueError(f"the {preset['name']} preset takes the total student weight "
                             "and the school weight (unconditional): use cond_weights=False")
        method = preset["weight_scaling"]
        extra["Survey preset"] = f"{preset['name']} ({preset['note']})"
    names = {"none": "none", "size": "method A (level-1 weights sum to the group size)",
             "effective": "method B (level-1 weights sum to the effective group size)"}
    extra["Weight scaling"] = names[method]
    return method, extra
