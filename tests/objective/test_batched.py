"""The batched two-level objective equals the single objectives, problem by
problem, and its gradient is the exact one of the reported objective."""

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pywemix.design.formula import parse_formula
from pywemix.design.model import build_design
from pywemix.objective.batched import TwoLevelBatch
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.families import get_family
from pywemix.objective.laplace import LaplaceObjective
from pywemix.objective.quadrature import QuadratureObjective


def _data(seed=3, groups=14, counts=False):
    rng = np.random.default_rng(seed)
    size = rng.integers(4, 14, groups)
    g = np.repeat(np.arange(groups), size)
    x = rng.normal(size=g.size)
    u = rng.normal(0, 0.8, groups)
    s = rng.normal(0, 0.4, groups)
    eta = -0.3 + 0.6 * x + u[g] + s[g] * x
    y = rng.poisson(np.exp(0.5 * eta)) if counts else (rng.random(g.size) < 1 / (1 + np.exp(-eta)))
    return pd.DataFrame(
        {
            "g": g,
            "x": x,
            "y": y.astype(float),
            "w1": rng.uniform(0.5, 3, g.size),
            "w2": rng.uniform(1, 4, groups)[g],
        }
    )


def _design(formula, data, family, weights=("w1", "w2")):
    fam = get_family(*family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = build_design(parse_formula(formula), data, list(weights), True, family=fam)
    return d, CovarianceStructure.from_design(d), fam


CASES = [
    ("y ~ x + (1|g)", ("binomial", "logit"), False),
    ("y ~ x + (1|g)", ("binomial", "probit"), False),
    ("y ~ x + (1 + x|g)", ("binomial", "logit"), False),
    ("y ~ x + (1|g)", ("poisson", None), True),
    ("y ~ x + (x||g)", ("poisson", None), True),
]


def _problems(d, P, R=3, seed=1):
    rng = np.random.default_rng(seed)
    W = d.wg[-1] * rng.choice([0.5, 1.5], (R, d.levels[-1].n_groups))
    w = d.w1 * rng.uniform(0.7, 1.3, (R, d.n_obs))
    return W, w


def _single(d, st, fam, n_quad, W, w):
    dr = replace(d, w1=w, wg=[W])
    return (
        LaplaceObjective(dr, st, fam) if n_quad == 1 else QuadratureObjective(dr, st, fam, n_quad)
    )


@pytest.mark.parametrize("formula,family,counts", CASES)
@pytest.mark.parametrize("n_quad", [1, 4, 9])
def test_values_and_exact_gradients_equal_the_single_objectives(formula, family, counts, n_quad):
    data = _data(counts=counts)
    d, st, fam = _design(formula, data, family)
    P = d.X.shape[1] + st.n_theta
    phi0 = np.r_[np.zeros(d.X.shape[1]) + 0.1, 0.6 * st.theta_start()]
    W, w = _problems(d, P)
    PHI = phi0 + 0.05 * np.random.default_rng(2).normal(size=(3, P))
    batch = TwoLevelBatch(d, st, fam, n_quad)
    for rows in (False, True):
        ev = batch.evaluate(PHI, W, w if rows else None)
        for k in range(3):
            single = _single(d, st, fam, n_quad, W[k], w[k] if rows else d.w1)
            np.testing.assert_allclose(ev.llf[k], single.evaluate(PHI[k]).llf, rtol=1e-12)
            h = 1e-6 * np.maximum(np.abs(PHI[k]), 1.0)
            fd = [
                (
                    single.evaluate(PHI[k] + h[m] * e, derivs=False).llf
                    - single.evaluate(PHI[k] - h[m] * e, derivs=False).llf
                )
                / (2 * h[m])
                for m, e in enumerate(np.eye(P))
            ]
            np.testing.assert_allclose(ev.grad[k], fd, rtol=2e-5, atol=2e-5)


def test_one_point_for_every_problem_is_evaluated_once_and_equals_the_batch():
    data = _data(seed=4)
    d, st, fam = _design("y ~ x + (1|g)", data, ("binomial", "logit"))
    P = d.X.shape[1] + st.n_theta
    W, _ = _problems(d, P, R=5)
    batch = TwoLevelBatch(d, st, fam, 5)
    phi = np.r_[0.1, 0.3, 0.7]
    one = batch.evaluate(phi, W)
    each = batch.evaluate(np.tile(phi, (5, 1)), W)
    for f in ("llf", "grad", "hess", "modes"):
        np.testing.assert_allclose(getattr(one, f), getattr(each, f), rtol=1e-10, atol=1e-10)


def test_chunks_of_problems_give_the_same_numbers(monkeypatch):
    from pywemix.objective import batched

    data = _data(seed=5)
    d, st, fam = _design("y ~ x + (1|g)", data, ("binomial", "logit"))
    W, w = _problems(d, 3, R=6)
    PHI = np.r_[0.1, 0.3, 0.7] + 0.05 * np.random.default_rng(3).normal(size=(6, 3))
    whole = TwoLevelBatch(d, st, fam, 7).evaluate(PHI, W, w)
    monkeypatch.setattr(batched, "CHUNK_CELLS", d.n_obs * 2)
    chunked = TwoLevelBatch(d, st, fam, 7).evaluate(PHI, W, w)
    for f in ("llf", "grad", "hess", "modes"):
        np.testing.assert_allclose(getattr(chunked, f), getattr(whole, f), rtol=1e-12)


@pytest.mark.parametrize("n_quad", [1, 7])
@pytest.mark.parametrize("formula", ["y ~ x + (1|g)", "y ~ x + (1 + x|g)"])
def test_blocks_of_problems_give_the_same_numbers(monkeypatch, formula, n_quad):
    """The per-row arithmetic in blocks of one problem (and the quadrature
    nodes one at a time) gives the numbers of one block of every problem."""
    from pywemix.objective import batched

    data = _data(seed=7)
    d, st, fam = _design(formula, data, ("binomial", "logit"))
    P = d.X.shape[1] + st.n_theta
    W, w = _problems(d, P, R=5)
    phi0 = np.r_[np.zeros(d.X.shape[1]) + 0.1, 0.6 * st.theta_start()]
    PHI = phi0 + 0.05 * np.random.default_rng(4).normal(size=(5, P))
    batch = TwoLevelBatch(d, st, fam, n_quad)
    for rows in (None, w):
        whole = batch.evaluate(PHI, W, rows)
        monkeypatch.setattr(batched, "BLOCK_CELLS", 1)
        blocks = batch.evaluate(PHI, W, rows)
        monkeypatch.undo()
        for f in ("llf", "grad", "hess", "modes", "dmodes"):
            np.testing.assert_allclose(
                getattr(blocks, f), getattr(whole, f), rtol=1e-12, atol=1e-12
            )


def test_hessian_approximation_is_close_to_the_exact_one():
    """The Hessian of F(hat v) with the log determinant's main terms: within
    a few percent of central differences of the exact gradient."""
    data = _data(seed=6, groups=30)
    d, st, fam = _design("y ~ x + (1|g)", data, ("binomial", "logit"))
    batch = TwoLevelBatch(d, st, fam, 1)
    phi = np.r_[-0.2, 0.5, 0.8]
    W = d.wg[-1][None, :]
    ev = batch.evaluate(phi, W)
    H = np.column_stack(
        [
            (batch.evaluate(phi + 1e-5 * e, W).grad[0] - batch.evaluate(phi - 1e-5 * e, W).grad[0])
            / 2e-5
            for e in np.eye(3)
        ]
    )
    assert np.linalg.norm(np.linalg.solve(H, ev.hess[0]) - np.eye(3), 2) < 0.2


def test_needs_two_levels():
    data = _data()
    data["d"] = data["g"] // 3
    d, st, fam = _design(
        "y ~ x + (1|d/g)", data.assign(w3=1.0), ("binomial", "logit"), ("w1", "w2", "w3")
    )
    assert not TwoLevelBatch.fits(d)
    with pytest.raises(ValueError, match="two-level"):
        TwoLevelBatch(d, st, fam, 1)
