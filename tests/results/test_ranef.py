"""Random effects with conditional standard deviations: ``ranef(se=True)``.

Checked against lme4's ``ranef(m, condVar = TRUE)`` (tests/data/lme4_condvar.json,
written by tests/data/make_lme4_condvar.R) and, for weighted quadrature fits,
against the conditional density of one group's effect integrated on a fine grid
here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from pywemix.results.ranef import _gaussian_covariances

from conftest import needs_reference, reference_data
from conftest import quiet_mix as _mix

CONDVAR = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "lme4_condvar.json").read_text()
)
# The fits agree with lme4's to ~1e-11 in the log-likelihood, but the
# likelihood is flat in the covariance parameters: the modes and their
# standard deviations then agree only to ~1e-5 (sleepstudy) and ~1e-7 (pastes).
CASES = {
    "sleep_slope": ({}, 1e-4),
    "pastes_nested": ({}, 1e-6),
    "sleep_binomial_laplace": (dict(family="binomial", n_quad=1), 1e-4),
}


@pytest.fixture(scope="module")
def lme4_fits():
    out = {}
    for name, (kw, _) in CASES.items():
        ref = CONDVAR[name]
        out[name] = _mix(ref["formula"], reference_data(ref["data"]), **kw)
    return out


@needs_reference
@pytest.mark.parametrize("name", list(CASES))
def test_ranef_se_matches_lme4_condvar(lme4_fits, name):
    ref, res, tol = CONDVAR[name], lme4_fits[name], CASES[name][1]
    assert res.llf == pytest.approx(ref["llf"], rel=1e-7)
    tables = res.ranef(se=True)
    assert set(tables) == set(ref["ranef"])
    for factor, terms in ref["ranef"].items():
        t = tables[factor]
        assert list(t.columns) == ["group", "term", "estimate", "std_error"]
        assert set(t["term"]) == set(terms)
        for term, r in terms.items():
            rows = t[t["term"] == term].set_index(t.loc[t["term"] == term, "group"].astype(str))
            rows = rows.loc[r["group"]]
            scale = np.max(np.abs(r["condval"]))
            np.testing.assert_allclose(
                rows["estimate"] / scale, np.array(r["condval"]) / scale, rtol=0, atol=tol
            )
            np.testing.assert_allclose(rows["std_error"], r["condsd"], rtol=tol)


@needs_reference
def test_gaussian_conditional_covariance_matches_lme4_postvar(lme4_fits):
    """The whole 2 x 2 conditional covariance of (intercept, slope) per subject."""
    ref, res = CONDVAR["sleep_slope"], lme4_fits["sleep_slope"]
    covs = _gaussian_covariances(
        res.objective.function, res.sigma2, res.random_effects_covariances
    )[0]
    labels = [str(v) for v in res.ranef()["Subject"].index]
    assert covs.shape == (len(labels), 2, 2)
    for j, label in enumerate(labels):
        np.testing.assert_allclose(covs[j], np.array(ref["post_var"][label]), rtol=1e-4)


@needs_reference
def test_ranef_se_layout_and_estimates(lme4_fits):
    res = lme4_fits["sleep_slope"]
    wide = res.ranef()["Subject"]
    t = res.ranef(se=True)["Subject"]
    assert len(t) == wide.size
    assert list(t["term"].unique()) == list(wide.columns)  # effect by effect, as lme4
    for term in wide.columns:
        part = t[t["term"] == term]
        assert list(part["group"]) == list(wide.index)
        np.testing.assert_allclose(part["estimate"], wide[term], rtol=0)
        assert (part["std_error"] > 0).all()
    # the Gaussian conditional mean is the mode
    pd.testing.assert_frame_equal(res.ranef("mean", se=True)["Subject"], t)
    with pytest.raises(TypeError, match="se must be True or False"):
        res.ranef(se="yes")
    with pytest.raises(ValueError, match="kind"):
        res.ranef("median", se=True)


def _grid_moments(loglik, tau):
    """Mode, curvature variance, mean and variance of exp(loglik(u)) N(u; 0, tau)."""
    sd = np.sqrt(tau)
    u = np.linspace(-10 * sd, 10 * sd, 40001)
    logp = loglik(u) - 0.5 * u**2 / tau
    k = int(np.argmax(logp))
    h = u[1] - u[0]
    curvature = -(logp[k + 1] - 2 * logp[k] + logp[k - 1]) / h**2
    p = np.exp(logp - logp.max())
    p /= p.sum()
    mean = float(np.sum(p * u))
    return u[k], 1.0 / curvature, mean, float(np.sum(p * (u - mean) ** 2))


def _weighted_binomial():
    rng = np.random.default_rng(5)
    n_groups, size = 25, 8
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.8 * x + rng.normal(scale=0.9, size=n_groups)[g]
    return pd.DataFrame(
        {
            "y": (rng.uniform(size=g.size) < special.expit(eta)).astype(float),
            "x": x,
            "g": g,
            "w1": rng.uniform(0.5, 2.0, g.size),
            "w2": rng.uniform(1.0, 3.0, n_groups)[g],
        }
    )


def test_quadrature_ranef_se_against_a_grid():
    """Weighted binomial: the mode's SD is the curvature of the weighted
    conditional log-density at the mode, the mean's SD its posterior SD."""
    data = _weighted_binomial()
    res = _mix("y ~ x + (1|g)", data, ["w1", "w2"], cond_weights=True, family="binomial", n_quad=21)
    tau = float(res.var_components["variance"].iloc[0])
    b = res.params
    modes, means = res.ranef("mode", se=True)["g"], res.ranef("mean", se=True)["g"]
    for j in (0, 7, 19):
        d = data[data["g"] == j]
        eta = b["Intercept"] + b["x"] * d["x"].to_numpy()
        w, y = d["w1"].to_numpy(), d["y"].to_numpy()

        def loglik(u):
            e = eta[:, None] + u[None, :]  # noqa: B023 (called within this iteration)
            return np.sum(w[:, None] * (y[:, None] * e - np.logaddexp(0, e)), axis=0)  # noqa: B023 (called within this iteration)

        mode, var_mode, mean, var_mean = _grid_moments(loglik, tau)
        row_m, row_a = modes[modes["group"] == j].iloc[0], means[means["group"] == j].iloc[0]
        assert row_m["estimate"] == pytest.approx(mode, abs=1e-3)
        assert row_m["std_error"] == pytest.approx(np.sqrt(var_mode), rel=1e-4)
        assert row_a["estimate"] == pytest.approx(mean, rel=1e-4)
        assert row_a["std_error"] == pytest.approx(np.sqrt(var_mean), rel=1e-4)


@needs_reference
def test_three_level_lower_level_se_includes_upper_uncertainty(lme4_fits):
    """A sample's effect is uncertain also through its batch's: its SD exceeds
    the one given the batch effect (lme4 reports the former, checked above)."""
    res = lme4_fits["pastes_nested"]
    t = res.ranef(se=True)["sample"]
    given_batch = np.sqrt(res.conditional_variances[0][:, 0])
    assert (t["std_error"].to_numpy() > given_batch * (1 + 1e-3)).all()
