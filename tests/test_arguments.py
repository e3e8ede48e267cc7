"""The checked arguments of mix, one frozen record (pywemix.arguments)."""

from __future__ import annotations

import dataclasses
import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

import pywemix
from pywemix.arguments import MixArguments
from pywemix.design.scaling import PRESET_NONE

MIX_PARAMETERS = [
    "formula",
    "weights",
    "cond_weights",
    "family",
    "link",
    "n_quad",
    "offset",
    "trials",
    "center_group",
    "center_grand",
    "weight_scaling",
    "survey",
    "plausible_values",
    "executor",
    "reml",
    "start",
    "max_iter",
    "replicates",
    "by",
]


def _args(**kw):
    given = dict(
        formula="y ~ x + (1|g)",
        weights=None,
        cond_weights=False,
        family="gaussian",
        link=None,
        n_quad=13,
        offset=None,
        trials=None,
        center_group=None,
        center_grand=None,
        weight_scaling="none",
        survey=None,
        plausible_values=None,
        executor=None,
        reml=False,
        start=None,
        max_iter=None,
        replicates=None,
        by=None,
    )
    given.update(kw)
    return MixArguments(**given)


def test_the_record_has_a_field_per_parameter_of_mix():
    import inspect

    params = [p for p in inspect.signature(pywemix.mix).parameters if p != "data"]
    assert params == MIX_PARAMETERS
    init = [f.name for f in dataclasses.fields(MixArguments) if f.init]
    assert init == MIX_PARAMETERS


def test_checks_and_derived_fields():
    a = _args(family="binomial", link="probit", n_quad=5, center_grand="x", survey="pisa")
    assert a.family_object.name == "binomial" and a.family_object.link == "probit"
    assert a.preset.name == "PISA" and a.survey_name == "PISA" and a.scaling == "size"
    assert a.grand == ["x"] and a.transform is not None and a.parsed.response == "y"
    assert _args(survey="TIMSS").scaling == PRESET_NONE
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.n_quad = 3
    for bad, exc in [
        (dict(n_quad=0), ValueError),
        (dict(n_quad=2.5), TypeError),
        (dict(cond_weights="yes"), TypeError),
        (dict(reml=1), TypeError),
        (dict(n_quad=10**4), ValueError),
        (dict(survey="CIVED"), ValueError),
        (dict(family="binomial", reml=True), ValueError),
        (dict(center_group={"h": ["x"]}), ValueError),
    ]:
        with pytest.raises(exc):
            _args(**bad)


def test_replace_checks_again():
    a = _args(reml=True)
    b = a.replace(reml=False)
    assert b.reml is False and a.reml is True and b.parsed == a.parsed
    with pytest.raises(ValueError, match="n_quad"):
        a.replace(n_quad=0)


def test_pickling_leaves_the_executor_behind():
    with ThreadPoolExecutor(1) as ex:
        a = _args(executor=ex, center_grand=["x"])
        b = pickle.loads(pickle.dumps(a))
    assert a.executor is ex and b.executor is None
    assert b.formula == a.formula and b.grand == ["x"] and b.transform is not None


def test_a_fit_keeps_its_arguments():
    data = pywemix.datasets.load_sleepstudy()
    r = pywemix.mix("Reaction ~ Days + (1|Subject)", data, reml=True)
    assert isinstance(r.arguments, MixArguments) and r.arguments.reml is True
    assert r.arguments.formula == r.formula
