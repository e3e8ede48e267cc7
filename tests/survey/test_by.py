"""``ByResult`` (``mix(..., by=)``): estimates and Wald inference of every fit,
stacked into tables indexed by group, and its HTML report."""

import numpy as np
import pandas as pd
import pytest
from survey_data import survey_sample

import pywemix

from conftest import quiet_mix

FORMULA = "y ~ x + z + (1|school)"


@pytest.fixture(scope="module")
def by_fit():
    a = survey_sample(seed=5, n_schools=12).assign(cnt="AAA")
    b = survey_sample(seed=6, n_schools=14).assign(cnt="BBB")
    b["school"] += 100
    c = survey_sample(seed=7, n_schools=10).assign(cnt="CCC", y=1.0)  # cannot be fitted
    c["school"] += 200
    data = pd.concat([a, b, c], ignore_index=True)
    data["z"] = np.random.default_rng(8).normal(size=len(data))
    return quiet_mix(FORMULA, data, ["wt", "w2"], by="cnt", weight_scaling="size")


def test_params_and_bse_are_indexed_by_group_and_term(by_fit):
    assert list(by_fit) == ["AAA", "BBB"] and "CCC" in by_fit.errors
    for name in ("params", "bse"):
        s = getattr(by_fit, name)
        assert isinstance(s, pd.Series) and s.name == name
        assert s.index.names == ["cnt", "term"]
        assert list(s.index) == [(k, t) for k in by_fit for t in by_fit[k].params.index]
        for k in by_fit:
            pd.testing.assert_series_equal(s.loc[k], getattr(by_fit[k], name), check_names=False)
    wide = by_fit.params.unstack()
    assert list(wide.index) == ["AAA", "BBB"]
    assert set(wide.columns) == {"Intercept", "x", "z"}


def test_conf_int_stacks_the_fits_intervals(by_fit):
    ci = by_fit.conf_int(alpha=0.1, which="all")
    assert ci.index.names == ["cnt", "term"]
    assert list(ci.columns) == ["5 %", "95 %"]
    for k in by_fit:
        pd.testing.assert_frame_equal(
            ci.loc[k], by_fit[k].conf_int(0.1, which="all"), check_names=False
        )
    assert (ci.xs("sd(Residual)", level="term")["5 %"] > 0).all()
    # 99% intervals: the school variance's reaches below 0 in one country
    wide = by_fit.conf_int(alpha=0.01, which="variance")
    notes = [
        f"cnt={k!r}: {n}"
        for k in by_fit
        for n in by_fit[k].conf_int(0.01, which="variance").attrs["notes"]
    ]
    assert wide.attrs["notes"] == notes and len(notes) == 1
    assert "var(Intercept|school)" in notes[0] and "set to 0" in notes[0]
    assert by_fit.params.attrs["notes"] == []
    with pytest.raises(ValueError, match="alpha"):
        by_fit.conf_int(alpha=2)
    with pytest.raises(ValueError, match="cnt = 'AAA': which"):
        by_fit.conf_int(which="everything")


def test_wald_test_runs_in_every_group(by_fit):
    w = by_fit.wald_test(["x", "z"])
    assert list(w.index) == ["AAA", "BBB"] and w.index.name == "cnt"
    assert list(w.columns) == ["statistic", "df", "p_value"]
    for k in by_fit:
        one = by_fit[k].wald_test(["x", "z"])
        assert tuple(w.loc[k]) == pytest.approx((one.statistic, one.df, one.p_value))
    R = np.array([[0.0, 1.0, -1.0]])  # x = z
    w2 = by_fit.wald_test(R=R)
    assert (w2["df"] == 1).all()
    with pytest.raises(ValueError, match=r"cnt = 'AAA': unknown fixed term\(s\) \['xx'\]"):
        by_fit.wald_test(["xx"])


def test_html_report(by_fit):
    page = by_fit._repr_html_()
    assert page == by_fit.summary()._repr_html_() == by_fit.summary().as_html()
    assert page.count("<details>") == 2  # one report per fitted value
    assert "Not fitted" in page and "CCC" in page
    overview = page[: page.index("<details>")]  # the table before the reports
    body = overview[overview.index("<tbody>") :]
    assert body.count("<tr>") == len(by_fit)  # one row per fitted value
    assert body.count("<td>") == len(by_fit) * 3 * 2  # estimate and SE of 3 terms
    for term in ("Intercept", "x", "z"):
        assert f'<th colspan="2" halign="left">{term}</th>' in overview
    for k in by_fit:
        assert f"{by_fit[k].params['x']:.6g}" in page
        assert by_fit[k].summary()._repr_html_() in page


# -- every executor, warnings once, exports, compare (issue 19) ------------------------


def _countries(n=3, n_schools=12):
    parts = []
    for k in range(n):
        d = survey_sample(seed=20 + k, n_schools=n_schools).assign(cnt=f"C{k:02d}")
        d["school"] += 100 * k
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


def _same_by(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(a[k].params, b[k].params, rtol=1e-10)
        np.testing.assert_allclose(a[k].bse, b[k].bse, rtol=1e-10)


def test_by_on_threads_and_a_dask_client_equals_serial(dask_client):
    from concurrent.futures import ThreadPoolExecutor

    data = _countries()
    rep = pywemix.Replicates([f"rw{i}" for i in range(1, 9)], full_weight="wt")
    kw = dict(by="cnt", weight_scaling="size", replicates=rep)
    serial = quiet_mix("y ~ x + (1|school)", data, ["wt", "w2"], **kw)
    with ThreadPoolExecutor(2) as ex:
        threads = quiet_mix("y ~ x + (1|school)", data, ["wt", "w2"], executor=ex, **kw)
    cluster = quiet_mix("y ~ x + (1|school)", data, ["wt", "w2"], executor=dask_client, **kw)
    for res in (threads, cluster):
        assert isinstance(res, pywemix.ByResult)
        assert all(isinstance(r, pywemix.ReplicateResult) for r in res.values())
        _same_by(res, serial)


def test_thirty_groups_with_one_warning_give_one_warning_naming_them():
    import warnings

    data = _countries(30, n_schools=12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pywemix.mix("y ~ x + (1|school)", data, ["wt", "w2"], by="cnt", weight_scaling="size")
    few = [str(w.message) for w in caught if issubclass(w.category, pywemix.FewGroupsWarning)]
    assert len(few) == 1, few
    assert few[0].startswith("cnt='C00', 'C01', ")
    assert "(30 of 30 groups): only 12 top-level groups (school)" in few[0]
    assert all(f"'C{k:02d}'" in few[0] for k in range(30))
    # each fit keeps its own warnings, named by its group in res.warnings
    assert len(res) == 30 and sum("only 12 top-level" in w for w in res.warnings) == 30


def test_by_summary_exports_every_format(by_fit):
    import json

    s = by_fit.summary()
    assert isinstance(s, pywemix.survey.BySummary)
    text = s.as_text()
    assert text == str(s) and "cnt = AAA" in text and "Not fitted" in text
    assert "Standard errors: cluster-robust" in text
    tex = s.as_latex()
    assert tex.count(r"\subsection*") == len(by_fit) and r"\begin{tabular}" in tex
    d = json.loads(s.to_json())
    assert d == s.as_dict()
    assert d["by"] == "cnt" and set(d["fits"]) == {"AAA", "BBB"} and "CCC" in d["errors"]
    assert d["standard_errors"]["kind"] == "robust"
    for k in by_fit:
        assert d["fits"][k] == json.loads(by_fit[k].summary().to_json())


def test_compare_gives_one_column_per_group(by_fit):
    table = pywemix.compare(by_fit)
    assert list(table.columns.get_level_values(0).unique()) == ["AAA", "BBB"]
    for k in by_fit:
        np.testing.assert_allclose(
            table.loc[list(by_fit[k].params.index), (k, "std_error")], by_fit[k].bse, rtol=1e-12
        )
    assert table.attrs["variance"] == {"AAA": "robust", "BBB": "robust"}
    assert (
        "Standard errors: AAA: cluster-robust (sandwich over 12 top-level groups); "
        "BBB: cluster-robust (sandwich over 14" in repr(table)
    )


def test_by_tables_name_their_kind_and_cov_params_is_block_diagonal(by_fit):
    assert by_fit.default_kind == "robust" and by_fit.variance_kinds == ("robust", "model")
    assert by_fit.bse.attrs["variance"] == "robust"
    assert by_fit.conf_int().attrs["variance"] == "robust"
    assert by_fit.tidy().attrs["variance"] == "robust"
    assert by_fit.wald_test(["x"]).attrs["variance"] == "robust"
    V = by_fit.cov_params()
    np.testing.assert_allclose(V.loc["AAA", "AAA"], by_fit["AAA"].cov_params())
    assert (V.loc["AAA", "BBB"].to_numpy() == 0).all()
    vc = by_fit.var_components
    assert vc.index.names == ["cnt", "term"] and len(vc) == 4


def test_by_coef_plot_draws_every_group(by_fit):
    pytest.importorskip("matplotlib")
    fig = by_fit.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["x", "z"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["AAA", "BBB"]
    assert "cluster-robust" in ax.get_xlabel()
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    ends = sorted(tuple(np.round(sorted(seg[:, 0]), 8)) for seg in bars.get_segments())
    ci = by_fit.conf_int().xs("x", level="term").to_numpy()
    assert ends == sorted(tuple(np.round(row, 8)) for row in ci)
    assert by_fit.plot("qq_resid", group="AAA").axes
    with pytest.raises(ValueError, match="give the group"):
        by_fit.plot("qq_resid")
