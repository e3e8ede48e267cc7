"""Non-Gaussian families (binomial, Poisson) fitted by adaptive quadrature.

Every test simulates its own small data set with numpy. Covered:

* the identities of the weighted pseudo-likelihood (integer weights equal
  repeated rows / groups, row order, top-level weight scale, unconditional
  equals conditional weights) for binomial logit, binomial probit and
  Poisson, and one three-level binomial identity;
* offsets: a constant offset only moves the intercept; exposures in a
  Poisson model are recovered; ``predict`` uses the new rows' offset; bad
  offsets are clear errors;
* response coding and checks, family/link checks;
* predictions, fitted values, residuals and random effects;
* the Laplace approximation, boundary variances and perfect separation.

What each identity implies for the standard errors is stated at each test:
the cluster-robust ``bse`` is over the top-level groups, so it must agree
when the top-level clusters contribute the same scores (repeated rows, row
order, weight scale, conditional spelling) but not when top-level groups are
repeated (there are more clusters then).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, ndtr

import pywemix

from conftest import quiet_mix

# These tests check objectives and derivatives on small weighted groups; the
# unscaled level-1 weights are deliberate (WeMix's default, as the references
# use) and the unscaled-weight warning is not what they are about (it is
# tested in tests/design/test_scaling.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:the level-1 weights vary within:pywemix.WeightWarning"
)

TOL = 1e-6  # relative agreement between fits that must agree
TOL_BSE = 1e-5  # the same for standard errors (finite-difference Jacobians)

RI = "y ~ x + b + (1 | school)"
THREE = "y ~ x + b + (1 | school) + (1 | district)"

# (family, link) of the identity tests
FAMILIES = [
    pytest.param("binomial", "logit", id="binomial-logit"),
    pytest.param("binomial", "probit", id="binomial-probit"),
    pytest.param("poisson", "log", id="poisson"),
]

# an identity check is vacuous on a boundary fit or one that stopped early
strict = [
    pytest.mark.filterwarnings("error::pywemix.ConvergenceWarning"),
    pytest.mark.filterwarnings("error::pywemix.BoundaryWarning"),
    pytest.mark.filterwarnings("error::pywemix.FewGroupsWarning"),
]


def _apply(marks):
    def deco(f):
        for m in marks:
            f = m(f)
        return f

    return deco


# ---------------------------------------------------------------------------
# simulated data
# ---------------------------------------------------------------------------
def _mean(link, eta):
    if link == "logit":
        return expit(eta)
    if link == "probit":
        return ndtr(eta)
    return np.exp(eta)


def two_level(
    family: str, link: str, seed: int = 1, n_groups: int = 32, sd: float = 0.9, sizes=(5, 13)
) -> pd.DataFrame:
    """Rows in schools; a continuous ``x``, a binary ``b``, informative weights.

    ``w1``/``w2`` are integer conditional weights (1-4), larger for rows with
    ``y`` above its mean and for schools with a positive effect, so that the
    weighted fit differs from the unweighted one; ``cw1``/``cw2`` are
    non-integer conditional weights.
    """
    rng = np.random.default_rng(seed)
    size = rng.integers(sizes[0], sizes[1], n_groups)
    g = np.repeat(np.arange(n_groups), size)
    n = len(g)
    u = rng.normal(0.0, sd, n_groups)
    x = rng.normal(size=n)
    b = rng.integers(0, 2, n)
    if family == "binomial":
        eta = -0.3 + 0.8 * x + 0.6 * b + u[g]
        y = (rng.random(n) < _mean(link, eta)).astype(int)
    else:
        eta = 0.2 + 0.4 * x - 0.3 * b + u[g]
        y = rng.poisson(_mean(link, eta))
    w1 = rng.integers(1, 4, n).astype(float) + (y > y.mean())
    w2 = (rng.integers(1, 4, n_groups).astype(float) + (u > 0))[g]
    cw1 = np.round(w1 * rng.uniform(0.6, 1.7, n), 3)
    cw2 = np.round((rng.uniform(0.5, 2.5, n_groups) * (1 + (u > 0)))[g], 3)
    return pd.DataFrame(
        dict(y=y, x=x, b=b, school=[f"s{k:03d}" for k in g], w1=w1, w2=w2, cw1=cw1, cw2=cw2)
    )


def three_level(seed: int = 3, n_districts: int = 22) -> pd.DataFrame:
    """Binary response, rows in schools in districts; integer district weight w3."""
    rng = np.random.default_rng(seed)
    n_sch = rng.integers(2, 4, n_districts)
    district = np.repeat(np.arange(n_districts), n_sch)
    S = len(district)
    school = np.repeat(np.arange(S), rng.integers(5, 10, S))
    n = len(school)
    v = rng.normal(0.0, 0.7, n_districts)
    u = rng.normal(0.0, 0.9, S)
    x = rng.normal(size=n)
    b = rng.integers(0, 2, n)
    d_row = district[school]
    y = (rng.random(n) < expit(0.2 + 0.7 * x - 0.5 * b + v[d_row] + u[school])).astype(int)
    cw1 = np.round(rng.uniform(0.5, 2.0, n) * (1 + y), 3)
    cw2 = np.round(rng.uniform(0.5, 2.5, S)[school], 3)
    w3 = (rng.integers(1, 4, n_districts).astype(float) + (v > 0))[d_row]
    return pd.DataFrame(
        dict(
            y=y,
            x=x,
            b=b,
            school=[f"s{k:03d}" for k in school],
            district=[f"d{k:02d}" for k in d_row],
            cw1=cw1,
            cw2=cw2,
            w3=w3,
        )
    )


@pytest.fixture(scope="module", params=[pytest.param(tuple(p.values), id=p.id) for p in FAMILIES])
def fam(request):
    """(family, link, data) for each family of the identity tests."""
    family, link = request.param
    return family, link, two_level(family, link, seed={"logit": 11, "probit": 12, "log": 13}[link])


def fit(df, family, link, formula=RI, **kw):
    return pywemix.mix(formula, df, family=family, link=link, **kw)


def repeat_rows(df: pd.DataFrame, counts) -> pd.DataFrame:
    counts = np.asarray(counts, dtype=int)
    return df.loc[df.index.repeat(counts)].reset_index(drop=True)


def repeat_groups(df: pd.DataFrame, key: str, counts: pd.Series, relabel=()):
    """Every group of ``key`` repeated ``counts[group]`` times under new ids."""
    pieces = []
    for gid, part in df.groupby(key, sort=False):
        for k in range(int(counts[gid])):
            p = part.copy()
            p["orig"] = p[key]
            for c in (key, *relabel):
                p[c] = p[c].astype(str) + f"#{k}"
            pieces.append(p)
    return pd.concat(pieces, ignore_index=True)


# ---------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------
def _close(a, b, what, tol=TOL, floor=1e-6):
    """Relative agreement per element (denominator max(|b|, floor * max|b|))."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), f"{what}: {a} vs {b}"
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    err = np.abs(a - b) / np.maximum(np.abs(b), floor * scale)
    assert np.max(err, initial=0.0) <= tol, (
        f"{what} differ: max relative error {np.max(err):.3g}\n{a}\n{b}"
    )


def assert_same_fit(a, b, *, bse: bool, llf_ratio: float = 1.0):
    """``a`` and ``b`` agree on llf (times ``llf_ratio``), params and variances;
    ``bse=True`` also on the robust standard errors of both."""
    assert a.converged and b.converged
    _close(a.llf, llf_ratio * b.llf, "llf")
    assert list(a.params.index) == list(b.params.index)
    _close(a.params, b.params, "params")
    va, vb = a.var_components, b.var_components
    keys = ["level", "group", "var1", "var2"]
    pd.testing.assert_frame_equal(va[keys].reset_index(drop=True), vb[keys].reset_index(drop=True))
    _close(va["variance"], vb["variance"], "variances")
    assert (vb["variance"] > 1e-2).all(), "simulated variances should be well inside"
    if bse:
        _close(a.bse, b.bse, "bse", tol=TOL_BSE)
        _close(va["std_error"], vb["std_error"], "variance std_errors", tol=TOL_BSE)


def assert_same_ranef(a, b, mapping=None, kind="mode"):
    """Random effects agree per group (``mapping``: b-label -> a-label)."""
    ra, rb = a.ranef(kind), b.ranef(kind)
    assert set(ra) == set(rb)
    for name in rb:
        A, B = ra[name], rb[name]
        keys = B.index if mapping is None else pd.Index(mapping(B.index))
        assert set(keys) <= set(A.index), f"{name}: unknown groups"
        _close(A.loc[keys].to_numpy(), B.to_numpy(), f"ranef[{name}]", floor=1.0)


# ---------------------------------------------------------------------------
# 1. identities
# ---------------------------------------------------------------------------
@_apply(strict)
def test_weighted_fit_differs_from_unweighted(fam):
    """Guard: the simulated weights are informative (else identities are weak)."""
    family, link, df = fam
    w = fit(df, family, link, weights=["w1", "w2"], cond_weights=True)
    u = fit(df, family, link)
    assert np.max(np.abs(w.params - u.params)) > 1e-2


@_apply(strict)
def test_level1_integer_weights_equal_repeated_rows(fam):
    """Rows repeated w1 times with weight one: same model, same clusters, so
    the same estimates, llf, standard errors and random effects."""
    family, link, df = fam
    a = fit(df, family, link, weights=["w1", "cw2"], cond_weights=True)
    rep = repeat_rows(df, df["w1"])
    b = fit(rep, family, link, weights=[None, "cw2"], cond_weights=True)
    assert b.nobs == int(df["w1"].sum())
    assert_same_fit(a, b, bse=True)
    assert_same_ranef(a, b)


@_apply(strict)
def test_level1_integer_weights_equal_repeated_rows_unconditional(fam):
    """The same with unconditional weights: w1 * cw2 vs cw2 on repeated rows."""
    family, link, df = fam
    df = df.assign(u1=df["w1"] * df["cw2"])
    a = fit(df, family, link, weights=["u1", "cw2"])
    rep = repeat_rows(df, df["w1"])
    b = fit(rep, family, link, weights=["cw2", "cw2"])
    assert_same_fit(a, b, bse=True)


@_apply(strict)
def test_level2_integer_weights_equal_repeated_groups(fam):
    """Schools repeated w2 times under new ids: same llf, estimates and
    random effects (each copy has its original's). Not the same bse: there
    are more clusters."""
    family, link, df = fam
    a = fit(df, family, link, weights=["cw1", "w2"], cond_weights=True)
    counts = df.groupby("school")["w2"].first()
    rep = repeat_groups(df, "school", counts)
    b = fit(rep, family, link, weights=["cw1", None], cond_weights=True)
    assert len(b.ranef()["school"]) == int(counts.sum())
    assert_same_fit(a, b, bse=False)
    assert_same_ranef(a, b, mapping=lambda idx: [s.split("#")[0] for s in idx])


@_apply(strict)
def test_row_order_does_not_matter(fam):
    """Shuffled rows: identical fit, standard errors and random effects, and
    fitted values that follow the rows."""
    family, link, df = fam
    a = fit(df, family, link, weights=["cw1", "cw2"])
    shuffled = df.sample(frac=1.0, random_state=7)
    b = fit(shuffled, family, link, weights=["cw1", "cw2"])
    assert_same_fit(a, b, bse=True)
    assert_same_ranef(a, b)
    assert_same_ranef(a, b, kind="mean")
    _close(b.fittedvalues.loc[df.index], a.fittedvalues, "fittedvalues", floor=1.0)


@_apply(strict)
def test_row_order_with_array_offset():
    """An array offset is shuffled with the rows: the same fit."""
    df = two_level("poisson", "log", seed=21)
    off = np.random.default_rng(0).uniform(-0.5, 0.5, len(df))
    a = fit(df, "poisson", "log", weights=["cw1", "cw2"], offset=off)
    perm = np.random.default_rng(1).permutation(len(df))
    b = fit(df.iloc[perm], "poisson", "log", weights=["cw1", "cw2"], offset=off[perm])
    assert_same_fit(a, b, bse=True)
    assert_same_ranef(a, b)


@_apply(strict)
@pytest.mark.parametrize("c", [3.0, 0.37])
def test_scaling_top_level_weights_conditional(fam, c):
    """Conditional school weights times c: estimates, bse and random effects
    unchanged, llf times c."""
    family, link, df = fam
    a = fit(df.assign(cw2=c * df["cw2"]), family, link, weights=["cw1", "cw2"], cond_weights=True)
    b = fit(df, family, link, weights=["cw1", "cw2"], cond_weights=True)
    assert_same_fit(a, b, bse=True, llf_ratio=c)
    assert_same_ranef(a, b)


@_apply(strict)
def test_scaling_top_level_weights_unconditional(fam):
    """Unconditional weights: scaling the top level scales every weight below."""
    family, link, df = fam
    c = 2.5
    a = fit(df.assign(cw1=c * df["cw1"], cw2=c * df["cw2"]), family, link, weights=["cw1", "cw2"])
    b = fit(df, family, link, weights=["cw1", "cw2"])
    assert_same_fit(a, b, bse=True, llf_ratio=c)


@_apply(strict)
def test_unconditional_equals_conditional(fam):
    """w1 * w2 and w2 with cond_weights=False is the conditional (w1, w2)."""
    family, link, df = fam
    df = df.assign(u1=df["cw1"] * df["cw2"])
    a = fit(df, family, link, weights=["u1", "cw2"], cond_weights=False)
    b = fit(df, family, link, weights=["cw1", "cw2"], cond_weights=True)
    assert_same_fit(a, b, bse=True)
    assert_same_ranef(a, b)


@_apply(strict)
def test_three_levels_top_weights_equal_repeated_districts():
    """Binomial, three levels: integer district weights equal districts (and
    their schools) repeated under new ids."""
    df = three_level()
    a = fit(df, "binomial", "logit", THREE, weights=["cw1", "cw2", "w3"], cond_weights=True)
    counts = df.groupby("district")["w3"].first()
    rep = repeat_groups(df, "district", counts, relabel=("school",))
    b = fit(rep, "binomial", "logit", THREE, weights=["cw1", "cw2", None], cond_weights=True)
    assert_same_fit(a, b, bse=False)
    assert_same_ranef(a, b, mapping=lambda idx: [s.split("#")[0] for s in idx])


# ---------------------------------------------------------------------------
# 2. offsets
# ---------------------------------------------------------------------------
ALL_FAMILIES = [pytest.param("gaussian", None, id="gaussian"), *FAMILIES]


def _data_for(family, link, seed=31):
    if family == "gaussian":
        df = two_level("poisson", "log", seed=seed)
        rng = np.random.default_rng(seed)
        return df.assign(y=df["y"] + rng.normal(size=len(df)) + 0.5 * df["x"])
    return two_level(family, link, seed=seed)


@_apply(strict)
@pytest.mark.parametrize("family, link", ALL_FAMILIES)
def test_constant_offset_moves_only_the_intercept(family, link):
    c = 0.7
    df = _data_for(family, link).assign(off=0.7)
    kw = dict(family=family, link=link, weights=["cw1", "cw2"])
    a = pywemix.mix(RI, df, offset="off", **kw)
    b = pywemix.mix(RI, df, **kw)
    pa, pb = a.params, b.params
    assert abs(pa["Intercept"] - (pb["Intercept"] - c)) < 1e-7
    _close(pa.drop("Intercept"), pb.drop("Intercept"), "slopes", tol=1e-7)
    _close(a.llf, b.llf, "llf", tol=1e-8)
    _close(a.var_components["variance"], b.var_components["variance"], "variances", tol=1e-7)
    _close(a.bse, b.bse, "bse", tol=1e-6)
    # an array offset is the same as the column
    d = pywemix.mix(RI, df, offset=np.full(len(df), c), **kw)
    _close(d.params, pa, "array offset", tol=1e-10)
    _close(d.llf, a.llf, "array offset llf", tol=1e-10)


@pytest.mark.parametrize("family, link", [pytest.param("gaussian", None, id="gaussian"), *FAMILIES])
def test_fitted_values_include_offset(family, link):
    """A constant offset leaves the fitted means unchanged (it is part of them);
    fittedvalues equal predict(newdata=data) and resid = y - fittedvalues."""
    df = _data_for(family, link).assign(off=0.7)
    kw = dict(family=family, link=link, weights=["cw1", "cw2"])
    a = pywemix.mix(RI, df, offset="off", **kw)
    b = pywemix.mix(RI, df, **kw)
    np.testing.assert_allclose(
        a.predict(df, type="link"), a.predict(type="link"), rtol=1e-8, atol=1e-8
    )
    np.testing.assert_allclose(a.fittedvalues, a.predict(df), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(a.resid, df["y"] - a.predict(df), rtol=1e-8, atol=1e-8)
    _close(a.fittedvalues, b.fittedvalues, "fittedvalues", tol=1e-6, floor=1.0)


@pytest.fixture(scope="module")
def exposure_data():
    """Poisson counts with exposures t, 200 schools of 20, known coefficients."""
    rng = np.random.default_rng(2024)
    G, m = 200, 20
    g = np.repeat(np.arange(G), m)
    n = G * m
    u = rng.normal(0.0, np.sqrt(0.3), G)
    x = rng.normal(size=n)
    b = rng.integers(0, 2, n)
    t = rng.uniform(0.2, 8.0, n)
    y = rng.poisson(t * np.exp(-1.0 + 0.4 * x - 0.5 * b + u[g]))
    df = pd.DataFrame(dict(y=y, x=x, b=b, school=[f"s{k:03d}" for k in g], t=t, logt=np.log(t)))
    return df, {"Intercept": -1.0, "x": 0.4, "b": -0.5}, 0.3


@pytest.fixture(scope="module")
def exposure_fit(exposure_data):
    df, _, _ = exposure_data
    return pywemix.mix(RI, df, family="poisson", offset="logt")


def test_poisson_exposure_recovers_coefficients(exposure_data, exposure_fit):
    df, truth, var = exposure_data
    r = exposure_fit
    assert r.converged
    for name, value in truth.items():
        assert abs(r.params[name] - value) < 4 * r.bse[name], (name, r.params[name])
    vc = r.var_components.iloc[0]
    assert abs(vc["variance"] - var) < 4 * vc["std_error"], vc
    # as an array: the same fit
    a = pywemix.mix(RI, df, family="poisson", offset=np.log(df["t"].to_numpy()))
    _close(a.params, r.params, "array offset params", tol=1e-10)
    _close(a.llf, r.llf, "array offset llf", tol=1e-10)
    # and without the exposure the intercept is far off
    c = pywemix.mix(RI, df, family="poisson")
    assert abs(c.params["Intercept"] - truth["Intercept"]) > 10 * r.bse["Intercept"]


def test_predict_uses_offset_of_new_rows(exposure_data, exposure_fit):
    df, _, _ = exposure_data
    r = exposure_fit
    new = df.iloc[:30].copy()
    base = r.predict(new, type="link")
    _close(
        base.to_numpy(),
        r.predict(type="link").iloc[:30].to_numpy(),
        "predict(newdata=fitted rows)",
        tol=1e-10,
        floor=1.0,
    )
    delta = np.linspace(-1.0, 2.0, len(new))
    moved = r.predict(new.assign(logt=new["logt"] + delta), type="link")
    np.testing.assert_allclose(moved - base, delta, rtol=0, atol=1e-10)
    resp = r.predict(new.assign(logt=new["logt"] + delta))
    np.testing.assert_allclose(resp, np.exp(base + delta), rtol=1e-10)
    with pytest.raises(ValueError, match="logt"):
        r.predict(new.drop(columns="logt"))


def test_predict_after_array_offset_needs_offset(exposure_data):
    df, _, _ = exposure_data
    sub = df[df["school"] < "s040"].reset_index(drop=True)
    r = pywemix.mix(RI, sub, family="poisson", offset=sub["logt"].to_numpy())
    new = sub.iloc[:10].drop(columns=["logt", "t"])
    with pytest.raises(ValueError, match="offset"):
        r.predict(new)
    p = r.predict(new, type="link", offset=sub["logt"].to_numpy()[:10])
    _close(
        p.to_numpy(), r.predict(type="link").iloc[:10].to_numpy(), "predict", tol=1e-10, floor=1.0
    )


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_bad_offset_column_errors(family):
    df = _data_for(family, "logit" if family == "binomial" else "log")
    with pytest.raises(ValueError, match="nosuchcol"):
        pywemix.mix(RI, df, family=family, offset="nosuchcol")
    with pytest.raises((TypeError, ValueError), match="txtoff"):
        pywemix.mix(RI, df.assign(txtoff="a"), family=family, offset="txtoff")
    inf = np.zeros(len(df))
    inf[[3, 8]] = [np.inf, -np.inf]
    with pytest.raises(ValueError, match="infoff"):
        pywemix.mix(RI, df.assign(infoff=inf), family=family, offset="infoff")
    with pytest.raises(ValueError, match="offset"):
        pywemix.mix(RI, df, family=family, offset=inf)
    with pytest.raises(ValueError, match="offset"):
        pywemix.mix(RI, df, family=family, offset=np.zeros(len(df) - 1))


# ---------------------------------------------------------------------------
# 3. responses, families, links
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def binary():
    df = two_level("binomial", "logit", seed=41)
    ref = pywemix.mix(RI, df, family="binomial", weights=["cw1", "cw2"])
    return df, ref


@pytest.mark.parametrize("coding", ["int", "float", "bool", "str", "categorical"])
def test_binomial_response_codings(binary, coding):
    df, ref = binary
    y = df["y"].to_numpy()
    new = {
        "int": y.astype(np.int64),
        "float": y.astype(float),
        "bool": y.astype(bool),
        "str": np.where(y == 1, "yes", "no"),
        "categorical": pd.Categorical(
            np.where(y == 1, "pass", "fail"), categories=["fail", "pass"]
        ),
    }[coding]
    r = pywemix.mix(RI, df.assign(y=new), family="binomial", weights=["cw1", "cw2"])
    _close(r.params, ref.params, "params", tol=1e-10)
    _close(r.llf, ref.llf, "llf", tol=1e-10)
    _close(r.var_components["variance"], ref.var_components["variance"], "var", tol=1e-10)
    _close(r.fittedvalues, ref.fittedvalues, "fitted", tol=1e-10, floor=1.0)


def test_binomial_categorical_second_level_is_one(binary):
    """Category order decides: with categories [pass, fail], 'fail' is 1, so the
    logit coefficients change sign and the likelihood is the same."""
    df, ref = binary
    y = pd.Categorical(np.where(df["y"] == 1, "pass", "fail"), categories=["pass", "fail"])
    r = pywemix.mix(RI, df.assign(y=y), family="binomial", weights=["cw1", "cw2"])
    _close(r.params, -ref.params, "params", tol=1e-6)
    _close(r.llf, ref.llf, "llf", tol=1e-8)
    _close(r.var_components["variance"], ref.var_components["variance"], "var", tol=1e-6)


def test_binomial_rejects_other_values(binary):
    df, _ = binary
    y = df["y"].to_numpy().copy()
    y[[0, 5]] = 2
    with pytest.raises(ValueError, match=r"2"):
        pywemix.mix(RI, df.assign(y=y), family="binomial")
    y = df["y"].astype(float).to_numpy().copy()
    y[4] = 0.5
    with pytest.raises(ValueError, match=r"0\.5"):
        pywemix.mix(RI, df.assign(y=y), family="binomial")
    with pytest.raises(ValueError, match="two levels"):
        lab = np.array(["a", "b", "c"])[np.arange(len(df)) % 3]
        pywemix.mix(RI, df.assign(y=lab), family="binomial")


def test_binomial_rejects_other_values_names_them(binary):
    df, _ = binary
    y = df["y"].to_numpy().copy()
    y[[0, 5, 9]] = [2, 2, 7]
    with pytest.raises(ValueError) as info:
        pywemix.mix(RI, df.assign(y=y), family="binomial")
    msg = str(info.value)
    assert "'y'" in msg
    assert re.search(r"\b2(\.0)?\b", msg) and re.search(r"\b7(\.0)?\b", msg), msg


def test_poisson_rejects_non_counts():
    df = two_level("poisson", "log", seed=43)
    y = df["y"].astype(float).to_numpy().copy()
    y[[1, 2]] = -1
    y[7] = 1.5
    with pytest.raises(ValueError) as info:
        pywemix.mix(RI, df.assign(y=y), family="poisson")
    msg = str(info.value)
    assert "'y'" in msg and "-1" in msg and "1.5" in msg, msg
    assert re.search(r"\b3\b", msg), f"count of offending values missing: {msg}"
    with pytest.raises(TypeError, match="'y'"):
        pywemix.mix(RI, df.assign(y=df["y"] > 0), family="poisson")


@pytest.mark.parametrize(
    "family, link, links",
    [
        ("poisson", "logit", ["log"]),
        ("binomial", "log", ["logit", "probit", "cloglog"]),
        ("gaussian", "logit", ["identity"]),
    ],
)
def test_link_the_family_lacks(binary, family, link, links):
    df, _ = binary
    with pytest.raises(ValueError) as info:
        pywemix.mix(RI, df, family=family, link=link)
    msg = str(info.value)
    assert repr(link) in msg or link in msg
    for lk in links:
        assert lk in msg, msg


@pytest.mark.parametrize("family", ["gamma", "negbinomial", "binomal"])
def test_unknown_family(binary, family):
    df, _ = binary
    with pytest.raises(ValueError, match=family):
        pywemix.mix(RI, df, family=family)


def test_cloglog_runs(binary):
    df, ref = binary
    r = pywemix.mix(RI, df, family="binomial", link="cloglog", weights=["cw1", "cw2"])
    assert r.converged and r.link == "cloglog"
    assert np.isfinite(r.llf) and r.llf != ref.llf
    mu = r.predict(df.iloc[:10])
    np.testing.assert_allclose(
        mu, -np.expm1(-np.exp(r.predict(df.iloc[:10], type="link"))), rtol=1e-12
    )


# ---------------------------------------------------------------------------
# 4. predictions, residuals, random effects
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("link, inv", [("logit", expit), ("probit", ndtr)])
def test_binomial_predictions(link, inv):
    df = two_level("binomial", link, seed=51)
    r = pywemix.mix(RI, df, family="binomial", link=link, weights=["cw1", "cw2"])
    p = r.predict()
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(p, inv(r.predict(type="link")), rtol=1e-12)
    pd.testing.assert_series_equal(r.fittedvalues, p, check_names=False)
    np.testing.assert_allclose(r.resid, df["y"] - r.fittedvalues, rtol=0, atol=1e-12)
    assert list(r.fittedvalues.index) == list(df.index)
    # newdata equal to the data gives the same
    pn = r.predict(df)
    np.testing.assert_allclose(pn, p, rtol=1e-10)
    np.testing.assert_allclose(
        r.predict(df, type="link"), r.predict(type="link"), rtol=1e-10, atol=1e-12
    )
    # the link scale: fixed part plus the school's mode
    modes = r.ranef()["school"].iloc[:, 0]
    fixed = r.params["Intercept"] + r.params["x"] * df["x"] + r.params["b"] * df["b"]
    np.testing.assert_allclose(
        r.predict(type="link"), fixed + modes.loc[df["school"]].to_numpy(), atol=1e-10
    )


def test_poisson_fitted_and_resid():
    df = two_level("poisson", "log", seed=52)
    r = pywemix.mix(RI, df, family="poisson", weights=["cw1", "cw2"])
    assert (r.fittedvalues > 0).all()
    np.testing.assert_allclose(r.fittedvalues, np.exp(r.predict(type="link")), rtol=1e-12)
    np.testing.assert_allclose(r.resid, df["y"] - r.fittedvalues, atol=1e-12)


@pytest.mark.parametrize("ids", ["int", "str"])
def test_new_groups_need_allow_new_levels(ids):
    df = two_level("binomial", "logit", seed=53)
    if ids == "int":
        df["school"] = df["school"].str[1:].astype(int)
        newids = [9001] * 6 + [9002] * 6
    else:
        newids = ["zz1"] * 6 + ["zz2"] * 6
    r = pywemix.mix(RI, df, family="binomial", weights=["cw1", "cw2"])
    new = df.iloc[:12].assign(school=newids)
    with pytest.raises(ValueError, match="allow_new_levels"):
        r.predict(new)
    eta = r.predict(new, type="link", allow_new_levels=True)
    fixed = r.params["Intercept"] + r.params["x"] * new["x"] + r.params["b"] * new["b"]
    np.testing.assert_allclose(eta, fixed, atol=1e-12)
    np.testing.assert_allclose(r.predict(new, allow_new_levels=True), expit(fixed), rtol=1e-12)
    np.testing.assert_allclose(r.predict(new, type="link", include_random=False), fixed, atol=1e-12)
    # mixing known and new groups: known ones keep their modes
    mixed = pd.concat([df.iloc[:5], new.iloc[:5]])
    em = r.predict(mixed, type="link", allow_new_levels=True).to_numpy()
    np.testing.assert_allclose(em[:5], r.predict(type="link").iloc[:5], atol=1e-10)
    np.testing.assert_allclose(em[5:], fixed.iloc[:5], atol=1e-12)


def test_ranef_mean_and_mode_close_but_different():
    df = two_level("binomial", "logit", seed=54)
    r = pywemix.mix(RI, df, family="binomial", weights=["cw1", "cw2"])
    mode = r.ranef("mode")["school"].iloc[:, 0]
    mean = r.ranef("mean")["school"].iloc[:, 0]
    assert list(mode.index) == list(mean.index)
    diff = np.abs(mode - mean)
    assert diff.max() > 1e-4, "conditional means equal the modes for a binomial model"
    assert diff.max() < 0.25 * mode.std(), diff.max()
    assert np.corrcoef(mode, mean)[0, 1] > 0.99
    with pytest.raises(ValueError):
        r.ranef("median")


# ---------------------------------------------------------------------------
# 5. Laplace, boundary, separation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("family, link", [("binomial", "logit"), ("poisson", "log")])
def test_laplace_differs_slightly(family, link):
    df = two_level(family, link, seed=61, n_groups=25)
    a = pywemix.mix(RI, df, family=family, link=link, n_quad=1)
    b = pywemix.mix(RI, df, family=family, link=link, n_quad=13)
    assert a.converged and a.n_quad == 1
    d_llf = abs(a.llf - b.llf) / abs(b.llf)
    assert 1e-9 < d_llf < 1e-2, d_llf
    d = np.abs(a.params - b.params)
    assert d.max() > 1e-7 and d.max() < 0.1, d
    va, vb = a.var_components["variance"].iloc[0], b.var_components["variance"].iloc[0]
    assert va != vb and abs(va - vb) < 0.3 * vb
    assert np.all(np.isfinite(a.bse))


@pytest.mark.parametrize(
    "n_quad, exc",
    [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError), ("5", TypeError)],
)
def test_bad_n_quad(binary, n_quad, exc):
    df, _ = binary
    with pytest.raises(exc, match="n_quad"):
        pywemix.mix(RI, df, family="binomial", n_quad=n_quad)


@pytest.mark.parametrize("family, link", [("binomial", "logit"), ("poisson", "log")])
def test_zero_variance_warns(family, link):
    """Identical schools (same rows in each) have no between-school variation:
    the variance estimate is zero, with a BoundaryWarning and a usable fit."""
    one = two_level(family, link, seed=71, n_groups=1, sizes=(12, 13)).drop(columns="school")
    df = pd.concat([one.assign(school=f"s{k:02d}") for k in range(25)], ignore_index=True)
    with pytest.warns(pywemix.BoundaryWarning, match="school"):
        r = pywemix.mix(RI, df, family=family, link=link)
    assert r.var_components["variance"].iloc[0] < 1e-6
    assert np.all(np.isfinite(r.params))
    assert any("zero" in m for m in r.warnings)
    # the fixed effects are those of the GLM without random effects
    assert np.isfinite(r.llf)


@pytest.mark.parametrize("family, link", [("binomial", "logit"), ("poisson", "log")])
def test_no_group_effects_simulated_warns(family, link):
    """Data simulated without school effects (a seed where the estimate is on
    the boundary): a BoundaryWarning, not an error, and a usable fit."""
    df = two_level(family, link, seed=72, sd=0.0)
    with pytest.warns(pywemix.BoundaryWarning, match="Intercept"):
        r = pywemix.mix(RI, df, family=family, link=link)
    assert r.var_components["variance"].iloc[0] < 1e-8
    assert np.all(np.isfinite(r.params)) and np.all(np.isfinite(r.bse))
    assert np.isfinite(r.llf)
    # the same boundary with the Laplace approximation
    with pytest.warns(pywemix.BoundaryWarning):
        r1 = pywemix.mix(RI, df, family=family, link=link, n_quad=1)
    assert r1.var_components["variance"].iloc[0] < 1e-8
    _close(r1.params, r.params, "params at the boundary", tol=1e-4)


def test_perfect_separation_warns_naming_column():
    df = two_level("binomial", "logit", seed=81)
    rng = np.random.default_rng(81)
    sep = (rng.random(len(df)) < 0.15).astype(int)
    df = df.assign(sep=sep, y=np.where(sep == 1, 1, df["y"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.ConvergenceWarning)
        warnings.simplefilter("ignore", pywemix.BoundaryWarning)
        with pytest.warns(pywemix.PywemixWarning, match="sep") as rec:
            r = pywemix.mix("y ~ x + sep + (1 | school)", df, family="binomial")
    assert any("separation" in str(w.message) for w in rec)
    assert r.params["sep"] > 3
    # a column that does not separate does not warn about separation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pywemix.mix(RI, df, family="binomial")
    assert not any("separation" in str(w.message) for w in caught)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_separation_by_a_continuous_predictor_warns(link):
    """A threshold in a continuous predictor separates the outcome: the fit must
    not look like a normal one (R's glm: fitted probabilities 0 or 1)."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(40), 10)
    x = rng.normal(size=g.size)
    df = pd.DataFrame({"y": (x > 0.2).astype(int), "x": x, "z": rng.normal(size=g.size), "g": g})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = pywemix.mix("y ~ x + z + (1|g)", df, family="binomial", link=link)
    msgs = [str(w.message) for w in caught if issubclass(w.category, pywemix.DataWarning)]
    assert any("separation" in m and "'x'" in m for m in msgs)
    assert any("separation" in m for m in r.warnings)


def test_family_and_link_names_ignore_case_and_spaces(binary):
    binary, _ = binary
    a = quiet_mix(RI, binary, family="binomial", link="probit", n_quad=5)
    b = quiet_mix(RI, binary, family=" Binomial", link="Probit ", n_quad=5)
    np.testing.assert_array_equal(a.params.to_numpy(), b.params.to_numpy())
    g = quiet_mix(RI, binary.assign(y=binary["x"] + binary["y"]), family="Gaussian")
    assert g.family == "gaussian"


@pytest.mark.parametrize("link, exc", [("", ValueError), (3, TypeError)])
def test_bad_link_values(binary, link, exc):
    binary, _ = binary
    with pytest.raises(exc, match="link"):
        quiet_mix(RI, binary, family="binomial", link=link)
    with pytest.raises(TypeError, match="family"):
        quiet_mix(RI, binary, family=3)


def test_quadrature_grid_too_large_is_refused(binary):
    df, _ = binary
    df = df.assign(z=np.random.default_rng(2).normal(size=len(df)))
    with pytest.raises(ValueError, match="quadrature points"):
        pywemix.mix("y ~ x + (1 + x + z | school)", df, family="binomial", n_quad=200)


def _probit_derivs_by_outcome(y, eta):
    """The probit derivatives written per outcome (the form used before the
    ``s = 2y - 1`` rewrite): log Phi(eta) for y = 1 and log Phi(-eta) for
    y = 0, with the inverse Mills ratios r1, r0 of each."""
    from scipy.special import log_ndtr

    lp, lq = log_ndtr(eta), log_ndtr(-eta)
    logphi = -0.5 * eta * eta - 0.5 * np.log(2 * np.pi)
    r1, r0 = np.exp(logphi - lp), np.exp(logphi - lq)
    return (
        y * lp + (1 - y) * lq,
        y * r1 - (1 - y) * r0,
        -y * r1 * (eta + r1) - (1 - y) * r0 * (r0 - eta),
        (
            y * r1 * ((eta + r1) * (eta + 2 * r1) - 1)
            - (1 - y) * r0 * ((r0 - eta) * (2 * r0 - eta) - 1)
        ),
    )


def test_probit_derivatives_match_per_outcome_formulas_and_differences():
    """Probit ``derivs`` with s = 2y - 1 equals the per-outcome formulas to
    1e-14 (relative) over eta in [-40, 40], each derivative matches a central
    difference of the one below, and order 0/2 agree with order 3."""
    from pywemix.objective.families import Binomial

    fam = Binomial("probit")
    eta = np.linspace(-40, 40, 4001)
    for y in (np.zeros_like(eta), np.ones_like(eta)):
        got = fam.derivs(y, eta, order=3)
        want = _probit_derivs_by_outcome(y, eta)
        for g, w in zip(got, want):
            assert np.all(np.isfinite(g))
            np.testing.assert_allclose(g, w, rtol=1e-14, atol=0)
        two = fam.derivs(y, eta)
        for g, w in zip(two, got[:3]):
            np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(fam.loglik(y, eta), got[0])
        # central differences (step 1e-4: error ~1e-8 from truncation and
        # rounding). The third derivative is checked for |eta| <= 8 only: in
        # the far tail d2 = -r (s eta + r) cancels (r ~ -s eta), so its
        # rounding error (~1e-11 at |eta| = 40, in either form) over 2h swamps d3
        h = 1e-4
        up, down = fam.derivs(y, eta + h, order=3), fam.derivs(y, eta - h, order=3)
        near = np.abs(eta) <= 8
        for k in (1, 2, 3):
            diff = (up[k - 1] - down[k - 1]) / (2 * h)
            keep = near if k == 3 else slice(None)
            np.testing.assert_allclose(got[k][keep], diff[keep], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("order", [0, 2, 3])
def test_logit_derivatives_equal_the_two_outcome_formula(order):
    """The one-log1p logit derivatives (in place) give, bit for bit, the
    textbook ``y log(mu) + (1 - y) log(1 - mu)`` written with the two
    stable logs, and their derivatives."""
    from pywemix.objective.families import Binomial

    rng = np.random.default_rng(7)
    y = (rng.random((400, 1, 1)) < 0.4).astype(float)
    eta = rng.normal(0, 4, (400, 3, 5))
    eta.flat[:8] = [0.0, -0.0, 40.0, -40.0, 800.0, -800.0, 1e-300, 36.0]
    e = np.exp(-np.abs(eta))
    a = -np.log1p(e)
    ll = y * (a + np.minimum(eta, 0.0)) + (1 - y) * (a - np.maximum(eta, 0.0))
    r = 1.0 / (1.0 + e)
    mu = np.where(eta >= 0, r, e * r)
    v = e * r * r
    expected = [ll, y - mu, -v, -v * (1 - 2 * mu)]
    got = Binomial("logit").derivs(y, eta.copy(), order=order)
    for want, have in zip(expected, got):
        if have is not None:
            assert np.array_equal(want, have)


def test_poisson_log_factorials_are_kept_per_array_not_mixed_up():
    """The cached log(y!) belongs to the array it was computed for: another
    response of the same shape gets its own."""
    from scipy.special import gammaln

    from pywemix.objective.families import Poisson

    fam = Poisson()
    y1 = np.arange(6.0)[:, None]
    y2 = np.arange(6.0)[::-1].copy()[:, None]
    eta = np.zeros((6, 2))
    for y in (y1, y2, y1):
        ll = fam.derivs(y, eta, order=0)[0]
        assert np.array_equal(ll, y * eta - np.exp(eta) - gammaln(y + 1))
    import pickle

    assert pickle.loads(pickle.dumps(fam))._log_factorials == {}
