"""The survey dispatch (pywemix.survey.dispatch): preset -> by -> replicates /
plausible values / plain, checked before any fit."""

from __future__ import annotations

import pytest

import pywemix
from pywemix.survey.dispatch import fit_survey

FORMULA = "pv1math ~ escs + (1|schoolid)"


@pytest.fixture(scope="module")
def reps():
    return pywemix.datasets.load_pisa_replicates()


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(replicates="w_fsturwt1-80"), TypeError, "replicates must be a pywemix.Replicates"),
        (dict(plausible_values=["pv1math"]), TypeError, "plausible_values must be a dict"),
        (dict(by=3), TypeError, "by must be a column name"),
        (dict(executor=object()), TypeError, "executor must have a callable map method"),
    ],
)
def test_survey_arguments_are_checked_before_any_fit(reps, kw, exc, match, monkeypatch):
    import pywemix.survey.engines as engines

    def not_called(*args, **kwargs):
        raise AssertionError("a model was fitted")

    monkeypatch.setattr(engines, "fit_frame", not_called)
    with pytest.raises(exc, match=match):
        pywemix.mix(FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, **kw)


def test_mix_is_the_dispatch_of_its_record(reps):
    a = pywemix.mix(FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA")
    b = fit_survey(a.full.arguments, reps)
    assert isinstance(b, pywemix.ReplicateResult)
    assert (a.bse == b.bse).all()
    plain = pywemix.mix(
        FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA", replicates=False
    )
    assert isinstance(plain, pywemix.MixResult) and plain.settings.survey == "PISA"
