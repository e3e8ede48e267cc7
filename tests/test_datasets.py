"""The bundled example data sets (pywemix.datasets) load as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd

import pywemix
from pywemix.datasets import load_pisa, load_sleepstudy

from conftest import quiet_mix


def test_pisa_example_has_the_documented_columns():
    data = load_pisa()
    expected = {"schoolid", "escs", "st04q01", "st29q03", "sc14q02", "pwt1", "pwt2", "highmath"} | {
        f"pv{i}math" for i in range(1, 6)
    }
    assert expected <= set(data.columns)
    assert (data[["pwt1", "pwt2"]] > 0).all().all()
    assert set(data["highmath"].dropna().unique()) <= {0, 1}
    assert data["escs"].isna().any() and not data["pv1math"].isna().any()
    # the school weight is constant within a school
    assert (data.groupby("schoolid")["pwt2"].nunique() == 1).all()


def test_sleepstudy_has_the_documented_shape():
    sleep = load_sleepstudy()
    assert len(sleep) == 180
    assert sleep["Subject"].nunique() == 18
    assert isinstance(sleep["Subject"].iloc[0], str)
    assert sorted(sleep["Days"].unique()) == list(range(10))


def test_datasets_are_reachable_from_the_package():
    assert pywemix.datasets.load_sleepstudy().equals(load_sleepstudy())
    assert np.isfinite(load_pisa()["pv1math"]).all()


def test_pisa_replicates_are_fay_weights_of_the_total_weight():
    data = pywemix.datasets.load_pisa_replicates()
    base = pywemix.datasets.load_pisa()
    pd.testing.assert_frame_equal(data[base.columns], base)
    pd.testing.assert_frame_equal(data, pywemix.datasets.load_pisa_replicates())  # fixed
    total = base["pwt1"] * base["pwt2"]
    np.testing.assert_allclose(data["w_fstuwt"], total)
    np.testing.assert_allclose(data["totwgt"], total)
    reps = data[[f"w_fsturwt{r}" for r in range(1, 81)]].to_numpy()
    factor = reps / total.to_numpy()[:, None]
    np.testing.assert_allclose(np.sort(np.unique(np.round(factor, 12))), [0.5, 1.5])
    # one factor per school; within a zone the first school's is the others' mirror
    per_school = pd.DataFrame(np.round(factor, 12)).groupby(data["schoolid"].to_numpy()).nunique()
    assert (per_school.to_numpy() == 1).all()
    first = data["jkrep"].to_numpy() == 1
    for z in np.unique(data["jkzone"]):
        rows = (data["jkzone"] == z).to_numpy()
        a, b = factor[rows & first], factor[rows & ~first]
        assert len(a) and len(b)
        np.testing.assert_allclose(a[0] + b[0], 2.0)
    # the replicates are balanced over the pseudo-strata (Hadamard rows)
    assert data.groupby("jkzone")["schoolid"].nunique().between(2, 3).all()


def test_presets_find_the_replicates():
    data = pywemix.datasets.load_pisa_replicates()
    pisa = quiet_mix(
        "pv1math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"], cond_weights=True, survey="PISA"
    )
    assert pisa.method == "Fay's BRR, 80 replicates, k = 0.5"
    timss = quiet_mix("pv1math ~ escs + (1|schoolid)", data, ["totwgt", "pwt2"], survey="TIMSS")
    assert timss.n_replicates == 2 * data["jkzone"].nunique()
