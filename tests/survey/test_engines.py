"""Where a sample is fitted (pywemix.survey.engines): in memory or on Dask. Replicate
weights on a Dask DataFrame are refitted on the workers (tests/survey/test_dask_refit.py
compares every kind with pandas), never replaced by the sandwich (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

import pywemix
from pywemix.arguments import MixArguments
from pywemix.survey.engines import InMemory, OnDask, engine_for

from conftest import quiet_mix

dd = pytest.importorskip("dask.dataframe")

FORMULA = "pv1math ~ escs + (1|schoolid)"


@pytest.fixture(scope="module")
def reps():
    return pywemix.datasets.load_pisa_replicates()


def _args(**kw):
    given = dict(
        formula=FORMULA,
        weights=["pwt1", "pwt2"],
        cond_weights=True,
        family="gaussian",
        link=None,
        n_quad=13,
        offset=None,
        center_group=None,
        center_grand=None,
        weight_scaling=None,
        survey=None,
        plausible_values=None,
        executor=None,
        reml=False,
        start=None,
        max_iter=None,
        replicates=None,
        by=None,
        trials=None,
    )
    return MixArguments(**dict(given, **kw))


def test_engine_by_kind_of_data(reps):
    assert engine_for(reps) is InMemory
    assert engine_for(dd.from_pandas(reps, npartitions=2)) is OnDask


@pytest.mark.parametrize("survey", ["PISA", "TIMSS"])
def test_preset_replicates_on_dask_are_those_in_memory(reps, survey):
    """What OnDask.replicates finds: the preset's columns, or JK2 weights as
    columns computed on the partitions (equal to jackknife_weights')."""
    ddf = dd.from_pandas(reps, npartitions=2)
    args = (
        _args(survey=survey)
        if survey == "PISA"
        else _args(survey=survey, weights=["totwgt", "pwt2"], cond_weights=False)
    )
    data, rep = OnDask.replicates(args, ddf)
    _, mem = InMemory.replicates(args, reps)
    assert rep.columns == mem.columns and rep.describe() == mem.describe()
    if survey == "TIMSS":
        assert rep.full_weight == "totwgt" and mem.frame is not None and rep.frame is None
        np.testing.assert_array_equal(data[rep.columns].compute().to_numpy(), mem.frame.to_numpy())
    else:
        assert data is ddf and rep.full_weight == mem.full_weight == "w_fstuwt"
    assert OnDask.replicates(args.replace(replicates=False), ddf) == (ddf, None)


def test_explicit_replicates_on_dask_are_checked_before_the_fit(reps):
    ddf = dd.from_pandas(reps, npartitions=2)
    rep = pywemix.Replicates("w_fsturwt1-81", full_weight="w_fstuwt")
    with pytest.raises(
        ValueError, match="replicate weight column 'w_fsturwt81' is not in the data"
    ):
        OnDask.replicates(_args(replicates=rep), ddf)


def test_dask_with_replicates_false_or_no_replicate_columns_is_the_sandwich(reps):
    ddf = dd.from_pandas(reps, npartitions=2)
    mem = quiet_mix(
        FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA", replicates=False
    )
    res = quiet_mix(
        FORMULA, ddf, ["pwt1", "pwt2"], cond_weights=True, survey="PISA", replicates=False
    )
    assert res.default_kind == "robust"
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-6)
    bare = dd.from_pandas(reps.drop(columns=[f"w_fsturwt{i}" for i in range(1, 81)]), npartitions=2)
    with pytest.warns(pywemix.SurveyWarning, match="W_FSTURWT1..W_FSTURWT80"):
        pywemix.mix(
            FORMULA, bare, ["pwt1", "pwt2"], cond_weights=True, survey="PISA", weight_scaling="size"
        )
