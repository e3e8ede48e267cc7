"""The result of a fit on a Dask DataFrame (pywemix.dask.result.DaskMixResult):
the in-memory result's estimates, per-row quantities as Dask Series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import quiet_mix, small_random_intercept
from pywemix.dask.result import DaskMixResult
from pywemix.results import MixResult

dd = pytest.importorskip("dask.dataframe")

FORMULA = "y ~ x + (1|g)"


@pytest.fixture(scope="module")
def fits():
    d = small_random_intercept(51, n_groups=12, size=5)
    rng = np.random.default_rng(51)
    d = d.assign(w1=rng.uniform(0.5, 2.0, len(d)), w2=np.repeat(rng.uniform(1, 3, 12), 5))
    ddf = dd.from_pandas(d, npartitions=3, sort=False)
    kw = dict(weights=["w1", "w2"], weight_scaling="size")
    return d, ddf, quiet_mix(FORMULA, d, **kw), quiet_mix(FORMULA, ddf, **kw)


def test_the_estimates_and_tables_are_those_of_the_in_memory_result(fits):
    _, _, mem, res = fits
    assert isinstance(res, DaskMixResult) and isinstance(res, MixResult)
    np.testing.assert_allclose(res.params, mem.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-6)
    np.testing.assert_allclose(res.var_components["variance"],
                               mem.var_components["variance"], rtol=1e-7)
    pd.testing.assert_frame_equal(res.groups, mem.groups, check_dtype=False)
    with pytest.raises(AttributeError, match="immutable"):
        res.sigma2 = 1.0


def test_per_row_quantities_are_dask_series(fits):
    d, ddf, mem, res = fits
    fitted = res.fittedvalues
    assert isinstance(fitted, dd.Series)
    np.testing.assert_allclose(fitted.compute().sort_index(), mem.fittedvalues.sort_index(),
                               rtol=1e-7)
    pearson = res.resid("pearson").compute().sort_index()
    np.testing.assert_allclose(pearson, mem.resid().sort_index() / np.sqrt(mem.sigma2),
                               rtol=1e-6, atol=1e-9)
    pred = res.predict(d)
    assert isinstance(pred, pd.Series)
    np.testing.assert_allclose(pred, mem.predict(d), rtol=1e-7)


def test_what_needs_the_rows_in_memory_says_so(fits):
    _, _, _, res = fits
    for call in (lambda: res.simulate(1), lambda: res.plot(),
                 lambda: res.to_data_order(np.zeros(3))):
        with pytest.raises(NotImplementedError, match="in memory|on the workers"):
            call()
    with pytest.raises(ValueError, match="include_random=False needs newdata"):
        res.predict(include_random=False)
