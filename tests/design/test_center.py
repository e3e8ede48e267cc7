"""Group- and grand-mean centering (WeMix ``center_group`` / ``center_grand``).

Reference: ``sleep_group_centered`` (WeMix 4.0.3); the rest against
centring by hand with level-1-weighted means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import case, mix_call, needs_reference, our_name, rel
from conftest import quiet_mix as _quiet_mix


@needs_reference
def test_sleep_group_centered_reference():
    exp, df = case("sleep_group_centered")
    kw = mix_call(exp)
    assert kw["center_group"] == {"Subject": ["Days"]}
    res = _quiet_mix(exp["call"]["formula"], df, **kw)
    assert res.converged
    assert res.llf >= exp["llf"] - 1e-7 * abs(exp["llf"])
    names = list(res.params.index)
    for k, v in exp["params"].items():
        assert rel(res.params[our_name(k, names)], v) < 1e-4, k
    for k, v in exp["bse"].items():
        assert rel(res.bse[our_name(k, names)], v) < 5e-3, k
    vc = res.var_components
    for row in exp["var_components"]:
        if row["level"] == 1:
            got = vc[vc["level"] == 1].iloc[0]
        else:
            sel = vc[
                (vc["level"] == row["level"]) & (vc["var1"] == row["var1"]) & vc["var2"].isna()
            ]
            assert len(sel) == 1
            got = sel.iloc[0]
        assert rel(got["variance"], row["variance"]) < 1e-3, row
        assert rel(got["std_error"], row["std_error"]) < 2e-2, row
    assert rel(res.icc, exp["icc"]) < 1e-3
    # the same as centring Days by hand within Subject
    hand = df.assign(Days=df["Days"] - df.groupby("Subject")["Days"].transform("mean"))
    kw.pop("center_group")
    ref = _quiet_mix(exp["call"]["formula"], hand, **kw)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-7)
    assert res.llf == pytest.approx(ref.llf, rel=1e-11)
    text = str(res.summary())
    assert any(
        ln.startswith("Centering") and "Days within Subject" in ln for ln in text.splitlines()
    )


# -- small simulated data with non-unit weights ---------------------------------------


def _sim(seed=5, n_groups=24):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 11, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = g.size
    school_mean = rng.normal(scale=1.5, size=n_groups)[g]
    x = 2.0 + school_mean + rng.normal(size=n)
    z = rng.normal(size=n)
    u = rng.normal(scale=0.7, size=n_groups)[g]
    df = pd.DataFrame(
        {
            "g": g,
            "x": x,
            "z": z,
            "y": 1 + 0.6 * x - 0.3 * z + 0.4 * school_mean + u + rng.normal(size=n),
            "w1": rng.uniform(0.5, 4.0, n),
            "w2": rng.uniform(1.0, 5.0, n_groups)[g],
            "cat": rng.choice(["a", "b", "c"], n),
        }
    )
    return df.sample(frac=1.0, random_state=1)  # rows not sorted by group


FORMULA = "y ~ x + z + (1|g)"
W = ["w1", "w2"]


def _same(a, b, rtol=1e-8):
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=100 * rtol)
    np.testing.assert_allclose(
        a.var_components["variance"].to_numpy(),
        b.var_components["variance"].to_numpy(),
        rtol=100 * rtol,
    )
    assert a.llf == pytest.approx(b.llf, rel=rtol)


def _wmean(v, w):
    return float(np.sum(v * w) / np.sum(w))


def test_grand_mean_centering_equals_hand():
    df = _sim()
    res = _quiet_mix(FORMULA, df, W, cond_weights=True, center_grand=["x"])
    hand = df.assign(x=df["x"] - _wmean(df["x"], df["w1"]))
    ref = _quiet_mix(FORMULA, hand, W, cond_weights=True)
    _same(res, ref)
    # with a string, too
    _same(_quiet_mix(FORMULA, df, W, cond_weights=True, center_grand="x"), ref, rtol=1e-12)
    # the weighted mean is not the plain mean: the unweighted centring differs
    plain = _quiet_mix(FORMULA, df.assign(x=df["x"] - df["x"].mean()), W, cond_weights=True)
    assert abs(plain.params["Intercept"] - res.params["Intercept"]) > 1e-4
    # grand-mean centering moves only the intercept
    raw = _quiet_mix(FORMULA, df, W, cond_weights=True)
    assert res.params["x"] == pytest.approx(raw.params["x"], rel=1e-7)
    assert res.llf == pytest.approx(raw.llf, rel=1e-10)


def test_group_mean_centering_equals_hand():
    df = _sim()
    res = _quiet_mix(FORMULA, df, W, cond_weights=True, center_group={"g": ["x"]})
    wx = (df["x"] * df["w1"]).groupby(df["g"]).transform("sum")
    sw = df["w1"].groupby(df["g"]).transform("sum")
    hand = df.assign(x=df["x"] - wx / sw)
    ref = _quiet_mix(FORMULA, hand, W, cond_weights=True)
    _same(res, ref)
    # a string for the column list
    _same(_quiet_mix(FORMULA, df, W, cond_weights=True, center_group={"g": "x"}), ref, rtol=1e-12)
    # unweighted group means give a different fit
    plain = df.assign(x=df["x"] - df.groupby("g")["x"].transform("mean"))
    other = _quiet_mix(FORMULA, plain, W, cond_weights=True)
    assert abs(other.params["x"] - res.params["x"]) > 1e-6
    # unconditional weights: within a school the level-1 weight differs from the
    # conditional one by the school's weight, so the group means are the same
    unc = df.assign(w1u=df["w1"] * df["w2"])
    res_u = _quiet_mix(FORMULA, unc, ["w1u", "w2"], cond_weights=False, center_group={"g": ["x"]})
    _same(res_u, res, rtol=1e-7)


def test_group_and_grand_together():
    df = _sim()
    res = _quiet_mix(
        FORMULA, df, W, cond_weights=True, center_group={"g": ["x"]}, center_grand=["z"]
    )
    wx = (df["x"] * df["w1"]).groupby(df["g"]).transform("sum")
    sw = df["w1"].groupby(df["g"]).transform("sum")
    hand = df.assign(x=df["x"] - wx / sw, z=df["z"] - _wmean(df["z"], df["w1"]))
    _same(res, _quiet_mix(FORMULA, hand, W, cond_weights=True))
    text = str(res.summary())
    line = next(ln for ln in text.splitlines() if ln.startswith("Centering"))
    assert "x within g" in line and "z grand mean" in line


def test_centering_uses_complete_rows_only():
    df = _sim()
    df.loc[df.index[:7], "z"] = np.nan
    res = _quiet_mix(FORMULA, df, W, cond_weights=True, center_grand=["x"])
    ok = df.dropna(subset=["z"])
    hand = ok.assign(x=ok["x"] - _wmean(ok["x"], ok["w1"]))
    _same(res, _quiet_mix(FORMULA, hand, W, cond_weights=True))


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(center_grand=["nope"]), ValueError, "nope"),
        (dict(center_grand=["y"]), ValueError, "not a predictor"),  # the response
        (dict(center_group={"g": ["w1"]}), ValueError, "not a predictor"),
        (dict(center_group={"school": ["x"]}), ValueError, "not a grouping factor"),
        (dict(center_group={"x": ["z"]}), ValueError, "not a grouping factor"),
        (dict(center_group=["x"]), TypeError, "dict"),
        (dict(center_group="x"), TypeError, "dict"),
        (dict(center_grand=["cat"]), TypeError, "not numeric"),
        (dict(center_group={"g": ["cat"]}), TypeError, "not numeric"),
    ],
)
def test_centering_errors(kw, exc, match):
    df = _sim(n_groups=20)
    with pytest.raises(exc, match=match):
        _quiet_mix("y ~ x + z + cat + (1|g)", df, W, cond_weights=True, **kw)
