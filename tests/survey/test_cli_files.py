"""The command line on survey files: ``pywemix fit ... FILE --survey X --school F``
is ``mix(formula, read_survey(FILE, X, school=F))``; ``pywemix describe FILE``
prints ``read_survey(FILE).describe()`` (``--json``: its ``to_dict()``)."""

import json
import warnings

import pytest
from survey_files import iea_frames, pisa_frames, write

import pywemix
from pywemix.cli import main

FORMULA = "math ~ escs + (1|cntschid)"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_files")
    stu, sch, labels, missing = pisa_frames(n_pv=3)
    s = write(
        stu,
        folder / "student.sav",
        {k: v for k, v in labels.items() if k in stu},
        {k: v for k, v in missing.items() if k in stu},
    )
    c = write(sch, folder / "school.sav", {k: v for k, v in labels.items() if k in sch})
    return s, c, folder


def _fit(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pywemix.mix(*args, **kw)


def test_fit_is_mix_on_read_survey(files, capsys):
    s, c, folder = files
    argv = ["fit", FORMULA, s, "--survey", "PISA", "--school", c, "--cache", str(folder / "c")]
    assert main(argv + ["--json"]) == 0
    out = capsys.readouterr().out
    sdf = pywemix.read_survey(s, "PISA", school=c, cache=folder / "c")
    r = _fit(FORMULA, sdf)
    assert out == r.summary().to_json() + "\n"
    d = json.loads(out)
    assert d["survey"]["preset"] == "PISA" and d["replicates"]["n_replicates"] == 80
    assert d["plausible_values"]["columns"] == ["PV1MATH", "PV2MATH", "PV3MATH"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Survey preset     PISA" in text and "PV3MATH) of math" in text


def test_fit_by_country(files, capsys):
    s, c, folder = files
    assert (
        main(["fit", FORMULA, s, "--survey", "PISA", "--school", c, "--by", "CNT", "--json"]) == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert set(d["fits"]) == {"AAA", "BBB"}
    by = _fit(FORMULA, pywemix.read_survey(s, "PISA", school=c), by="CNT")
    assert d == json.loads(by.summary().to_json())


def test_fit_detects_the_survey_from_a_school_file(tmp_path, capsys):
    stu, sch, labels, missing = iea_frames(subjects=("MMAT",))
    s = write(stu, tmp_path / "bsg.sav", labels, missing)
    c = write(sch, tmp_path / "bcg.sav")
    assert (
        main(["fit", "mmat ~ itsex + (1|idschool)", s, "--school", c, "--by", "idcntry", "--json"])
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    fit = d["fits"]["36"]
    assert fit["survey"]["preset"] == "TIMSS" and fit["survey"]["weights"] == ["TOTWGT", "SCHWGT"]
    assert fit["standard_errors"]["description"].startswith("plausible-value total")
    assert "JK2 jackknife" in fit["standard_errors"]["description"]


def test_describe(files, capsys):
    s, c, folder = files
    assert main(["describe", s, "--survey", "PISA", "--school", c]) == 0
    text = capsys.readouterr().out
    sdf = pywemix.read_survey(s, "PISA", school=c)
    assert text == str(sdf.describe()) + "\n"
    for part in (
        "PISA data",
        "merged on CNT + CNTSCHID",
        "PV1MATH .. PV3MATH",
        "Fay's BRR, 80 replicates",
    ):
        assert part in text
    assert main(["describe", s, "--json"]) == 0  # the survey detected
    d = json.loads(capsys.readouterr().out)
    assert d == pywemix.read_survey(s).describe().to_dict()
    assert d["survey"] == "PISA" and d["weights"]["levels"] == ["W_FSTUWT", None]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["fit", "maths ~ escs + (1|cntschid)", "{s}", "--survey", "PISA", "--school", "{c}"],
            "are math, read, mccr, flit",
        ),
        (
            ["fit", FORMULA, "{s}", "--survey", "PISA"],
            "the PISA data lack a level weight: W_SCHGRNRABWT or W_FSCHWT not found",
        ),
        (["fit", FORMULA, "{s}", "--survey", "PIZA"], "unknown survey preset 'PIZA'"),
        (
            ["fit", "pv1math ~ escs + (1|cntschid)", "{s}", "--cache", "none"],
            "--cache keeps the columns of a survey file",
        ),
        (["describe", "{folder}/nope.sav"], "nope.sav"),
    ],
)
def test_errors_are_one_line(files, capsys, argv, message):
    s, c, folder = files
    argv = [a.format(s=s, c=c, folder=folder) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("pywemix: error: ") and message in err and err.count("\n") == 1
