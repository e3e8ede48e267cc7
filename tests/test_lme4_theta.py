"""``result.theta`` and ``start=`` in lme4's order (``getME(m, "theta")``).

lme4 lists each block's lower-triangular Cholesky factor column by column:
for a 3x3 block (1,1), (2,1), (3,1), (2,2), (3,2), (3,3). The reference
values in tests/data/lme4_theta.json were made by
tests/data/make_lme4_theta.R (its ``source`` names the lme4 version) on the
simulated tests/data/theta.csv (unit weights): a correlated 3x3 block, the
same terms uncorrelated (``||``), two blocks at one level in both orders,
and a binomial Laplace fit (``glmer(nAGQ = 1)``, pywemix's ``n_quad=1``).
Tolerances are those of the other lme4 comparisons
(tests/reference/README.md): 1e-3 relative for the variance parameters,
5e-3 for families fitted by quadrature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import quiet_mix, rel

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "lme4_theta.json").read_text())
CASES = REF["cases"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(DATA / REF["data"])


_fits: dict = {}


def _fit(data, name, **kwargs):
    ref = CASES[name]
    extra = (
        {} if ref["family"] == "gaussian" else {"family": ref["family"], "n_quad": ref["n_quad"]}
    )
    if kwargs:
        return quiet_mix(ref["formula"], data, ["w1", "w2"], **extra, **kwargs)
    if name not in _fits:
        _fits[name] = quiet_mix(ref["formula"], data, ["w1", "w2"], **extra)
    return _fits[name]


def _tol(ref) -> float:
    return 1e-3 if ref["family"] == "gaussian" else 5e-3


@pytest.mark.parametrize("name", sorted(CASES))
def test_theta_is_lme4s(data, name):
    ref = CASES[name]
    res = _fit(data, name)
    assert res.llf >= ref["llf"] - 1e-7 * abs(ref["llf"])
    np.testing.assert_allclose(res.theta, ref["theta"], rtol=_tol(ref))


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_at_lme4s_theta_is_lme4s_llf(data, name):
    """lme4's theta vector, read as pywemix reads ``start=``, is lme4's model:
    the objective there (profiled for Gaussian fits; at lme4's fixed effects
    for the Laplace fit) is lme4's log-likelihood."""
    ref = CASES[name]
    res = _fit(data, name)
    function = res.objective.function
    if ref["family"] == "gaussian":
        llf = function.profiled(np.asarray(ref["theta"])).llf
    else:
        beta = [ref["params"][k] for k in res.params.index]
        llf = function.evaluate(np.r_[beta, ref["theta"]], derivs=False).llf
    assert rel(llf, ref["llf"]) < 1e-8


@pytest.mark.parametrize("name", ["correlated_3x3", "binomial_laplace_3x3"])
def test_start_round_trip(data, name):
    """``start=res.theta`` (Gaussian) or ``start=(params, theta)`` (other
    families) restarts at the optimum: same estimates, at most a few steps."""
    ref = CASES[name]
    res = _fit(data, name)
    start = res.theta if ref["family"] == "gaussian" else np.r_[res.params.to_numpy(), res.theta]
    again = _fit(data, name, start=start)
    assert again.llf >= res.llf - 1e-10 * abs(res.llf)
    np.testing.assert_allclose(again.theta, res.theta, rtol=1e-5, atol=1e-8)
    assert again.optimization.iterations <= max(3, res.optimization.iterations // 3)
