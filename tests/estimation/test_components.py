"""Tables and boundary messages of a fit (pywemix.estimation.components)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pywemix.estimation.components import (
    LATENT_RESIDUAL,
    SINGULAR_TOL,
    boundary_messages,
    groups_table,
    icc_of,
)
from pywemix.objective.covariance import CovarianceStructure

from conftest import quiet_mix, small_random_intercept

#: One level: a random intercept block, then a correlated (intercept, x) block.
STRUCTURE = CovarianceStructure([[1, 2]], [[("a",), ("b", "x")]])
LEVELS = [SimpleNamespace(name="school")]


def _messages(theta):
    covs = [L @ L.T for L in STRUCTURE.factors(theta)]
    return boundary_messages(STRUCTURE, np.asarray(theta, float), LEVELS, covs)


def test_interior_estimates_give_no_message():
    assert _messages([1.0, 0.8, 0.3, 0.5]) == []


def test_a_zero_variance_is_named_as_exactly_zero():
    msgs = _messages([0.0, 0.8, 0.3, 0.5])
    assert len(msgs) == 1
    assert "variance of 'a' at level 2 (school)" in msgs[0] and "exactly 0" in msgs[0]


def test_a_one_effect_block_near_zero_reports_its_variance():
    msgs = _messages([SINGULAR_TOL / 10, 0.8, 0.3, 0.5])
    assert len(msgs) == 1 and "essentially zero" in msgs[0]
    assert f"({(SINGULAR_TOL / 10) ** 2:.3g})" in msgs[0]


def test_a_singular_block_reports_its_correlation():
    # second diagonal ~ 0: x's effect is a multiple of the intercept's, corr = +1
    msgs = _messages([1.0, 0.8, 0.3, 1e-7])
    assert len(msgs) == 1 and msgs[0].startswith("singular fit at level 2 (school)")
    assert "corr(x, b) = +1.000" in msgs[0]


def test_icc_is_the_share_of_the_random_intercept_variance():
    table = pd.DataFrame({"level": [2, 1], "var2": [None, None], "variance": [2.0, 6.0]})
    assert icc_of(table) == pytest.approx(2.0 / 8.0)
    assert icc_of(table, "logit") == pytest.approx(2.0 / (2.0 + LATENT_RESIDUAL["logit"]))
    assert icc_of(table, "probit") == pytest.approx(2.0 / 3.0)
    assert np.isnan(icc_of(table, "log"))


def test_groups_table_counts_and_sums_the_given_weights():
    d = small_random_intercept(3, n_groups=10, size=4)
    rng = np.random.default_rng(3)
    d = d.assign(w1=rng.uniform(0.5, 2, len(d)), w2=np.repeat(rng.uniform(1, 3, 10), 4))
    res = quiet_mix("y ~ x + (1|g)", d, ["w1", "w2"])
    table = groups_table(res.design)
    assert table["n_units"].tolist() == [len(d), 10]
    assert table["weight"].tolist() == ["w1", "w2"]
    np.testing.assert_allclose(
        table["sum_weight"], [d["w1"].sum(), d.groupby("g")["w2"].first().sum()]
    )
    pd.testing.assert_frame_equal(table, res.groups)
