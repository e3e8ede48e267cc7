"""Each survey's naming rules (the registry, ``pywemix.presets``), applied by
``survey/detect.py`` as the registry documents them."""

import pytest

import pywemix
from pywemix.io import NameIndex
from pywemix.presets import survey_preset
from pywemix.survey.detect import detect_survey, find_plausible_values, find_weights


@pytest.mark.parametrize(
    "survey, column, expected",
    [
        ("PISA", "PV1MATH", ("math", 1)),
        ("PISA", "PV10MATH", ("math", 10)),
        ("PISA", "pv3mccr", ("mccr", 3)),
        ("PISA", "PV7FLIT", ("flit", 7)),
        ("PISA", "PV2MATH1", ("math1", 2)),
        ("PISA", "PVX", None),
        ("PISA", "W_FSTUWT", None),
        ("TIMSS", "BSMMAT01", ("mmat", 1)),
        ("TIMSS", "BSSSCI05", ("ssci", 5)),
        ("TIMSS", "BSMALG03", ("malg", 3)),
        ("TIMSS", "ASMMAT02", ("mmat", 2)),
        ("TIMSS", "MSMMAT01", None),
        ("TIMSS ADVANCED", "MSMMAT01", ("mmat", 1)),
        ("TIMSS ADVANCED", "PSPPHY03", ("pphy", 3)),
        ("TIMSS ADVANCED", "BSMMAT01", None),
        ("TIMSS", "BSMIBM01", None),
        ("TIMSS", "BSBG10A", None),
        ("PIRLS", "ASRREA01", ("rrea", 1)),
        ("PIRLS", "ASRIBM01", None),
        ("NAEP", "MRPCM1", ("composite", 1)),
        ("NAEP", "MRPCM20", ("composite", 20)),
        ("NAEP", "MRPSCA12", ("sca", 12)),
        ("NAEP", "ORIGWT", None),
    ],
)
def test_plausible_value_names(survey, column, expected):
    rules = survey_preset(survey).plausible_values
    assert next((r.match(column) for r in rules if r.match(column)), None) == expected


def test_naep_scales_from_variable_labels():
    names = NameIndex(["V1", "V2", "V3", "V4"])
    labels = {
        "V1": "Plausible NAEP math value #1 (num & oper)",
        "V2": "Plausible NAEP math value #2 (num & oper)",
        "V3": "PLAUSIBLE NAEP MATH VALUE #1 (COMPOSITE)",
        "V4": "PLAUSIBLE NAEP MATH VALUE #2 (COMPOSITE)",
    }
    assert find_plausible_values(survey_preset("NAEP"), names, labels) == {
        "num_oper": ["V1", "V2"],
        "composite": ["V3", "V4"],
    }


def test_detection_by_signature():
    assert detect_survey(NameIndex(["w_fstuwt", "PV1MATH"])).name == "PISA"
    iea = ["TOTWGT", "JKZONE", "JKREP"]
    assert detect_survey(NameIndex(iea + ["BSMMAT01", "BSMMAT02"])).name == "TIMSS"
    assert detect_survey(NameIndex(iea + ["ASRREA01", "ASRREA02"])).name == "PIRLS"
    assert detect_survey(NameIndex(iea + ["MSMMAT01", "MSMMAT02"])).name == "TIMSS ADVANCED"
    assert detect_survey(NameIndex(iea)) is None  # TIMSS or PIRLS: cannot tell
    assert detect_survey(NameIndex(["TCHWGT", "TRWGT1"])).name == "TALIS"
    assert detect_survey(NameIndex(["ORIGWT", "SRWT01"])).name == "NAEP"
    assert detect_survey(NameIndex(["y", "x"])) is None


def test_weights_follow_the_edsurvey_note():
    # TIMSS/PIRLS: TOTWGT / SCHWGT at level 1 = total weights, unconditional
    w = find_weights(survey_preset("TIMSS"), NameIndex(["totwgt", "schwgt"]))
    assert w.columns == ("totwgt", "schwgt") and not w.conditional and "eq. 5" in w.rule
    old = find_weights(survey_preset("PISA"), NameIndex(["W_FSTUWT", "W_FSCHWT"]))
    assert old.columns == ("W_FSTUWT", "W_FSCHWT")
    lack = find_weights(survey_preset("TIMSS"), NameIndex(["TOTWGT"]))
    assert lack.columns == ("TOTWGT", None) and lack.missing == ("SCHWGT",)


def test_replicate_columns_one_finder_for_files_and_frames():
    from pywemix.survey.detect import find_replicate_columns

    pisa, naep, timss = (survey_preset(n) for n in ("PISA", "NAEP", "TIMSS"))
    found = find_replicate_columns(
        pisa, NameIndex(["w_fstuwt"] + [f"w_fsturwt{r}" for r in range(80, 0, -1)])
    )
    assert found.columns == tuple(f"w_fsturwt{r}" for r in range(1, 81))  # in order
    assert found.full_weight == "w_fstuwt" and not found.from_zones
    rep = found.replicates()
    assert (rep.method, rep.fay, rep.full_weight) == ("fay", 0.5, "w_fstuwt")
    old = find_replicate_columns(
        pisa, NameIndex(["W_FSTUWT"] + [f"W_FSTR{r}" for r in range(1, 81)])
    )
    assert old.columns[0] == "W_FSTR1"  # before 2015
    short = find_replicate_columns(naep, NameIndex(["ORIGWT"] + [f"SRWT{r}" for r in range(1, 63)]))
    assert short.columns[8:10] == ("SRWT9", "SRWT10")  # leading zeros optional
    assert find_replicate_columns(pisa, NameIndex(["x", "y"])) is None
    zones = find_replicate_columns(timss, NameIndex(["jkzone", "jkrep", "totwgt"]))
    assert zones.from_zones and zones.columns == ("jkzone", "jkrep", "totwgt")
    with pytest.warns(pywemix.SurveyWarning, match="full-sample weight W_FSTUWT is not in 'f.sav'"):
        lack = find_replicate_columns(
            pisa, NameIndex([f"W_FSTURWT{r}" for r in range(1, 81)], "'f.sav'")
        )
    assert lack.full_weight is None
    with pytest.raises(
        ValueError,
        match=r"survey='NAEP': 2 of its 62 replicate weight "
        r"columns are not in 'n.sav' \(SRWT61\.\.SRWT62\)",
    ):
        find_replicate_columns(
            naep, NameIndex(["ORIGWT"] + [f"SRWT{r:02d}" for r in range(1, 61)], "'n.sav'")
        )
