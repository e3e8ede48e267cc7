"""The adaptive-quadrature objective against independent checks.

A slow, plain nested Gauss-Hermite evaluation of the same weighted
pseudo-likelihood (many nodes, no adaptation) written here, for three-level
binomial and Poisson models with weights at every level; the Laplace
approximation (n_quad=1) against a by-hand joint Laplace approximation and
lme4's glmer(nAGQ=1) (more in test_laplace.py); stability in n_quad.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, log_expit, logsumexp

import pywemix

from conftest import needs_reference, reference_data, rel

DATA = Path(__file__).resolve().parents[1] / "data"


def three_level(seed, family):
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(8):
        v3 = rng.normal(0, 0.6)
        w3 = rng.uniform(1, 4)
        for s in range(int(rng.integers(3, 5))):
            v2 = rng.normal(0, 0.8)
            w2 = rng.uniform(0.5, 3)
            for _ in range(int(rng.integers(4, 8))):
                x = rng.normal()
                eta = -0.3 + 0.7 * x + v2 + v3
                y = (
                    (rng.random() < 1 / (1 + np.exp(-eta)))
                    if family == "binomial"
                    else rng.poisson(np.exp(0.2 + 0.4 * x + v2 + v3))
                )
                rows.append((d, f"{d}-{s}", x, float(y), rng.uniform(0.5, 2.5), w2, w3))
    return pd.DataFrame(rows, columns=["district", "school", "x", "y", "w1", "w2", "w3"])


def brute_force_llf(df, beta, sd2, sd3, family, m=241, span=7.5):
    """sum_k w3 log int phi(v3) prod_j [int phi(v2) prod_i f^w1 dv2]^w2 dv3.

    Plain trapezoid rule on a fine fixed grid at both levels (no adaptation),
    which converges geometrically for these smooth, decaying integrands.
    """
    v = np.linspace(-span, span, m)
    logw = np.log(v[1] - v[0]) - 0.5 * v**2 - 0.5 * np.log(2 * np.pi)
    total = 0.0
    for _, dd in df.groupby("district"):
        outer = np.zeros(m)
        for _, ss in dd.groupby("school"):
            eta = (
                (beta[0] + beta[1] * ss["x"].to_numpy())[:, None, None]
                + sd3 * v[None, :, None]
                + sd2 * v[None, None, :]
            )
            y = ss["y"].to_numpy()[:, None, None]
            if family == "binomial":
                ll = y * log_expit(eta) + (1 - y) * log_expit(-eta)
            else:
                ll = y * eta - np.exp(eta) - gammaln(y + 1)
            inner = logsumexp(
                logw[None, :] + np.einsum("i,ijk->jk", ss["w1"].to_numpy(), ll), axis=1
            )
            outer += ss["w2"].iloc[0] * inner
        total += dd["w3"].iloc[0] * logsumexp(logw + outer)
    return total


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_three_level_llf_equals_brute_force_integral(family):
    df = three_level(3 if family == "binomial" else 4, family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        res = pywemix.mix(
            "y ~ x + (1|school) + (1|district)",
            df,
            ["w1", "w2", "w3"],
            cond_weights=True,
            family=family,
        )
    vc = res.var_components.set_index("group")["variance"]
    beta = res.params.to_numpy()
    sd2, sd3 = np.sqrt(vc["school"]), np.sqrt(vc["district"])
    bf = brute_force_llf(df, beta, sd2, sd3, family)
    assert rel(res.llf, bf) < 1e-6
    # the estimates are a maximum of the brute-force pseudo-likelihood
    for k, delta in enumerate([0.02, 0.02, 0.02, 0.02]):
        for sign in (-1, 1):
            b, s2, s3 = beta.copy(), sd2, sd3
            if k < 2:
                b[k] += sign * delta
            elif k == 2:
                s2 += sign * delta
            else:
                s3 += sign * delta
            assert brute_force_llf(df, b, s2, s3, family) < bf


def _glm_terms(eta, y, family):
    """Log density and its first two derivatives in eta (written out here)."""
    if family == "binomial":
        p = 1 / (1 + np.exp(-eta))
        return y * log_expit(eta) + (1 - y) * log_expit(-eta), y - p, -p * (1 - p)
    mu = np.exp(eta)
    return y * eta - mu - gammaln(y + 1), y - mu, -mu


def _school_laplace(base, y, w1, sd2, family):
    """Mode of log prod_i f(y_i | base_i + sd2 v)^w1_i phi(v) (scalar Newton steps):
    (log integrand at the mode without the constant, log curvature there)."""
    v = 0.0
    for _ in range(100):
        _, d1, d2 = _glm_terms(base + sd2 * v, y, family)
        step = (sd2 * np.sum(w1 * d1) - v) / (1 - sd2**2 * np.sum(w1 * d2))
        v += step
        if abs(step) < 1e-14:
            break
    ll, _, d2 = _glm_terms(base + sd2 * v, y, family)
    return np.sum(w1 * ll) - 0.5 * v * v, np.log(1 - sd2**2 * np.sum(w1 * d2))


def joint_laplace_llf(df, beta, sd2, sd3, family):
    """lme4's Laplace approximation with weights, the slow way: for every
    district value v3, each school's mode; the district's mode of the weighted
    sum of the schools' log integrands at their modes (the profile of the joint
    log integrand), by scalar optimisation, its curvature by central
    differences (the Schur complement of the joint curvature); then the schools'
    log curvatures at that point, weighted."""
    from scipy.optimize import minimize_scalar

    total = 0.0
    for _, dd in df.groupby("district"):
        parts = [
            (
                ss["w2"].iloc[0],
                beta[0] + beta[1] * ss["x"].to_numpy(),
                ss["y"].to_numpy(),
                ss["w1"].to_numpy(),
            )
            for _, ss in dd.groupby("school")
        ]

        def G(v3, parts=parts, k=0):
            return sum(
                w2 * _school_laplace(base + sd3 * v3, y, w1, sd2, family)[k]
                for w2, base, y, w1 in parts
            ) - (0.5 * v3 * v3 if k == 0 else 0.0)

        m = minimize_scalar(lambda v: -G(v), bracket=(-1.0, 1.0), tol=1e-12).x
        h = 1e-3
        curv = -(G(m + h) - 2 * G(m) + G(m - h)) / h**2
        total += dd["w3"].iloc[0] * (G(m) - 0.5 * np.log(curv) - 0.5 * G(m, k=1))
    return total


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_three_level_laplace_equals_joint_laplace_by_hand(family):
    """n_quad=1 is the joint Laplace approximation (lme4's, with weights): the
    upper level's curvature is that of the profiled joint log integrand, the
    lower levels' log curvatures are added at the joint mode."""
    df = three_level(6, family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        res = pywemix.mix(
            "y ~ x + (1|school) + (1|district)",
            df,
            ["w1", "w2", "w3"],
            cond_weights=True,
            family=family,
            n_quad=1,
        )
    assert res.converged
    vc = res.var_components.set_index("group")["variance"]
    beta = res.params.to_numpy()
    sd2, sd3 = np.sqrt(vc["school"]), np.sqrt(vc["district"])
    assert sd3 > 0.05
    by_hand = joint_laplace_llf(df, beta, sd2, sd3, family)
    assert rel(res.llf, by_hand) < 1e-8
    for k, delta in enumerate([0.02, 0.02, 0.02, 0.02]):
        b, s2, s3 = beta.copy(), sd2, sd3
        if k < 2:
            b[k] += delta
        elif k == 2:
            s2 += delta
        else:
            s3 += delta
        assert joint_laplace_llf(df, b, s2, s3, family) < by_hand


def test_three_level_poisson_stable_in_n_quad():
    df = three_level(5, "poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        fits = [
            pywemix.mix(
                "y ~ x + (1|school) + (1|district)",
                df,
                ["w1", "w2", "w3"],
                cond_weights=True,
                family="poisson",
                n_quad=k,
            )
            for k in (13, 25)
        ]
    assert np.all(rel(fits[0].params, fits[1].params) < 1e-4)
    assert np.all(
        rel(fits[0].var_components["variance"], fits[1].var_components["variance"]) < 1e-4
    )


@needs_reference
def test_pisa_binomial_stable_in_n_quad():
    df = reference_data("pisa_s1.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        fits = [
            pywemix.mix(
                "highmath ~ escs + st04q01 + (1|schoolid)",
                df,
                ["pwt1", "pwt2"],
                cond_weights=True,
                family="binomial",
                n_quad=k,
            )
            for k in (13, 25)
        ]
    assert all(f.converged for f in fits)
    assert np.all(rel(fits[0].params, fits[1].params) < 1e-4)
    assert (
        rel(fits[0].var_components["variance"].iloc[0], fits[1].var_components["variance"].iloc[0])
        < 1e-4
    )


@needs_reference
def test_laplace_equals_lme4_glmer_nagq1():
    ref = json.loads((DATA / "lme4_extra.json").read_text())["sleep_binomial_laplace"]
    df = reference_data("sleepstudy.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        res = pywemix.mix(ref["formula"], df, family="binomial", n_quad=1)
    assert res.llf >= ref["llf"] - 1e-7 * abs(ref["llf"])
    assert abs(res.llf - ref["llf"]) < 1e-5 * abs(ref["llf"])
    for k, v in ref["params"].items():
        assert rel(res.params[k], v) < 1e-4
    assert rel(res.var_components["variance"].iloc[0], ref["var_components"][0]["variance"]) < 1e-3
    assert "Laplace" in str(res.summary())


@pytest.mark.parametrize(
    "family,link",
    [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")],
)
def test_family_derivatives(family, link):
    fam = pywemix.objective.families.get_family(family, link)
    eta = np.linspace(-6, 4, 41)
    for y in (0.0, 1.0) if family == "binomial" else (0.0, 3.0):
        ll, d1, d2 = fam.derivs(np.full_like(eta, y), eta)
        h = 1e-5
        lp, d1p, _ = fam.derivs(np.full_like(eta, y), eta + h)
        lm, d1m, _ = fam.derivs(np.full_like(eta, y), eta - h)
        np.testing.assert_allclose(d1, (lp - lm) / (2 * h), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("fam", ["binomial", "poisson"])
@pytest.mark.parametrize("n_quad", [1, 3, 5])
def test_rows_last_layout_gives_the_same_numbers(fam, n_quad, monkeypatch):
    """Level 2 with one effect is computed with the rows last (long passes,
    contiguous group sums); the general layout gives the same bits, but for
    the fixed-node Hessian in all parameters, whose node sums are added in
    another order (to rounding)."""
    from pywemix.design import build_design
    from pywemix.objective import quadrature
    from pywemix.objective.covariance import CovarianceStructure
    from pywemix.objective.families import get_family

    df = three_level(3, fam)
    family = get_family(fam)
    design = build_design(
        "y ~ x + (1|district/school)", df, ["w1", "w2", "w3"], cond_weights=True, family=family
    )
    structure = CovarianceStructure.from_design(design)
    phi = np.array([-0.2, 0.6, 0.7, 0.5])
    out = {}
    for rows_last in (True, False):
        monkeypatch.setattr(quadrature, "ROWS_LAST", rows_last)
        obj = quadrature.QuadratureObjective(design, structure, family, n_quad)
        full = obj.evaluate(phi)
        value = obj.evaluate(phi * 1.01, derivs=False)
        again = obj.evaluate(phi * 0.99)
        out[rows_last] = (full, value, again, obj.conditional_modes(phi))
    for a, b in zip(out[True][:3], out[False][:3]):
        assert a.llf == b.llf
        assert np.array_equal(a.group_A, b.group_A)
        if a.grad is not None:
            assert np.array_equal(a.grad, b.grad)
            assert np.array_equal(a.group_grad, b.group_grad)
            scale = np.abs(b.hess).max()
            assert np.abs(a.hess - b.hess).max() <= 1e-13 * scale
    for a, b in zip(out[True][3], out[False][3]):
        assert np.array_equal(a, b)
