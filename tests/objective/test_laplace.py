"""The Laplace approximation (n_quad=1) at any depth, as lme4 defines it.

* Unit weights: equal to lme4's glmer(nAGQ=1) (tests/data/lme4_laplace.json,
  made by tests/data/make_lme4_laplace.R on tests/data/laplace_three.csv):
  two, three and four levels, random slopes at levels 2 and 3, correlated and
  ``||`` blocks, binomial with each link, Poisson with an offset.
* The exact gradient against central differences on weighted three-level
  models with slopes, including survey-scale weights; per-group pieces.
* Optima: the gradient vanishes, a restart returns to the same point.
* Integer weights equal repeated rows, schools and districts.
* A quadratic log density: the weighted construction is WeMix's nested
  weighted likelihood, computed independently by nested quadrature.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.design import build_design
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.families import Family, get_family
from pywemix.objective.laplace import LaplaceObjective
from pywemix.objective.quadrature import QuadratureObjective

from conftest import quiet_mix, rel

# These tests check objectives and derivatives on small weighted groups; the
# unscaled level-1 weights are deliberate (WeMix's default, as the references
# use) and the unscaled-weight warning is not what they are about (it is
# tested in tests/design/test_scaling.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:the level-1 weights vary within:pywemix.WeightWarning"
)

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "lme4_laplace.json").read_text())
CASES = sorted(k for k in REF if k != "source")
W3 = ["w1", "w2", "w3"]


@pytest.fixture(scope="module")
def three():
    return pd.read_csv(DATA / "laplace_three.csv")


def _formula(ref):
    return ref["formula"].replace(" + offset(logexp)", "")


def _objective(df, formula, family="binomial", link=None, weights=None, offset=None):
    fam = get_family(family, link)
    d = build_design(
        formula, df, weights, cond_weights=weights is not None, family=fam, offset=offset
    )
    return LaplaceObjective(d, CovarianceStructure.from_design(d), fam), d


def _phi_from_glmer(ref, obj, design):
    """(beta, c) at glmer's estimates: c from the Cholesky factors of its covariances."""
    names = [[n for b in blk for n in b.names] for blk in design.blocks]
    levels = [lev.name for lev in design.levels]
    covs = [np.zeros((q, q)) for q in obj.q]
    for row in ref["var_components"]:
        li = levels.index(row["group"])
        i = names[li].index(row["var1"])
        j = names[li].index(row["var2"]) if row["var2"] else i
        covs[li][i, j] = covs[li][j, i] = row["variance"]
    c = []
    for li, entries in enumerate(obj.cholesky_layout):
        C = np.linalg.cholesky(covs[li])
        c += [C[r, k] for _, r, k in entries]
    return np.r_[[ref["params"][n] for n in design.x_names], c]


def _variance(res, row):
    vc = res.var_components
    m = (vc["group"] == row["group"]) & (vc["var1"] == row["var1"])
    m &= vc["var2"].isna() if row["var2"] is None else (vc["var2"] == row["var2"])
    return float(vc.loc[m, "variance"].iloc[0])


# ---------------------------------------------------------------------------
# 1. unit weights: glmer(nAGQ = 1)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", CASES)
def test_value_at_glmer_estimates_equals_glmer(three, name):
    """The objective itself, at glmer's estimates, is glmer's log-likelihood."""
    ref = REF[name]
    obj, d = _objective(three, _formula(ref), ref["family"], ref["link"], offset=ref["offset"])
    llf = obj.evaluate(_phi_from_glmer(ref, obj, d), derivs=False).llf
    assert rel(llf, ref["llf"]) < 1e-8


@pytest.mark.parametrize("name", CASES)
def test_fit_equals_glmer(three, name):
    ref = REF[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        res = pywemix.mix(
            _formula(ref),
            three,
            family=ref["family"],
            link=ref["link"],
            offset=ref["offset"],
            n_quad=1,
        )
    assert res.converged
    assert rel(res.llf, ref["llf"]) < 1e-6
    assert res.llf >= ref["llf"] - 1e-8 * abs(ref["llf"])
    for k, v in ref["params"].items():
        assert rel(res.params[k], v) < 1e-4, k
    for row in ref["var_components"]:
        assert abs(_variance(res, row) - row["variance"]) < 1e-4 * abs(row["variance"]) + 1e-7
    # model-based standard errors. glmer's come from second differences of its
    # deviance with steps of 1e-4, at which its PIRLS (warm-started) barely
    # moves the modes: for the Poisson case that overstates the information
    # in x by 1% (steps of 0.02 give ours), hence the wider tolerance there.
    se = np.sqrt(np.diag(res.cov_params("model")))
    tol = 1e-2 if ref["family"] == "poisson" else 1e-3
    for k, v in ref["bse_model"].items():
        assert rel(se[list(res.params.index).index(k)], v) < tol, k


def test_issue_case_is_fast(three):
    """The issue's three-level case takes less time than glmer (0.3-1.3 s; the
    fit takes about 0.15 s). CPU time, as test machines may be loaded."""
    import time

    ref = REF["three_logit"]
    t = time.process_time()
    res = quiet_mix(_formula(ref), three, family="binomial", n_quad=1)
    elapsed = time.process_time() - t
    assert abs(res.llf - ref["llf"]) < 1e-5
    assert elapsed < 1.0


# ---------------------------------------------------------------------------
# 2. exact gradient, weighted
# ---------------------------------------------------------------------------
def _weighted(three, scale_top=1.0, scale_w1=1.0, districts=10):
    df = three[three["district"] <= districts].copy()
    df["w1"] = df["w1"] * scale_w1
    df["w3"] = df["w3"] * scale_top
    return df


def _fd(f, phi, h=1e-5):
    out = []
    for k in range(len(phi)):
        e = np.zeros(len(phi))
        e[k] = h * max(1.0, abs(phi[k]))
        out.append((f(phi + e) - f(phi - e)) / (2 * e[k]))
    return np.array(out).T


GRADIENT_CASES = [
    ("slope ~ x + (1 + x|school) + (1|district)", "binomial", "logit", None),
    ("slope ~ x + (1|school) + (x||district)", "binomial", "probit", None),
    ("pass ~ x + sex + (1|school) + (1 + x|district)", "binomial", "cloglog", None),
    ("count ~ x + (1 + x|school) + (1|district)", "poisson", None, "logexp"),
]


@pytest.mark.parametrize("formula,family,link,offset", GRADIENT_CASES)
@pytest.mark.parametrize("scale_top,scale_w1", [(1.0, 1.0), (1e-2, 1.0), (1e4, 1e3)])
def test_exact_gradient_equals_finite_differences(
    three, formula, family, link, offset, scale_top, scale_w1
):
    df = _weighted(three, scale_top, scale_w1)
    obj, d = _objective(df, formula, family, link, W3, offset)
    rng = np.random.default_rng(1)
    start = np.r_[np.zeros(obj.p), 0.5 * CovarianceStructure.from_design(d).theta_start()]
    for phi in (start, start + rng.normal(0, 0.3, obj.P)):
        ev = obj.evaluate(phi)
        fd = _fd(lambda x: obj.evaluate(x, derivs=False).llf, phi)
        scale = np.sum(np.abs(ev.group_A) * obj.wg[-1])
        assert np.max(np.abs(ev.grad - fd)) < 1e-7 * scale
        # per top group: values and gradients, which add up to the totals
        fdg = _fd(lambda x: obj.evaluate(x, derivs=False).group_A, phi)
        assert np.max(np.abs(ev.group_grad - fdg)) < 1e-7 * np.max(np.abs(ev.group_A))
        np.testing.assert_allclose(
            obj.wg[-1] @ ev.group_grad, ev.grad, rtol=1e-12, atol=1e-12 * scale
        )
        assert abs(obj.wg[-1] @ ev.group_A - ev.llf) < 1e-12 * scale


@pytest.mark.parametrize("link", ["logit", "cloglog"])
def test_exact_gradient_four_levels(three, link):
    """Slopes at levels 2 and 3 below a fourth level, weights at all four."""
    df = three[three["district"] <= 12].assign(w4=lambda d: 1.0 + d["region"] % 3)
    obj, _ = _objective(
        df,
        "slope ~ x + (1 + x|school) + (1 + x|district) + (1|region)",
        "binomial",
        link,
        W3 + ["w4"],
    )
    phi = np.random.default_rng(3).normal(0, 0.4, obj.P)
    ev = obj.evaluate(phi)
    fd = _fd(lambda x: obj.evaluate(x, derivs=False).llf, phi)
    assert np.max(np.abs(ev.grad - fd)) < 1e-7 * abs(ev.llf)


def test_gradient_on_the_boundary(three):
    """A zero variance (singular C) is an ordinary point in spherical coordinates."""
    obj, d = _objective(_weighted(three), GRADIENT_CASES[0][0], weights=W3)
    phi = np.r_[-0.3, 0.5, 0.6, 0.0, 0.0, 0.0]  # the slope's column of C is zero
    ev = obj.evaluate(phi)
    assert np.isfinite(ev.llf) and np.all(np.isfinite(ev.grad))
    fd = _fd(lambda x: obj.evaluate(x, derivs=False).llf, phi)
    assert np.max(np.abs(ev.grad - fd)) < 1e-7 * abs(ev.llf)


# ---------------------------------------------------------------------------
# 3. optima
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("scale_top", [1.0, 1e4])
def test_optimum_is_stationary_and_restart_returns(three, scale_top):
    df = _weighted(three, scale_top)
    formula = "slope ~ x + (1 + x|school) + (1|district)"
    res = quiet_mix(formula, df, W3, cond_weights=True, family="binomial", n_quad=1)
    assert res.converged
    obj, phi = res.objective.function, res.optimization.x
    fd = _fd(lambda x: obj.evaluate(x, derivs=False).llf, phi)
    hess = obj.hessian(phi)
    assert abs(fd @ np.linalg.solve(hess, fd)) < 1e-8 * abs(res.llf)
    exact = obj.evaluate(phi).grad
    assert np.max(np.abs(exact - fd)) < 1e-7 * abs(res.llf)
    rng = np.random.default_rng(4)
    start = phi + rng.normal(0, 0.2, len(phi))
    again = quiet_mix(formula, df, W3, cond_weights=True, family="binomial", n_quad=1, start=start)
    assert rel(again.llf, res.llf) < 1e-10
    np.testing.assert_allclose(again.optimization.x, phi, rtol=1e-5, atol=1e-6)
    if scale_top != 1.0:  # top weights scale the pseudo-likelihood, not the estimates
        base = quiet_mix(
            formula, _weighted(three), W3, cond_weights=True, family="binomial", n_quad=1
        )
        assert rel(res.llf, scale_top * base.llf) < 1e-9
        np.testing.assert_allclose(base.optimization.x, phi, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# 4. integer weights = repeated rows and groups
# ---------------------------------------------------------------------------
def _expand(df):
    """Rows repeated iw1 times, schools iw2 times and districts iw3 times (new ids)."""
    df = df.loc[df.index.repeat(df["iw1"])]
    out = []
    for (_dist, sch), g in df.groupby(["district", "school"]):
        for k in range(int(g["iw2"].iloc[0])):
            out.append(g.assign(school=f"{sch}#{k}"))
    df = pd.concat(out)
    out = []
    for dist, g in df.groupby("district"):
        for k in range(int(g["iw3"].iloc[0])):
            out.append(g.assign(district=f"{dist}#{k}", school=g["school"] + f"#{k}"))
    return pd.concat(out, ignore_index=True)


def test_integer_weights_equal_repeated_rows_and_groups(three):
    rng = np.random.default_rng(7)
    df = three[three["district"] <= 6].copy()
    df["iw1"] = rng.integers(1, 4, len(df))
    df["iw2"] = df["school"].map(
        dict(zip(df["school"].unique(), rng.integers(1, 3, df["school"].nunique())))
    )
    df["iw3"] = df["district"].map(
        dict(zip(df["district"].unique(), rng.integers(1, 3, df["district"].nunique())))
    )
    formula = "slope ~ x + (1 + x|school) + (1|district)"
    a = quiet_mix(
        formula, df, ["iw1", "iw2", "iw3"], cond_weights=True, family="binomial", n_quad=1
    )
    b = quiet_mix(formula, _expand(df), family="binomial", n_quad=1)
    assert rel(a.llf, b.llf) < 1e-10
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)
    np.testing.assert_allclose(
        a.var_components["variance"], b.var_components["variance"], rtol=1e-5
    )


# ---------------------------------------------------------------------------
# 5. a quadratic log density: the weighted nested likelihood, exactly
# ---------------------------------------------------------------------------
class _UnitGaussian(Family):
    """y ~ N(eta, 1): log f quadratic, so the Laplace approximation is exact."""

    name = "unitgaussian"
    links = ("identity",)

    def loglik(self, y, eta):
        return -0.5 * (y - eta) ** 2 - 0.5 * np.log(2 * np.pi)

    def derivs(self, y, eta, order=2):
        out = (self.loglik(y, eta), y - eta, -np.ones_like(eta))
        return out + (np.zeros_like(eta),) if order == 3 else out


def test_quadratic_log_density_equals_nested_weighted_integral(three):
    """WeMix's weighted likelihood, by nested adaptive quadrature (exact for a
    Gaussian integrand), equals the weighted Laplace construction."""
    df = _weighted(three, 3.0, 2.0)
    df["yy"] = df["slope"] + df["x"] * 0.3
    fam = _UnitGaussian()
    d = build_design("yy ~ x + (1 + x|school) + (1|district)", df, W3, cond_weights=True)
    st = CovarianceStructure.from_design(d)
    lap = LaplaceObjective(d, st, fam)
    quad = QuadratureObjective(d, st, fam, 3)
    for phi in ([0.1, 0.2, 0.7, 0.1, 0.3, 0.5], [0.0, -0.1, 0.3, -0.2, 0.6, 0.9]):
        a = lap.evaluate(np.array(phi), derivs=False).llf
        b = quad.evaluate(np.array(phi), derivs=False).llf
        assert rel(a, b) < 1e-10


# ---------------------------------------------------------------------------
# 6. the boundary
# ---------------------------------------------------------------------------
def test_fit_on_the_boundary_is_the_glm(three):
    """An outcome permuted across rows (seed 2): every variance estimate is 0 (as
    glmer finds: -2040.29780825), and the Laplace log-likelihood is the GLM's."""
    from scipy.optimize import minimize
    from scipy.special import log_expit

    y = np.random.default_rng(2).permutation(three["pass"].to_numpy())
    df = three.assign(perm=y)
    res = quiet_mix(
        "perm ~ x + sex + (1 + x|school) + (1|district)", df, family="binomial", n_quad=1
    )
    assert res.converged
    assert res.var_components["variance"].abs().max() < 1e-6
    X = np.c_[np.ones(len(df)), df["x"], (df["sex"] == "M").astype(float)]

    def nll(b):
        eta = X @ b
        return -np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta))

    glm = minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    assert rel(res.llf, -glm.fun) < 1e-9
    np.testing.assert_allclose(res.params.to_numpy(), glm.x, rtol=1e-4, atol=1e-5)
