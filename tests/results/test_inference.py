"""Wald tests, confidence intervals, tidy() and information criteria."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pywemix

from conftest import needs_reference, reference_data
from conftest import quiet_mix as _quiet_mix

LME4 = Path(__file__).resolve().parents[1] / "data" / "lme4_extra.json"
Z975 = stats.norm.ppf(0.975)


def _sim(seed=21, n_groups=30):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 12, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = g.size
    x1, x2, x3 = rng.normal(size=(3, n))
    u0 = rng.normal(scale=1.0, size=n_groups)[g]
    u1 = rng.normal(scale=0.4, size=n_groups)[g]
    return pd.DataFrame(
        {
            "g": g,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "y": 2 + (0.8 + u1) * x1 + 0.5 * x2 + 0.1 * x3 + u0 + rng.normal(size=n),
            "w1": rng.uniform(0.5, 3.0, n),
            "w2": rng.uniform(1.0, 6.0, n_groups)[g],
        }
    )


_cache = {}


def fitted():
    if "res" not in _cache:
        _cache["res"] = _quiet_mix(
            "y ~ x1 + x2 + x3 + (1|g)", _sim(), ["w1", "w2"], cond_weights=True
        )
    return _cache["res"]


def fitted_slope():
    if "slope" not in _cache:
        _cache["slope"] = _quiet_mix(
            "y ~ x1 + x2 + (x1|g)", _sim(), ["w1", "w2"], cond_weights=True
        )
    return _cache["slope"]


# -- Wald tests -------------------------------------------------------------------------


def _hand_wald(b, V, R, q):
    d = R @ b - q
    return float(d @ np.linalg.solve(R @ V @ R.T, d))


def test_wald_linear_constraint_equals_hand_formula():
    res = fitted()
    b = res.params.to_numpy()
    V = res.cov_params("robust").to_numpy()
    R = np.array([[0.0, 1.0, -1.0, 0.0]])  # x1 = x2
    w = res.wald_test(R=R)
    stat = _hand_wald(b, V, R, np.zeros(1))
    assert w.statistic == pytest.approx(stat, rel=1e-10)
    assert w.df == 1
    assert w.p_value == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-10)
    assert w.kind == "fixed"
    # a list of lists works too, and the result unpacks
    s, df, p = res.wald_test(R=[[0, 1, -1, 0]])
    assert (s, df, p) == pytest.approx((w.statistic, w.df, w.p_value))
    # two constraints with a right-hand side
    R2 = np.array([[0.0, 1.0, -1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    q2 = np.array([0.3, 0.6])
    w2 = res.wald_test(R=R2, q=q2)
    stat2 = _hand_wald(b, V, R2, q2)
    assert w2.statistic == pytest.approx(stat2, rel=1e-10)
    assert w2.df == 2
    assert w2.p_value == pytest.approx(stats.chi2.sf(stat2, 2), rel=1e-10)
    # the model-based covariance on request (a weighted fit: it warns)
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        Vm = res.cov_params("model").to_numpy()
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        wm = res.wald_test(R=R, cov="model")
    assert wm.statistic == pytest.approx(_hand_wald(b, Vm, R, np.zeros(1)), rel=1e-10)
    assert "Wald test" in repr(w) and "Wald test" in w._repr_html_()


def test_wald_by_names():
    res = fitted()
    b = res.params.to_numpy()
    V = res.cov_params().to_numpy()
    w = res.wald_test(["x2", "x3"])
    R = np.zeros((2, 4))
    R[0, 2] = R[1, 3] = 1
    stat = _hand_wald(b, V, R, np.zeros(2))
    assert w.statistic == pytest.approx(stat, rel=1e-10)
    assert w.df == 2
    assert w.p_value == pytest.approx(stats.chi2.sf(stat, 2), rel=1e-10)
    assert w.terms == ["x2", "x3"]
    # names with q
    wq = res.wald_test(["x1"], q=[0.8])
    assert wq.statistic == pytest.approx(((b[1] - 0.8) / res.bse["x1"]) ** 2, rel=1e-10)


@pytest.mark.parametrize("term", ["Intercept", "x1", "x2", "x3"])
def test_single_term_wald_is_t_squared(term):
    res = fitted()
    w = res.wald_test(term)
    assert w.statistic == pytest.approx(res.tvalues[term] ** 2, rel=1e-10)
    assert w.p_value == pytest.approx(res.pvalues[term], rel=1e-8)


def test_wald_variance_terms():
    res = fitted_slope()
    td = res.tidy()
    labels = list(td.loc[td["kind"] == "variance", "term"])
    assert "var(Intercept|g)" in labels and "var(Residual)" in labels
    assert "cov(Intercept,x1|g)" in labels
    row = td.set_index("term").loc["var(x1|g)"]
    w = res.wald_test(["var(x1|g)"], kind="variance")
    assert w.statistic == pytest.approx((row["estimate"] / row["std_error"]) ** 2, rel=1e-9)
    assert w.df == 1 and w.kind == "variance"
    # joint, against the hand formula with var_cov
    est = res.var_components["variance"].to_numpy()
    V = res.var_cov("robust")
    k = len(est)
    R = np.zeros((2, k))
    R[0, labels.index("var(Intercept|g)")] = 1
    R[1, labels.index("var(x1|g)")] = 1
    wj = res.wald_test(["var(Intercept|g)", "var(x1|g)"], kind="variance")
    assert wj.statistic == pytest.approx(_hand_wald(est, V, R, np.zeros(2)), rel=1e-9)
    assert wj.df == 2
    wr = res.wald_test(R=R, kind="variance")
    assert wr.statistic == pytest.approx(wj.statistic, rel=1e-12)


def test_wald_without_terms_tests_every_fixed_effect():
    # WeMix's waldTest tests all coefficients when none are named
    res = fitted()
    w = res.wald_test()
    b, V = res.params.to_numpy(), res.cov_params().to_numpy()
    assert w.statistic == pytest.approx(
        _hand_wald(b, V, np.eye(len(b)), np.zeros(len(b))), rel=1e-9
    )
    assert w.df == len(b) and w.terms == list(res.params.index)


def test_wald_without_terms_tests_every_random_effect_variance():
    res = fitted_slope()
    labels = res.tidy().query("kind == 'variance'")["term"].tolist()
    random = [t for t in labels if t != "var(Residual)"]
    # model-based variances of a weighted fit are asked for on purpose: they warn
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        w = res.wald_test(kind="variance", cov="model")
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        named = res.wald_test(random, kind="variance", cov="model")
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        model = res.var_cov("model")
    assert w.terms == random and len(random) == 3
    assert (w.statistic, w.df) == (pytest.approx(named.statistic, rel=1e-12), named.df)
    est = res.var_components["variance"].to_numpy()
    R = np.eye(len(labels))[[labels.index(t) for t in random]]
    assert w.statistic == pytest.approx(_hand_wald(est, model, R, np.zeros(3)), rel=1e-9)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(terms=["x9"]), "unknown fixed term"),
        (dict(terms=["var(x9|g)"], kind="variance"), "unknown variance term"),
        (dict(terms=["x1"], kind="variance"), "unknown variance term"),
        (dict(R=[[0, 1, -1]]), "columns"),
        (dict(R=np.eye(5)), "columns"),
        (dict(R=[[0, 1, -1, 0]], q=[0, 0]), "q must have"),
        (dict(terms=["x1"], R=[[0, 1, 0, 0]]), "either terms"),
        (dict(terms=["x1"], kind="random"), "kind must be"),
        (dict(terms=["x1"], cov="sandwich"), "cov must be"),
        (dict(terms=["x1"], cov=["robust"]), "cov must be"),
        (dict(terms=[]), "terms is empty"),
        (dict(R=[[0, 0, 0, 0]]), "row 0 of R is all zeros"),
        (dict(R=[[0, 1, 0, 0], [0, 0, 0, 0]]), "row 1 of R is all zeros"),
        (dict(R=np.zeros((0, 4))), "R has no rows"),
        (dict(R=[[np.nan, 1, 0, 0]]), "R has missing or infinite"),
        (dict(R=[[0, np.inf, 0, 0]]), "R has missing or infinite"),
        (dict(R=[[[0, 1, 0, 0]]]), "R must have 2 dimension"),
        (dict(R=[[0, 1, 0, 0]], q=[np.nan]), "q has missing or infinite"),
        (dict(R=[[0, 1, 0, 0]], q=[-np.inf]), "q has missing or infinite"),
    ],
)
def test_wald_errors(kw, match):
    res = fitted()
    with pytest.raises(ValueError, match=match):
        res.wald_test(**kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(R=[["a", 1, 0, 0]]), "R must be numeric"),
        (dict(R=[[0, 1, 0, 0]], q=["zero"]), "q must be numeric"),
        (dict(terms=3), "terms must be a list"),
    ],
)
def test_wald_type_errors(kw, match):
    with pytest.raises(TypeError, match=match):
        fitted().wald_test(**kw)


def test_wald_rank_zero_is_an_error():
    from pywemix.results.inference import _wald

    b, R = np.array([1.0, 2.0]), np.array([[0.0, 1.0]])
    V = np.diag([1.0, 0.0])  # the tested estimate has no variance
    with pytest.raises(ValueError, match="rank 0"):
        _wald(b, V, R, np.zeros(1))


# -- Wald tests by term (a factor's or an interaction's name tests all its columns) ---

TERMS_FORMULA = "pv1math ~ escs * st04q01 + st29q03 + C(grade) + (1|schoolid)"


def _pisa():
    """The PISA-like example with a numeric factor ``grade`` (three values)."""
    from pywemix.datasets import load_pisa_replicates

    d = load_pisa_replicates()
    return d.assign(grade=np.arange(len(d)) % 3 + 9)


def fitted_terms():
    if "terms" not in _cache:
        _cache["terms"] = _quiet_mix(TERMS_FORMULA, _pisa(), ["pwt1", "pwt2"])
    return _cache["terms"]


def _columns_test(res, cols, **kw):
    """The Wald statistic of ``cols`` from the hand formula with ``res.cov_params``."""
    names = list(res.params.index)
    R = np.zeros((len(cols), len(names)))
    R[np.arange(len(cols)), [names.index(c) for c in cols]] = 1
    return _hand_wald(
        res.params.to_numpy(), res.cov_params(**kw).to_numpy(), R, np.zeros(len(cols))
    )


def test_term_columns_reads_the_model_spec():
    from pywemix.results.terms import fixed_spec, term_columns

    res = fitted_terms()
    terms = term_columns(res)
    assert terms["st29q03"] == [c for c in res.params.index if c.startswith("st29q03[")]
    assert len(terms["st29q03"]) == 3
    assert terms["C(grade)"] == ["C(grade)[T.10]", "C(grade)[T.11]"]
    assert terms["escs:st04q01"] == ["escs:st04q01[T.Male]"]
    assert terms["1"] == ["Intercept"]
    # every column belongs to exactly one term, in the order of params
    assert [c for cols in terms.values() for c in cols] == list(res.params.index)
    # the same from the design or the spec itself; nothing without a spec
    assert term_columns(res.design) == terms == term_columns(fixed_spec(res))
    assert term_columns(object()) == {}


def test_wald_test_of_a_factor_tests_all_its_columns():
    res = fitted_terms()
    cols = [c for c in res.params.index if c.startswith("st29q03[")]
    w = res.wald_test("st29q03")
    assert w.df == 3 and w.terms == ["st29q03"] and w.columns == cols
    assert w.statistic == pytest.approx(_columns_test(res, cols), rel=1e-10)
    assert w.p_value == pytest.approx(stats.chi2.sf(w.statistic, 3), rel=1e-10)
    assert w.statistic == pytest.approx(res.wald_test(cols).statistic, rel=1e-12)
    # the report names the term and the columns it stands for
    for text in (repr(w), w._repr_html_()):
        assert "st29q03" in text and all(c in text for c in cols)
    # C(x) of a numeric column
    g = res.wald_test("C(grade)")
    assert g.df == 2 and g.columns == ["C(grade)[T.10]", "C(grade)[T.11]"]
    assert g.statistic == pytest.approx(_columns_test(res, g.columns), rel=1e-10)
    # q: one value per tested column
    wq = res.wald_test("C(grade)", q=[1.0, -2.0])
    R = np.zeros((2, len(res.params)))
    R[0, list(res.params.index).index("C(grade)[T.10]")] = 1
    R[1, list(res.params.index).index("C(grade)[T.11]")] = 1
    assert wq.statistic == pytest.approx(
        _hand_wald(res.params.to_numpy(), res.cov_params().to_numpy(), R, np.array([1.0, -2.0])),
        rel=1e-10,
    )


@pytest.mark.parametrize("name", ["escs:st04q01", "st04q01:escs", "escs : st04q01"])
def test_wald_test_of_an_interaction(name):
    res = fitted_terms()
    w = res.wald_test([name])
    assert w.columns == ["escs:st04q01[T.Male]"] and w.df == 1
    assert w.statistic == pytest.approx(res.tvalues["escs:st04q01[T.Male]"] ** 2, rel=1e-10)


def test_wald_test_mixes_terms_and_columns():
    res = fitted_terms()
    cols = [c for c in res.params.index if c.startswith("st29q03[")]
    w = res.wald_test(["st29q03", "escs", "C(grade)[T.11]"])
    assert w.columns == cols + ["escs", "C(grade)[T.11]"] and w.df == 5
    assert w.statistic == pytest.approx(_columns_test(res, w.columns), rel=1e-10)
    assert w.terms == ["st29q03", "escs", "C(grade)[T.11]"]


@pytest.mark.parametrize(
    "terms, match",
    [
        (
            ["st29q03", "st29q03[T.Disagree]"],
            r"column 'st29q03\[T.Disagree\]' is named twice: by the term 'st29q03' and as itself",
        ),
        (["C(grade)[T.10]", "C(grade)"], r"named twice: as itself .* and by the term 'C\(grade\)'"),
        (["Intercept", "1"], "column 'Intercept' is named twice"),
        (["st29q03", "st29q03"], r"terms are repeated: \['st29q03'\]"),
        (["st29q3"], r"did you mean 'st29q03'\?.*the terms \[.*'st29q03'"),
        (["grade"], r"did you mean 'C\(grade\)'"),
        (["escs:st29q03"], "unknown fixed term"),
    ],
)
def test_wald_test_term_errors(terms, match):
    with pytest.raises(ValueError, match=match):
        fitted_terms().wald_test(terms)


def test_wald_test_by_term_in_combined_results():
    """Plausible-value, replicate-weight and pooled results (which hold no
    design of their own) and fits by group test a factor by its name too."""
    data = _pisa()
    formula = "math ~ escs + st29q03 + (1|schoolid)"
    pvs = {"math": [f"pv{i}math" for i in (1, 2, 3)]}
    kw = dict(weights=["pwt1", "pwt2"])
    results = {
        "plausible": _quiet_mix(formula, data, plausible_values=pvs, **kw),
        "replicate": _quiet_mix(formula.replace("math", "pv1math", 1), data, survey="PISA", **kw),
        "replicate_pv": _quiet_mix(formula, data, plausible_values=pvs, survey="PISA", **kw),
        "pooled": pywemix.pool(
            [_quiet_mix(formula.replace("math", c, 1), data, **kw) for c in pvs["math"]]
        ),
    }
    for name, res in results.items():
        cols = [c for c in res.params.index if c.startswith("st29q03[")]
        w = res.wald_test("st29q03")
        assert w.columns == cols and w.df == 3, name
        assert w.statistic == pytest.approx(res.wald_test(cols).statistic, rel=1e-12), name
        assert w.statistic == pytest.approx(_columns_test(res, cols), rel=1e-10), name
    by = _quiet_mix("pv1math ~ escs + st29q03 + (1|schoolid)", data, by="st04q01", **kw)
    table = by.wald_test("st29q03")
    for value, row in table.iterrows():
        assert row["df"] == 3
        assert row["statistic"] == pytest.approx(
            by[value].wald_test("st29q03").statistic, rel=1e-12
        )


# -- confidence intervals and tidy ---------------------------------------------------


def test_conf_int_fixed():
    res = fitted()
    ci = res.conf_int()
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert list(ci.index) == list(res.params.index)
    np.testing.assert_allclose(ci["2.5 %"], res.params - Z975 * res.bse, rtol=1e-12)
    np.testing.assert_allclose(ci["97.5 %"], res.params + Z975 * res.bse, rtol=1e-12)
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        ci90 = res.conf_int(alpha=0.1, kind="model")
    assert list(ci90.columns) == ["5 %", "95 %"]
    se_m = np.sqrt(np.diag(res.raw_cov_params("model")))
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(ci90["95 %"], res.params + z * se_m, rtol=1e-12)


def _hand_variance_intervals(res, z):
    """label -> (lower, upper) on the conf_int scale, written out by hand:
    variances: Wald on the variance truncated at 0, square-rooted; covariances: Wald."""
    vc = res.var_components
    se_var = np.sqrt(np.diag(res.var_cov("robust")))
    out = {}
    for (_, r), s in zip(vc.iterrows(), se_var):
        lo, hi = r["variance"] - z * s, r["variance"] + z * s
        if r["group"] == "Residual":
            out["sd(Residual)"] = (np.sqrt(max(lo, 0)), np.sqrt(hi))
        elif r["var2"] is None or pd.isna(r["var2"]):
            out[f"sd({r['var1']}|{r['group']})"] = (np.sqrt(max(lo, 0)), np.sqrt(hi))
        else:  # covariances stay on their own scale
            out[f"cov({r['var1']},{r['var2']}|{r['group']})"] = (lo, hi)
    return out


def test_conf_int_variance_is_tidy_interval_on_sd_scale():
    """Issue: conf_int(which="all") and tidy() gave different variance intervals.
    Both now come from variance_intervals: conf_int's sd limits are the square
    roots of tidy's variance limits, and every variance limit is >= 0."""
    res = fitted_slope()
    civ = res.conf_int(which="variance")
    expected = _hand_variance_intervals(res, Z975)
    assert list(civ.index) == list(expected)
    for name, (lo, hi) in expected.items():
        assert civ.loc[name, "2.5 %"] == pytest.approx(lo, rel=1e-10, abs=1e-300)
        assert civ.loc[name, "97.5 %"] == pytest.approx(hi, rel=1e-10)
    both = res.conf_int(which="all")
    assert list(both.index) == list(res.params.index) + list(expected)
    pd.testing.assert_frame_equal(both.iloc[: len(res.params)], res.conf_int())
    pd.testing.assert_frame_equal(both.iloc[len(res.params) :], civ)
    td = res.tidy().set_index("term")
    for name in civ.index:
        lo, hi = civ.loc[name]
        var_name = "var" + name[2:] if name.startswith("sd(") else name
        f = np.square if name.startswith("sd(") else (lambda v: v)
        assert td.loc[var_name, "conf_low"] == pytest.approx(f(lo), rel=1e-12)
        assert td.loc[var_name, "conf_high"] == pytest.approx(f(hi), rel=1e-12)


def _boundary_fit():
    """No group effect in the data: the school variance is estimated as 0."""
    if "boundary" not in _cache:
        rng = np.random.default_rng(6)
        g = np.repeat(np.arange(30), 8)
        x = rng.normal(size=g.size)
        df = pd.DataFrame({"y": 1 + x + rng.normal(size=g.size), "x": x, "g": g})
        with pytest.warns(pywemix.BoundaryWarning):
            _cache["boundary"] = pywemix.mix("y ~ x + (1|g)", df)
    return _cache["boundary"]


def test_variance_intervals_at_the_boundary_are_not_negative():
    res = _boundary_fit()
    assert res.var_components["variance"].iloc[0] == 0
    se = np.sqrt(res.var_cov()[0, 0])
    td = res.tidy()
    va = td[td["kind"] == "variance"].set_index("term")
    assert (va["conf_low"] >= 0).all()
    # on the boundary: [0, z SE], and a note saying so
    assert va.loc["var(Intercept|g)", "conf_low"] == 0
    assert va.loc["var(Intercept|g)", "conf_high"] == pytest.approx(Z975 * se, rel=1e-12)
    ci = res.conf_int(which="all")
    assert tuple(ci.loc["sd(Intercept|g)"]) == pytest.approx((0.0, np.sqrt(Z975 * se)))
    for notes in (td.attrs["notes"], ci.attrs["notes"]):
        assert len(notes) == 1 and "var(Intercept|g)" in notes[0] and "boundary" in notes[0]
    assert res.conf_int().attrs["notes"] == []  # fixed effects only: nothing to say
    # the summary of a boundary fit still renders, and says the variance is 0
    text = str(res.summary())
    assert "boundary" in text and "var(Intercept|g)" not in text


def test_variance_intervals_truncated_near_the_boundary():
    """A variance whose Wald interval crosses 0 gets lower limit 0 and a note;
    a covariance's interval may be negative."""
    from pywemix.results.inference import variance_intervals

    vc = pd.DataFrame(
        {
            "level": [2, 2, 2, 1],
            "group": ["g", "g", "g", "Residual"],
            "var1": ["Intercept", "x", "Intercept", None],
            "var2": [None, None, "x", None],
            "variance": [0.05, 1.0, -0.2, 2.0],
        }
    )
    V = np.diag([0.04, 0.01, 0.01, 0.0]) ** 2 * 100
    out = variance_intervals(vc, V, alpha=0.05)
    se = np.sqrt(np.diag(V))
    assert list(out.index) == [
        "var(Intercept|g)",
        "var(x|g)",
        "cov(Intercept,x|g)",
        "var(Residual)",
    ]
    np.testing.assert_allclose(out["conf_high"], vc["variance"] + Z975 * se, rtol=1e-14)
    assert out.loc["var(Intercept|g)", "conf_low"] == 0  # 0.05 - 1.96 * 0.4 < 0
    assert out.loc["var(x|g)", "conf_low"] == pytest.approx(1.0 - Z975 * 0.1, rel=1e-14)
    assert out.loc["cov(Intercept,x|g)", "conf_low"] == pytest.approx(-0.2 - Z975 * 0.1)
    assert out.loc["var(Residual)", "conf_low"] == out.loc["var(Residual)", "conf_high"] == 2
    assert list(out["variance"]) == [True, True, False, True]
    assert out.attrs["notes"] == [out.loc["var(Intercept|g)", "note"]]
    assert "set to 0" in out.attrs["notes"][0]
    # no standard error: no interval
    V2 = V.copy()
    V2[1, 1] = np.nan
    out2 = variance_intervals(vc, V2)
    assert out2.loc["var(x|g)", ["conf_low", "conf_high"]].isna().all()
    assert "no standard error" in out2.loc["var(x|g)", "note"]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(alpha=0), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(alpha=np.nan), "alpha"),
        (dict(which="random"), "which"),
        (dict(which=["fixed"]), "which"),
        (dict(kind="sandwich"), "kind must be 'robust' or 'model'"),
        (dict(kind=["robust"]), "kind must be 'robust' or 'model'"),
    ],
)
def test_conf_int_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        fitted().conf_int(**kw)


@pytest.mark.parametrize("alpha", ["0.05", None, "a", True, [0.05]])
def test_alpha_of_wrong_type(alpha):
    res = fitted()
    with pytest.raises(TypeError, match="alpha must be a number"):
        res.conf_int(alpha=alpha)
    with pytest.raises(TypeError, match="alpha must be a number"):
        res.tidy(alpha=alpha)


@pytest.mark.parametrize("alpha", [2, 0, -0.1, 1.0, np.inf])
def test_tidy_alpha_out_of_range(alpha):
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        fitted().tidy(alpha=alpha)


@pytest.mark.parametrize("kind", [["robust"], {"robust": 1}, "sandwich", 1])
def test_unknown_covariance_kind(kind):
    res = fitted()
    for method in (res.cov_params, res.var_cov, res.std_errors, res.tidy):
        with pytest.raises(ValueError, match="kind must be 'robust' or 'model'"):
            method(kind=kind)


def test_kind_none_is_the_default_kind():
    """Issue 19: kind=None (the default of every method) is the result's default kind."""
    res = fitted()
    assert res.default_kind == "robust" and res.variance_kinds == ("robust", "model")
    pd.testing.assert_frame_equal(res.cov_params(None), res.cov_params("robust"))
    np.testing.assert_array_equal(res.var_cov(None), res.var_cov("robust"))
    pd.testing.assert_series_equal(res.std_errors(None), res.bse)
    pd.testing.assert_frame_equal(res.tidy(kind=None), res.tidy(kind="robust"))


def test_tidy():
    res = fitted_slope()
    td = res.tidy()
    assert list(td.columns) == [
        "term",
        "kind",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    fx = td[td["kind"] == "fixed"].set_index("term")
    assert list(fx.index) == list(res.params.index)
    np.testing.assert_allclose(fx["estimate"], res.params, rtol=1e-14)
    np.testing.assert_allclose(fx["std_error"], res.bse, rtol=1e-14)
    np.testing.assert_allclose(fx["statistic"], res.tvalues, rtol=1e-12)
    np.testing.assert_allclose(fx["p_value"], res.pvalues, rtol=1e-10)
    np.testing.assert_allclose(fx["conf_low"], res.conf_int()["2.5 %"], rtol=1e-12)
    np.testing.assert_allclose(fx["conf_high"], res.conf_int()["97.5 %"], rtol=1e-12)
    va = td[td["kind"] == "variance"]
    assert len(va) == len(res.var_components)
    np.testing.assert_allclose(va["estimate"], res.var_components["variance"], rtol=1e-14)
    np.testing.assert_allclose(va["std_error"], res.var_components["std_error"], rtol=1e-8)
    assert va["p_value"].isna().all()  # variances on the boundary: no z-test
    wald_low = va["estimate"] - Z975 * va["std_error"]
    is_var = va["term"].str.startswith("var(")  # truncated at 0; covariances are not
    np.testing.assert_allclose(
        va["conf_low"], np.where(is_var, np.maximum(wald_low, 0), wald_low), rtol=1e-12
    )
    np.testing.assert_allclose(va["conf_high"], va["estimate"] + Z975 * va["std_error"], rtol=1e-12)
    td90 = res.tidy(alpha=0.1)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(
        td90["conf_high"], td90["estimate"] + z * td90["std_error"], rtol=1e-12
    )


# -- model-based variances of weighted fits --------------------------------------------


def fitted_unweighted():
    if "unweighted" not in _cache:
        _cache["unweighted"] = _quiet_mix("y ~ x1 + x2 + x3 + (1|g)", _sim())
    return _cache["unweighted"]


MODEL_KIND_CALLS = {
    "cov_params": lambda r: r.cov_params("model"),
    "var_cov": lambda r: r.var_cov("model"),
    "std_errors": lambda r: r.std_errors(kind="model"),
    "conf_int": lambda r: r.conf_int(kind="model", which="all"),
    "tidy": lambda r: r.tidy(kind="model"),
    "wald_test": lambda r: r.wald_test(["x1"], cov="model"),
    "wald_test_variance": lambda r: r.wald_test(["var(Intercept|g)"], kind="variance", cov="model"),
    "compare": lambda r: pywemix.compare(r, kind="model"),
}


@pytest.mark.parametrize("call", list(MODEL_KIND_CALLS))
def test_model_based_variance_of_weighted_fit_warns_once(call):
    """Issue 15: the inverse Hessian of a pseudo-likelihood treats the weights as
    frequency weights; every entry point warns, once per call, and says so."""
    res = fitted()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MODEL_KIND_CALLS[call](res)
    pseudo = [w for w in caught if issubclass(w.category, pywemix.PseudoLikelihoodWarning)]
    assert len(pseudo) == 1
    message = str(pseudo[0].message)
    assert "frequency weights" in message and "kind='robust'" in message
    ratio = np.median(res.bse / res._std_errors("model"))
    assert f"{ratio:.3g} times smaller" in message
    assert pseudo[0].filename == __file__  # points at the user's line


@pytest.mark.parametrize("call", list(MODEL_KIND_CALLS))
def test_model_based_variance_of_unweighted_fit_is_silent(call):
    res = fitted_unweighted()
    assert not res.weighted
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
        out = MODEL_KIND_CALLS[call](res)
    assert out is not None


def test_robust_variance_of_weighted_fit_is_silent():
    res = fitted()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
        se = res.std_errors()
        ci = res.conf_int(which="all")
        td = res.tidy()
        table = pywemix.compare(res)
        res.cov_params(), res.var_cov(), res.wald_test(["x1"]), res.tvalues, res.pvalues
    np.testing.assert_allclose(td.loc[td["kind"] == "fixed", "std_error"], se, rtol=0)
    np.testing.assert_allclose(ci.loc[list(se.index)].diff(axis=1).iloc[:, 1], 2 * Z975 * se)
    np.testing.assert_allclose(table.loc[list(se.index), ("(1)", "std_error")], se, rtol=0)


def test_model_based_values_unchanged_by_the_warning():
    res = fitted()
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        se = res.std_errors("model")
    np.testing.assert_allclose(se, np.sqrt(np.diag(res.raw_cov_params("model"))), rtol=0)
    assert (res.bse > se).all()  # the weights here are far from frequency weights


# -- information criteria ------------------------------------------------------------------


def test_weighted_aic_bic_warn():
    res = fitted()
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        aic = res.aic
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        bic = res.bic
    k = 4 + 1 + 1
    assert aic == pytest.approx(-2 * res.llf + 2 * k, rel=1e-12)
    assert bic == pytest.approx(-2 * res.llf + k * np.log(res.nobs), rel=1e-12)


@needs_reference
def test_unweighted_aic_bic_match_lme4():
    ref = json.loads(LME4.read_text())["sleep_anova_ml"]
    df = reference_data("sleepstudy.csv")
    for i, formula in enumerate(ref["models"]):
        res = _quiet_mix(formula, df)
        assert not res.weighted
        k = len(res.params) + len(res.theta) + 1
        assert k == ref["npar"][i] == res.df_modelwc
        with warnings.catch_warnings():
            warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
            aic, bic = res.aic, res.bic
        assert aic == pytest.approx(-2 * res.llf + 2 * k, rel=1e-14)
        assert bic == pytest.approx(-2 * res.llf + k * np.log(res.nobs), rel=1e-14)
        assert aic == pytest.approx(ref["aic"][i], rel=1e-7)
        assert bic == pytest.approx(ref["bic"][i], rel=1e-7)


def test_unweighted_small_aic_no_warning():
    df = _sim()
    res = _quiet_mix("y ~ x1 + (x1|g)", df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
        aic = res.aic
    k = 2 + 3 + 1  # fixed, (intercept, slope, covariance), residual
    assert res.df_modelwc == k
    assert aic == pytest.approx(-2 * res.llf + 2 * k, rel=1e-14)


# -- errors a statsmodels / lme4 user runs into -----------------------------------


@pytest.mark.parametrize(
    "terms, kind, hint",
    [
        (["X1"], "fixed", "'X1': did you mean 'x1'?"),
        (["x1", "intercept"], "fixed", "'intercept': did you mean 'Intercept'?"),
        (["var(Intercept|g)"], "fixed", "is a variance term: test it with kind='variance'"),
        (["sd(Intercept|g)"], "variance", "tested as variances, 'var(Intercept|g)'"),
        (["var(intercept|g)"], "variance", "did you mean 'var(Intercept|g)'"),
    ],
)
def test_wald_misspelt_term_suggests_the_name(terms, kind, hint):
    res = fitted()
    with pytest.raises(ValueError, match="unknown") as err:
        res.wald_test(terms, kind=kind)
    assert hint in str(err.value)
    assert "available: [" in str(err.value)


def test_wald_repeated_term_is_an_error():
    with pytest.raises(ValueError, match=r"terms are repeated: \['x1'\]"):
        fitted().wald_test(["x1", "x2", "x1"])


def test_alpha_above_one_half_warns_it_is_not_the_confidence_level():
    res = fitted()
    with pytest.warns(
        pywemix.PywemixWarning,
        match=r"alpha=0.95 gives 5% intervals.*"
        r"alpha=0.05 for 95% intervals",
    ):
        ci = res.conf_int(alpha=0.95)
    assert list(ci.columns) == ["47.5 %", "52.5 %"]  # used as given
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PywemixWarning)
        res.conf_int(alpha=0.5)
        res.tidy(alpha=0.1)


def test_wald_variance_without_covariance_names_the_boundary_terms():
    """A GLMM variance below exp(-3.6) has no standard error (as in WeMix): the
    Wald test names it, says it is at the boundary and what to do instead."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 8)
    x = rng.normal(size=g.size)
    df = pd.DataFrame(
        {"g": g, "x": x, "y": rng.poisson(np.exp(1 + 0.3 * x + 0.05 * rng.normal(size=20)[g]))}
    )
    res = _quiet_mix("y ~ x + (1|g)", df, family="poisson")
    from pywemix.estimation.variance import SE_FLOOR

    assert res.var_components["variance"].iloc[0] < SE_FLOOR
    assert np.isnan(res.var_cov()).all()
    for call in (
        lambda: res.wald_test(kind="variance"),
        lambda: res.wald_test(["var(Intercept|g)"], kind="variance"),
        lambda: res.wald_test(R=[[2.0]], kind="variance"),
    ):
        with pytest.raises(
            ValueError,
            match=r"covariance \(robust\) .* not available for "
            r"var\(Intercept\|g\) \(estimate .*boundary.*"
            r"bootstrap_lrt",
        ):
            call()
    assert res.wald_test(["x"]).df == 1  # the fixed effects are unaffected


def test_conf_int_cols_as_statsmodels():
    res = fitted()
    full = res.conf_int(which="all")
    for cols, rows in (
        (["x2", "Intercept"], ["x2", "Intercept"]),
        (1, ["x1"]),
        ([0, -1], [full.index[0], full.index[-1]]),
        ("sd(Intercept|g)", ["sd(Intercept|g)"]),
    ):
        got = res.conf_int(which="all", cols=cols)
        assert list(got.index) == rows
        pd.testing.assert_frame_equal(got, full.loc[rows])
    for cols, exc, match in (
        ("x9", ValueError, "cols: no row.*'x9'"),
        (["sd(Intercept|g)"], ValueError, "no row.*which='fixed'"),
        (99, ValueError, "position 99 is out of range"),
        ([1.5], TypeError, "cols"),
        ([], ValueError, "cols is empty"),
        (True, TypeError, "cols"),
    ):
        with pytest.raises(exc, match=match):
            res.conf_int(cols=cols)


def test_wald_statsmodels_style_arguments_get_a_hint():
    res = fitted()
    with pytest.raises(ValueError, match=r"'x1 = 0'.* as text .*give R and q"):
        res.wald_test("x1 = 0")
    with pytest.raises(TypeError, match=r"names of terms .*constraint matrix .* R="):
        res.wald_test(np.eye(4)[1:2])
    with pytest.raises(TypeError, match=r"names of terms \(strings\), got 1$"):
        res.wald_test([1])
