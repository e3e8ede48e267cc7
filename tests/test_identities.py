"""Identities that must hold exactly (to optimiser precision) for any data.

Every test simulates its own small data set with numpy and compares two fits
that are mathematically the same model:

* integer level-1 weights = rows repeated that many times (weight 1);
* integer group weights = groups repeated that many times under new ids;
* unit weights, however spelled, = no weights;
* row order never matters;
* scaling every top-level weight by c leaves the estimates alone and
  multiplies the (pseudo-)log-likelihood by c;
* unconditional weights (``cond_weights=False``) = the matching conditional
  weights (``cond_weights=True``);
* ``None`` at level 1 = an explicit conditional level-1 weight of one.

What each identity implies for the standard errors is stated at each test:
the cluster-robust ``bse`` is over the top-level groups, so it must agree
when the top-level clusters contribute the same scores (repeated rows, row
order, weight scale) but not when top-level groups are repeated (there are
more clusters then).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

import pywemix

# A fit that hits the boundary or stops early would make an identity check
# meaningless (or vacuous): the simulated data are built so that neither
# happens, and these warnings fail the test if they do.
pytestmark = [
    pytest.mark.filterwarnings("error::pywemix.ConvergenceWarning"),
    pytest.mark.filterwarnings("error::pywemix.BoundaryWarning"),
    pytest.mark.filterwarnings("error::pywemix.FewGroupsWarning"),
    # The identities hold for unscaled weights only (scaling would change the
    # repeated-row model), and the simulated groups are small: the
    # unscaled-weight warning is expected throughout (asserted in
    # test_top_level_weights_equal_repeated_groups_nested_ids).
    pytest.mark.filterwarnings("ignore:the level-1 weights vary within:pywemix.WeightWarning"),
]

TOL = 1e-6  # relative agreement required between fits that must agree

RI = "y ~ x + cat + (1 | school)"
RS = "y ~ x + cat + (1 + x | school)"
THREE = "y ~ x + cat + (1 | school) + (1 | district)"
THREE_RS = "y ~ x + cat + (1 + x | school) + (1 | district)"


# ---------------------------------------------------------------------------
# simulated data
# ---------------------------------------------------------------------------
def two_level(seed: int = 1, n_groups: int = 40) -> pd.DataFrame:
    """Students in schools with informative integer weights at both levels.

    ``w1`` (conditional student weight, 1-4) is larger for large residuals and
    ``w2`` (school weight, 1-4) larger for schools with a positive effect, so
    weighted and unweighted fits differ. ``cw1``/``cw2`` are non-integer
    versions of the same weights. The random slope is correlated with the
    intercept so that the covariance is far from zero.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 16, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = len(g)
    u0 = rng.normal(0.0, 0.8, n_groups)
    u1 = 0.5 * u0 + rng.normal(0.0, 0.3, n_groups)
    x = rng.normal(size=n)
    cat = rng.choice(np.array(["a", "b"]), n)
    e = rng.normal(0.0, 1.0, n)
    y = 1.0 + 0.5 * x + 0.3 * (cat == "b") + u0[g] + u1[g] * x + e
    w1 = rng.integers(1, 4, n).astype(float) + (e > 0.5)
    w2 = (rng.integers(1, 4, n_groups).astype(float) + (u0 > 0))[g]
    cw1 = np.round(w1 * rng.uniform(0.6, 1.7, n), 3)
    cw2 = np.round((rng.uniform(0.5, 2.5, n_groups) * (1 + (u0 > 0)))[g], 3)
    return pd.DataFrame(
        dict(y=y, x=x, cat=cat, school=[f"s{k:03d}" for k in g], w1=w1, w2=w2, cw1=cw1, cw2=cw2)
    )


def three_level(seed: int = 2, n_districts: int = 24) -> pd.DataFrame:
    """Students in schools in districts, integer conditional weights w1, w2, w3.

    School ids are unique across districts. ``cw*`` are non-integer versions.
    """
    rng = np.random.default_rng(seed)
    n_sch = rng.integers(3, 6, n_districts)
    district = np.repeat(np.arange(n_districts), n_sch)
    S = len(district)
    sizes = rng.integers(5, 11, S)
    school = np.repeat(np.arange(S), sizes)
    n = len(school)
    v = rng.normal(0.0, 0.7, n_districts)
    u0 = rng.normal(0.0, 0.6, S)
    u1 = 0.6 * u0 + rng.normal(0.0, 0.25, S)
    x = rng.normal(size=n)
    cat = rng.choice(np.array(["lo", "hi"]), n)
    e = rng.normal(0.0, 1.0, n)
    d_row = district[school]
    y = 2.0 - 0.4 * x + 0.5 * (cat == "hi") + v[d_row] + u0[school] + u1[school] * x + e
    w1 = rng.integers(1, 4, n).astype(float) + (e < -0.5)
    w2 = (rng.integers(1, 4, S).astype(float) + (u0 > 0.3))[school]
    w3 = (rng.integers(1, 4, n_districts).astype(float) + (v > 0))[d_row]
    cw1 = np.round(w1 * rng.uniform(0.6, 1.6, n), 3)
    cw2 = np.round((rng.uniform(0.5, 2.0, S) * (1 + (u0 > 0)))[school], 3)
    cw3 = np.round((rng.uniform(0.5, 3.0, n_districts))[d_row], 3)
    return pd.DataFrame(
        dict(
            y=y,
            x=x,
            cat=cat,
            school=[f"s{k:03d}" for k in school],
            district=[f"d{k:02d}" for k in d_row],
            w1=w1,
            w2=w2,
            w3=w3,
            cw1=cw1,
            cw2=cw2,
            cw3=cw3,
        )
    )


@pytest.fixture(scope="module")
def df2():
    return two_level()


@pytest.fixture(scope="module")
def df3():
    return three_level()


def repeat_rows(df: pd.DataFrame, counts) -> pd.DataFrame:
    """Each row repeated ``counts`` times; ``orig`` keeps the source row label."""
    counts = np.asarray(counts, dtype=int)
    out = df.loc[df.index.repeat(counts)].copy()
    out["orig"] = out.index
    return out.reset_index(drop=True)


def repeat_groups(df: pd.DataFrame, key: str, counts: pd.Series, relabel=()) -> pd.DataFrame:
    """Every group of ``key`` repeated ``counts[group]`` times under new ids.

    ``key`` and every column in ``relabel`` (the factors nested in ``key``)
    get the copy number appended, so each copy is a new group. ``orig``
    keeps the source row label, ``copy`` the copy number.
    """
    pieces = []
    for gid, part in df.groupby(key, sort=False):
        for k in range(int(counts[gid])):
            p = part.copy()
            p["orig"] = p.index
            p["copy"] = k
            for c in (key, *relabel):
                p[c] = p[c].astype(str) + f"#{k}"
            pieces.append(p)
    return pd.concat(pieces, ignore_index=True)


def group_value(df: pd.DataFrame, key: str, col: str) -> pd.Series:
    """The (constant) value of ``col`` in each group of ``key``."""
    return df.groupby(key)[col].first()


# ---------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------
def _close(a, b, what, tol=TOL, floor=1e-6):
    """Relative agreement per element.

    The denominator is ``max(|b|, floor * max|b|)``: estimates are compared
    element by element (``floor`` far below any simulated quantity); per-row
    and per-group vectors (fitted values, residuals, modes, which cross zero)
    relative to their largest element (``floor=1``, a norm-wise relative error).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    err = np.abs(a - b) / np.maximum(np.abs(b), floor * scale)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), f"{what}: {a} vs {b}"
    assert np.max(err, initial=0.0) <= tol, (
        f"{what} differ: max relative error {np.max(err):.3g}\n{a}\n{b}"
    )


def assert_same_fit(a, b, *, bse: bool, llf_ratio: float = 1.0, model_cov=False):
    """``a`` and ``b`` agree on llf (times llf_ratio), params, variances.

    ``bse=True`` also compares the cluster-robust standard errors of the fixed
    effects and of the variance components; ``model_cov=True`` the
    model-based covariance of the fixed effects.
    """
    assert a.converged and b.converged
    _close(a.llf, llf_ratio * b.llf, "llf")
    assert list(a.params.index) == list(b.params.index)
    _close(a.params, b.params, "params")
    va, vb = a.var_components, b.var_components
    keys = ["level", "group", "var1", "var2"]
    pd.testing.assert_frame_equal(va[keys].reset_index(drop=True), vb[keys].reset_index(drop=True))
    _close(va["variance"], vb["variance"], "variances")
    assert (vb["variance"] > 1e-3).any()
    _close(a.icc, b.icc, "icc")
    if bse:
        _close(a.bse, b.bse, "bse")
        _close(va["std_error"], vb["std_error"], "variance std_errors")
    if model_cov:
        # model-based covariances of weighted fits are asked for on purpose: they warn
        weighted = a.weighted or b.weighted
        with (
            pytest.warns(pywemix.PseudoLikelihoodWarning) if weighted else contextlib.nullcontext()
        ):
            model = a.cov_params("model"), b.cov_params("model")
        _close(*model, "model-based cov_params")


def assert_same_ranef(a, b, mapping=None):
    """Conditional modes agree per group (``mapping``: b-label -> a-label)."""
    ra, rb = a.ranef(), b.ranef()
    assert ra.keys() == rb.keys()
    for name in ra:
        fa, fb = ra[name], rb[name]
        assert list(fa.columns) == list(fb.columns)
        if mapping is not None and name in mapping:
            fb = fb.copy()
            fb.index = [mapping[name](lab) for lab in fb.index]
            fa = fa.loc[fb.index]
        else:
            assert sorted(map(str, fa.index)) == sorted(map(str, fb.index))
            fb = fb.loc[fa.index]
        _close(fa.to_numpy(), fb.to_numpy(), f"ranef {name}", floor=1.0)


def fit(formula, data, weights=None, **kw):
    return pywemix.mix(formula, data, weights, **kw)


# ---------------------------------------------------------------------------
# integer level-1 weights = repeated rows
# ---------------------------------------------------------------------------
# Repeating a row w times multiplies its log-density by w inside the same
# group integral: the pseudo-likelihood is the same function, and so is every
# top-level cluster's contribution, so the robust standard errors agree too.
@pytest.mark.parametrize("formula", [RI, RS])
def test_level1_integer_weights_equal_repeated_rows(df2, formula):
    weighted = fit(formula, df2, ["w1", "cw2"], cond_weights=True)
    ex = repeat_rows(df2, df2["w1"])
    assert len(ex) == int(df2["w1"].sum())
    expanded = fit(formula, ex, [None, "cw2"], cond_weights=True)
    assert expanded.nobs == len(ex)
    assert_same_fit(expanded, weighted, bse=True, model_cov=True)
    assert_same_ranef(expanded, weighted)
    # every copy of a row has the fitted value and residual of the row
    fv = weighted.fittedvalues.loc[ex["orig"].to_numpy()].to_numpy()
    _close(expanded.fittedvalues.loc[ex.index].to_numpy(), fv, "fittedvalues", floor=1.0)
    rs = weighted.resid.loc[ex["orig"].to_numpy()].to_numpy()
    _close(expanded.resid.loc[ex.index].to_numpy(), rs, "resid", floor=1.0)


def test_level1_integer_weights_equal_repeated_rows_unconditional(df2):
    # unconditional student weight w1 * cw2: a repeated row has conditional
    # weight 1, i.e. unconditional weight cw2
    d = df2.assign(W1=df2["w1"] * df2["cw2"])
    weighted = fit(RI, d, ["W1", "cw2"])
    expanded = fit(RI, repeat_rows(d, d["w1"]), ["cw2", "cw2"])
    assert_same_fit(expanded, weighted, bse=True)


def test_level1_integer_weights_equal_repeated_rows_three_levels(df3):
    weighted = fit(THREE, df3, ["w1", "cw2", "cw3"], cond_weights=True)
    expanded = fit(THREE, repeat_rows(df3, df3["w1"]), [None, "cw2", "cw3"], cond_weights=True)
    assert_same_fit(expanded, weighted, bse=True, model_cov=True)
    assert_same_ranef(expanded, weighted)


# ---------------------------------------------------------------------------
# integer group weights = repeated groups (new ids)
# ---------------------------------------------------------------------------
# The pseudo-likelihood sum_g w_g log L_g is the same function of all the
# parameters, so llf, estimates, the model-based (inverse-Hessian)
# covariance and the conditional modes agree. The robust bse does not: there
# are sum(w_g) clusters instead of G and the meat sums w_g s_g s_g' instead
# of w_g^2 s_g s_g'.
@pytest.mark.parametrize("formula", [RI, RS])
def test_level2_integer_weights_equal_repeated_groups(df2, formula):
    weighted = fit(formula, df2, ["cw1", "w2"], cond_weights=True)
    counts = group_value(df2, "school", "w2")
    ex = repeat_groups(df2, "school", counts)
    assert ex["school"].nunique() == int(counts.sum())
    expanded = fit(formula, ex, ["cw1", None], cond_weights=True)
    assert_same_fit(expanded, weighted, bse=False, model_cov=True)
    # every copy of a school has the school's conditional mode
    assert_same_ranef(weighted, expanded, mapping={"school": lambda lab: lab.split("#")[0]})
    fv = weighted.fittedvalues.loc[ex["orig"].to_numpy()].to_numpy()
    _close(expanded.fittedvalues.loc[ex.index].to_numpy(), fv, "fittedvalues", floor=1.0)
    # sanity: the identity is about estimates; the cluster count did change
    assert expanded.n_clusters == int(counts.sum()) != weighted.n_clusters


def test_level2_integer_weights_equal_repeated_groups_unconditional(df2):
    # unconditional weights: student cw1 * w2, school w2; after expansion the
    # school weight is 1 and the student weight cw1
    d = df2.assign(W1=df2["cw1"] * df2["w2"])
    weighted = fit(RI, d, ["W1", "w2"])
    ex = repeat_groups(d, "school", group_value(d, "school", "w2"))
    expanded = fit(RI, ex, ["cw1", None])
    assert_same_fit(expanded, weighted, bse=False, model_cov=True)


def test_top_level_integer_weights_equal_repeated_top_groups_three_levels(df3):
    weighted = fit(THREE, df3, ["cw1", "cw2", "w3"], cond_weights=True)
    counts = group_value(df3, "district", "w3")
    # new district ids, and new school ids so that schools stay nested
    ex = repeat_groups(df3, "district", counts, relabel=("school",))
    assert ex["district"].nunique() == int(counts.sum())
    expanded = fit(THREE, ex, ["cw1", "cw2", None], cond_weights=True)
    assert_same_fit(expanded, weighted, bse=False, model_cov=True)
    base = lambda lab: lab.split("#")[0]  # noqa: E731
    assert_same_ranef(weighted, expanded, mapping={"school": base, "district": base})


def test_top_level_weights_equal_repeated_groups_nested_ids(df3):
    # the same with school ids that repeat across the district copies, as the
    # district/school form allows
    # unscaled level-1 weights are the point of the identity: they warn here
    with pytest.warns(pywemix.WeightWarning, match="not scaled"):
        weighted = fit(
            "y ~ x + cat + (1 | district/school)", df3, ["cw1", "cw2", "w3"], cond_weights=True
        )
    ex = repeat_groups(df3, "district", group_value(df3, "district", "w3"))
    expanded = fit(
        "y ~ x + cat + (1 | district/school)", ex, ["cw1", "cw2", None], cond_weights=True
    )
    assert_same_fit(expanded, weighted, bse=False, model_cov=True)


def test_level2_integer_weights_equal_repeated_schools_three_levels(df3):
    # Repeating schools inside their own district leaves the districts (the
    # clusters) with the same contributions: here bse must agree as well.
    weighted = fit(THREE_RS, df3, ["cw1", "w2", "cw3"], cond_weights=True)
    ex = repeat_groups(df3, "school", group_value(df3, "school", "w2"))
    expanded = fit(THREE_RS, ex, ["cw1", None, "cw3"], cond_weights=True)
    assert expanded.n_clusters == weighted.n_clusters
    assert_same_fit(expanded, weighted, bse=True, model_cov=True)
    assert_same_ranef(weighted, expanded, mapping={"school": lambda lab: lab.split("#")[0]})


# ---------------------------------------------------------------------------
# unit weights
# ---------------------------------------------------------------------------
def test_unit_weights_all_spellings_agree_two_levels(df2):
    d = df2.assign(one1=1.0, one2=1)
    base = fit(RS, d)
    for weights, cond in [
        ([None, None], False),
        ([None, None], True),
        (["one1", "one2"], False),
        (["one1", "one2"], True),
        (["one1", None], False),
        ([None, "one2"], True),
    ]:
        other = fit(RS, d, weights, cond_weights=cond)
        assert_same_fit(other, base, bse=True, model_cov=True)
        assert_same_ranef(other, base)
        _close(other.fittedvalues.loc[d.index], base.fittedvalues.loc[d.index], "fittedvalues")
    assert not base.weighted


def test_unit_weights_all_spellings_agree_three_levels(df3):
    d = df3.assign(one=1.0)
    base = fit(THREE, d)
    for weights, cond in [
        ([None, None, None], False),
        (["one", "one", "one"], False),
        (["one", "one", "one"], True),
        ([None, "one", None], True),
    ]:
        other = fit(THREE, d, weights, cond_weights=cond)
        assert_same_fit(other, base, bse=True, model_cov=True)
        assert_same_ranef(other, base)


# ---------------------------------------------------------------------------
# row order
# ---------------------------------------------------------------------------
def _check_shuffled(formula, data, weights, cond, seed):
    a = fit(formula, data, weights, cond_weights=cond)
    perm = np.random.default_rng(seed).permutation(len(data))
    shuffled = data.iloc[perm]
    b = fit(formula, shuffled, weights, cond_weights=cond)
    assert_same_fit(b, a, bse=True, model_cov=True)
    assert_same_ranef(b, a)
    # per-row results follow the rows (compared by row label)
    assert sorted(b.fittedvalues.index) == sorted(data.index)
    _close(
        b.fittedvalues.loc[data.index], a.fittedvalues.loc[data.index], "fittedvalues", floor=1.0
    )
    _close(b.resid.loc[data.index], a.resid.loc[data.index], "resid", floor=1.0)
    pa, pb = a.predict(data), b.predict(data)
    _close(pb.loc[data.index], pa.loc[data.index], "predict", floor=1.0)
    pd.testing.assert_frame_equal(a.groups, b.groups, check_exact=False, rtol=1e-12)
    # a fresh RangeIndex after shuffling: results are per row of that frame
    c = fit(formula, shuffled.reset_index(drop=True), weights, cond_weights=cond)
    _close(
        c.fittedvalues.loc[np.arange(len(data))].to_numpy(),
        b.fittedvalues.loc[shuffled.index].to_numpy(),
        "fittedvalues",
        floor=1.0,
    )
    _close(c.llf, a.llf, "llf")


@pytest.mark.parametrize(
    "formula,weights,cond",
    [
        (RS, ["cw1", "cw2"], True),
        (RI, ["cw1", "cw2"], False),
        (RI, None, False),
    ],
)
def test_row_order_two_levels(df2, formula, weights, cond):
    d = df2 if cond or weights is None else df2.assign(cw1=df2["cw1"] * df2["cw2"])
    _check_shuffled(formula, d, weights, cond, seed=11)


def test_row_order_three_levels(df3):
    _check_shuffled(THREE_RS, df3, ["cw1", "cw2", "cw3"], True, seed=12)


def test_fittedvalues_and_resid_in_data_row_order(df2):
    shuffled = df2.iloc[np.random.default_rng(3).permutation(len(df2))]
    res = fit(RI, shuffled, ["cw1", "cw2"], cond_weights=True)
    assert list(res.fittedvalues.index) == list(shuffled.index)
    assert list(res.resid.index) == list(shuffled.index)
    # positional arithmetic with the data then works
    _close(
        shuffled["y"].to_numpy() - res.fittedvalues.to_numpy(),
        res.resid.to_numpy(),
        "resid",
        floor=1.0,
    )


def test_row_order_group_order_of_first_appearance(df2):
    # groups sorted in reverse: ids first seen in a different order
    d = df2.sort_values(["school", "x"], ascending=[False, True])
    a = fit(RI, df2, ["cw1", "cw2"], cond_weights=True)
    b = fit(RI, d, ["cw1", "cw2"], cond_weights=True)
    assert_same_fit(b, a, bse=True)
    assert_same_ranef(b, a)


# ---------------------------------------------------------------------------
# scaling the top-level weights
# ---------------------------------------------------------------------------
# Multiplying every top-level weight by c multiplies the pseudo-likelihood by
# c: same maximiser; the Hessian and each cluster's score scale by c, so the
# sandwich H^-1 J H^-1 is unchanged.
@pytest.mark.parametrize("c", [1e-6, 0.125, 3.7, 250.0, 1e6, 1e60])
def test_scaling_top_level_weights_conditional(df2, c):
    a = fit(RS, df2, ["cw1", "cw2"], cond_weights=True)
    b = fit(RS, df2.assign(cw2=c * df2["cw2"]), ["cw1", "cw2"], cond_weights=True)
    assert_same_fit(b, a, bse=True, llf_ratio=c)
    assert_same_ranef(b, a)
    _close(b.fittedvalues.loc[df2.index], a.fittedvalues.loc[df2.index], "fittedvalues", floor=1.0)
    _close(b.tvalues, a.tvalues, "tvalues")
    _close(b.conf_int().to_numpy(), a.conf_int().to_numpy(), "conf_int")


def test_weights_too_large_for_double_precision_are_refused(df2):
    with pytest.raises(ValueError, match="'cw2'.*rescale"):
        fit(RI, df2.assign(cw2=1e120 * df2["cw2"]), ["cw1", "cw2"], cond_weights=True)


@pytest.mark.parametrize("c", [1e4, 1e7])
def test_large_level1_weights_still_converge(df2, c):
    """Large level-1 weights make the pseudo-likelihood huge but its dependence
    on the covariance parameters stays of the order of the number of groups:
    the fit must not stop at its start (the same optimum from any start)."""
    d = df2.assign(cw1=c * df2["cw1"])
    fits = [
        fit(RS, d, ["cw1", "cw2"], cond_weights=True, start=s)
        for s in (None, [0.3, 0.2, 0.1], [3.0, -1.0, 2.0])
    ]
    for other in fits[1:]:
        _close(other.theta, fits[0].theta, "theta")
        assert other.llf == pytest.approx(fits[0].llf, rel=1e-12)
    assert fits[0].optimization.iterations > 0 and fits[0].converged


def test_scaling_top_level_weights_unconditional(df2):
    # unconditional weights: the top-level weight is w2 and the student
    # weight w1 * w2, so both columns scale
    c = 5.5
    d = df2.assign(W1=df2["cw1"] * df2["cw2"])
    a = fit(RI, d, ["W1", "cw2"])
    b = fit(RI, d.assign(W1=c * d["W1"], cw2=c * d["cw2"]), ["W1", "cw2"])
    assert_same_fit(b, a, bse=True, llf_ratio=c)


def test_scaling_top_level_weights_unit_weights(df2):
    # a constant top-level weight c = c times the unweighted fit
    c = 2.5
    a = fit(RI, df2)
    b = fit(RI, df2.assign(wc=c), [None, "wc"])
    assert_same_fit(b, a, bse=True, llf_ratio=c)


@pytest.mark.parametrize("c", [0.2, 9.0])
def test_scaling_top_level_weights_three_levels(df3, c):
    a = fit(THREE, df3, ["cw1", "cw2", "cw3"], cond_weights=True)
    b = fit(THREE, df3.assign(cw3=c * df3["cw3"]), ["cw1", "cw2", "cw3"], cond_weights=True)
    assert_same_fit(b, a, bse=True, llf_ratio=c)
    assert_same_ranef(b, a)


# ---------------------------------------------------------------------------
# unconditional = conditional weights
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("formula", [RI, RS])
def test_unconditional_equals_conditional_two_levels(df2, formula):
    cond = fit(formula, df2, ["cw1", "cw2"], cond_weights=True)
    d = df2.assign(W1=df2["cw1"] * df2["cw2"], W2=df2["cw2"])
    uncond = fit(formula, d, ["W1", "W2"], cond_weights=False)
    assert_same_fit(uncond, cond, bse=True, model_cov=True)
    assert_same_ranef(uncond, cond)


def test_unconditional_equals_conditional_three_levels(df3):
    cond = fit(THREE_RS, df3, ["cw1", "cw2", "cw3"], cond_weights=True)
    d = df3.assign(
        W3=df3["cw3"], W2=df3["cw2"] * df3["cw3"], W1=df3["cw1"] * df3["cw2"] * df3["cw3"]
    )
    uncond = fit(THREE_RS, d, ["W1", "W2", "W3"], cond_weights=False)
    assert_same_fit(uncond, cond, bse=True, model_cov=True)
    assert_same_ranef(uncond, cond)


def test_unconditional_with_unweighted_middle_level(df3):
    # None at level 2 means a conditional school weight of one, so the
    # unconditional student weight is cw1 * cw3
    cond = fit(THREE, df3, ["cw1", None, "cw3"], cond_weights=True)
    d = df3.assign(W1=df3["cw1"] * df3["cw3"])
    uncond = fit(THREE, d, ["W1", None, "cw3"], cond_weights=False)
    assert_same_fit(uncond, cond, bse=True)


def test_unconditional_top_level_only_is_already_conditional(df2):
    # with weights at the top level only, conditional and unconditional agree
    a = fit(RI, df2, [None, "cw2"], cond_weights=False)
    b = fit(RI, df2, [None, "cw2"], cond_weights=True)
    assert_same_fit(a, b, bse=True, model_cov=True)


# ---------------------------------------------------------------------------
# None at level 1 = conditional level-1 weight of one
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cond", [False, True])
def test_none_level1_equals_explicit_ones(df2, cond):
    d = df2.assign(one=1.0)
    explicit = fit(RS, d, ["one", "cw2"], cond_weights=True)
    implicit = fit(RS, d, [None, "cw2"], cond_weights=cond)
    assert_same_fit(implicit, explicit, bse=True, model_cov=True)
    assert_same_ranef(implicit, explicit)
    # and it is a weighted fit, unlike the unit-weight one
    unweighted = fit(RS, d)
    assert abs(unweighted.llf - explicit.llf) > 1e-3 * abs(explicit.llf)


def test_none_level1_equals_unconditional_top_weight(df2):
    # unconditional spelling of the same model: level-1 weight = school weight
    explicit = fit(RI, df2, [None, "cw2"], cond_weights=True)
    uncond = fit(RI, df2, ["cw2", "cw2"], cond_weights=False)
    assert_same_fit(uncond, explicit, bse=True, model_cov=True)
