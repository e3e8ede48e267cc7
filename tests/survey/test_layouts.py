"""Each survey's naming rules (``survey/layouts.py``), as the module documents them."""
import pytest

from pywemix.io import NameIndex
from pywemix.survey.detect import detect_survey, find_plausible_values, find_weights
from pywemix.survey.layouts import LAYOUTS, get_layout


@pytest.mark.parametrize("survey, column, expected", [
    ("PISA", "PV1MATH", ("math", 1)), ("PISA", "PV10MATH", ("math", 10)),
    ("PISA", "pv3mccr", ("mccr", 3)), ("PISA", "PV7FLIT", ("flit", 7)),
    ("PISA", "PV2MATH1", ("math1", 2)), ("PISA", "PVX", None), ("PISA", "W_FSTUWT", None),
    ("TIMSS", "BSMMAT01", ("mmat", 1)), ("TIMSS", "BSSSCI05", ("ssci", 5)),
    ("TIMSS", "BSMALG03", ("malg", 3)), ("TIMSS", "ASMMAT02", ("mmat", 2)),
    ("TIMSS", "MSMMAT01", ("mmat", 1)), ("TIMSS", "BSMIBM01", None), ("TIMSS", "BSBG10A", None),
    ("PIRLS", "ASRREA01", ("rrea", 1)), ("PIRLS", "ASRIBM01", None),
    ("NAEP", "MRPCM1", ("composite", 1)), ("NAEP", "MRPCM20", ("composite", 20)),
    ("NAEP", "MRPSCA12", ("sca", 12)), ("NAEP", "ORIGWT", None),
])
def test_plausible_value_names(survey, column, expected):
    rules = LAYOUTS[survey].plausible_values
    assert next((r.match(column) for r in rules if r.match(column)), None) == expected


def test_naep_scales_from_variable_labels():
    names = NameIndex(["V1", "V2", "V3", "V4"])
    labels = {"V1": "Plausible NAEP math value #1 (num & oper)",
              "V2": "Plausible NAEP math value #2 (num & oper)",
              "V3": "PLAUSIBLE NAEP MATH VALUE #1 (COMPOSITE)",
              "V4": "PLAUSIBLE NAEP MATH VALUE #2 (COMPOSITE)"}
    assert find_plausible_values(LAYOUTS["NAEP"], names, labels) == {
        "num_oper": ["V1", "V2"], "composite": ["V3", "V4"]}


def test_detection_by_signature():
    assert detect_survey(NameIndex(["w_fstuwt", "PV1MATH"])).name == "PISA"
    iea = ["TOTWGT", "JKZONE", "JKREP"]
    assert detect_survey(NameIndex(iea + ["BSMMAT01", "BSMMAT02"])).name == "TIMSS"
    assert detect_survey(NameIndex(iea + ["ASRREA01", "ASRREA02"])).name == "PIRLS"
    assert detect_survey(NameIndex(iea)) is None          # TIMSS or PIRLS: cannot tell
    assert detect_survey(NameIndex(["TCHWGT", "TRWGT1"])).name == "TALIS"
    assert detect_survey(NameIndex(["ORIGWT", "SRWT01"])).name == "NAEP"
    assert detect_survey(NameIndex(["y", "x"])) is None


def test_weights_follow_the_edsurvey_note():
    # TIMSS/PIRLS: TOTWGT / SCHWGT at level 1 = total weights, unconditional
    w = find_weights(LAYOUTS["TIMSS"], NameIndex(["totwgt", "schwgt"]))
    assert w.columns == ("totwgt", "schwgt") and not w.conditional and "eq. 5" in w.rule
    old = find_weights(LAYOUTS["PISA"], NameIndex(["W_FSTUWT", "W_FSCHWT"]))
    assert old.columns == ("W_FSTUWT", "W_FSCHWT")
    lack = find_weights(LAYOUTS["TIMSS"], NameIndex(["TOTWGT"]))
    assert lack.columns == ("TOTWGT", None) and lack.missing == ("SCHWGT",)


def test_names_and_aliases():
    assert get_layout("pisa").name == "PISA" and get_layout("timss  advanced").name == "TIMSS"
    with pytest.raises(ValueError, match="unknown survey 'PIZA'; known: PISA, TIMSS"):
        get_layout("PIZA")
