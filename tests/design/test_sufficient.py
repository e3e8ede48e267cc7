"""Per-group weighted sufficient statistics (pywemix.design.sufficient).

The batched, size-bucketed cross-products must equal a plain loop over the
groups, for groups of very different sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from pywemix.design.sufficient import group_crossprod, group_sum

# sizes on both sides of powers of two (bucket edges) and far apart
SIZES = [1, 2, 3, 50, 700, 1, 4, 5, 8, 9, 16, 17, 63, 64, 65, 128, 129, 2, 700, 1]


def groups(sizes, d, seed=0):
    rng = np.random.default_rng(seed)
    sizes = np.asarray(sizes)
    n = int(sizes.sum())
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    G = rng.normal(size=(n, d))
    w = rng.uniform(0.1, 20.0, size=n)
    return G, w, starts, sizes


def loop_crossprod(G, w, starts, sizes):
    out = []
    for s, m in zip(starts, sizes):
        Gj, wj = G[s : s + m], w[s : s + m]
        out.append(Gj.T @ np.diag(wj) @ Gj)
    return np.array(out)


@pytest.mark.parametrize(
    "sizes",
    [SIZES, [1, 2, 3, 50, 700], [700, 50, 3, 2, 1], [1], [1] * 7, [700], [3, 3, 3]],
    ids=["mixed", "increasing", "decreasing", "single_row", "all_ones", "one_large", "equal"],
)
@pytest.mark.parametrize("d", [1, 4])
def test_group_crossprod_equals_loop(sizes, d):
    G, w, starts, sizes = groups(sizes, d)
    M = group_crossprod(G, w, starts)
    expected = loop_crossprod(G, w, starts, sizes)
    assert M.shape == (len(starts), d, d)
    np.testing.assert_allclose(M, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(
        M, np.swapaxes(M, 1, 2), rtol=1e-12, atol=1e-12 * np.abs(expected).max()
    )


def test_group_crossprod_single_row_groups_are_outer_products():
    G, w, starts, _ = groups([1, 1, 1], 3, seed=1)
    M = group_crossprod(G, w, starts)
    for j in range(3):
        np.testing.assert_allclose(M[j], w[j] * np.outer(G[j], G[j]), rtol=1e-14)


def test_group_crossprod_unit_weights_and_integer_weights():
    """Unit weights give G_j'G_j; an integer weight equals repeating the row."""
    G, _, starts, sizes = groups([3, 50, 2], 2, seed=2)
    ones = np.ones(len(G))
    np.testing.assert_allclose(
        group_crossprod(G, ones, starts),
        np.array([G[s : s + m].T @ G[s : s + m] for s, m in zip(starts, sizes)]),
        rtol=1e-12,
    )
    rng = np.random.default_rng(3)
    k = rng.integers(1, 4, size=len(G))
    rep = np.repeat(G, k, axis=0)
    group_of_row = np.repeat(np.arange(len(sizes)), sizes)
    rep_sizes = np.bincount(np.repeat(group_of_row, k))
    rep_starts = np.r_[0, np.cumsum(rep_sizes)[:-1]]
    np.testing.assert_allclose(
        group_crossprod(G, k.astype(float), starts),
        group_crossprod(rep, np.ones(len(rep)), rep_starts),
        rtol=1e-12,
    )


@pytest.mark.parametrize("sizes", [SIZES, [1], [700, 1, 1]])
def test_group_sum_equals_loop(sizes):
    G, w, starts, sizes = groups(sizes, 3, seed=4)
    np.testing.assert_allclose(
        group_sum(w, starts), [w[s : s + m].sum() for s, m in zip(starts, sizes)], rtol=1e-13
    )
    np.testing.assert_allclose(
        group_sum(G, starts),
        np.array([G[s : s + m].sum(axis=0) for s, m in zip(starts, sizes)]),
        rtol=1e-12,
        atol=1e-12,
    )
