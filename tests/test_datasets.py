"""The bundled example data sets (pywemix.datasets) load as documented."""
from __future__ import annotations

import numpy as np

import pywemix
from pywemix.datasets import load_pisa, load_sleepstudy


def test_pisa_example_has_the_documented_columns():
    data = load_pisa()
    expected = {"schoolid", "escs", "st04q01", "st29q03", "sc14q02", "pwt1", "pwt2",
                "highmath"} | {f"pv{i}math" for i in range(1, 6)}
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
