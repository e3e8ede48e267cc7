"""Everything the Gaussian, binomial and Poisson fits offer, for the families
with auxiliary parameters (negative binomial, gamma, ordinal) and the
binomial with trials, each checked against something computed here:

* cluster-robust standard errors: the sandwich of central differences of
  the top-level groups' log integrals in the reported parameters;
* ``ranef``: each school's conditional mode maximised by scipy;
* ``predict``: the inverse link (and, for ordinal fits, the category
  probabilities of ``type="prob"`` from the thresholds) by hand;
* ``simulate``: the response's support and the fixed part's mean;
* ``summary``/``tidy``/``as_dict``: the family-parameter table;
* plausible values: Rubin's rules over separate fits;
* replicate weights: the refits equal separate fits with the replicate
  weights; ``by=``: separate fits of each subset; Dask: the in-memory fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special
from scipy.linalg import hadamard

import pywemix

from conftest import AUX_FAMILIES, aux_family_id, family_data, quiet_mix

FORMULA = "{} ~ x + (1|g)"


@pytest.fixture(scope="module")
def df():
    d = family_data(4, n_groups=16, sizes=(5, 10))
    d["wt"] = d["w1"] * d["w2"]
    return d


def fit(case, data, **kw):
    family, link, response = case
    kw.setdefault("weights", ["w1", "w2"])
    kw.setdefault("cond_weights", True)
    return quiet_mix(
        FORMULA.format(response), data, family=family, link=link, n_quad=kw.pop("n_quad", 1), **kw
    )


@pytest.fixture(scope="module", params=AUX_FAMILIES, ids=aux_family_id)
def fitted(request, df):
    return request.param, fit(request.param, df)


def _central(f, x, h=1e-5):
    cols = []
    for k in range(len(x)):
        e = np.zeros(len(x))
        e[k] = h * max(abs(x[k]), 1.0)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * e[k]))
    return np.stack(cols, axis=-1)


def test_cluster_robust_standard_errors(fitted):
    """``H^-1 J H^-1`` with ``J = G/(G-1) sum_j w_j^2 s_j s_j'`` in (fixed
    effects, family parameters' values, Cholesky elements), all by central
    differences of the objective; the fixed and family block is reported."""
    _, res = fitted
    obj = res.objective.function
    fam, p, k = obj.base_family, obj.p, obj.k
    x = res.optimization.x
    natural = np.r_[x[:p], fam.natural(x[p : p + k])[0] if k else [], x[p + k :]]

    def groups(z):
        phi = np.r_[z[:p], fam.unconstrained(z[p : p + k]) if k else [], z[p + k :]]
        return obj.evaluate(phi, derivs=False).group_A

    w = res.design.wg[-1]
    S = w[:, None] * _central(groups, natural)
    H = _central(lambda z: _central(lambda t: w @ groups(t), z, 1e-4), natural, 1e-4)
    Hi = np.linalg.inv(-0.5 * (H + H.T))
    G = len(w)
    V = Hi @ (G / (G - 1) * S.T @ S) @ Hi
    m = p + k
    assert list(res.cov_params("robust").index) == list(res.params.index)
    np.testing.assert_allclose(
        res.cov_params("robust").to_numpy(),
        V[:m, :m],
        rtol=2e-3,
        atol=2e-3 * np.max(np.abs(np.diag(V[:m, :m]))),
    )
    assert res.default_kind == "robust"
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(V[:m, :m])), rtol=1e-3)


def _bound(res):
    """The family with the fitted parameters, and the fixed-part linear predictor."""
    fam = res.family_object
    k = fam.n_aux
    values = res.params.to_numpy()[len(res.params) - k :] if k else None
    bound = fam.with_aux(values) if k else fam
    beta = res.fe_params.to_numpy()
    return bound, res.design.X @ beta + res.design.offset


def test_ranef_are_the_conditional_modes(fitted):
    _, res = fitted
    bound, base = _bound(res)
    d = res.design
    sd = float(np.sqrt(res.random_effects_covariances[0][0, 0]))
    starts = np.r_[d.levels[0].starts, len(base)]
    modes = res.ranef()["g"].iloc[:, 0]
    for j in range(d.levels[0].n_groups):
        rows = slice(starts[j], starts[j + 1])

        def neg(u):
            return -(d.w1[rows] @ bound.loglik(d.y[rows], base[rows] + u)) + 0.5 * (u / sd) ** 2  # noqa: B023 (called within this iteration)

        u = optimize.minimize_scalar(neg, bracket=(-1.0, 1.0), tol=1e-12).x
        assert modes.loc[d.levels[0].labels[j]] == pytest.approx(u, abs=1e-5)


def test_predict(fitted, df):
    case, res = fitted
    link = res.predict(df, type="link")
    np.testing.assert_allclose(link, res.predict(type="link"), rtol=1e-10)
    mean = res.predict(df)
    if case[0] == "ordinal":
        thr = res.params.to_numpy()[1:]
        F = special.expit if case[1] == "logit" else special.ndtr
        cum = F(thr[None, :] - link.to_numpy()[:, None])
        probs = np.diff(np.c_[np.zeros(len(df)), cum, np.ones(len(df))], axis=1)
        got = res.predict(df, type="prob")
        assert list(got.columns) == [1, 2, 3, 4]
        np.testing.assert_allclose(got.to_numpy(), probs, rtol=1e-10)
        np.testing.assert_allclose(mean, probs @ np.arange(1, 5), rtol=1e-10)
    else:
        inverse = {"log": np.exp, "inverse": lambda e: 1 / e, "logit": special.expit}[case[1]]
        np.testing.assert_allclose(mean, inverse(link.to_numpy()), rtol=1e-10)
        with pytest.raises(ValueError, match="ordinal"):
            res.predict(df, type="prob")
    with pytest.raises(TypeError):
        res.predict(df, kind="prob")  # one name for the option: type=


def test_simulate(fitted, df):
    case, res = fitted
    sims = res.simulate(400, seed=1)
    assert sims.shape == (len(df), 400) and list(sims.index) == list(df.index)
    y = sims.to_numpy()
    if case[0] == "ordinal":
        assert set(np.unique(y)) <= {1, 2, 3, 4}
    elif case[0] == "negative_binomial":
        assert np.all(y >= 0) and np.all(y == np.round(y))
    elif case[0] == "gamma":
        assert np.all(y > 0)
    else:
        assert np.all((y >= 0) & (y <= (df["succ"] + df["fail"]).to_numpy()[:, None]))
    if case[1] == "log":  # the marginal mean exp(X beta + sigma^2 / 2), data order
        _, base = _bound(res)
        s2 = res.random_effects_covariances[0][0, 0]
        want = res.to_data_order(np.exp(base + s2 / 2), "mean")
        assert np.mean(y) == pytest.approx(float(np.mean(want)), rel=0.05)


def test_summary_and_tables(fitted):
    case, res = fitted
    k = res.family_object.n_aux
    names = list(res.params.index)[len(res.params) - k :]
    text = str(res.summary())
    assert all(n in text for n in names) and "robust" in text.lower()
    tidy = res.tidy()
    assert set(names) <= set(tidy["term"])
    summary = res.summary()
    assert all(n in summary._repr_html_() for n in names)
    terms = [r["term"] for r in summary.as_dict()["family_params"]]
    assert terms == names


@pytest.mark.parametrize("case", [c for c in AUX_FAMILIES if c[0] != "binomial"], ids=aux_family_id)
def test_plausible_values_are_rubins_rules_over_separate_fits(case, df):
    rng = np.random.default_rng(3)
    resp = case[2]
    d = df.copy()
    order = rng.permutation(len(d))
    d["pv1"], d["pv2"] = d[resp], d[resp].to_numpy()[order]  # a shuffled response
    d["pv3"] = d[resp].to_numpy()[np.r_[order[1:], order[:1]]]
    res = quiet_mix(
        "y ~ x + (1|g)",
        d,
        ["w1", "w2"],
        cond_weights=True,
        family=case[0],
        link=case[1],
        n_quad=1,
        plausible_values={"y": ["pv1", "pv2", "pv3"]},
    )
    fits = [fit((case[0], case[1], c), d) for c in ("pv1", "pv2", "pv3")]
    est = np.stack([f.params.to_numpy() for f in fits])
    np.testing.assert_allclose(res.params.to_numpy(), est.mean(axis=0), rtol=1e-6, atol=1e-8)
    dev = est - est.mean(axis=0)
    total = dev.T @ dev * (4 / 6) + np.mean(
        [f.cov_params("robust").to_numpy() for f in fits], axis=0
    )
    np.testing.assert_allclose(res.cov_params().to_numpy(), total, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_replicate_refits_equal_separate_fits(case, df):
    """Fay's BRR (k = 0.5) on pairs of schools: each refit is the fit with
    the replicate's total weights and its schools' factor on their weights."""
    school = df["g"].to_numpy()
    pair, sign = np.arange(16) // 2, np.where(np.arange(16) % 2 == 0, 1, -1)
    factor = 1 + 0.5 * hadamard(4)[:, pair % 4] * sign  # (replicates, schools)
    d = df.copy()
    cols = [f"rw{r + 1}" for r in range(4)]
    for r, c in enumerate(cols):
        d[c] = d["wt"] * factor[r, school]
    kw = dict(weights=["wt", "w2"], cond_weights=False)
    res = fit(
        case, d, replicates=pywemix.Replicates(cols, method="fay", fay=0.5, full_weight="wt"), **kw
    )
    full = fit(case, d, **kw)
    P = np.stack(
        [
            fit(
                case,
                d.assign(_w1=d[c], _w2=d["w2"] * factor[r, school]),
                weights=["_w1", "_w2"],
                cond_weights=False,
            ).params.to_numpy()
            for r, c in enumerate(cols)
        ]
    )
    np.testing.assert_allclose(res.replicate_params.to_numpy(), P, rtol=1e-6, atol=1e-8)
    dev = P - full.params.to_numpy()
    np.testing.assert_allclose(
        res.cov_params().to_numpy(), dev.T @ dev / (4 * 0.25), rtol=1e-5, atol=1e-12
    )
    assert res.default_kind == "replicate"


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_by_equals_separate_fits(case, df):
    d = df.assign(cnt=np.where(df["g"] % 2 == 0, "A", "B"))
    out = fit(case, d, by="cnt")
    for key in ("A", "B"):
        alone = fit(case, d[d["cnt"] == key])
        np.testing.assert_allclose(out[key].params, alone.params, rtol=1e-10)
        assert out[key].llf == pytest.approx(alone.llf, rel=1e-12)


@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_dask_equals_the_in_memory_fit(case, df, dask_client):
    dd = pytest.importorskip("dask.dataframe")
    mem = fit(case, df)
    res = fit(case, dd.from_pandas(df, npartitions=3, sort=False))
    assert type(res).__name__ == "DaskMixResult"
    np.testing.assert_allclose(res.params, mem.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.theta, mem.theta, rtol=1e-6, atol=1e-8)
    assert res.llf == pytest.approx(mem.llf, rel=1e-6)
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-5)
    np.testing.assert_allclose(res.ranef()["g"], mem.ranef()["g"], rtol=1e-5, atol=1e-8)
