"""Exact derivatives of the profiled Gaussian criterion against central differences.

As MixedModels.jl's test/grad.jl checks its gradient against finite
differences, the exact gradient of the profiled (restricted) log-likelihood
in the relative Cholesky parameters -- forward-mode through the level
recursion in :meth:`GaussianObjective.profiled_grad`, closed form in
:meth:`TwoLevelProfile.evaluate` (which also gives the Hessian) -- must equal
central differences of the value, on weighted models with random slopes, at
the start, at a perturbed point and at the optimum, with the weights scaled
from 1e-2 to 1e4.

Data: tests/data/structures.csv (students in schools in districts), with
deterministic unequal conditional weights at every level: level 1
``0.5 + (student mod 4) / 2``, schools ``1 + (school mod 3)``, districts
``1 + (district mod 2) / 2``; the level-1 weights are multiplied by the scale.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pywemix.design.model import build_design
from pywemix.estimation import optimize
from pywemix.objective import make_objective
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.gaussian import GaussianObjective
from pywemix.objective.twolevel import TwoLevelProfile

# These tests check objectives and derivatives on small weighted groups; the
# unscaled level-1 weights are deliberate (WeMix's default, as the references
# use) and the unscaled-weight warning is not what they are about (it is
# tested in tests/design/test_scaling.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:the level-1 weights vary within:pywemix.WeightWarning"
)

DATA = Path(__file__).resolve().parents[1] / "data" / "structures.csv"
SCALES = [1e-2, 1.0, 1e2, 1e4]
THREE = "y ~ x + (1 + x|school) + (1 + z|district)"
TWO = "y ~ x + z + (1 + x + z|school)"


def _data(scale):
    d = pd.read_csv(DATA)
    d["w1"] = scale * (0.5 + (d["student"] % 4) / 2)
    d["w2"] = 1.0 + d["school"] % 3
    d["w3"] = 1.0 + (d["district"] % 2) / 2
    return d


def _objective(formula, scale):
    weights = ["w1", "w2", "w3"] if "district" in formula else ["w1", "w2"]
    design = build_design(formula, _data(scale), weights=weights, cond_weights=True)
    return design, GaussianObjective(design, CovarianceStructure.from_design(design))


def _points(design, obj, reml):
    """The start, a perturbed point and the optimum of theta."""
    start = obj.structure.theta_start()
    perturbed = start + np.linspace(-0.3, 0.4, len(start)) * np.where(
        obj.structure.theta_is_diag(), 0.5, 1.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimum = np.asarray(optimize(make_objective(design, None, reml=reml)).theta)
    # keep off the bounds, where one-sided differences would be needed
    optimum = np.where(obj.structure.theta_is_diag(), np.maximum(optimum, 1e-2), optimum)
    return {"start": start, "perturbed": perturbed, "optimum": optimum}


def _central(f, x, rel_step=3e-3):
    """Central differences of ``f`` (scalar or array valued) with Richardson
    extrapolation (error O(h^4))."""
    cols = []
    for i in range(len(x)):
        h = rel_step * max(abs(x[i]), 0.1)
        e = np.zeros_like(x)
        e[i] = h

        def d(k):
            return (np.asarray(f(x + k * e)) - np.asarray(f(x - k * e))) / (2 * k * h)  # noqa: B023 (called within this iteration)

        cols.append((4 * d(1) - d(2)) / 3)
    return np.stack(cols, axis=-1)


def _close(exact, numeric, llf):
    """Agreement to 1e-6 of the size of the derivatives, or to the differences'
    own accuracy (rounding in ``llf`` and truncation: about ``1e-10 |llf|``,
    which matters at the optimum, where the gradient is about 0)."""
    err = np.max(np.abs(exact - numeric))
    tol = 1e-6 * np.max(np.abs(numeric)) + 1e-10 * abs(llf)
    return err <= tol, (err, tol, exact, numeric)


@pytest.fixture(scope="module", params=SCALES, ids=lambda s: f"weights x{s:g}")
def three_level(request):
    design, obj = _objective(THREE, request.param)
    return obj, _points(design, obj, reml=False)


@pytest.fixture(scope="module", params=SCALES, ids=lambda s: f"weights x{s:g}")
def two_level(request):
    design, obj = _objective(TWO, request.param)
    return obj, TwoLevelProfile(obj), _points(design, obj, reml=False)


@pytest.mark.parametrize("where", ["start", "perturbed", "optimum"])
@pytest.mark.parametrize("reml", [False, True])
def test_three_level_gradient(three_level, where, reml):
    obj, points = three_level
    theta = points[where]
    llf, grad = obj.profiled_grad(theta, reml)
    assert np.isfinite(llf) and llf == pytest.approx(obj.profiled(theta, reml).llf, rel=1e-12)
    numeric = _central(lambda t: obj.profiled(t, reml).llf, theta)
    ok, detail = _close(grad, numeric, llf)
    assert ok, detail


@pytest.mark.parametrize("where", ["start", "perturbed", "optimum"])
@pytest.mark.parametrize("reml", [False, True])
def test_two_level_gradient_and_hessian(two_level, where, reml):
    obj, profile, points = two_level
    theta = points[where]
    llf, grad, hess = profile.evaluate(theta, reml)
    assert llf == pytest.approx(obj.profiled(theta, reml).llf, rel=1e-12)
    numeric = _central(lambda t: obj.profiled(t, reml).llf, theta)
    ok, detail = _close(grad, numeric, llf)
    assert ok, detail
    numeric_hess = _central(lambda t: profile.evaluate(t, reml, hessian=False)[1], theta)
    ok, detail = _close(hess, numeric_hess, llf)
    assert ok, detail
