"""The exact gradient of the adapted three-level quadrature objective against
central differences of its value.

As MixedModels.jl's test/grad.jl checks its gradient against finite
differences: the gradient of
:func:`pywemix.objective.adapted_gradient.adapted_group_gradient` (the
nodes' centres and scales moving with the parameters, by the implicit
function theorem) must equal central differences of the reported objective,
per top-level group, for logit, probit and Poisson, with the level-1 weights
scaled from 1e-2 to 1e4, at several points; and blocks of top-level groups
(threads) must give the same gradient as the whole.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_quadrature import three_level

from pywemix.design import build_design
from pywemix.estimation.quadrature_optimize import difference_gradient, exact_value
from pywemix.objective import quadrature
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.families import get_family
from pywemix.objective.partitioned import partitioned_quadrature

pytestmark = pytest.mark.filterwarnings(
    "ignore:the level-1 weights vary within:pywemix.WeightWarning"
)

SCALES = [1e-2, 1.0, 1e2, 1e4]
FORMULA = "y ~ x + (1|district/school)"
POINTS = [np.array([-0.2, 0.6, 0.7, 0.5]), np.array([0.3, 0.4, 1.3, -0.2])]


def _design(fam, scale, link=None):
    df = three_level(3, fam)
    df["w1"] *= scale
    family = get_family(fam, link) if link else get_family(fam)
    design = build_design(FORMULA, df, ["w1", "w2", "w3"], cond_weights=True, family=family)
    return design, CovarianceStructure.from_design(design), family


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize(
    ("fam", "link"), [("binomial", None), ("binomial", "probit"), ("poisson", None)]
)
def test_gradient_equals_central_differences(fam, link, scale):
    design, structure, family = _design(fam, scale, link)
    obj = quadrature.QuadratureObjective(design, structure, family, 5)
    assert obj.has_adapted_gradient()
    for phi in POINTS:
        ev, G = obj.adapted_gradient(phi)
        D = difference_gradient(obj, phi)
        # the same value (to the modes' tolerance: the modes start where the
        # previous evaluation left them)
        assert ev.llf == pytest.approx(obj.evaluate(phi, derivs=False).llf, rel=1e-10)
        # central differences with h = 1e-5: error about h^2 times the third
        # derivative, and the noise of A over 2h (the modes are solved to
        # 1e-10-1e-12, which at level-1 weights of 1e4 moves a log integral
        # of ~1e5 by ~1e-7: 1e-7 / 2e-5 in the gradient, ~1e-7 of its size)
        tol = 1e-6 * np.abs(D).max() + 1e-9
        assert np.abs(G - D).max() < tol, np.abs(G - D).max() / np.abs(D).max()


def test_blocks_give_the_whole_gradient():
    design, structure, family = _design("binomial", 1e3)
    whole = quadrature.QuadratureObjective(design, structure, family, 7)
    parts = partitioned_quadrature(design, structure, family, 7, threads=2, bounds=[(0, 3), (3, 8)])
    for phi in POINTS:
        a, b = exact_value(whole, phi, derivs=True), exact_value(parts, phi, derivs=True)
        assert a.llf == pytest.approx(b.llf, rel=1e-14)
        np.testing.assert_allclose(b.group_grad, a.group_grad, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(b.hess, a.hess, rtol=1e-10, atol=1e-8)


def test_only_where_it_applies():
    """Two levels, or a random slope: no exact gradient (the search takes
    differences)."""
    df = three_level(3, "binomial")
    two = build_design("y ~ x + (1|school)", df, ["w1", "w2"], cond_weights=True)
    obj = quadrature.QuadratureObjective(
        two, CovarianceStructure.from_design(two), get_family("binomial"), 5
    )
    assert not obj.has_adapted_gradient()
    assert obj.adapted_gradient(np.array([0.0, 0.5, 0.7])) is None
    assert exact_value(obj, np.array([0.0, 0.5, 0.7])) is None
