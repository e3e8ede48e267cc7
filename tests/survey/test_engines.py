"""Where a sample is fitted (pywemix.survey.engines): in memory or on Dask. Until the
Dask replication engine exists, replicate weights on a Dask DataFrame are refused,
never replaced by the sandwich (issue 19)."""
from __future__ import annotations

import numpy as np
import pytest

import pywemix
from conftest import quiet_mix
from pywemix.survey.engines import InMemory, OnDask, engine_for

dd = pytest.importorskip("dask.dataframe")

FORMULA = "pv1math ~ escs + (1|schoolid)"


@pytest.fixture(scope="module")
def reps():
    return pywemix.datasets.load_pisa_replicates()


def test_engine_by_kind_of_data(reps):
    assert engine_for(reps) is InMemory
    assert engine_for(dd.from_pandas(reps, npartitions=2)) is OnDask


@pytest.mark.parametrize("survey", ["PISA", "TIMSS"])
def test_preset_replicates_on_dask_are_refused(reps, survey):
    ddf = dd.from_pandas(reps, npartitions=2)
    weights = ["pwt1", "pwt2"] if survey == "PISA" else ["w_fstuwt", "pwt2"]
    with pytest.raises(NotImplementedError, match=rf"not computed on a Dask DataFrame yet "
                       rf"\(survey='{survey}' found its replicate columns .*ddf\[columns\]"
                       r"\.compute\(\).*replicates=False"):
        pywemix.mix(FORMULA, ddf, weights, cond_weights=survey == "PISA", survey=survey)


def test_explicit_replicates_on_dask_are_refused(reps):
    ddf = dd.from_pandas(reps, npartitions=2)
    rep = pywemix.Replicates("w_fsturwt1-80", full_weight="w_fstuwt")
    with pytest.raises(NotImplementedError, match="replicates=Replicates"):
        pywemix.mix(FORMULA, ddf, ["pwt1", "pwt2"], cond_weights=True, replicates=rep)
    with pytest.raises(ValueError, match="by= needs a data frame in memory"):
        pywemix.mix(FORMULA, ddf, ["pwt1", "pwt2"], cond_weights=True, by="jkzone")


def test_dask_with_replicates_false_or_no_replicate_columns_is_the_sandwich(reps):
    ddf = dd.from_pandas(reps, npartitions=2)
    mem = quiet_mix(FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA",
                    replicates=False)
    res = quiet_mix(FORMULA, ddf, ["pwt1", "pwt2"], cond_weights=True, survey="PISA",
                    replicates=False)
    assert res.default_kind == "robust"
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-6)
    bare = dd.from_pandas(reps.drop(columns=[f"w_fsturwt{i}" for i in range(1, 81)]),
                          npartitions=2)
    with pytest.warns(pywemix.SurveyWarning, match="W_FSTURWT1..W_FSTURWT80"):
        pywemix.mix(FORMULA, bare, ["pwt1", "pwt2"], cond_weights=True, survey="PISA",
                    weight_scaling="size")
