"""``(expr || g)`` expanded as lme4 does, checked against ``lmer(REML = FALSE)``.

lme4 expands ``(f || g)`` to ``(1 | g) + (0 + f | g)``: a factor (or a
logical, which R codes as a factor with levels FALSE, TRUE) gives one column
per level, correlated within that term; a numeric ``x`` gives
``(1 | g) + (0 + x | g)``. Reference values: tests/data/lme4_double_bar.json,
made by tests/data/make_lme4_double_bar.R on tests/data/structures.csv.
With an intercept beside a term coded in full, the intercept's variance and
the term's covariance are not separately identified, so the test compares
identified quantities: the log-likelihood, the fixed effects and their
model-based standard errors, and the variance of the random part of rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pywemix.design.formula import parse_formula

from conftest import quiet_mix, rel

DATA = Path(__file__).resolve().parents[1] / "data"
LME4 = json.loads((DATA / "lme4_double_bar.json").read_text())


@pytest.fixture(scope="module")
def fits():
    data = pd.read_csv(DATA / LME4["data"])
    return {name: quiet_mix(case["formula"], data) for name, case in LME4["cases"].items()}


@pytest.mark.parametrize("name", sorted(LME4["cases"]))
def test_double_bar_matches_lme4(fits, name):
    ref, r = LME4["cases"][name], fits[name]
    assert r.converged and r.nobs == ref["nobs"]
    # at least lme4's maximum, and the same up to lme4's stopping point
    assert r.llf >= ref["llf"] - 1e-7 * abs(ref["llf"])
    assert rel(r.llf, ref["llf"]) < 1e-7
    assert set(r.params.index) == set(ref["params"])
    for k, v in ref["params"].items():
        assert rel(r.params[k], v) < 1e-4, (k, r.params[k], v)
    se = r.std_errors("model")
    for k, v in ref["std_errors_model"].items():
        assert rel(se[k], v) < 1e-3, (k, se[k], v)


@pytest.mark.parametrize("name", sorted(LME4["cases"]))
def test_double_bar_effects_are_lme4s(fits, name):
    """Same terms, same columns (one per level of a factor or logical)."""
    ref, design = LME4["cases"][name], fits[name]._design
    ours = sorted(tuple(b.names) for lev in design.blocks for b in lev)
    assert ours == sorted(tuple(t["names"]) for t in ref["random_terms"])


@pytest.mark.parametrize("name", sorted(LME4["cases"]))
def test_double_bar_random_part_variances(fits, name):
    """``z_i' Sigma z_i`` summed over the levels, for the reference's rows."""
    ref, r = LME4["cases"][name], fits[name]
    design = r._design
    var = sum(np.einsum("ij,jk,ik->i", Z, C, Z) for Z, C in zip(design.Z, r._covs))
    by_row = np.empty_like(var)
    by_row[design.row_positions] = var
    expected = np.asarray(ref["row_variances"])
    assert np.all(rel(by_row[: LME4["n_rows"]], expected) < 1e-3)


@pytest.mark.parametrize(
    "formula, terms",
    [
        ("y ~ x + (x || g)", [("1", ("g",)), ("0 + x", ("g",))]),
        ("y ~ x + (f || g)", [("1", ("g",)), ("0 + f", ("g",))]),
        ("y ~ x + (I(x > 0) || g)", [("1", ("g",)), ("0 + I(x > 0)", ("g",))]),
        ("y ~ x + (0 + f || g)", [("0 + f", ("g",))]),
    ],
)
def test_double_bar_expansion(formula, terms):
    assert [(t.expr, t.group) for t in parse_formula(formula).random] == terms


def test_logical_expression_is_a_factor_in_the_fixed_part():
    """R codes ``I(x > 0)`` as a factor: ``0 + I(x > 0)`` has a column per level
    and, beside an intercept, a ``[T.True]`` contrast."""
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"g": np.repeat(np.arange(12), 6), "x": rng.normal(size=72)})
    d["y"] = d.x + rng.normal(size=72) + rng.normal(size=12)[d.g]
    with_int = quiet_mix("y ~ I(x > 0) + (1|g)", d)
    assert list(with_int.params.index) == ["Intercept", "I(x > 0)[T.True]"]
    full = quiet_mix("y ~ 0 + I(x > 0) + (1|g)", d)
    assert list(full.params.index) == ["I(x > 0)[False]", "I(x > 0)[True]"]
    # the same model, parametrised differently
    assert rel(full.llf, with_int.llf) < 1e-9
    assert rel(full.params.iloc[1] - full.params.iloc[0], with_int.params.iloc[1]) < 1e-6
