"""The design of a Gaussian model on a Dask DataFrame (pywemix.dask.design)
equals the in-memory design, and raises the same errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.dask.design import build_dask_design
from pywemix.design import build_design
from pywemix.design.formula import parse_formula

from conftest import small_random_intercept

dd = pytest.importorskip("dask.dataframe")

FORMULA = "y ~ x + f + (1|g)"


@pytest.fixture(scope="module")
def data():
    d = small_random_intercept(41, n_groups=12, size=5)
    rng = np.random.default_rng(41)
    return d.assign(
        f=rng.choice(["a", "b", "c"], len(d)),
        w1=rng.uniform(0.5, 2.0, len(d)),
        w2=np.repeat(rng.uniform(1.0, 3.0, 12), 5),
    )


def _both(formula, d, n=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        mem = build_design(formula, d, ["w1", "w2"], False)
        ddf = dd.from_pandas(d, npartitions=n, sort=False)
        dask = build_dask_design(parse_formula(formula), ddf, ["w1", "w2"], False)
    return mem, dask


def test_dask_design_equals_the_in_memory_design(data):
    mem, dask = _both(FORMULA, data)
    assert dask.x_names == mem.x_names and dask.n_obs == mem.n_obs
    assert [lev.n_groups for lev in dask.levels] == [lev.n_groups for lev in mem.levels]
    np.testing.assert_allclose(dask.wg[0], mem.wg[0], rtol=1e-14)
    pd.testing.assert_frame_equal(
        dask.groups.reset_index(drop=True),
        pywemix.estimation.components.groups_table(mem).reset_index(drop=True),
        check_dtype=False,
    )


def test_rank_deficiency_is_the_same_error(data):
    d = data.assign(x2=2.0 * data["x"])
    formula = "y ~ x + x2 + (1|g)"
    match = r"rank-deficient fixed-effects design: 1 column\(s\) are linear combinations"
    with pytest.raises(ValueError, match=match):
        build_design(formula, d, ["w1", "w2"], False)
    with pytest.raises(ValueError, match=match):
        build_dask_design(
            parse_formula(formula),
            dd.from_pandas(d, npartitions=2, sort=False),
            ["w1", "w2"],
            False,
        )
