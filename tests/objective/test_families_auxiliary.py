"""Families with auxiliary parameters (negative binomial, gamma, ordinal) and
the binomial with trials, in the objectives.

Covered: each family's log density against scipy's distributions and its
derivatives (in eta to the third, in the auxiliary parameters, mixed)
against finite differences; the unconstrained parametrisation and its
chain rule; the objectives' derivatives in ``phi = (beta, aux, chol)``
(the Laplace objective's exact gradient, the quadrature's fixed-node
gradient and Hessian) against finite differences, weighted, with slopes and
three levels; and brute-force integration of the weighted pseudo-likelihood
(scipy's ``quad``; for three levels nested composite Gauss-Legendre rules)
against the adaptive quadrature,
and an independent weighted Laplace approximation against the Laplace
objective.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from pywemix.design import build_design
from pywemix.objective import make_objective
from pywemix.objective.families import Binomial, Gamma, NegativeBinomial, Ordinal, get_family

from conftest import AUX_FAMILIES, aux_family_id, family_data

RNG = np.random.default_rng(7)
ETA = RNG.normal(size=40)


def _fd(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def _cases():
    """(family bound to its parameters, responses, linear predictors)."""
    mu = np.exp(ETA)
    yield (
        NegativeBinomial(dispersion=2.0),
        RNG.negative_binomial(2, 2 / (2 + mu)).astype(float),
        ETA,
    )
    yield Gamma("log", 0.5), RNG.gamma(2, mu / 2), ETA
    yield Gamma("inverse", 0.5), RNG.gamma(2, 1 / (np.abs(ETA) + 0.5) / 2), np.abs(ETA) + 0.5
    for link in ("logit", "probit"):
        yield (
            Ordinal(link, [1, 2, 3, 4], [-1.0, 0.2, 1.5]),
            RNG.integers(0, 4, ETA.size).astype(float),
            3 * ETA,
        )


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: repr(c))
def test_derivatives_in_eta_and_in_the_parameters(case):
    fam, y, eta = case
    ll, d1, d2, d3 = fam.derivs(y, eta, order=3)
    for k, d in enumerate((d1, d2, d3)):
        np.testing.assert_allclose(
            _fd(lambda e, k=k: fam.derivs(y, e, order=3)[k], eta),
            d,
            rtol=1e-6,
            atol=1e-7,
        )
    la, l1a, l2a, laa = fam.aux_derivs(y, eta)
    values = fam.aux
    for j in range(len(values)):

        def at(t, part, j=j):
            v = values.copy()
            v[j] = t
            return part(fam.with_aux(v))

        for got, part in (
            (la, lambda f: f.derivs(y, eta)[0]),
            (l1a, lambda f: f.derivs(y, eta)[1]),
            (l2a, lambda f: f.derivs(y, eta)[2]),
            (laa[..., j], lambda f: f.aux_derivs(y, eta)[0]),
        ):
            want = _fd(lambda t: at(t, part), values[j])  # noqa: B023 (called within this iteration)
            np.testing.assert_allclose(
                got if got.ndim == want.ndim else got[..., j], want, rtol=1e-6, atol=1e-7
            )


def test_log_densities_are_scipys():
    mu = np.exp(ETA)
    y = RNG.negative_binomial(2.5, 2.5 / (2.5 + mu)).astype(float)
    np.testing.assert_allclose(
        NegativeBinomial(dispersion=2.5).loglik(y, ETA),
        stats.nbinom.logpmf(y, 2.5, 2.5 / (2.5 + mu)),
        rtol=1e-12,
    )
    y = RNG.gamma(3.0, mu / 3)
    np.testing.assert_allclose(
        Gamma("log", 1 / 3).loglik(y, ETA), stats.gamma.logpdf(y, 3.0, scale=mu / 3), rtol=1e-12
    )
    fam = Ordinal("probit", ["a", "b", "c"], [-0.5, 0.7])
    y = RNG.integers(0, 3, ETA.size)
    cum = stats.norm.cdf(np.array([-0.5, 0.7])[None, :] - ETA[:, None])
    probs = np.diff(np.c_[np.zeros(ETA.size), cum, np.ones(ETA.size)], axis=1)
    np.testing.assert_allclose(
        fam.loglik(y.astype(float), ETA), np.log(probs[np.arange(ETA.size), y]), rtol=1e-12
    )
    np.testing.assert_allclose(fam.probabilities(ETA), probs, rtol=1e-12)
    trials = RNG.integers(0, 7, ETA.size)
    s = RNG.binomial(trials, 0.4)
    yt = np.c_[s, trials].astype(float)
    for link in ("logit", "probit", "cloglog"):
        b = Binomial(link)
        np.testing.assert_allclose(
            b.loglik(yt, ETA), stats.binom.logpmf(s, trials, b.mean(ETA)), rtol=1e-10
        )
        d1 = b.derivs(yt, ETA)[1]
        np.testing.assert_allclose(
            _fd(lambda e, b=b: b.loglik(yt, e), ETA),
            d1,
            rtol=1e-6,
            atol=1e-8,
        )


def test_ordinal_tails_stay_finite():
    fam = Ordinal("logit", [1, 2, 3], [-1.0, 1.0])
    ll, d1, d2, d3 = fam.derivs(np.array([2.0, 0.0, 1.0]), np.array([-60.0, 60.0, 0.0]), 3)
    assert np.all(np.isfinite([ll, d1, d2, d3]))
    np.testing.assert_allclose(ll[:2], [-61.0, -61.0], rtol=1e-12)


@pytest.mark.parametrize(
    "fam", [Ordinal("logit", list("abcde")), NegativeBinomial(), Gamma()], ids=repr
)
def test_unconstrained_parameters_and_their_derivatives(fam):
    a = RNG.normal(size=fam.n_aux)
    values, J, D2 = fam.natural(a)
    np.testing.assert_allclose(fam.unconstrained(values), a, rtol=1e-12)
    for j in range(len(a)):
        e = np.eye(len(a))[j] * 1e-5
        np.testing.assert_allclose(
            (fam.natural(a + e)[0] - fam.natural(a - e)[0]) / 2e-5, J[:, j], rtol=1e-7
        )
        np.testing.assert_allclose(
            (fam.natural(a + e)[1] - fam.natural(a - e)[1]) / 2e-5, D2[:, :, j], atol=1e-7
        )
    with pytest.raises(ValueError):
        fam.unconstrained(-np.abs(values) if fam.n_aux == 1 else values[::-1])


def _objective(family, link, response, formula, n_quad, seed=11):
    df = family_data(seed, n_groups=9, sizes=(5, 9), slope=True)
    fam = get_family(family, link)
    design = build_design(
        f"{response} ~ {formula}",
        df,
        ["w1", "w2", "w3"] if "(1|d)" in formula else ["w1", "w2"],
        cond_weights=True,
        family=fam,
    )
    return make_objective(design, fam, n_quad=n_quad).function


def _phi(obj, seed=3):
    rng = np.random.default_rng(seed)
    a = (
        obj.base_family.unconstrained(obj.base_family.aux_start(obj.y, np.ones(len(obj.y)), obj.w1))
        if obj.k
        else np.zeros(0)
    )
    beta = 0.2 * rng.normal(size=obj.p)
    if obj.base_family.link == "inverse":  # mu = 1 / eta needs eta > 0 at u = 0
        beta[0], beta[1:] = 1.0, 0.1 * beta[1:]
    return np.r_[beta, a, 0.4 + 0.1 * rng.random(obj.n_c)]


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
@pytest.mark.parametrize("formula", ["x + (1 + x|g)", "x + (1|g) + (1|d)"])
def test_laplace_exact_gradient(case, formula):
    obj = _objective(*case, formula, n_quad=1)
    phi = _phi(obj)
    ev = obj.evaluate(phi)
    h = 1e-6 * np.maximum(np.abs(phi), 1.0)
    fd = np.array(
        [
            (obj.evaluate(phi + e, derivs=False).llf - obj.evaluate(phi - e, derivs=False).llf)
            / (2 * e[k])
            for k, e in enumerate(np.diag(h))
        ]
    )
    np.testing.assert_allclose(ev.grad, fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(fd)))
    np.testing.assert_allclose(obj.wg[-1] @ ev.group_grad, ev.grad, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_quadrature_fixed_node_derivatives(case):
    obj = _objective(*case, "x + (1 + x|g)", n_quad=4)
    phi = _phi(obj)
    ev = obj.evaluate(phi, adapt=True)
    h = 1e-6 * np.maximum(np.abs(phi), 1.0)
    grad, hess = np.empty(len(phi)), np.empty((len(phi), len(phi)))
    for k, e in enumerate(np.diag(h)):
        up, down = obj.evaluate(phi + e, adapt=False), obj.evaluate(phi - e, adapt=False)
        grad[k] = (up.llf - down.llf) / (2 * h[k])
        hess[:, k] = (up.grad - down.grad) / (2 * h[k])
    scale = np.max(np.abs(hess))
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-6, atol=1e-7 * scale)
    np.testing.assert_allclose(ev.hess, hess, rtol=1e-5, atol=1e-7 * scale)


# -- brute force ------------------------------------------------------------------
def _small(case, three=False):
    df = family_data(21, n_groups=6 if three else 5, sizes=(3, 6))
    family, link, response = case
    formula = f"{response} ~ x + (1|g)" + (" + (1|d)" if three else "")
    weights = ["w1", "w2", "w3"] if three else ["w1", "w2"]
    design = build_design(formula, df, weights, cond_weights=True, family=get_family(family, link))
    fam = get_family(family, link).for_design(design)
    return design, fam


def _row_loglik(design, fam, phi):
    """``u -> weighted log density`` of each level-2 group's rows at the
    random intercepts ``u`` (the group's own, and its district's)."""
    p, k = design.X.shape[1], fam.n_aux
    bound = fam.with_aux(fam.natural(phi[p : p + k])[0])
    base = design.X @ phi[:p] + design.offset

    def loglik(j, u):
        rows = slice(
            design.levels[0].starts[j],
            design.levels[0].starts[j + 1] if j + 1 < design.levels[0].n_groups else len(base),
        )
        value = float(design.w1[rows] @ bound.loglik(design.y[rows], base[rows] + u))
        return -np.inf if np.isnan(value) else value  # outside the mean's domain: f = 0

    return loglik


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_two_levels_equal_brute_force_integration(case):
    """The adaptive quadrature (40 nodes) of the weighted two-level
    pseudo-likelihood equals scipy's ``quad`` of each school's integral."""
    design, fam = _small(case)
    obj = make_objective(design, fam, n_quad=40).function
    phi = _phi(obj)
    sd = abs(phi[-1])
    loglik = _row_loglik(design, fam, phi)
    total = 0.0
    for j in range(design.levels[0].n_groups):
        peak = optimize.minimize_scalar(lambda u: -loglik(j, u) - stats.norm.logpdf(u, 0, sd))  # noqa: B023 (called within this iteration)
        c = -peak.fun
        val = integrate.quad(
            lambda u: np.exp(loglik(j, u) + stats.norm.logpdf(u, 0, sd) - c),  # noqa: B023 (called within this iteration)
            -np.inf,
            np.inf,
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )[0]
        total += design.wg[0][j] * (c + np.log(val))
    assert obj.evaluate(phi, derivs=False).llf == pytest.approx(total, rel=1e-9, abs=1e-9)


def _composite_legendre(a, b, panels, order=20):
    """Nodes and log weights of composite Gauss-Legendre on ``[a, b]``: a
    fixed rule unrelated to the objective's adaptive Gauss-Hermite nodes,
    exact for polynomials of degree ``2 order - 1`` on each panel."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    half = np.diff(edges)[:, None] / 2
    return (edges[:-1, None] + half * (x + 1)).ravel(), np.log(half * w).ravel()


def _school_logliks(design, fam, phi, v):
    """(J, len(v)): each level-2 group's weighted log density of its rows at
    the total random intercept ``v``, for every ``v`` at once."""
    p, k = design.X.shape[1], fam.n_aux
    bound = fam.with_aux(fam.natural(phi[p : p + k])[0])
    base = design.X @ phi[:p] + design.offset
    eta = (base[:, None] + v[None, :]).ravel()
    rows = bound.loglik(np.repeat(design.y, len(v)), eta).reshape(len(base), len(v))
    rows = np.where(np.isnan(rows), -np.inf, rows)  # outside the mean's domain: f = 0
    return np.add.reduceat(design.w1[:, None] * rows, design.levels[0].starts, axis=0)


@pytest.mark.parametrize("case", [AUX_FAMILIES[0], AUX_FAMILIES[3]], ids=aux_family_id)
def test_three_levels_equal_nested_brute_force_integration(case):
    """Three levels: ``sum_d w_d log int phi(u_d) prod_j [int phi(u_j)
    prod_i f_i^{w_i} du_j]^{w_j} du_d`` by nested composite Gauss-Legendre
    rules on wide fixed intervals (the school integral over its total
    intercept ``v = u_j + u_d``, for every district node at once) against
    20 adaptive nodes."""
    design, fam = _small(case, three=True)
    obj = make_objective(design, fam, n_quad=20).function
    phi = _phi(obj)
    sd_g, sd_d = abs(phi[-2]), abs(phi[-1])
    school, district = design.levels
    ud, logw_d = _composite_legendre(-8 * sd_d, 8 * sd_d, panels=40)
    v, logw_v = _composite_legendre(-8 * sd_d - 12 * sd_g, 8 * sd_d + 12 * sd_g, panels=60)
    kernel = stats.norm.logpdf(v[None, :] - ud[:, None], 0, sd_g) + logw_v  # (nodes_d, nodes_v)
    log_school = np.array(
        [
            special.logsumexp(row[None, :] + kernel, axis=1)
            for row in _school_logliks(design, fam, phi, v)
        ]
    )  # (J, nodes_d): log int phi(u_j) prod_i f_i^{w_i} du_j at each u_d
    inner = np.add.reduceat(
        design.wg[0][:, None] * log_school, school.child_starts(district), axis=0
    )
    outer = special.logsumexp(inner + stats.norm.logpdf(ud, 0, sd_d) + logw_d, axis=1)
    total = float(design.wg[1] @ outer)
    # the rules are converged (twice the panels change nothing at 1e-14), and
    # 20 nodes differ from 5 at 3e-7: 1e-10 tells them apart
    assert obj.evaluate(phi, derivs=False).llf == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_weighted_laplace_equals_an_independent_one(case):
    """Two levels, the Laplace objective against ``sum_j w_j [h_j(u) + log
    phi(u) - log(sd) - 1/2 log(-h_j''(u) + 1/sd^2) - ... ]`` written here:
    the weighted log integrand at its mode and its observed curvature."""
    design, fam = _small(case)
    obj = make_objective(design, fam, n_quad=1).function
    phi = _phi(obj)
    sd = abs(phi[-1])
    loglik = _row_loglik(design, fam, phi)
    total = 0.0
    for j in range(design.levels[0].n_groups):
        f = lambda v: loglik(j, sd * v) - 0.5 * v * v  # noqa: B023, E731 (spherical v; called within this iteration)
        v = optimize.minimize_scalar(lambda v: -f(v), tol=1e-12).x  # noqa: B023 (called within this iteration)
        curv = -(f(v + 1e-4) - 2 * f(v) + f(v - 1e-4)) / 1e-8
        total += design.wg[0][j] * (f(v) - 0.5 * np.log(curv))
    assert obj.evaluate(phi, derivs=False).llf == pytest.approx(total, rel=1e-7)
