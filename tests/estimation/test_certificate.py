"""The convergence certificate (pywemix.estimation.certificate): an optimum is
an optimum in covariance space, from any start, whatever the weights' scale.

References: lmer / glmer(nAGQ = 1, tolPwrss = 1e-13) maxima of seeded random
models (``tests/data/make_optimum_cases.py`` -> ``optimum_cases.csv``,
``make_lme4_optimum.R`` -> ``lme4_optimum.json``) and WeMix's
``Reaction ~ Days + (car||Subject)`` case (``make_wemix_car.R``). The full
sweep over many models and starts is ``benchmarks/optimum_sweep.py``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.estimation.certificate import (
    covariance_escape,
    fold_violation,
    lower_factor,
    null_violation,
)
from pywemix.objective.covariance import CovarianceStructure

DATA = Path(__file__).resolve().parents[1] / "data"
LLF_TOL = 1e-6  # a fit reporting convergence is no lower than R's maximum by more
STARTS = 12  # random starts per seeded model here (the sweep runs hundreds)


def fit(formula, data, family="gaussian", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n_quad = kw.pop("n_quad", None) or 1
        if family != "gaussian":
            kw = dict(family=family, n_quad=n_quad, **kw)
        return pywemix.mix(formula, data, **kw)


# -- the pieces ---------------------------------------------------------------------------
def test_lower_factor_keeps_the_covariance():
    rng = np.random.default_rng(3)
    for q, m in [(1, 1), (2, 3), (3, 3), (3, 5)]:
        A = rng.normal(size=(q, m))
        L = lower_factor(A)
        np.testing.assert_allclose(L @ L.T, A @ A.T, atol=1e-12)
        assert np.allclose(L, np.tril(L)) and np.all(np.diag(L) >= 0)


def test_fold_violation_sees_both_signs_of_a_column():
    """With ``L_11 = 0`` the derivative in ``L_11`` is ``2 (G L)_11``: of one
    sign for the column as it is, of the other for the column negated."""
    G = np.array([[0.3, 0.5], [0.5, 0.0]])
    L = np.array([[0.0, 0.0], [-0.8, 0.6]])
    R = fold_violation(G, L)
    assert R[0, 0] == pytest.approx(2 * 0.5 * -0.8)
    assert fold_violation(G, -L)[0, 0] == pytest.approx(-R[0, 0])
    assert fold_violation(G, np.array([[0.4, 0.0], [-0.8, 0.6]])).any() == False  # noqa: E712


def test_null_violation_finds_variance_to_add():
    G = np.array([[-0.2, 0.0], [0.0, 1.0]])
    lam, v = null_violation(G, np.array([[0.0, 0.0], [0.0, 1.0]]))
    assert lam == pytest.approx(-0.2) and abs(v[0]) == pytest.approx(1.0)
    assert null_violation(G, np.eye(2))[1] is None


def test_covariance_escape_leaves_a_saddle_on_the_boundary():
    """``f(T) = |T - T*|^2`` over 2x2 covariances: at ``L = [[0, 0], [-b, c]]``
    with the derivative in ``L_11`` pushing outwards, the certificate finds
    a better point (the column negated and moved in)."""
    st = CovarianceStructure([[2]], [[("a", "b")]])
    target = np.array([[1.0, 0.6], [0.6, 1.0]])

    def f(x):
        L = st.factors(x)[0]
        return float(np.sum((L @ L.T - target) ** 2))

    x = np.array([0.0, -0.6, 0.8])  # (1,1), (2,1), (2,2)
    L = st.factors(x)[0]
    G = 2 * (L @ L.T - target)
    assert 2 * (G @ L)[0, 0] > 0  # a stopping point for a projected search
    cert = covariance_escape(st, x, [G], f, f(x))
    assert not cert.passed and cert.escape is not None and f(cert.escape) < f(x)
    at_optimum = np.array([1.0, 0.6, 0.8])
    Lo = st.factors(at_optimum)[0]
    assert covariance_escape(st, at_optimum, [2 * (Lo @ Lo.T - target)], f, 0.0).passed


# -- WeMix's case ---------------------------------------------------------------------------
def test_wemix_double_bar_with_a_logical_reaches_the_maximum():
    """``Reaction ~ Days + (car||Subject)``: lmer and WeMix reach -890.6816;
    pywemix stopped at a saddle (-890.8324) and reported convergence."""
    ref = json.loads((DATA / "lme4_wemix_car.json").read_text())
    d = pd.read_csv(DATA / "wemix_car.csv")
    res = fit(ref["formula"], d)
    assert res.converged
    assert res.llf == pytest.approx(-890.6816, abs=5e-5)
    assert res.llf >= ref["llf"] - LLF_TOL
    np.testing.assert_allclose(res.params.values, list(ref["fixef"].values()), rtol=1e-5)
    # from the saddle pywemix used to stop at, in lme4's theta order
    again = fit(ref["formula"], d, start=[1.11575075, 0.0, -0.76913126, 0.58801477])
    assert again.converged and again.llf >= ref["llf"] - LLF_TOL


# -- seeded random models against lmer / glmer, from the default and random starts -------
REF = json.loads((DATA / "lme4_optimum.json").read_text())
ALL = pd.read_csv(DATA / "optimum_cases.csv")


def random_start(rng, theta, lower, beta, kind):
    """A user start in lme4's order: random factors, diagonals at or near 0,
    or a perturbed optimum (GLMMs: the fixed effects first)."""
    diag = lower == 0
    k = len(theta)
    if kind == 0:
        t = np.where(diag, np.exp(rng.uniform(-4, 1.5, k)), rng.normal(0, 1, k))
    elif kind == 1:
        t = np.where(diag, np.exp(rng.uniform(-2, 1, k)), rng.normal(0, 1, k))
        hit = diag & (rng.random(k) < 0.5)
        t[hit] = rng.choice([0.0, 1e-8, 1e-5], size=hit.sum())
    else:
        t = theta + 0.3 * rng.normal(size=k) * np.maximum(np.abs(theta), 0.3)
        t = np.where(diag, np.abs(t), t)
    return t if beta is None else np.r_[beta + rng.normal(0, 0.5, len(beta)), t]


@pytest.mark.parametrize("ref", REF["cases"], ids=lambda c: f"{c['case']}-{c['kind']}")
def test_seeded_models_reach_lme4_from_any_start(ref):
    """Every fit that reports convergence is at lmer's / glmer's maximum or
    higher (to 1e-6 in llf); the default start converges."""
    d = ALL[ALL["case"] == ref["case"]].drop(columns="case")
    d["lg"] = d["lg"].astype(bool)
    nq = ref["n_quad"] if ref["family"] != "gaussian" else None
    base = fit(ref["formula"], d, ref["family"], n_quad=nq)
    assert base.converged, base.optimization.message
    assert base.llf >= ref["llf"] - LLF_TOL
    gauss = ref["family"] == "gaussian"
    theta = np.asarray(base.theta)
    lower = np.asarray(base.objective.structure.theta_lower())
    beta = None if gauss else np.asarray(base.params)
    rng = np.random.default_rng([5, ref["case"]])
    not_converged = []
    for i in range(STARTS):
        r = fit(
            ref["formula"],
            d,
            ref["family"],
            n_quad=nq,
            start=random_start(rng, theta, lower, beta, i % 3),
        )
        if r.converged:
            assert r.llf >= ref["llf"] - LLF_TOL, (i, r.llf, ref["llf"])
        else:
            not_converged.append(r.optimization.message)
    # a start may end unconverged (saying why), not most of them
    assert len(not_converged) <= 1 and all(not_converged), not_converged


def test_a_glmm_started_on_a_saddle_goes_on():
    """Laplace from a start with every Cholesky element of the random part 0
    (a stationary point: the gradient in a zero column vanishes) reaches
    glmer's maximum instead of reporting convergence there."""
    ref = next(c for c in REF["cases"] if c["kind"] == "glmm_slope")
    d = ALL[ALL["case"] == ref["case"]].drop(columns="case")
    base = fit(ref["formula"], d, "binomial")
    start = np.r_[np.asarray(base.params), np.zeros(len(base.theta))]
    r = fit(ref["formula"], d, "binomial", start=start)
    assert r.converged and r.llf >= ref["llf"] - LLF_TOL


# -- weight scale --------------------------------------------------------------------------
def scaled_fits(formula, d, weights, family="gaussian", **kw):
    out = []
    for c in (1.0, 1e-3, 1e3):
        e = d.copy()
        e[weights[-1]] = e[weights[-1]] * c
        out.append(fit(formula, e, family, weights=weights, cond_weights=True, **kw))
    return out


def assert_same_estimates(fits, rtol=1e-8):
    ref = fits[0]
    for r in fits[1:]:
        assert r.converged
        np.testing.assert_allclose(r.params.values, ref.params.values, rtol=rtol, atol=rtol)
        top = max(float(np.max(np.diag(b))) for b in ref.optimization.covariances)
        for a, b in zip(r.optimization.covariances, ref.optimization.covariances):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * top)


def weighted(case):
    d = ALL[ALL["case"] == case].drop(columns="case").copy()
    rng = np.random.default_rng(case)
    d["w1"] = rng.uniform(0.5, 2.0, len(d))
    d["w2"] = d["g"].map(dict(zip(d["g"].unique(), rng.uniform(1, 4, d["g"].nunique()))))
    d["w3"] = d["d"].map(dict(zip(d["d"].unique(), rng.uniform(1, 3, d["d"].nunique()))))
    return d


@pytest.mark.parametrize(
    "case,formula,weights,family,n_quad",
    [
        (0, "y ~ x + (1 + x|g)", ["w1", "w2"], "gaussian", None),
        (5, "y ~ x + (1 + x|g) + (1|d)", ["w1", "w2", "w3"], "gaussian", None),
        (7, "y ~ x + (1 + x|g)", ["w1", "w2"], "binomial", 1),
        (9, "y ~ x + (1|g) + (1|d)", ["w1", "w2", "w3"], "poisson", 1),
        (7, "y ~ x + (1|g)", ["w1", "w2"], "binomial", 7),
    ],
)
def test_top_level_weight_scale_leaves_the_estimates(case, formula, weights, family, n_quad):
    """Top-level weights times 1e-3 or 1e3: the same estimates to 1e-8."""
    kw = {} if n_quad is None else dict(n_quad=n_quad)
    assert_same_estimates(scaled_fits(formula, weighted(case), weights, family, **kw))


def test_response_scale_leaves_the_theta():
    d = weighted(1)
    base = fit("y ~ x + z + (1 + x + z|g)", d, weights=["w1", "w2"])
    e = d.assign(y=d["y"] * 1e3)
    big = fit("y ~ x + z + (1 + x + z|g)", e, weights=["w1", "w2"])
    assert base.converged and big.converged
    np.testing.assert_allclose(big.theta, base.theta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(big.params.values, 1e3 * base.params.values, rtol=1e-8)


# -- boundary warnings ---------------------------------------------------------------------
def test_boundary_warning_names_effects_not_separately_identified():
    """``(grp || district)``: a zero variance among the intercept and every
    level of ``grp`` is one of many equivalent solutions, not 'no variation'."""
    d = pd.read_csv(DATA / "structures.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pywemix.mix("y ~ x + (grp || district)", d)
    texts = [str(w.message) for w in caught if issubclass(w.category, pywemix.BoundaryWarning)]
    assert any(
        "the intercept, grp[a], grp[b] and grp[c] of district are not separately identified" in t
        for t in texts
    ), texts
    assert not any("the data show no variation" in t for t in texts), texts


def test_true_zero_variance_still_says_so():
    d = pd.read_csv(DATA / "structures.csv")
    rng = np.random.default_rng(0)
    d = d.assign(y=1.0 + d["x"] + rng.normal(size=len(d)))  # no district effect at all
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pywemix.mix("y ~ x + (1|district)", d)
    texts = [str(w.message) for w in caught if issubclass(w.category, pywemix.BoundaryWarning)]
    assert any("the data show no variation" in t for t in texts), texts
    assert not any("not separately identified" in t for t in texts)
