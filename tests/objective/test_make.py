"""Stage 2 as one function (pywemix.objective.make): the objective of a design
and family, and the check of the quadrature grid's size."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import pywemix
from pywemix.design import build_design
from pywemix.objective import MixObjective, make_objective
from pywemix.objective.families import get_family
from pywemix.objective.gaussian import GaussianObjective
from pywemix.objective.laplace import LaplaceObjective
from pywemix.objective.make import MAX_BYTES, check_grid_size
from pywemix.objective.quadrature import QuadratureObjective

from conftest import small_random_intercept


@pytest.fixture(scope="module")
def designs():
    d = small_random_intercept(11, n_groups=12, size=5)
    d = d.assign(b=(d["y"] > 1.0).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return (
            build_design("y ~ x + (1|g)", d),
            build_design("b ~ x + (1|g)", d, family=get_family("binomial")),
        )


def test_the_family_chooses_the_criterion(designs):
    gauss, binary = designs
    fam = get_family("binomial")
    g = make_objective(gauss, None, reml=True)
    assert isinstance(g, MixObjective) and g.gaussian and g.reml and g.n_quad is None
    assert isinstance(g.function, GaussianObjective)
    assert g.structure.n_theta == 1
    laplace = make_objective(binary, fam, n_quad=1)
    assert isinstance(laplace.function, LaplaceObjective) and not laplace.gaussian
    quad = make_objective(binary, fam, n_quad=5)
    assert isinstance(quad.function, QuadratureObjective) and quad.n_quad == 5


def test_make_objective_arguments(designs):
    _, binary = designs
    fam = get_family("binomial")
    with pytest.raises(ValueError, match="reml=True is only defined for the gaussian"):
        make_objective(binary, fam, reml=True)
    with pytest.raises(TypeError, match="n_quad must be a positive integer"):
        make_objective(binary, fam, n_quad=2.5)
    with pytest.raises(ValueError, match="n_quad must be a positive integer"):
        make_objective(binary, fam, n_quad=0)
    with pytest.raises(TypeError, match="reml must be True or False"):
        make_objective(binary, None, reml="yes")


def test_grid_beyond_memory_is_refused_naming_n_quad():
    q, n_quad, P = (3,), 20, 4
    structure = SimpleNamespace(q=list(q), n_theta=P - 1)
    per_row = n_quad**3
    rows = int(MAX_BYTES / (per_row * P * P * 8)) + 1
    design = SimpleNamespace(n_obs=rows, X=np.zeros((1, 1)))
    with pytest.raises(ValueError, match=f"n_quad={n_quad} with .* {per_row} quadrature points"):
        check_grid_size(design, structure, n_quad)
    # a small grid passes silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_grid_size(SimpleNamespace(n_obs=100, X=np.zeros((1, 1))), structure, 3)
