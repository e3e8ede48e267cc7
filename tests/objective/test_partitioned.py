"""The quadrature objective split into blocks of top-level groups equals the
whole objective: every group's log integral, gradient and conditional modes
exactly, the totals up to the order of the sums; and a fit on blocks run in
threads equals the fit in one piece."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.objective import partitioned
from pywemix.objective.partitioned import (
    PartitionedQuadrature,
    block_bounds,
    design_block,
    partitioned_quadrature,
)
from pywemix.objective.quadrature import QuadratureObjective

FORMULA = "y ~ x + (1 + x|g) + (1|d)"


def three_level(seed=3, n_d=9):
    rng = np.random.default_rng(seed)
    d = np.repeat(np.arange(n_d), 4)  # 4 schools per district
    g = np.arange(len(d))
    size = rng.integers(4, 9, size=len(g))
    g_row, d_row = np.repeat(g, size), np.repeat(d, size)
    x = rng.normal(size=g_row.size)
    eta = -0.2 + 0.5 * x + rng.normal(0, 0.8, len(g))[g_row] + rng.normal(0, 0.5, n_d)[d_row]
    y = (rng.random(g_row.size) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "g": g_row,
            "d": d_row,
            "w1": rng.uniform(0.5, 2, g_row.size),
            "w2": rng.uniform(1, 3, len(g))[g_row],
            "w3": rng.uniform(1, 2, n_d)[d_row],
        }
    )


def fit(df, n_quad=4):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pywemix.mix(
            FORMULA, df, ["w1", "w2", "w3"], cond_weights=True, family="binomial", n_quad=n_quad
        )


@pytest.fixture(scope="module")
def fitted():
    return fit(three_level())


def test_blocks_cover_the_rows_in_order(fitted):
    design = fitted.objective.design
    rows, ids = [], []
    for lo, hi in [(0, 2), (2, 3), (3, 9)]:
        block, gids = design_block(design, lo, hi)
        rows.append(block.y)
        ids.append(gids)
        for lev in block.levels:  # local codes and starts are consistent
            assert lev.codes[0] == 0 and np.all(np.diff(lev.codes) >= 0)
            np.testing.assert_array_equal(lev.codes[lev.starts], np.arange(lev.n_groups))
    np.testing.assert_array_equal(np.concatenate(rows), design.y)
    for li, lev in enumerate(design.levels):
        np.testing.assert_array_equal(np.concatenate([i[li] for i in ids]), np.arange(lev.n_groups))


def test_partitioned_evaluation_equals_whole(fitted):
    o = fitted.objective
    whole = QuadratureObjective(o.design, o.structure, o.family, o.n_quad)
    split = partitioned_quadrature(
        o.design, o.structure, o.family, o.n_quad, threads=2, bounds=[(0, 4), (4, 5), (5, 9)]
    )
    assert isinstance(split, PartitionedQuadrature)
    phi = fitted.optimization.x
    for point in (phi, phi * 1.2 + 0.05):
        a, b = whole.evaluate(point), split.evaluate(point)
        np.testing.assert_array_equal(a.group_A, b.group_A)
        np.testing.assert_array_equal(a.group_grad, b.group_grad)
        np.testing.assert_allclose(b.llf, a.llf, rtol=1e-13)
        np.testing.assert_allclose(b.grad, a.grad, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(b.hess, a.hess, rtol=1e-10, atol=1e-9)
    for x, y in zip(whole.conditional_modes(phi), split.conditional_modes(phi)):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(whole.conditional_means(phi), split.conditional_means(phi)):
        np.testing.assert_array_equal(x, y)
    whole.evaluate(phi, derivs=False)
    split.evaluate(phi, derivs=False)
    for li in range(2):
        for x, y in zip(whole.node_posteriors(li), split.node_posteriors(li)):
            np.testing.assert_array_equal(x, y)


def test_block_bounds_follow_the_size_target(fitted):
    o = fitted.objective
    assert block_bounds(o.design, o.structure, 4) == [(0, 9)]  # small: one piece
    bounds = block_bounds(o.design, o.structure, 4, block_bytes=20_000, min_cells=0)
    assert bounds[0][0] == 0 and bounds[-1][1] == 9 and len(bounds) > 2
    assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:]))


def test_fit_on_blocks_in_threads_equals_fit_in_one_piece(fitted, monkeypatch):
    monkeypatch.setattr(partitioned, "MIN_CELLS", 0)
    monkeypatch.setattr(partitioned, "BLOCK_BYTES", 30_000)
    split = fit(three_level())
    assert isinstance(split.objective.function, PartitionedQuadrature)
    assert split.converged and fitted.converged
    np.testing.assert_allclose(split.llf, fitted.llf, rtol=1e-12)
    np.testing.assert_allclose(split.params, fitted.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(split.bse, fitted.bse, rtol=1e-6)
    for a, b in zip(split.ranef().values(), fitted.ranef().values()):
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=1e-7)
    again = pickle.loads(pickle.dumps(split))  # results travel between processes
    np.testing.assert_allclose(
        again.objective.function.evaluate(again.optimization.x).llf, split.llf, rtol=1e-13
    )
