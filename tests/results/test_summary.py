"""The WeMix-style report of a fit (pywemix.results.summary): text, HTML, LaTeX, JSON.

The numbers in the report are checked against the result's attributes by
formatting those (never by copying printed text), and the groups table
against weights computed here from the data.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import needs_reference, reference_data
from conftest import quiet_mix as _mix

pytestmark = needs_reference

PISA_FORMULA = "pv1math ~ escs + st04q01 + (1 + escs|schoolid)"
THREE_FORMULA = "y ~ x + (1|school) + (1|district)"
BINOMIAL_FORMULA = "highmath ~ escs + (1|schoolid)"
PV_FORMULA = "math ~ escs + (1|schoolid)"
PV_COLUMNS = [f"pv{k}math" for k in range(1, 6)]


@pytest.fixture(scope="module")
def pisa():
    return reference_data("pisa_s1.csv")


@pytest.fixture(scope="module")
def three():
    return reference_data("three_s1.csv")


@pytest.fixture(scope="module")
def sleep():
    return reference_data("sleepstudy.csv")


@pytest.fixture(scope="module")
def fits(pisa, three):
    """(result, data used, weight columns) of the weighted fits."""
    used = pisa.dropna(subset=["escs"])
    return {
        "two_level": (
            _mix(PISA_FORMULA, pisa, ["pwt1", "pwt2"], cond_weights=True),
            used,
            ["pwt1", "pwt2"],
            ["schoolid"],
        ),
        "three_level": (
            _mix(THREE_FORMULA, three, ["w1", "w2", "w3"], cond_weights=True),
            three,
            ["w1", "w2", "w3"],
            ["school", "district"],
        ),
        "binomial": (
            _mix(BINOMIAL_FORMULA, pisa, ["pwt1", "pwt2"], cond_weights=True, family="binomial"),
            used,
            ["pwt1", "pwt2"],
            ["schoolid"],
        ),
        "plausible_values": (
            _mix(
                PV_FORMULA,
                pisa,
                ["pwt1", "pwt2"],
                cond_weights=True,
                plausible_values={"math": PV_COLUMNS},
            ),
            used,
            ["pwt1", "pwt2"],
            ["schoolid"],
        ),
    }


@pytest.fixture(scope="module", params=["two_level", "three_level", "binomial", "plausible_values"])
def fit(request, fits):
    return fits[request.param]


@pytest.fixture(scope="module")
def unweighted(sleep):
    return _mix("Reaction ~ Days + (Days|Subject)", sleep)


def fmt(v) -> str:
    return f"{v:.6g}"


def section(text: str, title: str) -> list:
    """Lines of a report section (after ``title:`` up to the next blank line)."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def close(shown: str, value: float, digits: int = 6) -> bool:
    """A printed number equals ``value`` to the digits printed."""
    return abs(float(shown) - value) <= 10**-digits * max(abs(value), 1.0)


# -- text ----------------------------------------------------------------------


def test_formula_and_header(fit):
    res = fit[0]
    text = str(res.summary())
    assert res.formula in text
    header = dict(line.split(None, 1) for line in text.splitlines()[2:6])
    assert header["Formula"] == res.formula
    weights_line = next(line for line in text.splitlines() if line.startswith("Weights"))
    for w in fit[2]:
        assert w in weights_line
    # all fits here have conditional weights
    assert "; conditional" in weights_line and "unconditional" not in weights_line
    assert "Observations" in text and str(res.nobs) in text


def test_variance_terms_with_standard_errors(fit):
    res = fit[0]
    lines = section(str(res.summary()), "Variance terms")
    assert "Variance" in lines[0] and "Std. Error" in lines[0]
    rows = lines[1:]
    vc = res.var_components
    assert len(rows) == len(vc)
    for line, (_, row) in zip(rows, vc.iterrows()):
        tokens = line.split()
        assert tokens[0] == str(row["level"])
        assert tokens[1] == row["group"]
        if isinstance(row["var1"], str):
            assert row["var1"] in tokens
        if isinstance(row["var2"], str):
            assert row["var2"] in tokens
        assert fmt(row["variance"]) in tokens
        assert fmt(row["std_error"]) in tokens
        if not isinstance(row["var2"], str):
            assert fmt(np.sqrt(row["variance"])) in tokens


def test_groups_table(fit):
    """Per level: weight name, count, mean and sum of the weights, from the data."""
    res, data, weights, factors = fit
    lines = section(str(res.summary()), "Groups")
    header = lines[0].split()
    for word in ("level", "group", "n", "weight"):
        assert word in header
    assert "mean weight" in lines[0] and "sum of weights" in lines[0]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == len(weights)
    expected = [("Obs", data[weights[0]])]
    for lvl, (w, g) in enumerate(zip(weights[1:], factors), start=2):
        # one weight per group of this level: the groups are the unique
        # combinations of this factor and the factors above
        cols = factors[lvl - 2 :]
        per_group = data.groupby(cols, observed=True)[w]
        assert per_group.nunique().max() == 1
        expected.append((g, per_group.first()))
    for lvl, (tokens, (name, w), wname) in enumerate(zip(rows, expected, weights), start=1):
        level, group, n, weight, mean, total = tokens
        assert int(level) == lvl
        assert group == name
        assert weight == wname
        assert int(n) == len(w)
        assert close(mean, float(w.mean()))
        assert close(total, float(w.sum()))


def test_fixed_effects(fit):
    res = fit[0]
    lines = section(str(res.summary()), "Fixed effects")
    assert lines[0].split() == ["Estimate", "Std.", "Error", "t", "value"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    params, bse = res.params, res.bse
    assert list(rows) == list(params.index)
    for name in params.index:
        est, se, t = rows[name]
        assert est == fmt(params[name])
        assert se == fmt(bse[name])
        assert close(t, params[name] / bse[name], digits=5)


def test_log_likelihood_icc_and_se_note(fit):
    res = fit[0]
    text = str(res.summary())
    if getattr(res, "n_plausible", None):  # plausible values: no combined likelihood
        assert re.search(r"^lnl: not defined", text, re.M)
    else:
        assert f"lnl: {res.llf:.2f}" in text.splitlines()
    assert f"Intraclass correlation (ICC): {res.icc:.4f}" in text.splitlines()
    assert f"{res.n_clusters} top-level groups" in text
    assert "cluster-robust" in text
    # the standard errors shown (bse) are always the robust ones
    assert "model sandwich" not in text


def test_pseudo_likelihood_note_for_weighted_fits(fit):
    text = str(fit[0].summary())
    assert "pseudo-likelihood" in text
    assert "Criterion" in text and "(pseudo-likelihood)" in text


def test_no_pseudo_likelihood_note_unweighted(unweighted):
    text = str(unweighted.summary())
    assert not unweighted.weighted
    assert "pseudo" not in text
    assert f"lnl: {unweighted.llf:.2f}" in text.splitlines()


def test_icc_identity_random_intercept(fits):
    """ICC = tau / (tau + sigma^2) for a two-level random-intercept model."""
    res = fits["plausible_values"][0].fits[0]
    vc = res.var_components
    tau = float(vc.loc[vc["group"] == "schoolid", "variance"].iloc[0])
    sigma2 = float(vc.loc[vc["group"] == "Residual", "variance"].iloc[0])
    assert res.icc == pytest.approx(tau / (tau + sigma2), rel=1e-12)
    assert f"Intraclass correlation (ICC): {tau / (tau + sigma2):.4f}" in str(res.summary())


def test_icc_with_random_slope_adds_the_slope_variance(fits):
    """Issue 15: WeMix's ICC adds the random-slope variance; the docstring and
    the report say so."""
    res = fits["two_level"][0]  # (1 + escs | schoolid)
    vc = res.var_components
    tau = vc[(vc["group"] == "schoolid") & vc["var2"].isna()]
    assert set(tau["var1"]) == {"Intercept", "escs"}
    sigma2 = float(vc.loc[vc["group"] == "Residual", "variance"].iloc[0])
    total = float(tau["variance"].sum())
    assert res.icc == pytest.approx(total / (total + sigma2), rel=1e-12)
    doc = type(res).icc.__doc__
    assert "random slopes included" in doc and "tau_{11}" in doc
    notes = section(str(res.summary()), "Notes")
    assert sum("random-slope variances" in n for n in notes) == 1
    # a random-intercept model's report has no such note
    ri = fits["plausible_values"][0].fits[0]
    assert "random-slope" not in str(ri.summary())


def test_unconditional_weights_are_reported(sleep):
    res = _mix("Reaction ~ Days + (1|Subject)", sleep, ["W1", "W2"], cond_weights=False)
    text = str(res.summary())
    weights_line = next(line for line in text.splitlines() if line.startswith("Weights"))
    assert "W1" in weights_line and "W2" in weights_line
    assert "unconditional" in weights_line
    assert "pseudo-likelihood" in text


def test_three_level_lists_every_level(fits):
    res = fits["three_level"][0]
    text = str(res.summary())
    groups = [line.split()[1] for line in section(text, "Groups")[1:]]
    assert groups == ["Obs", "school", "district"]
    vgroups = {line.split()[1] for line in section(text, "Variance terms")[1:]}
    assert vgroups == {"school", "district", "Residual"}


def test_binomial_header(fits):
    res = fits["binomial"][0]
    text = str(res.summary())
    assert "binomial" in text and "logit" in text
    assert f"{res.n_quad} per random effect" in text
    # no residual row for a binomial model
    assert "Residual" not in "\n".join(section(text, "Variance terms"))


def test_plausible_values_header(fits):
    res = fits["plausible_values"][0]
    text = str(res.summary())
    line = next(line for line in text.splitlines() if line.startswith("Plausible values"))
    assert f"{len(PV_COLUMNS)} (" in line
    for c in PV_COLUMNS:
        assert c in line


def test_repr_is_the_text(fits):
    s = fits["two_level"][0].summary()
    assert repr(s) == str(s) == s.as_text()


# -- html ----------------------------------------------------------------------


def test_html_tables(fit):
    res = fit[0]
    h = res.summary()._repr_html_()
    assert h.startswith("<div") and h.endswith("</div>")
    assert h.count("<table") >= 4 and h.count("<table") == h.count("</table>")
    for name in res.params.index:
        assert fmt(res.params[name]) in h
        assert fmt(res.bse[name]) in h
    for v in res.var_components["variance"]:
        assert fmt(v) in h
    if not getattr(res, "n_plausible", None):
        assert f"{res.llf:.2f}" in h
    assert f"{res.icc:.4f}" in h
    assert "pseudo-likelihood" in h
    assert res._repr_html_() == h


def test_html_missing_cells_are_empty(fit):
    """Variance rows have no var2 and the residual no var1; the text report
    leaves those cells blank and so should the HTML tables."""
    h = fit[0].summary()._repr_html_()
    cells = re.findall(r"<td>(.*?)</td>", h)
    assert "None" not in cells
    assert "nan" not in cells and "NaN" not in cells


@pytest.fixture(scope="module")
def special(sleep):
    data = sleep.copy()
    data["grp"] = pd.Categorical(
        np.where(data["Days"] < 3, "plain", np.where(data["Days"] < 6, "a&b", "<c>")),
        categories=["plain", "a&b", "<c>"],
    )
    return _mix("Reaction ~ I(Days > 4) + grp + (1|Subject)", data)


def test_html_escapes_special_characters(special):
    h = special.summary()._repr_html_()
    assert "I(Days &gt; 4)" in h and "I(Days > 4)" not in h
    assert "grp[T.a&amp;b]" in h and "a&b" not in h
    assert "grp[T.&lt;c&gt;]" in h and "<c>" not in h
    # the text report shows them as they are
    text = str(special.summary())
    assert "I(Days > 4)" in text and "grp[T.<c>]" in text and "grp[T.a&b]" in text


def test_unweighted_fit_says_no_weights(unweighted):
    text = str(unweighted.summary())
    assert "none (unit weights at every level)" in text
    assert "unconditional" not in text


def test_poisson_icc_not_defined(sleep):
    d = sleep.assign(count=(sleep["Reaction"] // 50).astype(int))
    r = _mix("count ~ Days + (1|Subject)", d, family="poisson", n_quad=5)
    assert np.isnan(r.icc)
    text = str(r.summary())
    assert "not defined for the poisson family" in text and "nan" not in text.lower()


# -- LaTeX and dict / JSON exports (issue 15) -------------------------------------


def _tex_escaped(text: str) -> str:
    """LaTeX escapes of the characters in coefficient names (no backslashes there)."""
    for a, b in (
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
    ):
        text = text.replace(a, b)
    return text


def test_json_has_every_table(fit):
    res = fit[0]
    s = res.summary()
    text = s.to_json()
    d = json.loads(text)  # strict JSON: NaN would be rejected below
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert d == s.as_dict()
    keys = {
        "schema",
        "title",
        "formula",
        "family",
        "link",
        "criterion",
        "nobs",
        "llf",
        "converged",
        "iterations",
        "standard_errors",
        "survey",
        "params",
        "bse",
        "fixed",
        "family_params",
        "var_components",
        "groups",
        "icc",
        "icc_std_error",
        "header",
        "footer",
        "se_note",
        "notes",
        "warnings",
    }
    if getattr(res, "n_plausible", None):  # the parts of the total variance too
        keys |= {"plausible_values", "imputation_variance", "sampling_variance"}
    assert set(d) == keys
    assert d["schema"] == "pywemix-summary/1"
    assert d["standard_errors"]["kind"] == res.default_kind == "robust"
    assert d["standard_errors"]["available"] == list(res.variance_kinds)
    assert d["title"] == s.title
    assert d["header"]["Formula"] == res.formula
    assert [r["term"] for r in d["fixed"]] == list(res.params.index)
    np.testing.assert_allclose([r["Estimate"] for r in d["fixed"]], res.params, rtol=0)
    np.testing.assert_allclose([r["Std. Error"] for r in d["fixed"]], res.bse, rtol=0)
    vc = res.var_components
    assert len(d["var_components"]) == len(vc)
    np.testing.assert_allclose([r["variance"] for r in d["var_components"]], vc["variance"], rtol=0)
    assert [r["group"] for r in d["var_components"]] == list(vc["group"])
    assert all(r["var2"] is None or isinstance(r["var2"], str) for r in d["var_components"])
    assert all(r["var1"] is None or isinstance(r["var1"], str) for r in d["var_components"])
    groups = res.groups
    assert [r["n_units"] for r in d["groups"]] == [int(n) for n in groups["n_units"]]
    np.testing.assert_allclose([r["sum_weight"] for r in d["groups"]], groups["sum_weight"], rtol=0)
    assert d["footer"]["Intraclass correlation (ICC)"] == f"{res.icc:.4f}"
    assert d["notes"] == [str(n) for n in s.notes]
    assert any("pseudo-likelihood" in n for n in d["notes"])


def test_latex_has_every_table(fit):
    res = fit[0]
    s = res.summary()
    tex = s.as_latex()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 4
    assert tex.count(r"\begin{itemize}") == tex.count(r"\end{itemize}") == 1
    for title in ("Variance terms", "Groups", "Fixed effects"):
        assert rf"\paragraph{{{title}}}" in tex
    lines = tex.splitlines()
    for name in res.params.index:
        row = next(line for line in lines if line.startswith(_tex_escaped(name) + " & "))
        cells = row.rstrip("\\ ").split(" & ")
        assert cells[1:] == [fmt(res.params[name]), fmt(res.bse[name]), fmt(res.tvalues[name])]
    for v in res.var_components["variance"]:
        assert f" & {fmt(v)} & " in tex
    assert f"{res.icc:.4f}" in tex
    assert "None" not in tex and "nan" not in tex
    assert r"wald\_test" in tex  # escaped underscore in the notes


def test_latex_escapes_special_characters(special):
    tex = special.summary().as_latex()
    assert r"grp[T.a\&b]" in tex
    assert r"Reaction \textasciitilde{} I(Days > 4)" in tex
    # every & outside the escapes separates cells: the same count on every row
    body = [line for line in tex.splitlines() if line.startswith("grp[T.")]
    assert len(body) == 2 and all(line.replace(r"\&", "").count("&") == 3 for line in body)


def test_unweighted_json_and_latex(unweighted):
    s = unweighted.summary()
    d = json.loads(s.to_json())
    assert d["notes"] == [str(n) for n in s.notes]
    assert d["header"]["Weights"] == "none (unit weights at every level)"
    assert d["footer"]["lnl"] == f"{unweighted.llf:.2f}"
    assert s.as_html() == s._repr_html_()
    assert s.as_latex().count(r"\begin{tabular}") == 4


def test_constructor_takes_header_notes_and_table(unweighted):
    """Header lines, the standard-error sentence, the fixed-effects table and an
    ICC standard error are constructor arguments (no mutation afterwards)."""
    from pywemix.results.summary import Summary

    res = unweighted
    table = pd.DataFrame({"Estimate": res.params, "df": np.arange(len(res.params))})
    s = Summary(
        res,
        header=[("Variance estimation", "by hand")],
        se_note="SEs by hand.",
        fixed=table,
        icc_std_error=0.0123,
        icc_se_label="my SE",
    )
    assert s.header[0][0] == "Formula" and s.header[1] == ("Variance estimation", "by hand")
    assert s.se_note == "SEs by hand." and "SEs by hand." in s.as_text()
    assert s.fixed is table
    assert dict(s.footer)["Intraclass correlation (ICC)"] == f"{res.icc:.4f} (my SE 0.0123)"
    assert dict(Summary(res).footer)["Intraclass correlation (ICC)"] == f"{res.icc:.4f}"
    assert s.as_dict()["header"]["Variance estimation"] == "by hand"
