"""Residuals, simulation and diagnostic plots (lecture notes, "Diagnostics")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pywemix
import pywemix.cli

from conftest import REFERENCE, needs_reference, reference_data
from conftest import quiet_mix as _mix

pytestmark = needs_reference

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # before anything imports pyplot; the library never does

PNG = b"\x89PNG\r\n\x1a\n"
KINDS = ("resid_fitted", "qq_resid", "qq_ranef", "caterpillar")


def _shuffled(df, seed):
    """Rows in random order with a non-default index (row-order bugs show up)."""
    out = df.sample(frac=1.0, random_state=seed)
    out.index = pd.Index([f"r{i}" for i in range(len(out))][::-1])
    return out


@pytest.fixture(scope="module")
def sleep():
    return _shuffled(reference_data("sleepstudy.csv"), 1)


@pytest.fixture(scope="module")
def pastes():
    return _shuffled(reference_data("pastes.csv"), 2)


@pytest.fixture(scope="module")
def fits(sleep, pastes):
    return {
        "gaussian2": _mix("Reaction ~ Days + (Days|Subject)", sleep),
        "gaussian_ri": _mix("Reaction ~ Days + (1|Subject)", sleep),
        "gaussian3": _mix("strength ~ 1 + (1|sample) + (1|batch)", pastes),
        "binomial": _mix("bin ~ Days + (1|Subject)", sleep, family="binomial"),
    }


# -- residuals ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name,data,y",
    [
        ("gaussian2", "sleep", "Reaction"),
        ("gaussian3", "pastes", "strength"),
        ("binomial", "sleep", "bin"),
    ],
)
def test_response_residuals(fits, request, name, data, y):
    r = fits[name]
    df = request.getfixturevalue(data)
    res = r.resid
    assert isinstance(res, pd.Series)
    assert res.index.equals(r.fittedvalues.index)
    assert res.index.equals(df.index)  # the data's row order
    expected = df[y].astype(float) - r.fittedvalues
    np.testing.assert_allclose(res.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    pd.testing.assert_series_equal(r.resid(), r.residuals("response"), check_names=False)
    pd.testing.assert_series_equal(r.resid(kind="response"), r.residuals(), check_names=False)


@pytest.mark.parametrize("name", ["gaussian2", "gaussian3"])
def test_pearson_residuals_gaussian(fits, name):
    r = fits[name]
    pearson = r.resid(kind="pearson")
    assert pearson.index.equals(r.fittedvalues.index)
    np.testing.assert_allclose(pearson, r.resid / np.sqrt(r.sigma2), rtol=1e-12)
    resid_var = r.var_components.query("group == 'Residual'")["variance"].iloc[0]
    np.testing.assert_allclose(pearson, r.resid / np.sqrt(resid_var), rtol=1e-10)


def test_pearson_residuals_binomial(fits, sleep):
    r = fits["binomial"]
    mu = r.fittedvalues
    assert np.all((mu > 0) & (mu < 1))
    expected = (sleep["bin"] - mu) / np.sqrt(mu * (1 - mu))
    np.testing.assert_allclose(r.resid(kind="pearson"), expected, rtol=1e-10)


def test_unknown_residual_kind(fits):
    with pytest.raises(ValueError, match="pearson"):
        fits["gaussian2"].resid(kind="deviance")
    with pytest.raises(ValueError):
        fits["binomial"].residuals("studentized")


# -- simulate ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["gaussian2", "gaussian3", "binomial"])
def test_simulate_shape_index_reproducible(fits, name):
    r = fits[name]
    a = r.simulate(4, seed=10)
    assert isinstance(a, pd.DataFrame)
    assert a.shape == (r.nobs, 4)
    assert list(a.columns) == ["sim_1", "sim_2", "sim_3", "sim_4"]
    assert a.index.equals(r.fittedvalues.index)
    pd.testing.assert_frame_equal(a, r.simulate(4, seed=10))
    pd.testing.assert_frame_equal(a, r.simulate(4, seed=np.random.default_rng(10)))
    assert not a.equals(r.simulate(4, seed=11))
    assert np.all(np.isfinite(a.to_numpy()))
    assert r.simulate(seed=1).shape == (r.nobs, 1)


def test_simulate_bad_n(fits):
    for bad, exc in (
        (0, ValueError),
        (-1, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("2", TypeError),
    ):
        with pytest.raises(exc, match="n must be a positive integer"):
            fits["gaussian_ri"].simulate(bad, seed=1)


@pytest.mark.parametrize("seed, exc", [("a", TypeError), (1.5, TypeError), (-3, ValueError)])
def test_simulate_bad_seed(fits, seed, exc):
    with pytest.raises(exc, match="seed"):
        fits["gaussian_ri"].simulate(2, seed=seed)


def test_simulate_too_many_draws_is_refused_before_allocating(fits):
    """n x rows x 8 bytes over 2 GB: a ValueError naming n, the memory and a
    batch size that fits, instead of a MemoryError (or swapping)."""
    from pywemix.results.diagnostics import MAX_DRAW_BYTES

    r = fits["gaussian_ri"]
    with pytest.raises(
        ValueError,
        match=r"n=1000000000 draws of 180 rows need 1.31 TB.*"
        r"use n <= \d+.*loop",
    ) as err:
        r.simulate(10**9, seed=1)
    batch = int(str(err.value).split("use n <= ")[1].split(",")[0])
    assert 8 * batch * r.nobs <= MAX_DRAW_BYTES < 8 * (batch + 1) * r.nobs
    assert r.simulate(np.int64(2), seed=1).shape == (r.nobs, 2)


def test_simulate_poisson_means_too_large_names_their_range():
    """numpy refuses Poisson means above ~9.2e18 ('lam value too large'): the
    error names the range of the means and what to check."""
    from pywemix.results.diagnostics import draw_responses

    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(10), 6)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=g.size)})
    df["y"] = rng.poisson(np.exp(1 + 0.3 * rng.normal(size=10)[g]))
    r = _mix("y ~ x + (1|g)", df, family="poisson")
    assert np.all(np.isfinite(r.simulate(3, seed=1).to_numpy()))
    beta = r.params.to_numpy() + np.array([50.0, 0.0])  # means around e^51
    with pytest.raises(
        ValueError,
        match=r"cannot draw poisson responses: the means .* "
        r"range from \S+e\+\d+ to .*result\.params",
    ):
        draw_responses(
            r.design,
            beta,
            r.random_effects_covariances,
            r.sigma2,
            r.family_object,
            2,
            np.random.default_rng(1),
        )


def test_simulate_gaussian_moments(fits, sleep):
    """Random intercept: E y = X beta, var y = tau^2 + sigma^2, and rows of one
    subject correlate by tau^2 / (tau^2 + sigma^2)."""
    r = fits["gaussian_ri"]
    sims = r.simulate(1000, seed=3)
    fixed = r.params["Intercept"] + r.params["Days"] * sleep.loc[sims.index, "Days"]
    dev = sims.sub(fixed, axis=0).to_numpy()
    tau2 = r.var_components.query("group == 'Subject'")["variance"].iloc[0]
    total = tau2 + r.sigma2
    assert abs(dev.mean()) < 0.1 * np.sqrt(total)
    assert dev.var() == pytest.approx(total, rel=0.1)
    subj = sleep.loc[sims.index, "Subject"].to_numpy()
    first = [np.flatnonzero(subj == s)[:2] for s in np.unique(subj)]
    a = np.concatenate([dev[i[0]] for i in first])
    b = np.concatenate([dev[i[1]] for i in first])
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(tau2 / total, abs=0.08)


def test_simulate_three_level_variance(fits):
    r = fits["gaussian3"]
    sims = r.simulate(1000, seed=4).to_numpy() - r.params["Intercept"]
    total = r.var_components["variance"].sum()
    assert sims.var() == pytest.approx(total, rel=0.15)


def test_simulate_binomial(fits, sleep):
    r = fits["binomial"]
    sims = r.simulate(500, seed=5)
    assert set(np.unique(sims.to_numpy())) <= {0.0, 1.0}
    # marginal mean: E logistic(x'b + u), u ~ N(0, tau^2), by Gauss-Hermite
    tau = np.sqrt(r.var_components["variance"].iloc[0])
    z, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    eta = (r.params["Intercept"] + r.params["Days"] * sleep.loc[sims.index, "Days"]).to_numpy()
    mu = (1 / (1 + np.exp(-(eta[:, None] + tau * z[None, :])))) @ w
    assert sims.to_numpy().mean() == pytest.approx(mu.mean(), abs=0.03)
    # and by Days (the trend is reproduced)
    by_day = sims.mean(axis=1).groupby(sleep.loc[sims.index, "Days"].to_numpy()).mean()
    mu_day = (
        pd.Series(mu, index=sims.index).groupby(sleep.loc[sims.index, "Days"].to_numpy()).mean()
    )
    np.testing.assert_allclose(by_day, mu_day, atol=0.06)


# -- plots -------------------------------------------------------------------

N_EFFECTS = {"gaussian2": 2, "gaussian3": 2, "binomial": 1}


@pytest.mark.parametrize("name", ["gaussian2", "gaussian3", "binomial"])
@pytest.mark.parametrize("kind", KINDS)
def test_plot_renders_png(fits, name, kind, tmp_path):
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    fig = fits[name].plot(kind)
    assert isinstance(fig, Figure)
    n_axes = N_EFFECTS[name] if kind in ("qq_ranef", "caterpillar") else 1
    assert len(fig.axes) == n_axes
    path = tmp_path / f"{name}_{kind}.png"
    fig.savefig(path, dpi=40)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000
    assert matplotlib.get_backend() == backend  # the library leaves the backend alone


def test_plot_default_kind(fits):
    fig = fits["gaussian_ri"].plot()
    assert fig.axes[0].get_ylabel().lower().startswith("pearson")


def test_unknown_plot_kind(fits):
    with pytest.raises(ValueError, match="caterpillar"):
        fits["gaussian2"].plot("histogram")


def test_cli_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "qq.png"
    csv = str(REFERENCE / "data" / "sleepstudy.csv")
    rc = pywemix.cli.main(
        ["plot", "Reaction ~ Days + (Days|Subject)", csv, "--kind", "qq_ranef", "-o", str(out)]
    )
    assert rc == 0
    assert out.read_bytes().startswith(PNG)
    assert str(out) in capsys.readouterr().out


def test_cli_plot_bad_kind(tmp_path, capsys):
    csv = str(REFERENCE / "data" / "sleepstudy.csv")
    with pytest.raises(SystemExit):
        pywemix.cli.main(
            [
                "plot",
                "Reaction ~ Days + (1|Subject)",
                csv,
                "--kind",
                "histogram",
                "-o",
                str(tmp_path / "x.png"),
            ]
        )
    assert not (tmp_path / "x.png").exists()
