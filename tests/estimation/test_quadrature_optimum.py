"""The reported GLMM optimum is a maximum of the reported objective.

The objective a quadrature fit reports is the adaptive approximation, whose
nodes move with the parameters. At the estimates its gradient, by central
differences written here (not the package's), must vanish relative to the
sum of the top-level weights, and a fit
restarted from a perturbed point must come back to the same estimates. Both
over weight scales from 1e-2 to 1e4 (including survey-scale conditional
level-1 weights, where fixed-node Newton steps used to stop short), informative
weights, random slopes, three levels, and every family and link; on a seeded
set of random models; and for growing numbers of nodes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, ndtr

import pywemix

INTERCEPT = "y ~ x + (1|g)"
SLOPE = "y ~ x + (1 + x|g)"
THREE = "y ~ x + (1|g) + (1|d)"
GRAD_TOL = 1e-6  # |gradient| per unit of top-level weight at the optimum
RESTART_TOL = 1e-6  # parameters of a restarted fit, relative (absolute below 1)


def simulate(
    seed, family, link, *, scale=1.0, slope=False, informative=False, n_groups=14, sizes=(6, 12)
):
    """A small two- or three-level data set: districts ``d`` of schools ``g``,
    conditional weights ``w1`` (rows, ~``scale``), ``w2`` (schools), ``w3``."""
    rng = np.random.default_rng(seed)
    n = rng.integers(*sizes, size=n_groups)
    g = np.repeat(np.arange(n_groups), n)
    x = rng.normal(size=g.size)
    u = rng.normal(0, 0.7, n_groups)[g] + rng.normal(0, 0.4, n_groups // 3 + 1)[g // 3]
    eta = -0.3 + 0.6 * x + u + (rng.normal(0, 0.4, n_groups)[g] * x if slope else 0.0)
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        mean = {"logit": expit, "probit": ndtr, "cloglog": lambda e: -np.expm1(-np.exp(e))}[link](
            eta
        )
        y = (rng.random(g.size) < mean).astype(float)
    w1 = scale * rng.uniform(0.3, 3.0, g.size)
    if informative:
        w1 = w1 * np.where(y > 0, 3.0, 1.0)
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "g": g,
            "d": g // 3,
            "w1": w1,
            "w2": rng.uniform(1, 5, n_groups)[g],
            "w3": rng.uniform(1, 3, n_groups // 3 + 1)[g // 3],
        }
    )


def fit(df, formula, family, link, n_quad=13, start=None):
    weights = ["w1", "w2", "w3"] if "(1|d)" in formula else ["w1", "w2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.FewGroupsWarning)
        warnings.simplefilter("ignore", pywemix.BoundaryWarning)
        return pywemix.mix(
            formula,
            df,
            weights,
            cond_weights=True,
            family=family,
            link=link,
            n_quad=n_quad,
            start=start,
        )


def top_weight(df, formula):
    """Sum of the top-level weights (the information about the variances and
    the intercept grows with it, not with the level-1 weights)."""
    top, w = ("d", "w3") if "(1|d)" in formula else ("g", "w2")
    return float(df.groupby(top)[w].first().sum())


def central_gradient(res, h=1e-5):
    """Central differences of the reported objective at the reported estimates."""
    obj, phi = res.objective.function, res.optimization.x
    grad = np.empty(len(phi))
    for k in range(len(phi)):
        e = np.zeros(len(phi))
        e[k] = h * max(abs(phi[k]), 1.0)
        grad[k] = (
            obj.evaluate(phi + e, derivs=False).llf - obj.evaluate(phi - e, derivs=False).llf
        ) / (2 * e[k])
    return grad


def check_maximum(df, formula, family, link, seed=0, n_quad=13):
    res = fit(df, formula, family, link, n_quad)
    assert res.converged
    phi = res.optimization.x
    grad = central_gradient(res)
    # what central differences can resolve: rounding of the objective over 2h
    floor = 64 * np.finfo(float).eps * abs(res.llf) / (2e-5 * np.maximum(np.abs(phi), 1.0))
    assert np.all(np.abs(grad) < GRAD_TOL * top_weight(df, formula) + floor), grad
    # a restart from a perturbed point comes back: to RESTART_TOL, or where the
    # objective is too flat for that (a small eigenvalue of its Hessian, e.g.
    # few groups but heavy level-1 weights), to 1e-4 standard errors
    rng = np.random.default_rng(seed)
    start = phi + 0.1 * rng.normal(size=len(phi)) * np.maximum(np.abs(phi), 0.3)
    again = fit(df, formula, family, link, n_quad, start=start)
    assert again.converged
    phi2 = again.optimization.x
    hess = res.objective.function.evaluate(phi).hess
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    tol = np.maximum(RESTART_TOL * np.maximum(np.abs(phi), 1.0), 1e-4 * se)
    assert np.all(np.abs(phi2 - phi) <= tol), (phi, phi2, se)
    assert again.llf == pytest.approx(res.llf, rel=1e-12, abs=1e-9)
    return res


LINKS = [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")]


@pytest.mark.parametrize("family,link", LINKS)
@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e3, 1e4])
def test_random_intercept_optimum_over_weight_scales(family, link, scale):
    df = simulate(1, family, link, scale=scale)
    check_maximum(df, INTERCEPT, family, link)


@pytest.mark.parametrize("family,link", LINKS)
def test_informative_survey_weights(family, link):
    df = simulate(2, family, link, scale=1e3, informative=True)
    check_maximum(df, INTERCEPT, family, link)


@pytest.mark.parametrize("family,link", LINKS)
def test_random_slope_survey_weights(family, link):
    df = simulate(3, family, link, scale=1e3, slope=True, n_groups=12, sizes=(15, 25))
    check_maximum(df, SLOPE, family, link)


@pytest.mark.parametrize("family,link", LINKS)
def test_three_levels_survey_weights(family, link):
    df = simulate(4, family, link, scale=1e3, n_groups=15)
    check_maximum(df, THREE, family, link, n_quad=7)


def random_case(case):
    """A random family, link, structure and weight scale (conditional level-1
    weights 1e2 to 1e4), redrawn until every school has both responses: under
    heavy weights a school whose responses are all equal pushes its variance
    to infinity (the pseudo-likelihood has no finite maximum)."""
    rng = np.random.default_rng([2024, case])
    family, link = LINKS[rng.integers(len(LINKS))]
    formula = [INTERCEPT, INTERCEPT, SLOPE, THREE][rng.integers(4)]
    scale, informative = 10.0 ** rng.uniform(2, 4), bool(rng.integers(2))
    for seed in range(100 * case, 100 * case + 100):
        df = simulate(
            seed,
            family,
            link,
            scale=scale,
            slope=formula == SLOPE,
            informative=informative,
            n_groups=12,
            sizes=(12, 20) if formula == SLOPE else (6, 12),
        )
        spread = df.groupby("g")["y"].agg(lambda y: y.min() < y.max())
        if family == "poisson" or spread.all():
            return df, formula, family, link
    raise AssertionError("no usable draw")


@pytest.mark.parametrize("case", range(12))
def test_seeded_random_models(case):
    """Each optimum of a random model is a maximum of its objective and a
    perturbed restart agrees."""
    df, formula, family, link = random_case(case)
    check_maximum(df, formula, family, link, seed=case, n_quad=5 if formula == THREE else 9)


def test_more_nodes_never_break_a_fit():
    """cloglog with a random slope and survey-scale weights: 13, 30 and 60
    nodes all fit (60 nodes used to overflow the cloglog curvature) and agree."""
    df = simulate(5, "binomial", "cloglog", scale=1e3, slope=True, n_groups=6, sizes=(12, 16))
    fits = [fit(df, SLOPE, "binomial", "cloglog", n_quad=k) for k in (13, 30, 60)]
    for r in fits:
        assert r.converged and np.isfinite(r.llf)
        assert np.all(np.isfinite(r.optimization.x))
    phis = [r.optimization.x for r in fits]
    for other in phis[:2]:
        assert np.max(np.abs(other - phis[2])) < 1e-4
