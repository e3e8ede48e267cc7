"""The Laplace optimiser (estimation/laplace_fit.py) and the warm starts it uses.

* The starting inverse Hessian is the inverse of minus a forward-difference
  Hessian of the exact gradient, positive definite even where that Hessian
  is not negative definite.
* The first trial step never moves a Cholesky diagonal through zero.
* Warm starts of the mode search (stored modes, mirrored modes in the
  central-difference Hessian) do not change any value: they equal cold starts.
* BFGS from the default start reaches a stationary point that a restart from
  elsewhere returns to.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pywemix.design import build_design
from pywemix.estimation.laplace_fit import LAPLACE_TOL, _fd_inverse, _first_trial, maximize_laplace
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.families import get_family
from pywemix.objective.laplace import LaplaceObjective

DATA = Path(__file__).resolve().parents[1] / "data"
FORMULA = "pass ~ x + sex + (1|school) + (1 + x|district)"


@pytest.fixture(scope="module")
def setup():
    df = pd.read_csv(DATA / "laplace_three.csv")
    df = df[df["district"] <= 12]
    fam = get_family("binomial", None)
    with warnings.catch_warnings():  # unscaled level-1 weights in small groups
        warnings.simplefilter("ignore")
        d = build_design(FORMULA, df, ["w1", "w2", "w3"], cond_weights=True, family=fam)
    structure = CovarianceStructure.from_design(d)
    obj = LaplaceObjective(d, structure, fam)
    start = np.r_[np.zeros(obj.p), structure.theta_start()]
    return obj, start


def _cold(obj, phi, **kw):
    obj.warm_start(None)
    return obj.evaluate(phi, **kw)


def test_warm_started_value_and_gradient_equal_cold_start(setup):
    obj, start = setup
    phi = start + np.random.default_rng(2).normal(0, 0.3, obj.P)
    cold = _cold(obj, phi)
    obj.evaluate(start + 0.5)  # leave the stored modes somewhere else
    warm = obj.evaluate(phi)
    assert abs(warm.llf - cold.llf) < 1e-10 * abs(cold.llf)
    np.testing.assert_allclose(
        warm.grad, cold.grad, rtol=1e-7, atol=1e-9 * np.max(np.abs(cold.grad))
    )


def test_mirrored_hessian_equals_cold_started_differences(setup):
    obj, start = setup
    phi = start + 0.1
    H = obj.hessian(phi)
    h = 1e-4 * np.maximum(np.abs(phi), 0.1)
    cold = np.empty_like(H)
    for k in range(obj.P):
        e = np.zeros(obj.P)
        e[k] = h[k]
        cold[:, k] = (_cold(obj, phi + e).grad - _cold(obj, phi - e).grad) / (2 * h[k])
    cold = 0.5 * (cold + cold.T)
    assert np.max(np.abs(H - cold)) < 1e-6 * np.max(np.abs(cold))
    # the stored modes are those at phi again
    before = _cold(obj, phi, derivs=False)
    after = [x.copy() for x in obj.modes]
    obj.hessian(phi)
    for a, b in zip(after, obj.modes):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert before.llf == _cold(obj, phi, derivs=False).llf


def test_initial_inverse_hessian_is_the_fd_hessian_inverted(setup):
    obj, start = setup
    phi, ev, _, converged, _ = maximize_laplace(obj, start, 200)
    assert converged
    Hinv = _fd_inverse(obj, phi, ev)
    np.testing.assert_allclose(Hinv, Hinv.T, rtol=0, atol=1e-14 * np.max(np.abs(Hinv)))
    assert np.all(np.linalg.eigvalsh(Hinv) > 0)
    # at a maximum -H is positive definite: the inverse is minus the inverse
    # of the (forward, so O(h)-accurate) difference Hessian
    ref = np.linalg.inv(-obj.hessian(phi))
    assert np.max(np.abs(Hinv - ref)) < 1e-2 * np.max(np.abs(ref))


def test_initial_inverse_hessian_is_positive_definite_away_from_optimum(setup):
    obj, start = setup
    phi = start.copy()
    phi[obj.p :] = 0.05  # small standard deviations: not concave there
    ev = _cold(obj, phi)
    Hinv = _fd_inverse(obj, phi, ev)
    assert np.all(np.linalg.eigvalsh(0.5 * (Hinv + Hinv.T)) > 0)


def test_first_trial_keeps_cholesky_diagonals_on_their_side(setup):
    obj, start = setup
    diag = [i for entries in obj.cholesky_layout for i, r, c in entries if r == c]
    phi = start.copy()
    phi[diag] = [0.5, -0.4, 0.3][: len(diag)]
    step = np.zeros(obj.P)
    step[diag] = -3 * phi[diag]  # a full step would flip every sign
    t = _first_trial(obj, phi, step)
    new = phi + t * step
    assert np.all(np.sign(new[diag]) == np.sign(phi[diag]))
    assert np.all(np.abs(new[diag] - phi[diag]) <= 0.5 * np.maximum(np.abs(phi[diag]), 0.2) + 1e-15)
    # a small step is not cut
    assert _first_trial(obj, phi, 1e-3 * step) == 1.0


def test_bfgs_reaches_a_stationary_point_a_restart_returns_to(setup):
    obj, start = setup
    phi, ev, iters, converged, _ = maximize_laplace(obj, start, 200)
    assert converged
    H = obj.hessian(phi)
    decrement = float(ev.grad @ np.linalg.solve(-H, ev.grad))
    assert 0 <= decrement < 1e3 * LAPLACE_TOL * abs(ev.llf)
    other = phi * np.r_[np.ones(obj.p), np.full(obj.P - obj.p, 1.5)]
    obj.warm_start(None)
    phi2, ev2, _, converged2, _ = maximize_laplace(obj, other, 200)
    assert converged2
    assert abs(ev2.llf - ev.llf) < 1e-9 * abs(ev.llf)
    se = np.sqrt(np.diag(np.linalg.inv(-H)))
    assert np.max(np.abs(phi2 - phi) / se) < 1e-3
