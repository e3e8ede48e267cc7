"""Gaussian fits on a Dask DataFrame equal the in-memory fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import needs_reference, reference_data

dd = pytest.importorskip("dask.dataframe")

FORMULA = "pv1math ~ escs + st04q01 + (1 + escs|schoolid)"
KW = dict(weights=["pwt1", "pwt2"], cond_weights=True)
_cache = {}


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(*args, **kwargs)
    return out, [str(w.message) for w in caught]


def _split(df, n=4):
    """``df`` in ``n`` partitions, with a school spanning two of them."""
    ddf = dd.from_pandas(df, npartitions=n, sort=False)
    parts = [set(ddf.partitions[i]["schoolid"].compute()) for i in range(n)]
    assert any(parts[i] & parts[i + 1] for i in range(n - 1))
    return ddf


def _fits(dask_client, formula=FORMULA, **kw):
    key = (formula, tuple(sorted((k, str(v)) for k, v in kw.items())))
    if key not in _cache:
        df = reference_data("pisa_s1.csv")
        kw = {**KW, **kw}
        mem, mem_msgs = _quiet(pywemix.mix, formula, df, **kw)
        ddf = _split(df)
        res, msgs = _quiet(pywemix.mix, formula, ddf, **kw)
        _cache[key] = (df, ddf, mem, res, mem_msgs, msgs)
    return _cache[key]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


@needs_reference
def test_dask_fit_equals_in_memory_fit(dask_client):
    _, _, mem, res, mem_msgs, msgs = _fits(dask_client)
    assert type(res).__name__ == "DaskMixResult"
    assert _rel(res.llf, mem.llf) < 1e-8
    assert _rel(res.params, mem.params) < 1e-8
    assert list(res.params.index) == list(mem.params.index)
    assert _rel(res.bse, mem.bse) < 1e-8
    assert _rel(res.var_components["variance"], mem.var_components["variance"]) < 1e-8
    # the components' standard errors come from numerical second derivatives
    # (estimation.variance): in memory, shuffling the rows of this data set
    # moves them by up to 3e-5 already (6 shuffles), so 1e-8 is not attainable
    assert _rel(res.var_components["std_error"], mem.var_components["std_error"]) < 1e-4
    pd.testing.assert_frame_equal(res.groups, mem.groups)
    assert res.nobs == mem.nobs and res.n_clusters == mem.n_clusters
    assert msgs == mem_msgs  # the same rows dropped, the same words
    for name, frame in mem.ranef().items():
        assert _rel(res.ranef()[name], frame) < 1e-6
    assert "schoolid" in str(res.summary())


@needs_reference
def test_dask_fitted_values_residuals_and_predict_are_dask_series(dask_client):
    df, ddf, mem, res, _, _ = _fits(dask_client)
    fitted = res.fittedvalues
    assert isinstance(fitted, dd.Series)
    fv = fitted.compute().sort_index()
    assert fv.index.equals(mem.fittedvalues.index.sort_values())
    np.testing.assert_allclose(fv, mem.fittedvalues.sort_index(), rtol=1e-8)
    r = res.resid().compute().sort_index()
    np.testing.assert_allclose(r, mem.resid().sort_index(), rtol=1e-6, atol=1e-8)
    pred = res.predict(ddf)
    assert isinstance(pred, dd.Series)
    p = pred.compute().sort_index()
    np.testing.assert_allclose(p, mem.predict(df).sort_index(), rtol=1e-8)
    fixed = res.predict(ddf, include_random=False).compute().sort_index()
    np.testing.assert_allclose(fixed, mem.predict(df, include_random=False).sort_index(), rtol=1e-8)


@needs_reference
def test_dask_unconditional_weights_scaling_and_offset(dask_client):
    df = reference_data("pisa_s1.csv")
    df["off"] = 0.01 * np.arange(len(df)) % 3
    kw = dict(weights=["pwt1", "pwt2"], weight_scaling="size", offset="off")
    mem, _ = _quiet(pywemix.mix, "pv2math ~ escs + (1|schoolid)", df, **kw)
    res, _ = _quiet(pywemix.mix, "pv2math ~ escs + (1|schoolid)", _split(df, 3), **kw)
    assert _rel(res.llf, mem.llf) < 1e-8
    assert _rel(res.params, mem.params) < 1e-8
    assert _rel(res.bse, mem.bse) < 1e-8
    assert _rel(res.var_components["variance"], mem.var_components["variance"]) < 1e-8
    assert res.settings == mem.settings


def test_dask_three_levels_and_string_categories(dask_client):
    rng = np.random.default_rng(5)
    n = 600
    district = np.repeat(np.arange(6), 100)
    school = np.repeat(np.arange(30), 20)
    df = pd.DataFrame(
        {
            "district": district,
            "school": school,
            "x": rng.normal(size=n),
            "g": rng.choice(["b", "a", "c"], n),
            "w2": np.repeat(rng.uniform(1, 2, 30), 20),
        }
    )
    df["y"] = (
        df.x
        + (df.g == "c")
        + rng.normal(size=6)[district]
        + rng.normal(size=30)[school]
        + rng.normal(size=n)
    )
    f = "y ~ x + g + (1|school) + (1|district)"
    kw = dict(weights=[None, "w2", None])
    mem, _ = _quiet(pywemix.mix, f, df, **kw)
    res, _ = _quiet(
        pywemix.mix,
        f,
        dd.from_pandas(df.sample(frac=1, random_state=2), npartitions=3, sort=False),
        **kw,
    )
    assert list(res.params.index) == list(mem.params.index)
    assert _rel(res.llf, mem.llf) < 1e-8
    assert _rel(res.params, mem.params) < 1e-8
    assert _rel(res.var_components["variance"], mem.var_components["variance"]) < 1e-8


def test_dask_weights_varying_within_a_group_across_partitions(dask_client):
    df = pd.DataFrame(
        {
            "g": np.repeat(np.arange(10), 6),
            "x": np.arange(60.0),
            "y": np.sin(np.arange(60.0)),
            "w2": np.repeat(np.arange(1.0, 11), 6),
        }
    )
    df.loc[59, "w2"] = 99.0  # the last group's weight changes in the last partition
    ddf = dd.from_pandas(df, npartitions=4, sort=False)
    for data in (df, ddf):
        with pytest.raises(ValueError, match="weight column 'w2' varies within g 9"):
            _quiet(pywemix.mix, "y ~ x + (1|g)", data, weights=[None, "w2"])


def test_dask_crossed_groups_are_the_same_error(dask_client):
    df = pd.DataFrame(
        {
            "a": np.tile(np.arange(4), 10),
            "b": np.repeat(np.arange(8), 5),
            "y": np.cos(np.arange(40.0)),
            "x": np.arange(40.0),
        }
    )
    msgs = []
    for data in (df, dd.from_pandas(df, npartitions=3, sort=False)):
        with pytest.raises(ValueError, match="crossed, not nested") as err:
            _quiet(pywemix.mix, "y ~ x + (1|a) + (1|b)", data)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


@needs_reference
def test_dask_fallback_in_memory_is_said_and_exact(dask_client):
    df = reference_data("pisa_s1.csv")
    ddf = _split(df, 3)
    for f, kw in (("pv1math ~ bs(escs, df=4) + (1|schoolid)", {}),):
        kw = {**KW, **kw}
        mem, _ = _quiet(pywemix.mix, f, df, **kw)
        res, msgs = _quiet(pywemix.mix, f, ddf, **kw)
        assert any("collects its" in m and "runs in memory" in m for m in msgs)
        assert res.llf == mem.llf
        pd.testing.assert_series_equal(res.params, mem.params)


@needs_reference
def test_dask_plausible_values_equal_in_memory(dask_client):
    df = reference_data("pisa_s1.csv")
    pvs = {"pv1math": [f"pv{k}math" for k in range(1, 4)]}
    f = "pv1math ~ escs + (1|schoolid)"
    mem, mem_msgs = _quiet(pywemix.mix, f, df, plausible_values=pvs, **KW)
    res, msgs = _quiet(pywemix.mix, f, _split(df, 3), plausible_values=pvs, **KW)
    assert type(res.fits[0]).__name__ == "DaskMixResult"
    assert _rel(res.params, mem.params) < 1e-8
    assert _rel(res.bse, mem.bse) < 1e-8
    assert set(msgs) == set(mem_msgs)
