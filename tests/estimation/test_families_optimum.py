"""The optimum guarantees for the families with auxiliary parameters
(negative binomial, gamma, ordinal) and the binomial with trials, as
tests/estimation/test_quadrature_optimum.py gives them for the binomial and
Poisson families, with the level-1 weights scaled from 1e-2 to 1e4:

* the objective's derivatives in ``phi = (beta, aux, chol)`` equal central
  differences away from the optimum (the Laplace objective's exact gradient;
  the quadrature's fixed-node gradient, nodes held);
* at the reported estimates the central-difference gradient of the reported
  objective vanishes (per unit of top-level weight);
* a fit restarted from a perturbed point (fixed effects, family parameters
  and theta) comes back to the same estimates;
* the convergence certificate's second-order check runs over the family
  parameters too: its Hessian is positive definite there at the optimum, and
  a point whose Hessian is indefinite along them is left for a better one.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
from test_quadrature_optimum import GRAD_TOL, RESTART_TOL, central_gradient, top_weight

import pywemix
from pywemix.estimation.glmm import _certify

from conftest import AUX_FAMILIES, aux_family_id, family_data

SCALES = [1e-2, 1.0, 1e2, 1e4]
FORMULA = "{} ~ x + (1|g)"


def fit(case, df, n_quad, start=None):
    family, link, response = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.FewGroupsWarning)
        warnings.simplefilter("ignore", pywemix.WeightWarning)
        # level-1 weights x 1e-2 leave some schools' variance at 0
        warnings.simplefilter("ignore", pywemix.BoundaryWarning)
        return pywemix.mix(
            FORMULA.format(response),
            df,
            ["w1", "w2"],
            cond_weights=True,
            family=family,
            link=link,
            n_quad=n_quad,
            start=start,
        )


def _central(f, phi, h=1e-6):
    cols = []
    for k in range(len(phi)):
        e = np.zeros(len(phi))
        e[k] = h * max(abs(phi[k]), 1.0)
        cols.append((np.asarray(f(phi + e)) - np.asarray(f(phi - e))) / (2 * e[k]))
    return np.stack(cols, axis=-1)


@pytest.fixture(
    scope="module",
    params=[(c, s, q) for c in AUX_FAMILIES for s in SCALES for q in (1, 7)],
    ids=lambda p: f"{aux_family_id(p[0])}-w1x{p[1]:g}-nquad{p[2]}",
)
def fitted(request):
    case, scale, n_quad = request.param
    df = family_data(4, n_groups=16, sizes=(5, 10), scale=scale)
    return case, df, n_quad, fit(case, df, n_quad)


def test_derivatives_equal_differences_away_from_the_optimum(fitted):
    _, _, n_quad, res = fitted
    obj = res.objective.function
    phi = res.optimization.x * 0.9 + 0.05
    if n_quad == 1:
        exact = obj.evaluate(phi).grad
        numeric = _central(lambda x: obj.evaluate(x, derivs=False).llf, phi)
    else:
        exact = obj.evaluate(phi, adapt=True).grad
        numeric = _central(lambda x: obj.evaluate(x, adapt=False).llf, phi)
    np.testing.assert_allclose(
        exact, numeric, rtol=1e-5, atol=1e-6 * np.max(np.abs(numeric)) + 1e-9 * abs(res.llf)
    )


def test_gradient_vanishes_at_the_estimates(fitted):
    _, df, _, res = fitted
    assert res.converged, res.optimization.message
    phi = res.optimization.x
    grad = central_gradient(res)
    floor = 64 * np.finfo(float).eps * abs(res.llf) / (2e-5 * np.maximum(np.abs(phi), 1.0))
    assert np.all(np.abs(grad) < GRAD_TOL * top_weight(df, "x + (1|g)") + floor), grad


def test_restarts_return_to_the_optimum(fitted):
    case, df, n_quad, res = fitted
    rng = np.random.default_rng(1)
    natural = np.r_[res.params.values, res.theta]
    start = natural + 0.2 * rng.normal(size=len(natural)) * np.maximum(np.abs(natural), 0.3)
    k = res.family_object.n_aux
    p = len(res.params) - k
    if case[0] == "ordinal":  # thresholds stay increasing
        start[p : p + k] = np.sort(start[p : p + k])
    elif k:  # dispersion stays positive
        start[p] = abs(start[p])
    if case[1] == "inverse":  # mu = 1 / eta stays positive at the start
        start[:p] = natural[:p]
    again = fit(case, df, n_quad, start=start)
    assert again.converged, again.optimization.message
    phi, phi2 = res.optimization.x, again.optimization.x
    se = np.sqrt(np.diag(np.linalg.inv(-res.optimization.evaluation.hess)))
    tol = np.maximum(RESTART_TOL * np.maximum(np.abs(phi), 1.0), 1e-4 * se)
    assert np.all(np.abs(phi2 - phi) <= tol), (phi, phi2, se)
    assert again.llf == pytest.approx(res.llf, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("case", [c for c in AUX_FAMILIES if c[0] != "binomial"], ids=aux_family_id)
def test_certificate_covers_the_family_parameters(case):
    df = family_data(4, n_groups=16, sizes=(5, 10))
    res = fit(case, df, 1)
    obj, phi = res.objective.function, res.optimization.x
    ev = res.optimization.evaluation  # with the Hessian the certificate checked
    k, p = obj.k, obj.p
    aux = slice(p, p + k)
    assert k > 0 and ev.hess.shape == (len(phi), len(phi))
    assert np.all(np.linalg.eigvalsh(-ev.hess[aux, aux]) > 0)
    assert _certify(obj, phi, ev).passed
    # away from the optimum in the family parameters, with the curvature there
    # made negative: the certificate finds the better point along them
    off = phi.copy()
    off[aux] += 0.5
    ev_off = obj.evaluate(off)
    hess = ev.hess.copy()
    hess[aux, :] = hess[:, aux] = 0.0
    hess[aux, aux] = np.eye(k)  # of llf: the objective -llf curves down
    cert = _certify(obj, off, replace(ev_off, hess=hess))
    assert not cert.passed and cert.escape is not None
    moved = cert.escape - off
    assert np.max(np.abs(moved[aux])) > 0 and np.allclose(np.delete(moved, np.r_[aux]), 0)
    assert obj.evaluate(cert.escape, derivs=False).llf > ev_off.llf
