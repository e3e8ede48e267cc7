"""Replication variances equal the formulas applied to explicit separate fits."""

import numpy as np
import pandas as pd
import pytest
from survey_data import FORMULA, explicit_replicates, survey_sample

import pywemix

from conftest import quiet_mix

COLS = [f"rw{i}" for i in range(1, 9)]


def _var(c, est, full):
    dev = est - full
    return c * dev.T @ dev


@pytest.fixture(scope="module")
def sample():
    return survey_sample()


@pytest.fixture(scope="module")
def full(sample):
    return quiet_mix(FORMULA, sample, ["wt", "w2"])


@pytest.fixture(scope="module")
def explicit(sample):
    return explicit_replicates(sample, COLS)


@pytest.mark.parametrize(
    "method,fay,factor",
    [
        ("fay", 0.5, 1 / (8 * 0.25)),
        ("fay", 0.3, 1 / (8 * 0.49)),
        ("brr", 0.5, 1 / 8),
        ("jk1", 0.5, 7 / 8),
        ("bootstrap", 0.5, 1 / 8),
    ],
)
def test_replication_variance_equals_separate_fits(sample, full, explicit, method, fay, factor):
    rep = pywemix.Replicates(COLS, method=method, fay=fay, full_weight="wt")
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    P, V, icc = explicit
    np.testing.assert_allclose(
        r.cov_params().to_numpy(), _var(factor, P, full.params.to_numpy()), rtol=1e-6
    )
    np.testing.assert_allclose(
        r.bse.to_numpy(), np.sqrt(np.diag(_var(factor, P, full.params.to_numpy()))), rtol=1e-6
    )
    vfull = full.var_components["variance"].to_numpy()
    np.testing.assert_allclose(
        r.var_components["std_error"].to_numpy(),
        np.sqrt(np.diag(_var(factor, V, vfull))),
        rtol=1e-6,
    )
    np.testing.assert_allclose(r.var_cov(), _var(factor, V, vfull), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        r.icc_std_error, np.sqrt(factor * np.sum((icc - full.icc) ** 2)), rtol=1e-6
    )
    np.testing.assert_allclose(r.replicate_params.to_numpy(), P, rtol=1e-7)


def test_brr_drops_groups_with_zero_factor(sample):
    """k = 0: half the schools get factor 0 in each replicate (dropped)."""
    data = survey_sample(fay=0.0)
    rep = pywemix.Replicates(COLS, method="brr", full_weight="wt")
    r = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
    full = quiet_mix(FORMULA, data, ["wt", "w2"])
    P, V, _ = explicit_replicates(data, COLS)
    np.testing.assert_allclose(
        r.bse.to_numpy(), np.sqrt(np.diag(_var(1 / 8, P, full.params.to_numpy()))), rtol=1e-6
    )
    np.testing.assert_allclose(
        r.var_components["std_error"].to_numpy(),
        np.sqrt(np.diag(_var(1 / 8, V, full.var_components["variance"].to_numpy()))),
        rtol=1e-6,
    )


def test_row_factors_varying_within_schools(sample, full):
    """Factors that differ between a school's students change the level-1
    weights too (the design is reused with new weights)."""
    rng = np.random.default_rng(5)
    data = sample.copy()
    for c in COLS[:4]:
        data[c] = data[c] * rng.uniform(0.7, 1.3, len(data))
    rep = pywemix.Replicates(COLS[:4], method="jk1", full_weight="wt")
    r = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
    P, V, _ = explicit_replicates(data, COLS[:4])
    np.testing.assert_allclose(
        r.cov_params().to_numpy(), _var(3 / 4, P, full.params.to_numpy()), rtol=1e-6
    )
    np.testing.assert_allclose(
        r.var_components["std_error"].to_numpy(),
        np.sqrt(np.diag(_var(3 / 4, V, full.var_components["variance"].to_numpy()))),
        rtol=1e-6,
    )


def test_full_weight_defaults_to_total_weight(sample):
    """Without ``full_weight`` the model's level-1 unconditional weight is
    the total; with conditional weights their product."""
    rep = pywemix.Replicates(COLS, full_weight="wt")
    a = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    b = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    cond = sample.assign(w1c=sample["wt"] / sample["w2"])
    c = quiet_mix(
        FORMULA, cond, ["w1c", "w2"], cond_weights=True, replicates=pywemix.Replicates(COLS)
    )
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-10)
    np.testing.assert_allclose(c.bse, a.bse, rtol=1e-6)


def test_other_kinds_and_tests_use_their_covariance(sample, full):
    rep = pywemix.Replicates(COLS, full_weight="wt")
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    np.testing.assert_allclose(r.cov_params("robust"), full.cov_params("robust"))
    with pytest.warns(pywemix.PseudoLikelihoodWarning):  # weighted: asked on purpose
        model = r.std_errors("model"), full.std_errors("model")
    np.testing.assert_allclose(*model)
    np.testing.assert_allclose(r.params, full.params)
    w = r.wald_test(["x"])
    V = r.cov_params().loc["x", "x"]
    assert w.statistic == pytest.approx(r.params["x"] ** 2 / V, rel=1e-12)
    assert r.wald_test(["x"], cov="robust").statistic == pytest.approx(
        full.wald_test(["x"]).statistic, rel=1e-12
    )
    t = r.tidy()
    np.testing.assert_allclose(t.loc[t["kind"] == "fixed", "std_error"], r.bse)
    assert r.ranef()["school"].equals(full.ranef()["school"])
    assert r.llf == full.llf
    text = str(r.summary())
    assert "Fay's BRR, 8 replicates, k = 0.5" in text
    assert "replication SE" in text
    assert r.n_replicates == 8


def test_jk2_from_jackknife_weights_equals_separate_fits(sample, full):
    jk = pywemix.jackknife_weights(sample, zone="jkzone", rep="jkrep", weight="wt")
    zones = np.unique(sample["jkzone"])
    assert jk.shape == (len(sample), 2 * len(zones))
    z1 = (sample["jkzone"] == zones[0]).to_numpy()
    one = (sample["jkrep"] == 1).to_numpy()
    first, second = jk.iloc[:, 0].to_numpy(), jk.iloc[:, 1].to_numpy()
    wt = sample["wt"].to_numpy()
    np.testing.assert_allclose(first[z1 & one], 2 * wt[z1 & one])
    np.testing.assert_array_equal(first[z1 & ~one], 0)
    np.testing.assert_allclose(second[z1 & ~one], 2 * wt[z1 & ~one])
    np.testing.assert_array_equal(second[z1 & one], 0)
    np.testing.assert_allclose(first[~z1], wt[~z1])
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(jk, method="jk2"))
    data = pd.concat([sample, jk], axis=1)
    P, V, _ = explicit_replicates(data, list(jk.columns))
    np.testing.assert_allclose(
        r.cov_params().to_numpy(), _var(0.5, P, full.params.to_numpy()), rtol=1e-6
    )
    assert "both half-samples" in r.method
    # one replicate per zone (NAEP style): factor 1
    one_each = pywemix.Replicates(list(jk.columns[::2]), method="jk2", full_weight="wt")
    r1 = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=one_each)
    np.testing.assert_allclose(
        r1.cov_params().to_numpy(), _var(1.0, P[::2], full.params.to_numpy()), rtol=1e-6
    )


def test_scale_overrides_the_factor(sample):
    a = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    b = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS, scale=1.0))
    np.testing.assert_allclose(b.cov_params(), a.cov_params() * 8 * 0.25, rtol=1e-12)
    assert "scale = 1" in b.method


def test_range_of_columns_and_case(sample):
    up = sample.rename(columns={c: c.upper() for c in COLS + ["wt"]})
    a = quiet_mix(
        FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates("rw1-8", full_weight="wt")
    )
    b = quiet_mix(
        FORMULA, up, ["WT", "w2"], replicates=pywemix.Replicates("rw1-8", full_weight="wt")
    )
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-12)


def test_three_levels_equal_separate_fits():
    """Replicates of the top level (districts) in a three-level model."""
    rng = np.random.default_rng(3)
    d = survey_sample(seed=4, n_schools=32, reps=0)
    d["district"] = d["school"] // 2
    u3 = rng.normal(0, 0.5, d["district"].max() + 1)
    d["y"] = d["y"] + u3[d["district"]]
    w3 = rng.uniform(1, 3, d["district"].max() + 1)
    d["w3"] = w3[d["district"]]
    d["w2"] = d["w2"] * d["w3"]
    d["wt"] = d["wt"] * d["w3"]
    sign = np.where(np.arange(16) % 2 == 0, 1, -1)
    H = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    pair = np.arange(16) // 2
    cols = []
    for r in range(4):
        f = 1 + 0.5 * H[r, pair % 4] * sign
        d[f"rw{r + 1}"] = d["wt"] * f[d["district"]]
        cols.append(f"rw{r + 1}")
    form = "y ~ x + (1|district/school)"
    res = quiet_mix(form, d, ["wt", "w2", "w3"], replicates=pywemix.Replicates(cols))
    full = quiet_mix(form, d, ["wt", "w2", "w3"])
    P = []
    for c in cols:
        f = d[c] / d["wt"]
        r = quiet_mix(form, d.assign(a=d["wt"] * f, b=d["w2"] * f, c=d["w3"] * f), ["a", "b", "c"])
        P.append(r.params.to_numpy())
    np.testing.assert_allclose(
        res.cov_params().to_numpy(),
        _var(1 / (4 * 0.25), np.array(P), full.params.to_numpy()),
        rtol=1e-6,
    )


def test_glmm_refits_equal_separate_fits():
    d = survey_sample(seed=7, n_schools=16, size=10, reps=4)
    d["pass"] = (d["y"] > 1).astype(int)
    cols = ["rw1", "rw2", "rw3", "rw4"]
    form = "pass ~ x + (1|school)"
    kw = dict(family="binomial", n_quad=5)
    r = quiet_mix(form, d, ["wt", "w2"], replicates=pywemix.Replicates(cols), **kw)
    full = quiet_mix(form, d, ["wt", "w2"], **kw)
    P, V, _ = explicit_replicates(d, cols, formula=form, **kw)
    np.testing.assert_allclose(
        r.cov_params().to_numpy(), _var(1 / (4 * 0.25), P, full.params.to_numpy()), rtol=1e-5
    )
    np.testing.assert_allclose(
        r.var_components["std_error"].to_numpy(),
        np.sqrt(np.diag(_var(1.0, V, full.var_components["variance"].to_numpy()))),
        rtol=1e-5,
    )


def test_replicates_read_in_chunks(sample, monkeypatch):
    """Chunked reading of the replicate columns gives the same weights."""
    from pywemix.survey import refit

    rng = np.random.default_rng(8)
    data = sample.copy()
    data["rw3"] = data["rw3"] * rng.uniform(0.8, 1.2, len(data))
    jk = pywemix.jackknife_weights(data, weight="wt")
    for rep in (pywemix.Replicates(COLS, full_weight="wt"), pywemix.Replicates(jk, "jk2")):
        whole = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
        monkeypatch.setattr(refit, "CHUNK_CELLS", 2 * len(data))
        chunked = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
        monkeypatch.undo()
        np.testing.assert_allclose(chunked.cov_params(), whole.cov_params(), rtol=1e-12)
        assert chunked.method == whole.method


def test_unknown_kind_lists_the_kinds_of_the_result(sample):
    """A replicate result names 'replicate' among its valid covariance kinds."""
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    for method in (r.cov_params, r.var_cov, r.std_errors, r.tidy):
        with pytest.raises(
            ValueError, match="kind must be 'replicate', 'robust' or 'model', got 'sandwich'"
        ):
            method(kind="sandwich")
    with pytest.raises(ValueError, match="cov must be 'replicate', 'robust' or 'model'"):
        r.wald_test(["x"], cov="sandwich")


def test_replicate_fit_of_weighted_data_does_not_warn_about_model_variances(sample):
    """Building the result reads the stored model-based covariances: the
    pseudo-likelihood warning is for users who ask for them."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = pywemix.mix(
            FORMULA,
            sample,
            ["wt", "w2"],
            replicates=pywemix.Replicates(COLS),
            weight_scaling="size",
        )
    assert not [w for w in caught if issubclass(w.category, pywemix.PseudoLikelihoodWarning)]
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        r.cov_params("model")


# -- replicate frames joined by label: factors the method cannot produce ---------------

PISA_FORMULA = "pv1math ~ escs + (1|schoolid)"
FAY = [f"w_fsturwt{r}" for r in range(1, 81)]


@pytest.fixture(scope="module")
def pisa():
    """The PISA-like example: Fay replicate weights of w_fstuwt and JK zones."""
    from pywemix.datasets import load_pisa_replicates

    return load_pisa_replicates()


def _pisa_fit(data, rep):
    return quiet_mix(PISA_FORMULA, data, ["pwt1", "pwt2"], replicates=rep)


def test_jackknife_frame_joined_after_filtering_and_reset_index_is_an_error(pisa):
    """The frame of the whole data joined to the girls, re-indexed: row i of
    the girls gets the weights of row i of the whole data. Their factors are
    not 0, 1 or 2, and the error says why."""
    jk = pywemix.jackknife_weights(pisa, weight="w_fstuwt")
    girls = pisa[pisa["st04q01"] == "Female"]
    with pytest.raises(
        ValueError,
        match=r"replicate weight column 'jk2_1' gives \d+ of the "
        r"580 rows a factor .*'w_fstuwt'.* \(0, 1 or 2; e\.g\. "
        r".* in the row labelled \d+\): the replicate-weight "
        r"frame was built before the data were filtered or "
        r"re-indexed \(reset_index\).*jackknife_weights",
    ):
        _pisa_fit(girls.reset_index(drop=True), pywemix.Replicates(jk, method="jk2"))
    # dropping a few rows is enough
    with pytest.raises(ValueError, match="cannot have"):
        _pisa_fit(
            pisa.drop(index=[3, 4, 5]).reset_index(drop=True), pywemix.Replicates(jk, method="jk2")
        )
    # filtered but not re-indexed, the labels find the right rows: the fit equals
    # the one with the frame built from the girls
    kept = _pisa_fit(girls, pywemix.Replicates(jk, method="jk2"))
    own = _pisa_fit(
        girls.reset_index(drop=True),
        pywemix.Replicates(
            pywemix.jackknife_weights(girls.reset_index(drop=True), weight="w_fstuwt"), method="jk2"
        ),
    )
    np.testing.assert_allclose(kept.cov_params(), own.cov_params(), rtol=1e-10)


@pytest.mark.parametrize("method", ["fay", "brr", "jk1", "jk2"])
def test_other_frames_joined_to_other_rows_are_an_error(pisa, method):
    """A frame of Fay weights cut from the data before they were filtered and
    re-indexed: factors above 2.5 no replicate weight has."""
    frame, data = pisa[FAY], pisa.drop(columns=FAY)
    girls = data[data["st04q01"] == "Female"]
    rep = pywemix.Replicates(frame, method=method, full_weight="w_fstuwt")
    with pytest.raises(
        ValueError,
        match=r"'w_fsturwt1' gives \d+ of the 580 rows a factor "
        r".*at most 2\.5.*built before the data were "
        r"filtered or re-indexed.*add them to the data",
    ):
        _pisa_fit(girls.reset_index(drop=True), rep)
    # with the labels kept, the frame's weights are those of the columns
    a = _pisa_fit(girls, rep)
    b = _pisa_fit(
        pisa[pisa["st04q01"] == "Female"],
        pywemix.Replicates(FAY, method=method, full_weight="w_fstuwt"),
    )
    np.testing.assert_allclose(a.cov_params(), b.cov_params(), rtol=1e-12)
    # the frame's columns still in the data with the old rows: the clash says why
    with pytest.raises(
        ValueError,
        match=r"already in the data with other values "
        r"\('w_fsturwt1': in \d+ of 587 rows\).*re-indexed",
    ):
        _pisa_fit(pisa[pisa["st04q01"] == "Female"].reset_index(drop=True), rep)


def test_factor_checks_allow_rounding_and_adjusted_columns(pisa):
    """float32 storage passes the exact check (tolerance FACTOR_TOLERANCE);
    replicate columns of the data itself, adjusted after replication as
    survey files do, are not held to the nominal factors."""
    from pywemix.survey.replicates import FACTOR_TOLERANCE, MAX_FACTOR, FactorRule

    jk = pywemix.jackknife_weights(pisa, weight="w_fstuwt")
    ref = _pisa_fit(pisa, pywemix.Replicates(jk, method="jk2"))
    single = jk.astype(np.float32)
    assert single.attrs["pywemix_replicates"]["factors"] == (0.0, 1.0, 2.0)
    rounded = _pisa_fit(
        pisa.assign(w_fstuwt=pisa["w_fstuwt"].astype(np.float32)),
        pywemix.Replicates(single, method="jk2"),
    )
    np.testing.assert_allclose(rounded.bse, ref.bse, rtol=1e-5)
    rule = FactorRule(what="0, 1 or 2", cause="", values=(0.0, 1.0, 2.0))
    F = np.array(
        [
            [
                0.0,
                1 + 0.5 * FACTOR_TOLERANCE,
                2 - 1.5 * FACTOR_TOLERANCE,
                1 + 2 * FACTOR_TOLERANCE,
                0.5,
                np.nan,
            ]
        ]
    )
    np.testing.assert_array_equal(rule.outside(F), [[False, False, False, True, True, True]])
    # Fay columns re-adjusted by up to 40% (factors to 2.1): columns of the data pass
    rng = np.random.default_rng(5)
    adjusted = pisa.assign(**{c: pisa[c] * rng.uniform(0.7, 1.4, len(pisa)) for c in FAY})
    r = _pisa_fit(adjusted, pywemix.Replicates(FAY, full_weight="w_fstuwt"))
    assert np.isfinite(r.bse).all()
    # ... and a frame of them too (below MAX_FACTOR), but not a factor above it
    frame = adjusted[FAY]
    base = pisa.drop(columns=FAY)
    assert np.isfinite(_pisa_fit(base, pywemix.Replicates(frame, full_weight="w_fstuwt")).bse).all()
    frame = frame.assign(
        w_fsturwt7=frame["w_fsturwt7"].where(
            frame.index != 10, base.loc[10, "w_fstuwt"] * (MAX_FACTOR + 0.1)
        )
    )
    with pytest.raises(
        ValueError,
        match=r"'w_fsturwt7' gives 1 of the \d+ rows a factor .*"
        r"e\.g\. 2\.6 in the row labelled 10",
    ):
        _pisa_fit(base, pywemix.Replicates(frame, full_weight="w_fstuwt"))


def test_fay_frames_never_drop_a_row_and_zero_full_weights_name_the_cause(sample):
    """Fay's method (k > 0) keeps every unit: a zero factor in a joined frame
    is impossible (BRR's is not); a positive replicate weight on a zero
    full-sample weight names the likely cause."""
    frame = sample[COLS].copy()
    frame.loc[frame.index[3], "rw2"] = 0.0
    data = sample.drop(columns=COLS)
    with pytest.raises(
        ValueError,
        match=r"'rw2' gives 1 of the \d+ rows .*above 0 and at "
        r"most 2\.5",
    ):
        quiet_mix(
            FORMULA, data, ["wt", "w2"], replicates=pywemix.Replicates(frame, full_weight="wt")
        )
    r = quiet_mix(
        FORMULA,
        data,
        ["wt", "w2"],
        replicates=pywemix.Replicates(frame, method="brr", full_weight="wt"),
    )
    assert np.isfinite(r.bse).all()
    zero = data.assign(fw=np.where(np.arange(len(data)) == 5, 0.0, data["wt"]))
    with pytest.raises(
        ValueError,
        match=r"'rw1' is positive in 1 rows where the full-sample "
        r"weight 'fw' is 0, which no replication method "
        r"gives: the replicate-weight frame was built",
    ):
        quiet_mix(
            FORMULA, zero, ["wt", "w2"], replicates=pywemix.Replicates(frame, full_weight="fw")
        )
    with pytest.raises(
        ValueError,
        match=r"where the full-sample weight 'fw' is 0, .*check "
        r"the full-sample weight",
    ):
        quiet_mix(
            FORMULA,
            zero.join(frame),
            ["wt", "w2"],
            replicates=pywemix.Replicates(COLS, full_weight="fw"),
        )
