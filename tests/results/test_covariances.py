"""One record of estimates and covariance kinds, read by every output (issue 19).

The example of the issue: ``load_pisa_replicates()``, ``pv1math ~ escs +
(1|schoolid)`` with ``survey="PISA"`` (80 Fay replicates). Every output --
``bse``, ``cov_params``, ``conf_int``, ``tidy``, ``summary`` in every format,
``wald_test``, ``compare``, the coef plot, the command line -- shows the
replication standard errors and says so; the sandwich is only where it is
asked for. The issue's figures (checked there against 80 explicit WeMix refits)
are pinned to the digits it gives.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.results.covariances import Covariance, Covariances, make_estimates, standard_errors

FORMULA = "pv1math ~ escs + (1|schoolid)"
PVS = {"math": [f"pv{k}math" for k in range(1, 6)]}


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return pywemix.mix(*args, **kwargs)


@pytest.fixture(scope="module")
def reps():
    return pywemix.datasets.load_pisa_replicates()


@pytest.fixture(scope="module")
def fay(reps):
    return _quiet(FORMULA, reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA")


@pytest.fixture(scope="module")
def both(reps):
    return _quiet(
        "math ~ escs + (1|schoolid)",
        reps,
        ["pwt1", "pwt2"],
        cond_weights=True,
        survey="PISA",
        plausible_values=PVS,
    )


# -- the records --------------------------------------------------------------------------


def _kind(name, scale=1.0, **kw):
    return Covariance(name, f"{name} covariance", scale * np.eye(2), scale * np.eye(3), **kw)


def test_registry_gives_the_default_and_lists_the_kinds():
    reg = Covariances((_kind("robust"), _kind("model", 2.0)), "robust")
    assert reg.names == ("robust", "model") and "model" in reg and "sandwich" not in reg
    assert reg.get() is reg.get(None) is reg.get("robust") is reg.default_kind
    assert reg.get("model").fixed[0, 0] == 2.0
    with pytest.raises(
        ValueError,
        match=r"kind must be 'robust' or 'model', got 'x' "
        r"\(None is the result's default, 'robust'\)",
    ):
        reg.get("x")
    with pytest.raises(ValueError, match="cov must be"):
        reg.get(3, "cov")
    with pytest.raises(ValueError, match="default kind 'replicate' is not among"):
        Covariances((_kind("robust"),), "replicate")
    with pytest.raises(ValueError, match="repeated"):
        Covariances((_kind("robust"), _kind("robust")), "robust")


def test_records_are_read_only_and_totals_have_both_parts():
    k = _kind("robust")
    with pytest.raises(ValueError):
        k.fixed[0, 0] = 5.0
    with pytest.raises(AttributeError):
        k.name = "model"
    assert not k.is_total and np.isnan(k.icc_std_error) and k.se_label == "cluster-robust SE"
    with pytest.raises(ValueError, match="both parts"):
        Covariance("robust", "t", np.eye(2), np.eye(3), sampling=k)
    total = Covariance(
        "robust",
        "t",
        3 * np.eye(2),
        3 * np.eye(3),
        0.04,
        sampling=_kind("sampling", 2.0),
        imputation=_kind("imputation"),
    )
    assert total.is_total and total.se_label == "total SE" and total.icc_std_error == 0.2


def test_make_estimates_takes_standard_errors_from_the_default_kind():
    table = pd.DataFrame(
        {
            "level": [2, 1],
            "group": ["g", "Residual"],
            "var1": ["Intercept", np.nan],
            "var2": [np.nan, None],
            "variance": [1.0, 2.0],
            "std_error": [9.0, 9.0],
        }
    )
    kinds = [
        Covariance("robust", "r", np.eye(2), 4 * np.eye(2)),
        Covariance("model", "m", np.eye(2), np.eye(2)),
    ]
    est = make_estimates(pd.Series([1.0, 2.0], index=["a", "b"]), table, 0.3, kinds, "robust")
    np.testing.assert_array_equal(est.var_components["std_error"], [2.0, 2.0])
    # missing labels are None in both columns, never NaN in one and None in the other
    assert est.var_components["var1"].tolist() == ["Intercept", None]
    assert est.var_components["var2"].tolist() == [None, None]
    assert est.default.name == "robust" and est.icc == 0.3
    np.testing.assert_array_equal(standard_errors([[4.0, 0], [0, -1.0]]), [2.0, np.nan])


# -- every output shows the default kind (the example) -----------------------------


def test_replicate_fit_reports_replication_standard_errors_everywhere(fay):
    assert isinstance(fay, pywemix.ReplicateResult)
    assert fay.default_kind == "replicate"
    assert fay.variance_kinds == ("replicate", "robust", "model")
    rep, robust = fay.covariance("replicate"), fay.covariance("robust")
    se = np.sqrt(np.diag(rep.fixed))
    # the figures: replication 6.88 / 4.20, sandwich 6.33 / 5.15
    np.testing.assert_allclose(se, [6.88, 4.20], atol=0.005)
    np.testing.assert_allclose(np.sqrt(np.diag(robust.fixed)), [6.33, 5.15], atol=0.005)
    np.testing.assert_allclose(fay.bse, se, rtol=1e-14)
    assert fay.bse.attrs["variance"] == "replicate"
    np.testing.assert_allclose(fay.cov_params(), rep.fixed, rtol=0)
    ci = fay.conf_int()
    np.testing.assert_allclose(ci.loc["escs"], [17.35, 33.80], atol=0.005)  # the issue's
    assert ci.attrs["variance"] == "replicate"
    assert "Fay's BRR, 80 replicates, k = 0.5" in ci.attrs["variance_description"]
    t = fay.tidy()
    np.testing.assert_allclose(t.loc[t["kind"] == "fixed", "std_error"], se, rtol=1e-14)
    assert t.attrs["variance"] == "replicate"
    np.testing.assert_allclose(
        fay.var_components["std_error"], standard_errors(rep.components), rtol=0
    )
    w = fay.wald_test(["escs"])
    assert w.cov == "replicate" and "replicate weights" in repr(w)
    assert w.statistic == pytest.approx((fay.params["escs"] / se[1]) ** 2, rel=1e-12)
    assert fay.wald_test(["escs"], cov="robust").cov == "robust"
    assert fay.icc_std_error == pytest.approx(fay.covariance().icc_std_error)


def test_replicate_summary_header_and_notes_agree_in_every_format(fay):
    s = fay.summary()
    description = fay.covariance().description
    assert dict(s.header)["Standard errors"] == description
    for text in (s.as_text(), s.as_html(), s.as_latex()):
        assert "80 replicates, k = 0.5" in text
        assert "shown are cluster-robust" not in text  # the contradiction
    assert any(n.endswith(f"the standard errors shown are {description}.") for n in s.notes)
    d = json.loads(s.to_json())
    assert d["standard_errors"]["kind"] == "replicate"
    assert d["standard_errors"]["description"] == description
    assert d["replicates"] == {"method": fay.method, "n_replicates": 80}
    assert d["survey"]["preset"] == "PISA" and d["survey"]["weight_scaling"] == "size"
    np.testing.assert_allclose(list(d["bse"].values()), fay.bse, rtol=1e-12)
    assert d["icc_std_error"] == pytest.approx(fay.icc_std_error, rel=1e-12)
    assert "replication SE" in d["footer"]["Intraclass correlation (ICC)"]


def test_compare_and_the_coef_plot_show_the_replicate_intervals(fay):
    table = pywemix.compare(fay)
    np.testing.assert_allclose(
        table.loc[["Intercept", "escs"], ("(1)", "std_error")], fay.bse, rtol=1e-12
    )
    assert table.attrs["variance"] == {"(1)": "replicate"}
    assert "Standard errors: replicate weights (Fay's BRR" in repr(table)
    assert "replicate weights" in table._repr_html_()
    robust = pywemix.compare(fay, kind="robust")
    np.testing.assert_allclose(
        robust.loc[["Intercept", "escs"], ("(1)", "std_error")],
        fay.std_errors("robust"),
        rtol=1e-12,
    )
    pytest.importorskip("matplotlib")
    ax = fay.plot("coef").axes[0]
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    np.testing.assert_allclose(
        sorted(bars.get_segments()[0][:, 0]), fay.conf_int().loc["escs"], rtol=1e-10
    )
    assert "Fay's BRR" in ax.get_xlabel()


def test_plausible_values_with_replicates_parts_add_up_to_the_total(both):
    assert isinstance(both, pywemix.ReplicateResult) and both.n_plausible == 5
    kind = both.covariance()
    assert kind.name == "replicate" and kind.is_total
    total = both.sampling_variance + both.imputation_variance
    # the replication totals: 45.73 and 17.32
    np.testing.assert_allclose(both.bse**2, [45.73, 17.32], atol=0.005)
    np.testing.assert_allclose(total, both.bse**2, rtol=1e-12)
    np.testing.assert_allclose(both.sampling_variance, np.diag(kind.sampling.fixed), rtol=0)
    # the sampling part is the mean replication variance, not the sandwich (issue 19)
    singles = [np.diag(both.full.fits[k].covariance("robust").fixed) for k in range(5)]
    assert not np.allclose(both.sampling_variance, np.mean(singles, axis=0))
    np.testing.assert_allclose(
        kind.components, kind.sampling.components + kind.imputation.components, rtol=1e-12
    )
    assert kind.icc == pytest.approx(kind.sampling.icc + kind.imputation.icc, rel=1e-12)
    d = both.summary().as_dict()
    np.testing.assert_allclose(
        np.add(list(d["sampling_variance"].values()), list(d["imputation_variance"].values())),
        np.square(list(d["bse"].values())),
        rtol=1e-12,
    )
    assert d["standard_errors"]["sampling"].startswith(
        "mean over the 5 plausible values of replicate weights"
    )


def test_plausible_values_alone_parts_add_up_to_the_total(reps):
    pv = _quiet(
        "math ~ escs + (1|schoolid)",
        reps,
        ["pwt1", "pwt2"],
        cond_weights=True,
        weight_scaling="size",
        plausible_values=PVS,
    )
    assert pv.default_kind == "robust" and pv.covariance().is_total
    np.testing.assert_allclose(pv.sampling_variance + pv.imputation_variance, pv.bse**2, rtol=1e-12)
    pooled = pywemix.pool(pv.fits)
    np.testing.assert_allclose(
        pooled.sampling_variance + pooled.imputation_variance, pooled.bse**2, rtol=1e-12
    )
    with pytest.raises(AttributeError, match="combination of fits"):
        _ = pv.fits[0].sampling_variance
