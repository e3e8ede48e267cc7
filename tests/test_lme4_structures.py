"""Random-effect structures and fixed-effect terms against lme4's ``lmer(REML = FALSE)``.

With unit weights a Gaussian pywemix fit is lme4's ML fit. The reference
values in tests/data/lme4_structures.json were made by
tests/data/make_lme4_structures.R on tests/data/structures.csv (a simulated
four-level sample made by tests/data/make_structures_data.py): four levels,
random slopes above level 2, correlated slopes at two levels, ``||`` terms,
several terms on one grouping factor, the ``a/b/c`` nested form, categorical,
bool, interaction, ``I()`` and ``np.log`` terms, no intercept.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pywemix

DATA = Path(__file__).parent / "data"
LME4 = json.loads((DATA / "lme4_structures.json").read_text())
CASES = LME4["cases"]


@pytest.fixture(scope="module")
def structures() -> pd.DataFrame:
    return pd.read_csv(DATA / LME4["data"])


_fits: dict = {}


@pytest.fixture(scope="module", params=sorted(CASES))
def fitted(request, structures):
    """(lme4 reference, pywemix result) of one case; each case is fitted once."""
    name = request.param
    if name not in _fits:
        with warnings.catch_warnings():
            # few top-level groups (6 regions) and singular-fit notes are expected
            warnings.simplefilter("ignore", pywemix.PywemixWarning)
            _fits[name] = pywemix.mix(CASES[name]["formula"], structures)
    return CASES[name], _fits[name]


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _key(group, var1, var2):
    """A variance-component row's key.

    An interaction grouping factor is the same whatever the order of its
    columns (lme4 names ``(1|region/district)``'s factor ``district:region``,
    ``(1|region:district)``'s ``region:district``), and covariances are
    symmetric in (var1, var2).
    """
    if group == "Residual":
        return ("Residual",)
    g = ":".join(sorted(str(group).split(":")))
    if _missing(var2):
        return (g, str(var1))
    return (g,) + tuple(sorted((str(var1), str(var2))))


def _rel(a, b) -> float:
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


def test_converged(fitted):
    ref, r = fitted
    assert r.converged
    assert r.nobs == ref["nobs"]


def test_llf_matches_lme4(fitted):
    ref, r = fitted
    llf_ref = ref["llf"]
    # the maximum is at least as high as lme4's (which stops a little short)
    assert r.llf >= llf_ref - 1e-7 * abs(llf_ref), (r.llf, llf_ref)
    assert _rel(r.llf, llf_ref) < 1e-6, (r.llf, llf_ref)


def test_fixed_effects_match_lme4(fitted):
    ref, r = fitted
    assert set(r.params.index) == set(ref["params"])
    for name, value in ref["params"].items():
        ours = r.params[name]
        assert _rel(ours, value) < 1e-4 or abs(ours - value) < 1e-6, (name, ours, value)


def test_model_standard_errors_match_lme4(fitted):
    ref, r = fitted
    se = r.std_errors("model")
    assert set(se.index) == set(ref["std_errors_model"])
    for name, value in ref["std_errors_model"].items():
        assert _rel(se[name], value) < 1e-3, (name, se[name], value)


def test_variance_components_match_lme4(fitted):
    ref, r = fitted
    ours = {
        _key(row["group"], row["var1"], row["var2"]): row["variance"]
        for _, row in r.var_components.iterrows()
    }
    theirs = {_key(v["group"], v["var1"], v["var2"]): v["variance"] for v in ref["var_components"]}
    assert set(ours) == set(theirs)
    largest = max(abs(v) for v in theirs.values())
    for k, v in theirs.items():
        if abs(ours[k]) < 1e-6 * largest and abs(v) < 1e-6 * largest:
            continue  # both at the boundary (a singular fit)
        assert _rel(ours[k], v) < 1e-3, (k, ours[k], v)


def test_theta_matches_lme4(fitted):
    """``theta`` in lme4's order: its blocks as ``mkReTrms`` orders the terms
    (reordered by number of groups, ties reversed), each column by column."""
    ref, r = fitted
    theirs = np.asarray(ref["theta"])
    assert r.theta.shape == theirs.shape
    largest = np.max(np.abs(theirs))
    for ours, v in zip(r.theta, theirs):
        if abs(ours) < 1e-3 * largest and abs(v) < 1e-3 * largest:
            continue  # both at the boundary (a singular fit: variances below 1e-6 of the largest)
        assert _rel(ours, v) < 1e-3, (r.theta, theirs)


def test_reference_file_is_complete():
    assert LME4["source"].startswith("lme4")
    assert len(CASES) >= 10
    for name, c in CASES.items():
        assert c["converged_by_optimizer"][c["optimizer"]], name
        assert np.isfinite(c["llf"]), name
