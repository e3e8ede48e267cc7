"""Replication variances and by= on a Dask DataFrame equal those of pandas
(pywemix.survey.dask_refit, the OnDask engine, by= on Dask)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from survey_data import FORMULA, survey_sample

import pywemix

from conftest import quiet_mix

dd = pytest.importorskip("dask.dataframe")

COLS = [f"rw{i}" for i in range(1, 9)]
PISA = "pv1math ~ escs + (1|schoolid)"
#: Dask and pandas fits of the same rows: the same numbers up to the order of sums
RTOL = 1e-8
#: GLMM replicate refits: in memory one batch of Newton problems
#: (estimation/batched.py), on Dask separate fits on the actors; each stops
#: at its own gradient tolerance, so they agree as two fits of one optimum
#: do (the project's 1e-6), not to the order of sums
GLMM_RTOL = 1e-6


@pytest.fixture(scope="module")
def reps():
    return pywemix.datasets.load_pisa_replicates()


def _same(res, mem, rtol=RTOL):
    """Same replication variances: the result kind, every standard error,
    the covariances and the refits."""
    assert type(res).__name__ == type(mem).__name__ == "ReplicateResult"
    assert res.default_kind == "replicate" and res.method == mem.method
    np.testing.assert_allclose(res.params, mem.params, rtol=rtol)
    np.testing.assert_allclose(res.bse, mem.bse, rtol=rtol)
    np.testing.assert_allclose(res.cov_params(), mem.cov_params(), rtol=rtol, atol=1e-14)
    np.testing.assert_allclose(
        res.var_components["std_error"], mem.var_components["std_error"], rtol=rtol
    )
    np.testing.assert_allclose(res.icc_std_error, mem.icc_std_error, rtol=rtol)
    np.testing.assert_allclose(res.replicate_params, mem.replicate_params, rtol=rtol)


def _both(formula, data, npartitions=3, **kw):
    mem = quiet_mix(formula, data, **kw)
    return quiet_mix(formula, dd.from_pandas(data, npartitions=npartitions), **kw), mem


def test_pisa_preset_fay_on_dask_equals_pandas(dask_client, reps):
    res, mem = _both(
        PISA,
        reps,
        weights=["pwt1", "pwt2"],
        cond_weights=True,
        weight_scaling="size",
        survey="PISA",
    )
    _same(res, mem)
    assert type(res.full).__name__ == "DaskMixResult"
    assert res.method == "Fay's BRR, 80 replicates, k = 0.5"


def test_timss_preset_builds_jk2_on_the_partitions(dask_client, reps):
    res, mem = _both(PISA, reps, weights=["totwgt", "pwt2"], survey="TIMSS")
    _same(res, mem)
    assert res.method == "JK2 jackknife, 60 replicates, both half-samples of every zone"
    bad = reps.assign(jkrep=reps["jkrep"].where(reps["jkzone"] != 3, 0))
    with pytest.raises(
        ValueError,
        match=r"zones without a pair in 'jkzone'.*\[3\].*"
        r"survey='TIMSS' builds JK2",
    ):
        pywemix.mix(PISA, dd.from_pandas(bad, npartitions=3), ["totwgt", "pwt2"], survey="TIMSS")


def test_explicit_replicates_with_factors_varying_within_schools(dask_client, monkeypatch):
    """rw1..rw5 vary within schools (per-replicate cross-products, 3 replicates
    a pass), rw6..rw8 only by rounding (5e-7): as in memory, whether rounding
    counts is decided per chunk of replicate columns (2 here), so rw6 keeps its
    rows' factors and rw7, rw8 take their school's (deciding for all replicates
    at once, or for each alone, moves the standard errors by 1e-7)."""
    from pywemix.survey import dask_refit, refit

    data = survey_sample()
    rng = np.random.default_rng(5)
    for c in COLS[:5]:
        data[c] = data[c] * rng.uniform(0.7, 1.3, len(data))
    for c in COLS[5:]:
        data[c] = data[c] * (1 + rng.uniform(-5e-7, 5e-7, len(data)))
    monkeypatch.setattr(dask_refit, "STATISTICS_CELLS", 3 * 24 * 9)
    monkeypatch.setattr(refit, "CHUNK_CELLS", 2 * len(data))
    rep = pywemix.Replicates(COLS, method="jk1", full_weight="wt")
    res, mem = _both(FORMULA, data, weights=["wt", "w2"], weight_scaling="size", replicates=rep)
    _same(res, mem)


def test_three_levels_with_scaling_on_dask_equal_pandas():
    """Top-level (district) factors: the level-1 scaling and the school weights
    enter each district's factor as in memory."""
    d = survey_sample(seed=4, n_schools=32, reps=0)
    rng = np.random.default_rng(3)
    d["district"] = d["school"] // 4
    d["w3"] = rng.uniform(1, 3, d["district"].max() + 1)[d["district"]]
    for r in range(4):
        f = rng.uniform(0.5, 1.5, d["school"].max() + 1)  # school factors, not district ones
        d[f"rw{r + 1}"] = d["wt"] * f[d["school"]]
    rep = pywemix.Replicates([f"rw{r + 1}" for r in range(4)], full_weight="wt", method="bootstrap")
    res, mem = _both(
        "y ~ x + (1|district/school)",
        d,
        weights=["wt", "w2", "w3"],
        weight_scaling="size",
        replicates=rep,
    )
    _same(res, mem)


@pytest.mark.parametrize("which", ["all", "first"])
def test_plausible_values_times_replicates_on_dask(which):
    data = survey_sample(n_pv=3)
    rep = pywemix.Replicates(COLS, full_weight="wt", plausible_values=which)
    res, mem = _both(
        FORMULA,
        data,
        weights=["wt", "w2"],
        replicates=rep,
        plausible_values={"y": ["pv1", "pv2", "pv3"]},
    )
    _same(res, mem)
    np.testing.assert_allclose(res.sampling_variance, mem.sampling_variance, rtol=RTOL)
    np.testing.assert_allclose(
        res.sampling_variance + res.imputation_variance, res.bse**2, rtol=1e-12
    )


def test_logit_glmm_replicates_refit_on_the_actors(dask_client):
    d = survey_sample(seed=7, n_schools=16, size=10, reps=4)
    d["pass"] = (d["y"] > 1).astype(int)
    d["rw4"] = d["rw4"] * np.random.default_rng(2).uniform(0.8, 1.2, len(d))  # varying
    rep = pywemix.Replicates(COLS[:4], full_weight="wt")
    res, mem = _both(
        "pass ~ x + (1|school)",
        d,
        npartitions=2,
        weights=["wt", "w2"],
        family="binomial",
        n_quad=5,
        replicates=rep,
    )
    np.testing.assert_allclose(res.full.params, mem.full.params, rtol=RTOL)
    _same(res, mem, rtol=GLMM_RTOL)
    # the actors are back to the full-sample weights
    assert res.full.objective.function.evaluate(
        np.r_[res.params, res.full.theta]
    ).llf == pytest.approx(res.full.llf, rel=1e-12)


def test_by_on_dask_equals_pandas(dask_client, reps, monkeypatch):
    """One shuffle, then every country fitted where its rows are; a country
    above GROUP_CELLS is fitted as a Dask fit. Replicates (a preset) per country."""
    from pywemix.survey import by

    school = reps["schoolid"] % 4  # CCC has twice the rows of AAA or BBB
    data = reps.assign(cnt=np.where(school == 0, "AAA", np.where(school == 1, "BBB", "CCC")))
    kw = dict(
        weights=["pwt1", "pwt2"], cond_weights=True, weight_scaling="size", survey="PISA", by="cnt"
    )
    mem = quiet_mix(PISA, data, **kw)
    ddf = dd.from_pandas(data, npartitions=3)
    res = quiet_mix(PISA, ddf, **kw)
    assert isinstance(res, pywemix.ByResult) and list(res) == list(mem) == ["AAA", "BBB", "CCC"]
    for k in mem:
        _same(res[k], mem[k], rtol=1e-10)
    counts = data["cnt"].value_counts()
    assert counts["CCC"] > 1.6 * max(counts["AAA"], counts["BBB"])
    # about 90 columns read: CCC is above, AAA and BBB below
    monkeypatch.setattr(by, "GROUP_CELLS", int(1.3 * max(counts["AAA"], counts["BBB"])) * 90)
    res = quiet_mix(PISA, ddf, **kw)
    assert [k for k, r in res.items() if type(r.full).__name__ == "DaskMixResult"] == ["CCC"]
    for k in mem:
        _same(res[k], mem[k])


def test_by_on_dask_names_missing_values_and_warns_once_per_warning():
    data = survey_sample().assign(cnt=lambda d: np.where(d["school"] < 12, "A", "B"))
    data.loc[data.index[::7], "x"] = np.nan
    ddf = dd.from_pandas(data, npartitions=2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = pywemix.mix(FORMULA, ddf, ["wt", "w2"], by="cnt", weight_scaling="size")
    texts = [str(m.message) for m in w]
    assert (
        sum(
            re.match(r"cnt='B': dropped \d+ of \d+ rows with missing values", t) is not None
            for t in texts
        )
        == 1
    )
    assert sum(t.startswith("cnt='A': dropped") for t in texts) == 1
    assert sum(t.startswith("cnt='A', 'B' (2 of 2 groups): only 12") for t in texts) == 1
    mem = quiet_mix(FORMULA, data, ["wt", "w2"], by="cnt", weight_scaling="size")
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-10)
    with pytest.raises(ValueError, match="by column 'cnt' has 1 missing values"):
        pywemix.mix(
            FORMULA,
            dd.from_pandas(data.assign(cnt=data["cnt"].where(data.index != 3)), npartitions=2),
            ["wt", "w2"],
            by="cnt",
        )


def test_what_is_still_refused_on_dask_says_so():
    data = survey_sample()
    ddf = dd.from_pandas(data, npartitions=2)
    jk = pywemix.jackknife_weights(data, weight="wt")
    with pytest.raises(
        NotImplementedError,
        match=r"joins its columns to the data by row "
        r"label, which is not done on a Dask DataFrame.*Replicates\(\[\.\.\.\]",
    ):
        pywemix.mix(FORMULA, ddf, ["wt", "w2"], replicates=pywemix.Replicates(jk, "jk2"))
    with pytest.raises(ValueError, match="replicate weight column 'rw9' is not in the data"):
        pywemix.mix(FORMULA, ddf, ["wt", "w2"], replicates=pywemix.Replicates(COLS + ["rw9"]))
    bad = dd.from_pandas(data.assign(rw3=data["rw3"].where(data.index != 40, -1.0)), npartitions=2)
    with pytest.raises(
        ValueError,
        match=r"replicate weight column 'rw3' has 1 negative "
        r"values .*\(in partition 0 of the Dask DataFrame\)",
    ):
        pywemix.mix(
            FORMULA, bad, ["wt", "w2"], replicates=pywemix.Replicates(COLS), weight_scaling="size"
        )
    with pytest.raises(ValueError, match="reml=True needs unit weights"):
        pywemix.mix(FORMULA, ddf, ["wt", "w2"], reml=True, replicates=pywemix.Replicates(COLS))


def test_a_model_fitted_in_memory_keeps_its_replicate_columns():
    """A term not computed on the workers: the model's and the replicate columns
    are collected and fitted in memory, with the warning saying so."""
    data = survey_sample()
    rep = pywemix.Replicates(COLS, full_weight="wt")
    form = "y ~ bs(x, df=3) + (1|school)"
    ddf = dd.from_pandas(data, npartitions=2)
    with pytest.warns(
        pywemix.PywemixWarning,
        match=r"collects its 5 model columns "
        r"\(school, x, y, w2, wt\) and 8 other columns \(rw1, rw2, rw3, rw4, "
        r"rw5, \.\.\. \(8 in all\)\) into this process and runs in memory",
    ):
        res = pywemix.mix(form, ddf, ["wt", "w2"], replicates=rep, weight_scaling="size")
    mem = quiet_mix(form, data, ["wt", "w2"], replicates=rep, weight_scaling="size")
    _same(res, mem, rtol=1e-10)


# -- on the LocalCluster: presets with plausible values, GLMMs, no fallback (issue 19) ----

PVS = {"math": [f"pv{k}math" for k in range(1, 6)]}


@pytest.mark.parametrize("survey", ["PISA", "TIMSS"])
def test_presets_with_plausible_values_on_the_cluster_equal_pandas(dask_client, reps, survey):
    """Fay (PISA) and JK2 built from the zones (TIMSS), five plausible values x
    the replicates: the statistics computed on the worker processes."""
    kw = (
        dict(weights=["pwt1", "pwt2"], cond_weights=True, survey=survey)
        if survey == "PISA"
        else dict(weights=["totwgt", "pwt2"], survey=survey)
    )
    res, mem = _both("math ~ escs + (1|schoolid)", reps, plausible_values=PVS, **kw)
    _same(res, mem)
    assert res.n_plausible == 5 and res.default_kind == "replicate"
    np.testing.assert_allclose(res.sampling_variance, mem.sampling_variance, rtol=RTOL)
    np.testing.assert_allclose(res.imputation_variance, mem.imputation_variance, rtol=RTOL)
    np.testing.assert_allclose(
        res.sampling_variance + res.imputation_variance, res.bse**2, rtol=1e-12
    )
    assert all(type(f).__name__ == "DaskMixResult" for f in res.full.fits)


def test_logit_glmm_plausible_values_times_replicates_on_the_actors(dask_client):
    """Each plausible value's full fit on the actors, then its replicate refits
    there (the actors' columns serve every value)."""
    d = survey_sample(seed=8, n_schools=16, size=10, reps=4, n_pv=2)
    for k in (1, 2):
        d[f"pass{k}"] = (d[f"pv{k}"] > 1).astype(int)
    d["rw3"] = d["rw3"] * np.random.default_rng(4).uniform(0.8, 1.2, len(d))  # varying
    rep = pywemix.Replicates(COLS[:4], full_weight="wt")
    res, mem = _both(
        "passed ~ x + (1|school)",
        d,
        npartitions=2,
        weights=["wt", "w2"],
        family="binomial",
        n_quad=5,
        replicates=rep,
        plausible_values={"passed": ["pass1", "pass2"]},
    )
    _same(res, mem, rtol=GLMM_RTOL)
    np.testing.assert_allclose(res.sampling_variance, mem.sampling_variance, rtol=GLMM_RTOL)
    np.testing.assert_allclose(
        res.sampling_variance + res.imputation_variance, res.bse**2, rtol=1e-12
    )


def _pisa_on_dask(data, **kw):
    return pywemix.mix(
        PISA,
        dd.from_pandas(data, npartitions=2),
        ["pwt1", "pwt2"],
        cond_weights=True,
        survey="PISA",
        **kw,
    )


@pytest.mark.filterwarnings("ignore::pywemix.DataWarning")  # 14 rows without escs
def test_presets_on_dask_never_fall_back_silently(dask_client, reps):
    """What the preset finds on Dask is what it finds in memory: some of the
    replicate columns is an error naming the missing ones; none of them warns
    naming them (and the result says it has the sandwich); a missing full
    weight warns and keeps the replication variance."""
    half = reps.drop(columns=[f"w_fsturwt{i}" for i in range(41, 81)])
    with pytest.raises(
        ValueError,
        match=r"40 of its 80 replicate weight columns are not in "
        r"the data \(W_FSTURWT41\.\.W_FSTURWT80\)",
    ):
        _pisa_on_dask(half)
    bare = reps.drop(columns=[f"w_fsturwt{i}" for i in range(1, 81)])
    with pytest.warns(
        pywemix.SurveyWarning,
        match=r"none of the preset's replicate weight "
        r"columns \(W_FSTURWT1\.\.W_FSTURWT80\).*cluster-robust sandwich",
    ):
        r = _pisa_on_dask(bare, weight_scaling="size")
    assert r.default_kind == "robust" and r.bse.attrs["variance"] == "robust"
    assert any("W_FSTURWT1..W_FSTURWT80" in w for w in r.warnings)
    assert "W_FSTURWT1..W_FSTURWT80" in str(r.summary())
    with pytest.warns(
        pywemix.SurveyWarning, match="full-sample weight W_FSTUWT is not in the data"
    ):
        res = _pisa_on_dask(reps.drop(columns="w_fstuwt"))
    mem = quiet_mix(PISA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA")
    _same(res, mem)  # w_fstuwt is pwt1 * pwt2, the model's total weight
    for col, name in (("totwgt", "TOTWGT"), ("jkrep", "JKREP")):
        with pytest.raises(
            ValueError,
            match=f"builds JK2 replicate weights from JKZONE, "
            f"JKREP, TOTWGT, but {name} is not in the data",
        ):
            pywemix.mix(
                PISA,
                dd.from_pandas(reps.drop(columns=col), npartitions=2),
                ["w_fstuwt", "pwt2"],
                survey="TIMSS",
            )
    gap = reps.assign(w_fsturwt5=reps["w_fsturwt5"].where(reps.index != 30))
    with pytest.raises(
        ValueError,
        match=r"replicate weight column 'w_fsturwt5' has 1 "
        r"missing or infinite values .*\(in partition 0 of the Dask DataFrame\)",
    ):
        _pisa_on_dask(gap)


# -- every output of a Dask replicate fit says "replicate" (issue 19) ---------------------


@pytest.fixture(scope="module")
def dask_fay(dask_client, reps):
    """The issue's example on the LocalCluster, and in memory."""
    kw = dict(weights=["pwt1", "pwt2"], cond_weights=True, survey="PISA")
    return _both(PISA, reps, **kw)


def test_dask_replicate_fit_shows_replicate_everywhere(dask_fay):
    res, mem = dask_fay
    _same(res, mem)
    description = mem.covariance().description
    assert res.covariance().description == description
    assert "Fay's BRR, 80 replicates, k = 0.5" in description
    for table in (res.bse, res.conf_int(), res.tidy()):
        assert table.attrs["variance"] == "replicate"
    np.testing.assert_allclose(res.conf_int(), mem.conf_int(), rtol=RTOL)
    assert res.wald_test(["escs"]).cov == "replicate"
    s = res.summary()
    assert dict(s.header)["Standard errors"] == description
    for text in (s.as_text(), s.as_html(), s.as_latex()):
        assert "80 replicates, k = 0.5" in text and "shown are cluster-robust" not in text
    d, m = json.loads(s.to_json()), json.loads(mem.summary().to_json())
    assert d["standard_errors"] == m["standard_errors"]
    assert d["standard_errors"]["kind"] == "replicate"
    assert d["replicates"] == m["replicates"] == {"method": res.method, "n_replicates": 80}
    assert d["survey"] == m["survey"]
    np.testing.assert_allclose(list(d["bse"].values()), mem.bse, rtol=RTOL)


def test_dask_replicate_fit_in_compare_and_the_coef_plot(dask_fay):
    res, mem = dask_fay
    table = pywemix.compare(res, mem)
    assert table.attrs["variance"] == {"(1)": "replicate", "(2)": "replicate"}
    np.testing.assert_allclose(
        table.loc[["Intercept", "escs"], ("(1)", "std_error")], mem.bse, rtol=RTOL
    )
    assert "Standard errors: replicate weights (Fay's BRR" in repr(table)
    pytest.importorskip("matplotlib")
    ax = res.plot("coef").axes[0]
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    np.testing.assert_allclose(
        sorted(bars.get_segments()[0][:, 0]), mem.conf_int().loc["escs"], rtol=1e-8
    )
    assert "Fay's BRR" in ax.get_xlabel()


def test_cli_on_a_scheduler_reports_the_replicate_kind(
    dask_client, reps, tmp_path, capsys, monkeypatch
):
    """``pywemix fit/plot ... --scheduler ADDRESS --survey PISA``: the JSON of the
    Dask fit is that of the pandas fit, the coef plot its replicate intervals."""
    pytest.importorskip("pyarrow")
    from pywemix import cli
    from pywemix.results.plots import ResultFigure

    for k, part in enumerate(np.array_split(np.arange(len(reps)), 3)):
        reps.iloc[part].to_parquet(tmp_path / f"part{k}.parquet")
    argv = [
        PISA,
        str(tmp_path / "*.parquet"),
        "--weights",
        "pwt1",
        "pwt2",
        "--cond-weights",
        "--survey",
        "PISA",
        "--scheduler",
        dask_client.scheduler.address,
    ]
    assert cli.main(["fit"] + argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    mem = quiet_mix(PISA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA")
    m = json.loads(mem.summary().to_json())
    assert d["standard_errors"] == m["standard_errors"]
    assert d["standard_errors"]["kind"] == "replicate"
    assert d["replicates"] == m["replicates"] and d["survey"] == m["survey"]
    np.testing.assert_allclose(list(d["bse"].values()), mem.bse, rtol=RTOL)
    pytest.importorskip("matplotlib")
    seen = {}
    monkeypatch.setattr(
        ResultFigure, "savefig", lambda self, path, dpi=None: seen.setdefault("fig", self)
    )
    assert cli.main(["plot"] + argv + ["--kind", "coef", "-o", str(tmp_path / "c.png")]) == 0
    ax = seen["fig"].axes[0]
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    np.testing.assert_allclose(
        sorted(bars.get_segments()[0][:, 0]), mem.conf_int().loc["escs"], rtol=1e-8
    )
    assert "replicate weights" in ax.get_xlabel()
