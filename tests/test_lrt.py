"""``anova`` (lme4's likelihood-ratio table) and ``bootstrap_lrt`` (pbkrtest's
parametric bootstrap)."""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pywemix

from conftest import needs_reference, reference_data, rel
from conftest import quiet_mix as _mix
from conftest import small_random_intercept as _small

LME4 = json.loads((Path(__file__).parent / "data" / "lme4_extra.json").read_text())
RI = "Reaction ~ Days + (1|Subject)"
SLOPE = "Reaction ~ Days + (Days|Subject)"


def _boot(*args, **kwargs):
    kwargs.setdefault("progress", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return pywemix.bootstrap_lrt(*args, **kwargs)


@pytest.fixture(scope="module")
def sleep():
    d = reference_data("sleepstudy.csv")
    d["x"] = np.random.default_rng(11).normal(size=len(d))
    d["x2"] = np.random.default_rng(12).normal(size=len(d))
    return d


@pytest.fixture(scope="module")
def ml_pair(sleep):
    return _mix(RI, sleep), _mix(SLOPE, sleep)


# -- anova -------------------------------------------------------------------


@needs_reference
def test_anova_matches_lme4(ml_pair):
    ref = LME4["sleep_anova_ml"]
    table = pywemix.anova(*ml_pair)
    assert list(table["npar"]) == ref["npar"]
    assert np.all(rel(table["llf"], ref["llf"]) < 1e-6)
    assert np.all(rel(table["aic"], ref["aic"]) < 1e-6)
    assert np.all(rel(table["bic"], ref["bic"]) < 1e-6)
    assert np.isnan(table["chisq"].iloc[0]) and np.isnan(table["p_value"].iloc[0])
    assert rel(table["chisq"].iloc[1], ref["chisq"]) < 1e-6
    assert table["df"].iloc[1] == ref["df"]
    assert rel(table["p_value"].iloc[1], ref["p_value"]) < 1e-6
    assert list(table.index) == [RI, SLOPE]


@needs_reference
def test_anova_rows_ordered_by_npar(ml_pair):
    m0, m1 = ml_pair
    a, b = pywemix.anova(m0, m1), pywemix.anova(m1, m0)
    pd.testing.assert_frame_equal(a, b)
    assert list(b["npar"]) == sorted(b["npar"])


@needs_reference
def test_anova_notes_mention_boundary(ml_pair):
    notes = pywemix.anova(*ml_pair).attrs["notes"]
    assert any("boundary" in n for n in notes)


@needs_reference
def test_anova_on_different_data_is_an_error(sleep, ml_pair):
    m0, _ = ml_pair
    dropped = _mix(SLOPE, sleep.iloc[5:])
    with pytest.raises(ValueError, match="different data"):
        pywemix.anova(m0, dropped)
    other_y = sleep.assign(Reaction=sleep["Reaction"] + 1.0)
    with pytest.raises(ValueError, match="different data"):
        pywemix.anova(m0, _mix(SLOPE, other_y))


@needs_reference
def test_anova_non_nested_is_an_error(sleep):
    a = _mix("Reaction ~ Days + (1|Subject)", sleep)
    b = _mix("Reaction ~ x + (1|Subject)", sleep)
    c = _mix("Reaction ~ x + x2 + (1|Subject)", sleep)
    with pytest.raises(ValueError, match="not nested"):
        pywemix.anova(a, b)
    with pytest.raises(ValueError, match="not nested"):
        pywemix.anova(a, c)
    with pytest.raises(ValueError, match="not nested"):
        pywemix.anova(c, a)


@needs_reference
def test_anova_reml_different_fixed_effects(sleep):
    small, big = "Reaction ~ Days + (1|Subject)", "Reaction ~ Days + x + (1|Subject)"
    r0, r1 = _mix(small, sleep, reml=True), _mix(big, sleep, reml=True)
    with pytest.raises(ValueError, match="refit"):
        pywemix.anova(r0, r1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        refitted = pywemix.anova(r0, r1, refit=True)
    ml = pywemix.anova(_mix(small, sleep), _mix(big, sleep))
    pd.testing.assert_frame_equal(refitted, ml, rtol=1e-8)


@needs_reference
def test_anova_refit_keeps_offset_and_centering(sleep):
    d = sleep.assign(off=0.3 * sleep["Days"] + np.sin(np.arange(len(sleep))))
    kw = dict(offset="off", center_grand=["Days"])
    small, big = "Reaction ~ Days + (1|Subject)", "Reaction ~ Days + x + (1|Subject)"
    r0, r1 = _mix(small, d, reml=True, **kw), _mix(big, d, reml=True, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        refitted = pywemix.anova(r0, r1, refit=True)
    ml = pywemix.anova(_mix(small, d, **kw), _mix(big, d, **kw))
    pd.testing.assert_frame_equal(refitted, ml, rtol=1e-8)


@needs_reference
def test_anova_reml_same_fixed_effects_compares_restricted_llf(sleep):
    r0, r1 = _mix(RI, sleep, reml=True), _mix(SLOPE, sleep, reml=True)
    table = pywemix.anova(r0, r1)
    ref = LME4
    np.testing.assert_allclose(
        table["llf"], [ref["sleep_ri_reml"]["llf"], ref["sleep_slope_reml"]["llf"]], rtol=1e-6
    )


@needs_reference
def test_anova_weighted_fits_warn(sleep):
    w0 = _mix(RI, sleep, weights=["W1", "W2"])
    w1 = _mix(SLOPE, sleep, weights=["W1", "W2"])
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        table = pywemix.anova(w0, w1)
    assert any("pseudo" in n for n in table.attrs["notes"])


def test_anova_bad_input():
    d = _small(3)
    m = _mix("y ~ 1 + (1|g)", d)
    with pytest.raises(ValueError):
        pywemix.anova(m)
    with pytest.raises(TypeError):
        pywemix.anova(m, "not a model")


# -- bootstrap_lrt -----------------------------------------------------------


@needs_reference
def test_bootstrap_reproducible_with_seed(ml_pair):
    m0, m1 = ml_pair
    a = _boot(m0, m1, n=30, seed=7)
    b = _boot(m0, m1, n=30, seed=7)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.p_value == b.p_value and a.n == b.n == 30
    c = _boot(m0, m1, n=30, seed=8)
    assert not np.array_equal(a.replicates, c.replicates)
    # argument order does not matter
    d = _boot(m1, m0, n=30, seed=7)
    np.testing.assert_array_equal(a.replicates, d.replicates)


def test_bootstrap_thread_pool_identical():
    d = _small(7)
    m0, m1 = _mix("y ~ 1 + (1|g)", d), _mix("y ~ x + (1|g)", d)
    n = 600  # three chunks of replicates
    serial = _boot(m0, m1, n=n, seed=3)
    with ThreadPoolExecutor(max_workers=3) as ex:
        threaded = _boot(m0, m1, n=n, seed=3, executor=ex)
    np.testing.assert_array_equal(serial.replicates, threaded.replicates)
    assert serial.p_value == threaded.p_value


def test_bootstrap_survives_singular_newton_candidate():
    """A Newton candidate far out (S_XX numerically singular) is rejected, not fatal."""
    d = _small(5)
    m0, m1 = _mix("y ~ 1 + (1|g)", d), _mix("y ~ x + (1|g)", d)
    b = _boot(m0, m1, n=50, seed=5)
    assert b.n == 50 and np.all(np.isfinite(b.replicates))


@needs_reference
def test_bootstrap_refits_equal_full_fits(sleep):
    # shuffled rows and a non-default index: simulate() returns the data's row
    # order, the bootstrap works in the design's sorted order
    data = sleep.sample(frac=1.0, random_state=4).set_index(
        pd.Index(np.arange(1000, 1000 + len(sleep))[::-1])
    )
    m0, m1 = _mix(RI, data), _mix(SLOPE, data)
    n, seed = 6, 21
    boot = _boot(m0, m1, n=n, seed=seed)
    sims = m0.simulate(n, seed=seed)
    assert sims.index.equals(m0.fittedvalues.index)
    for k in range(4):
        d = data.copy()
        d["Reaction"] = sims.iloc[:, k].reindex(d.index).to_numpy()
        f0, f1 = _mix(RI, d), _mix(SLOPE, d)
        assert 2 * (f1.llf - f0.llf) == pytest.approx(boot.replicates[k], rel=1e-6, abs=1e-6)


@needs_reference
def test_bootstrap_result_fields(ml_pair):
    m0, m1 = ml_pair
    b = _boot(m0, m1, n=40, seed=2)
    assert 0 < b.p_value <= 1
    assert b.n == len(b.replicates) == 40
    assert b.mc_error == pytest.approx(np.sqrt(b.p_value * (1 - b.p_value) / b.n))
    assert b.statistic == pytest.approx(2 * (m1.llf - m0.llf))
    assert b.df == 2
    assert b.chi2_p_value == pytest.approx(stats.chi2.sf(b.statistic, 2))
    # the observed statistic (42) is far beyond any null replicate
    assert b.p_value == pytest.approx(1 / 41)
    assert np.all(b.replicates >= -1e-6)


@needs_reference
def test_bootstrap_weighted_needs_allow_weighted(sleep):
    w0 = _mix(RI, sleep, weights=["W1", "W2"])
    w1 = _mix(SLOPE, sleep, weights=["W1", "W2"])
    with pytest.raises(ValueError, match="allow_weighted"):
        _boot(w0, w1, n=5, seed=1)
    b = _boot(w0, w1, n=5, seed=1, allow_weighted=True)
    assert b.n == 5 and 0 < b.p_value <= 1


def test_bootstrap_bad_n():
    d = _small(3)
    m0, m1 = _mix("y ~ 1 + (1|g)", d), _mix("y ~ x + (1|g)", d)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            _boot(m0, m1, n=bad, seed=1)


def test_bootstrap_calibrated_under_the_null():
    """With the null model true, bootstrap p-values are roughly U(0, 1).

    50 data sets (15 groups x 6 rows) from a random-intercept model; the
    alternative adds a fixed effect of an irrelevant covariate. 200 bootstrap
    replicates each (about 5 s).
    """
    pvals = []
    for s in range(50):
        d = _small(1000 + s)
        m0, m1 = _mix("y ~ 1 + (1|g)", d), _mix("y ~ x + (1|g)", d)
        pvals.append(_boot(m0, m1, n=200, seed=s).p_value)
    pvals = np.array(pvals)
    assert np.all((pvals > 0) & (pvals <= 1))
    assert stats.kstest(pvals, "uniform").pvalue > 0.001
    assert 0.0 < np.mean(pvals < 0.1) < 0.3


# -- matching the rows of two fits ---------------------------------------------


def _pair(d0, d1=None):
    d1 = d0 if d1 is None else d1
    return _mix("y ~ 1 + (1|g)", d0), _mix("y ~ x + (1|g)", d1)


def test_bootstrap_pairs_rows_by_label_when_order_differs():
    d = _small(20)
    shuffled = d.sample(frac=1.0, random_state=2)  # same labels, other order
    a = _boot(*_pair(d), n=40, seed=9)
    b = _boot(*_pair(d, shuffled), n=40, seed=9)
    np.testing.assert_allclose(b.replicates, a.replicates, rtol=1e-6, atol=1e-8)
    assert b.p_value == a.p_value
    assert np.all(b.replicates >= -1e-6)
    pd.testing.assert_frame_equal(pywemix.anova(*_pair(d, shuffled)), pywemix.anova(*_pair(d)))


def test_bootstrap_duplicate_index_labels_use_positions():
    d = _small(22)
    dup = d.set_index(pd.Index([0] * len(d)))
    a = _boot(*_pair(d), n=40, seed=4)
    b = _boot(*_pair(dup), n=40, seed=4)
    np.testing.assert_allclose(b.replicates, a.replicates, rtol=1e-10, atol=1e-10)
    assert b.p_value == a.p_value
    assert np.isfinite(pywemix.anova(*_pair(dup))["p_value"].iloc[1])


def test_reordered_rows_with_a_fresh_index_are_refused():
    d = _small(23)
    fresh = d.sort_values(["x", "y"]).reset_index(drop=True)  # no way to match rows
    with pytest.raises(ValueError, match="same rows"):
        _boot(*_pair(d, fresh), n=10, seed=1)
    with pytest.raises(ValueError, match="same rows"):
        pywemix.anova(*_pair(d, fresh))


def test_permuted_response_is_different_data():
    d = _small(24)
    other = d.assign(y=np.random.default_rng(0).permutation(d["y"].to_numpy()))
    with pytest.raises(ValueError, match="different data"):
        pywemix.anova(*_pair(d, other))
    with pytest.raises(ValueError, match="different data"):
        _boot(*_pair(d, other), n=10, seed=1)


@needs_reference
@pytest.mark.parametrize(
    "kw, what",
    [
        (dict(weight_scaling="size"), "Weight scaling"),
        (dict(survey="NAEP"), "Survey preset"),
        (dict(center_grand=["Days"]), "Centering"),
        (dict(center_group={"Subject": ["Days"]}), "Centering"),
    ],
)
def test_different_fit_settings_are_refused(sleep, kw, what):
    w = ["W1", "W2"]
    m0 = _mix(RI, sleep, weights=w)
    m1 = _mix(SLOPE, sleep, weights=w, **kw)
    with pytest.raises(ValueError, match=what):
        pywemix.anova(m0, m1)
    with pytest.raises(ValueError, match=what):
        pywemix.anova(m1, m0)
    with pytest.raises(ValueError, match=what):
        _boot(m0, m1, n=5, seed=1, allow_weighted=True)


def test_settings_records_compare_typed_values():
    from pywemix.results import FitSettings

    base = FitSettings("y ~ 1 + (1|g)", weight_spec=("w1", "w2"))
    alike = FitSettings("y ~ x + (1|g)", weight_spec=("w1", "w2"), reml=True)
    assert base.differences(alike) == []
    other = FitSettings(
        "y ~ x + (1|g)",
        weight_spec=("w1", "w2"),
        weight_scaling="size",
        center_group=(("g", ("x",)),),
        center_grand=("x",),
    )
    diff = base.differences(other)
    assert [d[0] for d in diff] == ["Weight scaling", "Centering"]
    assert diff[1][1:] == ("none", "x within g; x grand mean")
    assert [
        d[0]
        for d in base.differences(
            FitSettings("y ~ 1 + (1|g)", cond_weights=True, weight_spec=("w1", "w2"))
        )
    ] == ["Conditional weights"]


@pytest.mark.parametrize(
    "change, label",
    [
        (dict(survey="PISA"), "Survey preset"),
        (dict(weight_scaling="effective"), "Weight scaling"),
        (dict(cond_weights=True), "Conditional weights"),
        (dict(weight_spec=("w", None)), "Weights"),
    ],
)
def test_anova_and_bootstrap_compare_settings_records(change, label):
    # the fits' records differ, everything else is identical: the records decide
    from dataclasses import replace

    from pywemix.results import make_result

    d = _small(30)
    m0, m1 = _mix("y ~ 1 + (1|g)", d), _mix("y ~ x + (1|g)", d)
    m1b = make_result(
        m1.design,
        replace(m1.settings, **change),
        m1.optimization,
        m1.variance_estimate,
        m1.warnings,
    )
    assert np.isfinite(pywemix.anova(m0, m1)["p_value"].iloc[1])
    with pytest.raises(ValueError, match=f"different settings: {label}"):
        pywemix.anova(m0, m1b)
    with pytest.raises(ValueError, match=f"different settings: {label}"):
        _boot(m0, m1b, n=5, seed=1, allow_weighted=True)


def test_different_offsets_are_refused():
    d = _small(25)
    d = d.assign(off=0.1 * d["x"], off2=0.2 * d["x"])
    no_offset, off, off2 = (_mix("y ~ 1 + (1|g)", d, offset=o) for o in (None, "off", "off2"))
    big = _mix("y ~ x + (1|g)", d, offset="off")
    for small in (no_offset, off2):
        with pytest.raises(ValueError, match="different offsets"):
            pywemix.anova(small, big)
        with pytest.raises(ValueError, match="different offsets"):
            _boot(small, big, n=5, seed=1)
    assert np.isfinite(pywemix.anova(off, big)["p_value"].iloc[1])


def test_arguments_that_are_not_fits():
    m0, m1 = _pair(_small(3))
    with pytest.raises(TypeError, match="m1 must be a fitted model.*str"):
        _boot(m0, "x", n=5)
    with pytest.raises(TypeError, match="m0 must be a fitted model.*NoneType"):
        _boot(None, m1, n=5)
    with pytest.raises(TypeError, match="model 2 must be a fitted model.*int"):
        pywemix.anova(m0, 3)
    with pytest.raises(TypeError, match="executor must have a callable map"):
        _boot(m0, m1, n=5, seed=1, executor=1)
    with pytest.raises(TypeError, match="seed"):
        _boot(m0, m1, n=5, seed="one")
    with pytest.raises(TypeError, match="refit must be True or False"):
        pywemix.anova(m0, m1, refit="yes")


def test_plausible_value_results_are_refused():
    d = _small(3).assign(y2=lambda f: f["y"] + 0.1)
    pv = _mix("y ~ x + (1|g)", d, plausible_values={"y": ["y", "y2"]})
    m0 = _mix("y ~ 1 + (1|g)", d)
    with pytest.raises(TypeError, match="plausible-value"):
        pywemix.anova(m0, pv)
    with pytest.raises(TypeError, match="plausible-value"):
        _boot(m0, pv, n=5)
