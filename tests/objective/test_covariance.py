"""Covariance structure of the random effects (pywemix.objective.covariance).

``T_l = Lambda_l Lambda_l'`` with block-diagonal lower-triangular relative
factors, as lme4's ``theta``; the derivatives are checked against central
finite differences of ``relative_cov`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import block_diag

from pywemix.objective.covariance import CovarianceStructure, lme4_block_order

LAYOUTS = {
    "ri": [[1]],
    "slope": [[2]],
    "uncorrelated": [[1, 1]],
    "three": [[3]],
    "two_levels": [[2], [1]],
    "mixed": [[2, 1], [1, 3]],
}
#: Block orders (level, block) other than level by level, as lme4 may list them.
ORDERS = {"mixed_reordered": ("mixed", ((1, 1), (0, 1), (0, 0), (1, 0)))}


def structure(sizes, order=None) -> CovarianceStructure:
    names = [
        [tuple(f"e{li}_{bi}_{i}" for i in range(k)) for bi, k in enumerate(lvl)]
        for li, lvl in enumerate(sizes)
    ]
    return CovarianceStructure(sizes, names, order)


def random_theta(st, seed=0):
    """A theta with positive diagonals and non-zero off-diagonals."""
    rng = np.random.default_rng(seed)
    lower = st.theta_lower()
    theta = rng.normal(size=st.n_theta)
    return np.where(np.isfinite(lower), 0.3 + np.abs(theta), theta)


def factors_by_hand(st, theta):
    """Per level, the list of lower-triangular factors, filled from theta by
    looping over the blocks (the lower triangle column by column, as lme4
    orders ``theta``)."""
    out = [[None] * len(lvl) for lvl in st.sizes]
    order = st.order or [(li, bi) for li, lvl in enumerate(st.sizes) for bi in range(len(lvl))]
    pos = 0
    for li, bi in order:
        k = st.sizes[li][bi]
        L = np.zeros((k, k))
        for j in range(k):
            for i in range(j, k):
                L[i, j] = theta[pos]
                pos += 1
        out[li][bi] = L
    assert pos == len(theta)
    return out


@pytest.fixture(params=sorted(LAYOUTS) + sorted(ORDERS))
def st(request):
    if request.param in ORDERS:
        layout, order = ORDERS[request.param]
        return structure(LAYOUTS[layout], order)
    return structure(LAYOUTS[request.param])


def test_sizes(st):
    assert st.q == [sum(lvl) for lvl in st.sizes]
    assert st.n_theta == sum(k * (k + 1) // 2 for lvl in st.sizes for k in lvl)
    assert len(st.theta_start()) == len(st.theta_lower()) == st.n_theta


def test_relative_cov_is_block_diagonal_lambda_lambda_t(st):
    theta = random_theta(st)
    T = st.relative_cov(theta)
    assert len(T) == len(st.sizes)
    for Tl, blocks, q in zip(T, factors_by_hand(st, theta), st.q):
        expected = block_diag(*[L @ L.T for L in blocks])
        assert Tl.shape == (q, q)
        np.testing.assert_allclose(Tl, expected, rtol=1e-14, atol=1e-14)
        np.testing.assert_array_equal(Tl, Tl.T)
        assert np.all(np.linalg.eigvalsh(Tl) > 0)


def test_relative_cov_batched(st):
    thetas = np.stack([random_theta(st, seed) for seed in range(4)]).reshape(2, 2, -1)
    T = st.relative_cov(thetas)
    for li in range(len(st.sizes)):
        assert T[li].shape == (2, 2, st.q[li], st.q[li])
        for a in range(2):
            for b in range(2):
                np.testing.assert_array_equal(T[li][a, b], st.relative_cov(thetas[a, b])[li])


def test_theta_start_is_identity(st):
    for Tl, q in zip(st.relative_cov(st.theta_start()), st.q):
        np.testing.assert_array_equal(Tl, np.eye(q))


def test_theta_lower_marks_diagonal_elements(st):
    """Bound 0 exactly on the elements that are diagonals of Lambda: moving a
    diagonal element away from the identity keeps T diagonal, moving an
    off-diagonal one does not."""
    lower = st.theta_lower()
    start = st.theta_start()
    for k in range(st.n_theta):
        T = st.relative_cov(start + np.eye(st.n_theta)[k])
        diagonal = all(np.array_equal(Tl, np.diag(np.diag(Tl))) for Tl in T)
        if diagonal:
            assert lower[k] == 0.0 and start[k] == 1.0
        else:
            assert lower[k] == -np.inf and start[k] == 0.0
    np.testing.assert_array_equal(st.theta_is_diag(), lower == 0.0)


def test_theta_layout_two_levels():
    st = structure([[2], [1]])
    # level 2 block (L11, L21, L22), then level 3 (L11)
    np.testing.assert_array_equal(st.theta_start(), [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(st.theta_lower(), [0.0, -np.inf, 0.0, 0.0])
    T2, T3 = st.relative_cov([2.0, 3.0, 5.0, 7.0])
    np.testing.assert_array_equal(T2, [[4.0, 6.0], [6.0, 9.0 + 25.0]])
    np.testing.assert_array_equal(T3, [[49.0]])


def test_theta_layout_three_by_three_is_lme4s():
    # lme4's theta for a 3x3 block: (1,1), (2,1), (3,1), (2,2), (3,2), (3,3)
    st = structure([[3]])
    np.testing.assert_array_equal(
        st.packing()[0][:, 1:], [[0, 0], [1, 0], [2, 0], [1, 1], [2, 1], [2, 2]]
    )
    np.testing.assert_array_equal(st.theta_start(), [1.0, 0.0, 0.0, 1.0, 0.0, 1.0])


def test_theta_layout_uncorrelated():
    st = structure([[1, 1]])
    np.testing.assert_array_equal(st.theta_start(), [1.0, 1.0])
    np.testing.assert_array_equal(st.theta_lower(), [0.0, 0.0])
    np.testing.assert_array_equal(st.relative_cov([2.0, 3.0])[0], np.diag([4.0, 9.0]))


def test_relative_cov_grad_matches_finite_differences(st):
    theta = random_theta(st, 1)
    h = 1e-6
    dT = st.relative_cov_grad(theta)
    for li, q in enumerate(st.q):
        assert dT[li].shape == (st.n_theta, q, q)
    for k in range(st.n_theta):
        e = np.eye(st.n_theta)[k] * h
        plus, minus = st.relative_cov(theta + e), st.relative_cov(theta - e)
        for li in range(len(st.sizes)):
            fd = (plus[li] - minus[li]) / (2 * h)
            np.testing.assert_allclose(dT[li][k], fd, rtol=1e-7, atol=1e-8)


def test_relative_cov_grad_batched(st):
    thetas = np.stack([random_theta(st, seed) for seed in range(3)])
    dT = st.relative_cov_grad(thetas)
    for li in range(len(st.sizes)):
        for b in range(3):
            np.testing.assert_array_equal(dT[li][b], st.relative_cov_grad(thetas[b])[li])


def test_relative_cov_hess_matches_finite_differences(st):
    theta = random_theta(st, 2)
    # T is quadratic in theta, so the second central difference has no
    # truncation error; a large step keeps the rounding error small
    h = 1e-2
    d2T = st.relative_cov_hess()
    n = st.n_theta
    for li, q in enumerate(st.q):
        assert d2T[li].shape == (n, n, q, q)
        # symmetric in the pair of parameters
        np.testing.assert_array_equal(d2T[li], np.swapaxes(d2T[li], 0, 1))
    for k in range(n):
        for m in range(n):
            ek, em = np.eye(n)[k] * h, np.eye(n)[m] * h
            T = [
                st.relative_cov(theta + sk * ek + sm * em)
                for sk, sm in ((1, 1), (1, -1), (-1, 1), (-1, -1))
            ]
            for li in range(len(st.sizes)):
                fd = (T[0][li] - T[1][li] - T[2][li] + T[3][li]) / (4 * h * h)
                np.testing.assert_allclose(d2T[li][k, m], fd, rtol=1e-9, atol=1e-9)


def test_relative_cov_hess_is_derivative_of_grad(st):
    theta = random_theta(st, 3)
    h = 1e-6
    d2T = st.relative_cov_hess()
    for m in range(st.n_theta):
        e = np.eye(st.n_theta)[m] * h
        plus, minus = st.relative_cov_grad(theta + e), st.relative_cov_grad(theta - e)
        for li in range(len(st.sizes)):
            fd = (plus[li] - minus[li]) / (2 * h)
            np.testing.assert_allclose(d2T[li][:, m], fd, rtol=1e-7, atol=1e-8)


def test_cov_to_elements_round_trip(st):
    rng = np.random.default_rng(4)
    theta = random_theta(st, 4)
    covs = [3.5 * T for T in st.relative_cov(theta)]
    elements = st.cov_to_elements(covs)
    n_free = sum(k * (k + 1) // 2 for lvl in st.sizes for k in lvl)
    assert elements.shape == (n_free,)
    assert len(st.element_labels()) == n_free
    back = st.elements_to_cov(elements)
    for a, b in zip(back, covs):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)
    # and elements -> cov -> elements for arbitrary elements
    elements2 = rng.normal(size=n_free)
    np.testing.assert_array_equal(st.cov_to_elements(st.elements_to_cov(elements2)), elements2)
    # level slices partition elements
    sl = st.level_slices()
    assert sl[0].start == 0 and sl[-1].stop == n_free
    assert all(a.stop == b.start for a, b in zip(sl, sl[1:]))


def test_element_labels_variances_first():
    st = CovarianceStructure([[2, 1], [1]], [[("Intercept", "x"), ("z",)], [("Intercept",)]])
    assert st.element_labels() == [
        (0, "Intercept", None),
        (0, "x", None),
        (0, "Intercept", "x"),
        (0, "z", None),
        (1, "Intercept", None),
    ]
    covs = [np.array([[4.0, 1.5, 0.0], [1.5, 9.0, 0.0], [0.0, 0.0, 2.0]]), np.array([[7.0]])]
    np.testing.assert_array_equal(st.cov_to_elements(covs), [4.0, 9.0, 1.5, 2.0, 7.0])


def test_theta_from_cov_inverts_relative_cov(st):
    theta = random_theta(st, 5)
    sigma2 = 2.7
    covs = [sigma2 * T for T in st.relative_cov(theta)]
    np.testing.assert_allclose(st.theta_from_cov(covs, sigma2), theta, rtol=1e-8, atol=1e-10)


def test_packing_and_factors():
    """One mapping from a parameter vector to block-diagonal lower-triangular
    factors, the same for relative (theta) and absolute parameters."""
    st = CovarianceStructure([[2, 1], [1]], [[("a", "b"), ("c",)], [("d",)]])
    pack = st.packing()
    assert [p.tolist() for p in pack] == [[[0, 0, 0], [1, 1, 0], [2, 1, 1], [3, 2, 2]], [[4, 0, 0]]]
    assert st.n_theta == 5
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    L2, L3 = st.factors(v)
    np.testing.assert_array_equal(L2, [[1, 0, 0], [2, 3, 0], [0, 0, 4]])
    np.testing.assert_array_equal(L3, [[5.0]])
    np.testing.assert_allclose(st.relative_cov(v)[0], L2 @ L2.T)
    batched = st.factors(np.stack([v, 2 * v]))
    np.testing.assert_array_equal(batched[0][1], 2 * L2)


def _design(terms, n_groups):
    """A stand-in design: random terms ``(expr, group columns)`` in formula
    order, levels with ``n_groups`` groups (level 2 first)."""
    from types import SimpleNamespace

    levels = [SimpleNamespace(columns=(f"g{li}",), n_groups=n) for li, n in enumerate(n_groups)]
    random = [SimpleNamespace(expr=e, group=(f"g{li}",)) for e, li in terms]
    blocks = [[e for e, lev in terms if lev == li] for li in range(len(levels))]
    return SimpleNamespace(parsed=SimpleNamespace(random=random), levels=levels, blocks=blocks)


@pytest.mark.parametrize(
    "terms, n_groups, expected",
    [
        # formula order while the numbers of groups never increase along it
        ([("1", 0), ("0 + x", 0), ("1", 1)], [60, 12], ((0, 0), (0, 1), (1, 0))),
        # else lme4's rev(order(nl)): most groups first, ties in reverse formula order
        ([("1", 1), ("1", 0), ("0 + x", 1)], [60, 12], ((0, 0), (1, 1), (1, 0))),
        ([("1", 0), ("1", 1), ("0 + x", 0)], [60, 12], ((0, 1), (0, 0), (1, 0))),
    ],
)
def test_lme4_block_order(terms, n_groups, expected):
    assert lme4_block_order(_design(terms, n_groups)) == expected
