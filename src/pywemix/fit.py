"""``mix``: the one entry point that fits a weighted mixed model.

A short orchestrator of the four stages: formula & design
(:mod:`pywemix.design`), objective (:mod:`pywemix.gaussian`), optimisation
(:mod:`pywemix.optimize`) and results (:mod:`pywemix.results`).
R equivalent: ``WeMix::mix``.
"""
from __future__ import annotations

import warnings

import numpy as np

from .design import build_design
from .linear import fit_linear
from .results import MixResult
from .warnings import FewGroupsWarning, PywemixWarning

__all__ = ["mix"]

_FAMILIES = ("gaussian",)


def _is_unit(design) -> bool:
    return bool(np.all(design.w1 == 1) and all(np.all(w == 1) for w in design.wg))


def mix(formula, data, weights=None, *, cond_weights: bool = False,
        family: str = "gaussian", reml: bool = False, start=None,
        max_iter: int = 1000) -> MixResult:
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
    family : {"gaussian"}
        Distribution of the response.
    reml : bool, default False
        Restricted maximum likelihood (unit weights only).
    start : array-like, optional
        Starting relative Cholesky parameters (lme4's ``theta``).
    max_iter : int
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
    if family not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; supported: {', '.join(_FAMILIES)}")
    if not isinstance(cond_weights, (bool, np.bool_)):
        raise TypeError(f"cond_weights must be True or False, got {cond_weights!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = build_design(formula, data, weights, bool(cond_weights))
        weighted = not _is_unit(design)
        if reml and weighted:
            raise ValueError(
                "reml=True needs unit weights: WeMix's weighted pseudo-likelihood is "
                "defined for maximum likelihood only; fit with reml=False")
        top = design.levels[-1]
        if top.n_groups < 20:
            warnings.warn(
                f"only {top.n_groups} top-level groups ({top.name}): cluster-robust "
                "standard errors are unreliable with fewer than 20 clusters",
                FewGroupsWarning, stacklevel=2)
        fields = fit_linear(design, reml=reml, start=start, max_iter=max_iter)
    messages = []
    for w in caught:
        if issubclass(w.category, PywemixWarning):
            messages.append(str(w.message))
        warnings.warn(w.message, w.category, stacklevel=2)
    return MixResult(**fields, formula=formula, family=family, link="identity",
                     n_quad=None, nobs=design.n_obs, warnings=tuple(messages),
                     weighted=weighted, weight_spec=list(design.weight_spec),
                     cond_weights=bool(cond_weights), extra={})
