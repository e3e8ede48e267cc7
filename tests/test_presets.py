"""The survey preset registry (pywemix.presets): one frozen record per survey."""

from __future__ import annotations

import dataclasses

import pytest

from pywemix.presets import PRESETS, ReplicateScheme, SurveyPreset, WeightRule, survey_preset


def test_every_preset_is_a_frozen_record_found_by_name_or_alias():
    names = [p.name for p in PRESETS]
    assert names == ["PISA", "TIMSS", "TIMSS ADVANCED", "PIRLS", "NAEP", "TALIS"]
    for p in PRESETS:
        assert isinstance(p, SurveyPreset) and isinstance(p.weights, WeightRule)
        assert survey_preset(p.name) is p and survey_preset(p.name.lower()) is p
        for alias in p.aliases:
            assert survey_preset(alias) is p
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.name = "X"
    assert survey_preset("timss_advanced").name == "TIMSS ADVANCED"
    assert survey_preset("TimssAdv").name == "TIMSS ADVANCED"


def test_weight_rules_follow_the_edsurvey_note():
    """Table 1 of the EdSurvey note: PISA method A at level 1; TIMSS, TIMSS Advanced
    and PIRLS total student weight / school weight, unscaled; NAEP no scaling;
    TALIS teacher weight / school weight, then method A."""
    rules = {p.name: p.weights for p in PRESETS}
    assert (rules["PISA"].scaling, rules["PISA"].unconditional) == ("size", False)
    for name in ("TIMSS", "TIMSS ADVANCED", "PIRLS"):
        assert (rules[name].scaling, rules[name].unconditional) == ("none", True)
        assert rules[name].columns == ("TOTWGT", "SCHWGT")
    assert (rules["NAEP"].scaling, rules["NAEP"].unconditional) == ("none", False)
    assert (rules["TALIS"].scaling, rules["TALIS"].unconditional) == ("size", True)


def test_replicate_schemes():
    by_name = {p.name: p.replicates for p in PRESETS}
    pisa = by_name["PISA"]
    assert (pisa.method, pisa.fay, pisa.full_weight) == ("fay", 0.5, "W_FSTUWT")
    assert pisa.columns == tuple(f"W_FSTURWT{i}" for i in range(1, 81))
    assert pisa.needed == pisa.columns + ("W_FSTUWT",)
    for name in ("TIMSS", "TIMSS ADVANCED", "PIRLS"):
        assert by_name[name] == ReplicateScheme("jk2", zones=("JKZONE", "JKREP", "TOTWGT"))
    naep = by_name["NAEP"]
    assert naep.method == "jk2" and naep.columns[0] == "SRWT01" and len(naep.columns) == 62
    talis = by_name["TALIS"]
    assert (talis.method, talis.full_weight, len(talis.columns)) == ("fay", "TCHWGT", 100)


def test_unknown_or_odd_names():
    with pytest.raises(ValueError, match="unknown survey preset 'CIVED'; known: PISA, TIMSS"):
        survey_preset("CIVED")
    with pytest.raises(TypeError, match="survey must be the name of a survey preset"):
        survey_preset(3)


def test_one_record_per_survey_with_its_naming_rules():
    """Every survey is known once: its naming rules (plausible values, level
    weights, school keys), weight rule, scaling and replicate scheme in one
    record, read by mix(survey=...) and by read_survey alike."""
    keys = [k for p in PRESETS for k in (p.name, *p.aliases)]
    assert len({k.upper().replace(" ", "") for k in keys}) == len(keys)
    for p in PRESETS:
        assert p.title and p.weights.levels and p.weights.explanation
        assert p.weights.columns == tuple(c[0] for c in p.weights.levels)
        assert p.replicates is not None and p.signature
        assert p.school_keys
    pisa = survey_preset("PISA")
    assert pisa.weights.levels == (("W_FSTUWT",), ("W_SCHGRNRABWT", "W_FSCHWT"))
    assert pisa.replicates.prefixes == ("W_FSTURWT", "W_FSTR") and pisa.country == "CNT"
    assert pisa.plausible_values[0].match("PV10MATH") == ("math", 10)
    assert "method B" in pisa.weights.explanation  # EdSurvey's code, not its note
    adv = survey_preset("TIMSS Advanced")
    assert adv.plausible_values[0].match("MSMMAT01") == ("mmat", 1)
    assert survey_preset("TIMSS").plausible_values[0].match("MSMMAT01") is None
    assert survey_preset("NAEP").replicates.columns[-1] == "SRWT62"
