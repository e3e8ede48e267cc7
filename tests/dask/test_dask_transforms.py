"""Centering and data-learning formula transforms on Dask frames: learned on
the workers, equal to the in-memory fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import needs_reference, reference_data

dd = pytest.importorskip("dask.dataframe")

KW = dict(weights=["pwt1", "pwt2"], cond_weights=True)


def _fit(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pywemix.mix(*args, **kwargs)
    return out, [str(w.message) for w in caught]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def _same(res, mem):
    assert type(res).__name__ == "DaskMixResult"
    assert list(res.params.index) == list(mem.params.index)
    assert _rel(res.llf, mem.llf) < 1e-8
    assert _rel(res.params, mem.params) < 1e-8
    assert _rel(res.bse, mem.bse) < 1e-8


CASES = [
    ("pv1math ~ escs + (1|schoolid)", dict(center_grand=["escs"])),
    ("pv1math ~ escs + (1 + escs|schoolid)", dict(center_group={"schoolid": ["escs"]})),
    ("pv1math ~ escs + (1|schoolid)", dict(center_group={"schoolid": "escs"}, center_grand="escs")),
    ("pv1math ~ scale(escs) + center(pv2math) + (1|schoolid)", {}),
    ("pv1math ~ standardize(pv2math) + scale(escs, ddof=0) + (1|schoolid)", {}),
    ("pv1math ~ poly(escs, 2) + (1 + scale(escs)|schoolid)", {}),
    ("pv1math ~ poly(escs, 3) + (1|schoolid)", {}),
    ("pv1math ~ C(schoolid % 7) + C(st29q03) + I(escs > 0) + (1|schoolid)", {}),
    ("pv1math ~ scale(escs) + (1|schoolid)", dict(center_group={"schoolid": ["escs"]})),
]


@needs_reference
@pytest.mark.parametrize("formula, kw", CASES)
def test_dask_learned_state_equals_in_memory(dask_client, formula, kw):
    df = reference_data("pisa_s1.csv")
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    kw = {**KW, **kw}
    mem, _ = _fit(formula, df, **kw)
    res, msgs = _fit(formula, ddf, **kw)
    assert not any("runs in memory" in m for m in msgs)
    _same(res, mem)
    assert res.settings == mem.settings
    pred = res.predict(ddf).compute().sort_index()
    ok = pred.notna()
    np.testing.assert_allclose(pred[ok], mem.predict(df).sort_index()[ok], rtol=1e-8)


def test_dask_levels_beyond_the_sample_rows(dask_client):
    """A level of C(k) seen only far into a partition (after the sample rows
    that shape the model spec) still gets its column."""
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "g": np.repeat(np.arange(40), 10),
            "x": rng.normal(size=n),
            "k": np.r_[np.zeros(n - 20, dtype=int), np.arange(20) % 4 + 1],
        }
    )
    df["y"] = df.x + 0.3 * df.k + rng.normal(size=40)[df.g] + rng.normal(size=n)
    f = "y ~ C(k) + poly(x, 2) + (1|g)"
    mem, _ = _fit(f, df)
    res, _ = _fit(f, dd.from_pandas(df, npartitions=2, sort=False))
    assert [c for c in mem.params.index if c.startswith("C(k)")] == [
        f"C(k)[T.{v}]" for v in range(1, 5)
    ]
    _same(res, mem)


@needs_reference
def test_dask_logit_with_centering_and_scale(dask_client):
    df = reference_data("pisa_s1.csv")
    f = "highmath ~ scale(escs) + (1|schoolid)"
    kw = dict(KW, family="binomial", n_quad=3, center_group={"schoolid": ["escs"]})
    mem, _ = _fit(f, df, **kw)
    res, msgs = _fit(f, dd.from_pandas(df, npartitions=3, sort=False), **kw)
    assert not any("runs in memory" in m for m in msgs)
    assert _rel(res.llf, mem.llf) < 1e-6
    assert _rel(res.params, mem.params) < 1e-6


@pytest.mark.parametrize(
    "formula, kw, term",
    [
        ("y ~ bs(x, df=4) + (1|g)", {}, "bs(x, df=4)"),
        ("scale(y) ~ x + (1|g)", {}, "the response 'scale(y)'"),
        ("y ~ poly(scale(x), 2) + (1|g)", {}, "poly(scale(x), 2)"),
        ("y ~ x + (1|g) + (1|h)", dict(center_group={"g": ["x"], "h": ["x"]}), "'x'"),
    ],
)
def test_dask_transforms_not_on_workers_are_named(dask_client, formula, kw, term):
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        {
            "g": np.repeat(np.arange(20), 6),
            "h": np.repeat(np.arange(4), 30),
            "x": rng.normal(size=120),
            "y": rng.normal(size=120) + 3,
        }
    )
    res, msgs = _fit(formula, dd.from_pandas(df, npartitions=2, sort=False), **kw)
    said = [m for m in msgs if "runs in memory" in m]
    assert said and term in said[0]
    mem, _ = _fit(formula, df, **kw)
    assert res.llf == mem.llf
