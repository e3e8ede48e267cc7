"""The immutable result of a fit (pywemix.results.result.MixResult) and stage 4,
make_result."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from pywemix.objective.linpred import linear_predictor
from pywemix.results import MixResult, make_result

from conftest import quiet_mix, small_random_intercept


@pytest.fixture(scope="module")
def fit():
    d = small_random_intercept(31, n_groups=12, size=5)
    d = d.sample(frac=1.0, random_state=1)  # rows not in group order
    return d, quiet_mix("y ~ x + (1|g)", d)


def test_a_result_cannot_be_changed(fit):
    _, res = fit
    with pytest.raises(AttributeError, match="immutable"):
        res.sigma2 = 1.0
    with pytest.raises(AttributeError, match="immutable"):
        del res.theta
    for array in (res.theta, res.conditional_modes[0], res.random_effects_covariances[0]):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0.0
    # tables are handed out as copies: writing into them, or into their
    # arrays, leaves the result as it was (with and without copy-on-write)
    before = res.params.to_numpy().copy(), res.var_components.copy()
    for params in (res.params, res.estimates.params):
        params.iloc[0] = 123.0
        values = params.to_numpy()
        if values.flags.writeable:
            values[...] = -1.0
    table = res.estimates.var_components
    table.loc[:, "variance"] = -5.0
    np.testing.assert_array_equal(res.params.to_numpy(), before[0])
    pd.testing.assert_frame_equal(res.var_components, before[1])


def test_fitted_values_are_the_linear_predictor_in_the_data_order(fit):
    d, res = fit
    design = res.design
    eta = linear_predictor(
        design.X,
        res.params.to_numpy(),
        design.offset,
        design.Z,
        [lev.codes for lev in design.levels],
        res.conditional_modes,
    )
    fitted = res.to_data_order(eta, "fittedvalues")
    assert fitted.index.equals(d.index)
    pd.testing.assert_series_equal(res.fittedvalues, fitted)
    draws = res.to_data_order(np.column_stack([eta, 2 * eta]), ["a", "b"])
    assert list(draws.columns) == ["a", "b"] and draws.index.equals(d.index)


def test_pickling_keeps_the_estimates_and_rebuilds_the_objective(fit):
    _, res = fit
    assert res.objective.gaussian  # built on first use, not pickled
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_series_equal(back.params, res.params)
    assert back.llf == res.llf and back.settings == res.settings
    assert back.objective.function.profiled(back.theta).llf == pytest.approx(res.llf, rel=1e-12)


def test_make_result_rebuilds_the_same_result_from_the_stage_outputs(fit):
    _, res = fit
    again = make_result(
        res.design, res.settings, res.optimization, res.variance_estimate, res.warnings
    )
    assert isinstance(again, MixResult)
    pd.testing.assert_frame_equal(again.var_components, res.var_components)
    pd.testing.assert_series_equal(again.bse, res.bse)
