"""The ``pywemix`` command line (``pywemix.cli.main``)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.cli import main
from pywemix.results.plots import KINDS

from conftest import quiet_mix as _quiet_mix

FORMULA = "pv1math ~ escs + st04q01 + (1|schoolid)"
PV = ["pv1math", "pv2math", "pv3math", "pv4math", "pv5math"]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """(path of a CSV copy of the bundled example, its DataFrame)."""
    src = resources.files("pywemix") / "data" / "pisa_example.csv"
    with resources.as_file(src) as p:
        df = pd.read_csv(p)
    path = tmp_path_factory.mktemp("cli") / "pisa.csv"
    df.to_csv(path, index=False)
    return path, df


def _run_json(capsys, argv):
    rc = main(argv + ["--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def _check_against(d, res):
    assert list(d["params"]) == list(res.params.index)
    np.testing.assert_allclose(list(d["params"].values()), res.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(list(d["bse"].values()), res.bse.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        [r["variance"] for r in d["var_components"]],
        res.var_components["variance"].to_numpy(),
        rtol=1e-12,
    )
    if getattr(res, "n_plausible", None):  # no combined log-likelihood
        assert d["llf"] is None
    else:
        assert d["llf"] == pytest.approx(res.llf, rel=1e-14)
    assert d["icc"] == pytest.approx(res.icc, rel=1e-12)
    assert d["nobs"] == res.nobs


def test_demo(capsys):
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert "Fixed effects" in out
    assert "Variance terms" in out
    assert "pwt1" in out and "schoolid" in out
    assert "Traceback" not in err


def test_output_follows_sys_stdout():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo"]) == 0
    assert "Fixed effects" in buf.getvalue()


def test_demo_json(capsys):
    rc = main(["demo", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    d = json.loads(out)  # stdout holds the JSON only
    assert "escs" in d["params"]
    assert "demo" in err  # the banner goes to stderr


def test_fit_text(capsys, example):
    path, _ = example
    rc = main(["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "Fixed effects" in out and "escs" in out
    assert "conditional" in out


def test_fit_json_equals_mix(capsys, example):
    path, df = example
    d = _run_json(
        capsys, ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights"]
    )
    for key in ("params", "bse", "var_components", "llf", "icc", "groups", "converged"):
        assert key in d
    assert {"level", "group", "var1", "var2", "variance", "std_error"} <= set(
        d["var_components"][0]
    )
    res = _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True)
    _check_against(d, res)
    assert d["converged"] is True
    # unconditional (default) reading of the same columns differs
    d2 = _run_json(capsys, ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2"])
    _check_against(d2, _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=False))
    assert d2["llf"] != d["llf"]


def test_fit_weights_none(capsys, example):
    path, df = example
    d = _run_json(
        capsys, ["fit", FORMULA, str(path), "--weights", "none", "pwt2", "--cond-weights"]
    )
    _check_against(d, _quiet_mix(FORMULA, df, [None, "pwt2"], cond_weights=True))


def test_fit_plausible_values(capsys, example):
    path, df = example
    formula = "math ~ escs + st04q01 + (1|schoolid)"
    argv = [
        "fit",
        formula,
        str(path),
        "--weights",
        "pwt1",
        "pwt2",
        "--cond-weights",
        "--pv",
        "math=" + ",".join(PV),
    ]
    d = _run_json(capsys, argv)
    res = _quiet_mix(
        formula, df, ["pwt1", "pwt2"], cond_weights=True, plausible_values={"math": PV}
    )
    _check_against(d, res)
    assert d["llf"] is None
    assert d["plausible_values"] == {"response": "math", "columns": PV}
    for key in ("imputation_variance", "sampling_variance"):
        assert list(d[key]) == list(res.params.index)
        np.testing.assert_allclose(list(d[key].values()), getattr(res, key).to_numpy(), rtol=1e-12)
    # the combined variance is their sum
    np.testing.assert_allclose(
        np.add(list(d["imputation_variance"].values()), list(d["sampling_variance"].values())),
        np.square(list(d["bse"].values())),
        rtol=1e-10,
    )
    rc = main(argv)
    out, _ = capsys.readouterr()
    assert rc == 0 and "Plausible values" in out


def test_single_fit_json_has_no_plausible_value_keys(capsys, example):
    path, _ = example
    d = _run_json(
        capsys, ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights"]
    )
    assert not {"plausible_values", "imputation_variance", "sampling_variance"} & set(d)


@pytest.fixture(scope="module")
def sleep_csv(tmp_path_factory):
    """(path of a CSV of lme4's sleepstudy, its DataFrame)."""
    df = pywemix.datasets.load_sleepstudy()
    path = tmp_path_factory.mktemp("cli") / "sleep.csv"
    df.to_csv(path, index=False)
    return path, pd.read_csv(path)


def test_fit_reml(capsys, sleep_csv):
    path, df = sleep_csv
    formula = "Reaction ~ Days + (Days|Subject)"
    d = _run_json(capsys, ["fit", formula, str(path), "--reml"])
    assert d["criterion"] == "REML"
    _check_against(d, _quiet_mix(formula, df, reml=True))
    ml = _run_json(capsys, ["fit", formula, str(path)])
    assert ml["criterion"] != "REML"


def test_fit_max_iter(capsys, sleep_csv):
    path, df = sleep_csv
    formula = "Reaction ~ Days + (Days|Subject)"
    d = _run_json(capsys, ["fit", formula, str(path), "--max-iter", "1"])
    res = _quiet_mix(formula, df, max_iter=1)
    _check_against(d, res)
    assert d["iterations"] == res.optimization.iterations
    full = _run_json(capsys, ["fit", formula, str(path)])
    assert full["iterations"] > d["iterations"]


def test_fit_reml_with_weights_is_an_error(capsys, example):
    path, _ = example
    _one_line_error(
        capsys,
        ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights", "--reml"],
        "reml=True needs unit weights",
    )


def test_max_iter_must_be_positive(capsys, sleep_csv):
    path, _ = sleep_csv
    _one_line_error(
        capsys, ["fit", "Reaction ~ Days + (1|Subject)", str(path), "--max-iter", "0"], "max_iter"
    )


def test_cond_weights_without_weights_is_an_error(capsys, example):
    """--cond-weights alone used to be ignored silently (an unweighted fit)."""
    path, _ = example
    for match in ("--cond-weights", "no weights were given", "--weights"):
        _one_line_error(capsys, ["fit", FORMULA, str(path), "--cond-weights"], match)


@pytest.mark.parametrize(
    "name", ["pisa.csv", "pisa.csv.gz", "pisa.parquet", "pisa.sav", "pisa.dta"]
)
def test_demo_write_data_round_trip(capsys, tmp_path, name):
    pytest.importorskip("pyreadstat" if name.endswith((".sav", ".dta")) else "pandas")
    path = tmp_path / name
    assert main(["demo", "--write-data", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
    back = pywemix.read_data(path)
    pd.testing.assert_frame_equal(back, pywemix.datasets.load_pisa(), check_dtype=False)


def test_demo_write_data_unknown_extension(capsys, tmp_path):
    _one_line_error(capsys, ["demo", "--write-data", str(tmp_path / "pisa.xlsx")], "--write-data")


def test_demo_notes_only_the_dropped_rows(capsys):
    """A new user's first fit: its only note says which rows were dropped."""
    d = _run_json(capsys, ["demo"])
    assert d["warnings"] and all(w.startswith("dropped") for w in d["warnings"])


def test_fit_weight_scaling(capsys, example):
    path, df = example
    d = _run_json(
        capsys,
        [
            "fit",
            FORMULA,
            str(path),
            "--weights",
            "pwt1",
            "pwt2",
            "--cond-weights",
            "--weight-scaling",
            "A",
        ],
    )
    _check_against(
        d, _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True, weight_scaling="size")
    )
    d2 = _run_json(
        capsys,
        [
            "fit",
            FORMULA,
            str(path),
            "--weights",
            "pwt1",
            "pwt2",
            "--cond-weights",
            "--survey",
            "PISA",
        ],
    )
    assert d2["params"] == pytest.approx(d["params"], rel=1e-12)


def test_fit_centering(capsys, example):
    path, df = example
    base = ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights"]
    d = _run_json(capsys, base + ["--center-group", "schoolid=escs"])
    _check_against(
        d,
        _quiet_mix(
            FORMULA, df, ["pwt1", "pwt2"], cond_weights=True, center_group={"schoolid": ["escs"]}
        ),
    )
    d = _run_json(capsys, base + ["--center-grand", "escs"])
    _check_against(
        d, _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True, center_grand=["escs"])
    )


def test_fit_binomial(capsys, example):
    path, df = example
    formula = "highmath ~ escs + (1|schoolid)"
    d = _run_json(
        capsys,
        [
            "fit",
            formula,
            str(path),
            "--weights",
            "pwt1",
            "pwt2",
            "--cond-weights",
            "--family",
            "binomial",
            "--n-quad",
            "5",
        ],
    )
    assert d["family"] == "binomial" and d["link"] == "logit"
    res = _quiet_mix(formula, df, ["pwt1", "pwt2"], cond_weights=True, family="binomial", n_quad=5)
    _check_against(d, res)


def test_fit_sav_file(capsys, example, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    _, df = example
    path = tmp_path / "pisa.sav"
    coded = df.assign(st04q01=df["st04q01"].map({"Female": 1, "Male": 2}).astype(float))
    pyreadstat.write_sav(
        coded, str(path), variable_value_labels={"st04q01": {1.0: "Female", 2.0: "Male"}}
    )
    d = _run_json(
        capsys, ["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights"]
    )
    assert "st04q01[T.Male]" in d["params"]
    _check_against(d, _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True))


@pytest.mark.parametrize(
    "argv_tail, match",
    [
        (["--weights", "pwt1", "nope"], "nope"),
        (["--weights", "pwt1", "pwt2", "--weight-scaling", "C"], "weight_scaling"),
        (["--weights", "pwt1", "pwt2", "--center-group", "schoolid"], "--center-group"),
        (["--weights", "pwt1", "pwt2", "--pv", "reading=pv1math,pv2math"], "not the response"),
    ],
)
def test_fit_errors_exit_1(capsys, example, argv_tail, match):
    path, _ = example
    rc = main(["fit", FORMULA, str(path)] + argv_tail)
    out, err = capsys.readouterr()
    assert rc == 1
    assert err.startswith("pywemix: error:")
    assert match in err
    assert "Traceback" not in err
    assert out == ""


def test_bad_formula_column_and_missing_file(capsys, example, tmp_path):
    path, _ = example
    rc = main(["fit", "pv1math ~ nosuchcol + (1|schoolid)", str(path)])
    _, err = capsys.readouterr()
    assert rc == 1 and "nosuchcol" in err and "Traceback" not in err
    rc = main(["fit", FORMULA, str(tmp_path / "absent.csv")])
    _, err = capsys.readouterr()
    assert rc == 1 and "no such data file" in err and "Traceback" not in err


def _one_line_error(capsys, argv, match):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 1, err
    assert err.startswith("pywemix: error:") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err and "\x1b[" not in err
    return out


def test_data_path_is_a_directory(capsys, tmp_path):
    folder = tmp_path / "pisa.csv"
    folder.mkdir()
    _one_line_error(capsys, ["fit", FORMULA, str(folder)], "is a directory")


def test_corrupt_sav_file(capsys, tmp_path):
    pytest.importorskip("pyreadstat")
    path = tmp_path / "pisa.sav"
    path.write_bytes(b"not an SPSS file\n" * 8)
    _one_line_error(capsys, ["fit", FORMULA, str(path)], "cannot read")


@pytest.mark.parametrize(
    "formula, match",
    [
        ("pv1math ~ log(nosuchcol) + (1|schoolid)", "nosuchcol"),
        ("log(nosuchcol) ~ escs + (1|schoolid)", "nosuchcol"),
        ("pv1math ~ escs[ + (1|schoolid)", "escs["),
        ("pv1math ~ {escs +} + (1|schoolid)", "pywemix: error:"),
    ],
)
def test_formula_errors_are_one_line(capsys, example, formula, match):
    path, _ = example
    _one_line_error(capsys, ["fit", formula, str(path)], match)


def test_unexpected_exception_is_one_line(capsys, example, monkeypatch):
    path, _ = example

    def broken(*args, **kwargs):
        raise KeyError("schoolid")

    monkeypatch.setattr("pywemix.cli.mix", broken)
    _one_line_error(capsys, ["fit", FORMULA, str(path)], "KeyError: 'schoolid'")


def test_plot_with_plausible_values_is_refused(capsys, example, tmp_path):
    path, _ = example
    out_png = tmp_path / "qq.png"
    _one_line_error(
        capsys,
        [
            "plot",
            "math ~ escs + (1|schoolid)",
            str(path),
            "--pv",
            "math=" + ",".join(PV),
            "--kind",
            "qq_ranef",
            "-o",
            str(out_png),
        ],
        "plots need a single fit",
    )
    assert not out_png.exists()


def test_plot_to_a_missing_folder_fails_before_fitting(capsys, example, tmp_path, monkeypatch):
    path, _ = example

    def not_called(*args, **kwargs):
        raise AssertionError("the model was fitted")

    monkeypatch.setattr("pywemix.cli.mix", not_called)
    missing = tmp_path / "nope" / "qq.png"
    _one_line_error(
        capsys, ["plot", FORMULA, str(path), "--kind", "qq_ranef", "-o", str(missing)], "folder"
    )


def test_usage_errors_still_exit_2(capsys, example):
    path, _ = example
    with pytest.raises(SystemExit) as e:
        main(["fit", FORMULA, str(path), "--n-quad", "many"])
    assert e.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    out, _ = capsys.readouterr()
    assert "usage" in out.lower()


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert pywemix.__version__ in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("pywemix") is None, reason="console script not installed")
def test_console_script():
    proc = subprocess.run(
        [shutil.which("pywemix"), "demo"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Fixed effects" in proc.stdout


def test_demo_write_sav_without_pyreadstat_names_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyreadstat", None)  # import fails
    _one_line_error(
        capsys, ["demo", "--write-data", str(tmp_path / "pisa.sav")], "needs the package pyreadstat"
    )


class _FakeFigure:
    def __init__(self, kind):
        self.kind = kind

    def savefig(self, path, dpi=None):
        Path(path).write_text(self.kind)


@pytest.mark.parametrize("kind", KINDS)
def test_plot_kinds_are_the_library_kinds(monkeypatch, capsys, example, tmp_path, kind):
    """Every plot kind of ``result.plot`` (``coef`` included) is a ``--kind``."""
    path, _ = example
    seen = {}

    def fake(args):
        seen["pv"] = args.pv
        return SimpleNamespace(plot=lambda k: _FakeFigure(k))

    monkeypatch.setattr("pywemix.cli._fit_from_args", fake)
    out_png = tmp_path / f"{kind}.png"
    assert main(["plot", FORMULA, str(path), "--kind", kind, "-o", str(out_png)]) == 0
    assert out_png.read_text() == kind


def test_coef_plot_with_plausible_values(monkeypatch, capsys, example, tmp_path):
    """``--pv --kind coef`` draws the combined estimates (PlausibleValuesResult.plot)."""
    path, _ = example
    calls = []

    def fake(args):
        calls.append(args.pv)
        return SimpleNamespace(plot=lambda k: _FakeFigure(k))

    monkeypatch.setattr("pywemix.cli._fit_from_args", fake)
    out_png = tmp_path / "coef.png"
    assert (
        main(
            [
                "plot",
                "math ~ escs + (1|schoolid)",
                str(path),
                "--pv",
                "math=" + ",".join(PV),
                "--kind",
                "coef",
                "-o",
                str(out_png),
            ]
        )
        == 0
    )
    assert calls and calls[0]
    assert out_png.read_text() == "coef"


# -- one schema, flags without effect, the replicate kind (issue 19) ----------------------


@pytest.fixture(scope="module")
def pisa_reps_csv(tmp_path_factory):
    df = pywemix.datasets.load_pisa_replicates()
    path = tmp_path_factory.mktemp("cli") / "reps.csv"
    df.to_csv(path, index=False)
    return path, pd.read_csv(path)


def test_json_is_exactly_summary_to_json(capsys, example, pisa_reps_csv):
    path, df = example
    rc = main(["fit", FORMULA, str(path), "--weights", "pwt1", "pwt2", "--cond-weights", "--json"])
    out, _ = capsys.readouterr()
    res = _quiet_mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True)
    assert rc == 0 and out == res.summary().to_json() + "\n"
    rpath, rdf = pisa_reps_csv
    argv = [
        "fit",
        "pv1math ~ escs + (1|schoolid)",
        str(rpath),
        "--weights",
        "pwt1",
        "pwt2",
        "--cond-weights",
        "--survey",
        "PISA",
    ]
    d = _run_json(capsys, argv)
    r = _quiet_mix(
        "pv1math ~ escs + (1|schoolid)", rdf, ["pwt1", "pwt2"], cond_weights=True, survey="PISA"
    )
    assert d == json.loads(r.summary().to_json())
    assert d["standard_errors"]["kind"] == "replicate"
    assert d["survey"] == {
        "preset": "PISA",
        "weights": ["pwt1", "pwt2"],
        "cond_weights": True,
        "weight_scaling": "size",
    }
    assert d["icc_std_error"] == pytest.approx(r.icc_std_error, rel=1e-12)
    assert all(row["var1"] is None or isinstance(row["var1"], str) for row in d["var_components"])
    d = _run_json(capsys, argv + ["--by", "jkrep"])
    by = _quiet_mix(
        "pv1math ~ escs + (1|schoolid)",
        rdf,
        ["pwt1", "pwt2"],
        cond_weights=True,
        survey="PISA",
        by="jkrep",
    )
    assert d == json.loads(by.summary().to_json())


def test_plausible_values_with_replicates_json_parts_add_up(capsys, pisa_reps_csv):
    rpath, _ = pisa_reps_csv
    d = _run_json(
        capsys,
        [
            "fit",
            "math ~ escs + (1|schoolid)",
            str(rpath),
            "--weights",
            "pwt1",
            "pwt2",
            "--cond-weights",
            "--survey",
            "PISA",
            "--pv",
            "math=" + ",".join(PV),
        ],
    )
    assert d["standard_errors"]["kind"] == "replicate"
    np.testing.assert_allclose(
        np.add(list(d["imputation_variance"].values()), list(d["sampling_variance"].values())),
        np.square(list(d["bse"].values())),
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--replicate-method", "jk2"], "--replicate-method"),
        (["--fay", "0.3"], "--fay"),
        (["--full-weight", "w_fstuwt"], "--full-weight"),
        (
            ["--replicates", "w_fsturwt1-80", "--replicate-method", "jk1", "--fay", "0.3"],
            "--fay is Fay's k",
        ),
        (["--n-quad", "7"], "--n-quad"),
    ],
)
def test_flags_without_effect_are_errors(capsys, pisa_reps_csv, flags, named):
    rpath, _ = pisa_reps_csv
    assert (
        main(
            [
                "fit",
                "pv1math ~ escs + (1|schoolid)",
                str(rpath),
                "--weights",
                "pwt1",
                "pwt2",
                "--cond-weights",
            ]
            + flags
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("pywemix: error: ") and named in err


def test_coef_plot_of_a_preset_draws_the_replicate_intervals(
    monkeypatch, capsys, pisa_reps_csv, tmp_path
):
    pytest.importorskip("matplotlib")
    import pywemix.cli as cli
    from pywemix.results.plots import ResultFigure

    rpath, _ = pisa_reps_csv
    seen = {}
    real = cli._fit_from_args
    monkeypatch.setattr(cli, "_fit_from_args", lambda a: seen.setdefault("r", real(a)))
    monkeypatch.setattr(
        ResultFigure, "savefig", lambda self, path, dpi=None: seen.setdefault("fig", self)
    )
    assert (
        main(
            [
                "plot",
                "pv1math ~ escs + (1|schoolid)",
                str(rpath),
                "--weights",
                "pwt1",
                "pwt2",
                "--cond-weights",
                "--survey",
                "PISA",
                "--kind",
                "coef",
                "-o",
                str(tmp_path / "coef.png"),
            ]
        )
        == 0
    )
    r, ax = seen["r"], seen["fig"].axes[0]
    assert r.default_kind == "replicate"
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    np.testing.assert_allclose(
        sorted(bars.get_segments()[0][:, 0]), r.conf_int().loc["escs"], rtol=1e-10
    )
    assert "replicate weights" in ax.get_xlabel()
