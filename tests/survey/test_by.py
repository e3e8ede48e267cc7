"""``ByResult`` (``mix(..., by=)``): estimates and Wald inference of every fit,
stacked into tables indexed by group, and its HTML report."""
import numpy as np
import pandas as pd
import pytest

import pywemix
from conftest import quiet_mix
from survey_data import survey_sample

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
            pd.testing.assert_series_equal(s.loc[k], getattr(by_fit[k], name),
                                           check_names=False)
    wide = by_fit.params.unstack()
    assert list(wide.index) == ["AAA", "BBB"]
    assert set(wide.columns) == {"Intercept", "x", "z"}


def test_conf_int_stacks_the_fits_intervals(by_fit):
    ci = by_fit.conf_int(alpha=0.1, which="all")
    assert ci.index.names == ["cnt", "term"]
    assert list(ci.columns) == ["5 %", "95 %"]
    for k in by_fit:
        pd.testing.assert_frame_equal(ci.loc[k], by_fit[k].conf_int(0.1, which="all"),
                                      check_names=False)
    assert (ci.xs("sd(Residual)", level="term")["5 %"] > 0).all()
    # 99% intervals: the school variance's reaches below 0 in one country
    wide = by_fit.conf_int(alpha=0.01, which="variance")
    notes = [f"cnt={k!r}: {n}" for k in by_fit
             for n in by_fit[k].conf_int(0.01, which="variance").attrs["notes"]]
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
    overview = page[:page.index("<details>")]  # the table before the reports
    body = overview[overview.index("<tbody>"):]
    assert body.count("<tr>") == len(by_fit)  # one row per fitted value
    assert body.count("<td>") == len(by_fit) * 3 * 2  # estimate and SE of 3 terms
    for term in ("Intercept", "x", "z"):
        assert f"<th colspan=\"2\" halign=\"left\">{term}</th>" in overview
    for k in by_fit:
        assert f"{by_fit[k].params['x']:.6g}" in page
        assert by_fit[k].summary()._repr_html_() in page
