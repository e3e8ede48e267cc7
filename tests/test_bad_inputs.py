"""A catalogue of bad inputs, as a demanding user of lme4, WeMix or statsmodels
would try them: every one gets a plain ``ValueError``/``TypeError`` whose
message names the argument, column, level or term at fault (never a numpy,
pandas or formulaic error of another type), and legal but awkward input gives
a finite fit with the trouble recorded as a warning on the result.

Small simulated data (a few hundred rows), so that the whole module runs in
seconds; most cases fail before any fitting.
"""

from __future__ import annotations

import re
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix import DataWarning

F = "y ~ x + (1|school)"
F3 = "y ~ x + (1|school) + (1|district)"
FB = "yb ~ x + (1|school)"
FP = "yp ~ x + (1|school)"


@cache
def _two() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n_groups = 25
    g = np.repeat(np.arange(n_groups), rng.integers(4, 8, n_groups))
    n = len(g)
    x = rng.normal(size=n)
    eta = 0.5 * x + rng.normal(0, 0.7, n_groups)[g]
    w2 = np.round(rng.uniform(1, 3, n_groups), 3)[g]
    return pd.DataFrame(
        dict(
            y=1 + eta + rng.normal(size=n),
            yb=(rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int),
            yp=rng.poisson(np.exp(0.3 + 0.5 * eta)),
            x=x,
            cat=rng.choice(np.array(["a", "b"]), n),
            school=[f"s{k:02d}" for k in g],
            w1=np.round(rng.uniform(1, 2, n) * w2, 3),
            w2=w2,
        )
    )


@cache
def _three() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    nd = 20
    dist = np.repeat(np.arange(nd), rng.integers(2, 4, nd))
    sch = np.repeat(np.arange(len(dist)), rng.integers(3, 6, len(dist)))
    n = len(sch)
    x = rng.normal(size=n)
    y = (
        x
        + rng.normal(0, 0.6, nd)[dist[sch]]
        + rng.normal(0, 0.6, len(dist))[sch]
        + rng.normal(size=n)
    )
    w3 = rng.uniform(1, 2, nd)[dist[sch]]
    w2 = rng.uniform(1, 2, len(dist))[sch] * w3
    return pd.DataFrame(
        dict(
            y=y,
            yb=(y > 0).astype(int),
            x=x,
            school=sch,
            district=dist[sch],
            w1=w2 * 1.5,
            w2=w2,
            w3=w3,
        )
    )


def two(**columns) -> pd.DataFrame:
    """The two-level frame with columns replaced or added (callables get the frame)."""
    return _two().assign(**columns)


def three(**columns) -> pd.DataFrame:
    return _three().assign(**columns)


def fails(exc, culprit, fn, *args, **kwargs):
    """``fn`` raises exactly ``exc`` (not a subclass such as numpy's LinAlgError)
    with a message naming ``culprit`` (a literal string)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            fn(*args, **kwargs)
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert re.search(re.escape(culprit), str(info.value)), str(info.value)
    return info.value


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def finite_fit(result):
    values = np.r_[
        result.params.to_numpy(),
        result.bse.to_numpy(),
        result.llf,
        result.var_components["variance"].to_numpy(),
    ]
    assert np.all(np.isfinite(values))
    return result


# ---------------------------------------------------------------------------
# arguments of mix
# ---------------------------------------------------------------------------
NQ = dict(formula=FB, family="binomial")
ARGUMENTS = [
    # (formula, kwargs, exception, culprit)
    *[
        (FB, dict(family="binomial", n_quad=v), e, "n_quad")
        for v, e in [
            ("3", TypeError),
            ([3], TypeError),
            ({"a": 1}, TypeError),
            (None, TypeError),
            (True, TypeError),
            (np.nan, TypeError),
            (np.inf, TypeError),
            (2.5, TypeError),
            (np.float64(5.0), TypeError),
            (0, ValueError),
            (-1, ValueError),
            (10**6, ValueError),
        ]
    ],
    *[
        (F, dict(max_iter=v), e, "max_iter")
        for v, e in [
            ("3", TypeError),
            ([3], TypeError),
            (0, ValueError),
            (-1, ValueError),
            (2.5, TypeError),
            (np.nan, TypeError),
            (True, TypeError),
        ]
    ],
    *[
        (F, dict(family=v), e, m)
        for v, e, m in [
            ("gausian", ValueError, "gausian"),
            ("binomal", ValueError, "binomal"),
            (3, TypeError, "family"),
            (None, TypeError, "family"),
            ("", ValueError, "family"),
            (object(), TypeError, "family"),
        ]
    ],
    *[
        (f, dict(family=fam, link=link), e, m)
        for f, fam, link, e, m in [
            (FB, "binomial", "log", ValueError, "'log'"),
            (FB, "binomial", "identity", ValueError, "'identity'"),
            (FP, "poisson", "logit", ValueError, "'logit'"),
            (F, "gaussian", "log", ValueError, "'log'"),
            (FP, "poisson", "sqrt", ValueError, "'sqrt'"),
            (FB, "binomial", 3, TypeError, "link"),
            (FB, "binomial", "", ValueError, "link"),
        ]
    ],
    *[
        (F, {arg: v}, TypeError, arg)
        for arg in ("cond_weights", "reml")
        for v in ("yes", 1, None, np.nan, "True")
    ],
    *[
        (F, dict(weights=["w1", "w2"], weight_scaling=v), e, "weight_scaling")
        for v, e in [
            ("C", ValueError),
            (3, TypeError),
            ("sizes", ValueError),
            (["size"], TypeError),
        ]
    ],
    (F, dict(weights=["w1", "w2"], survey="PISAA"), ValueError, "PISAA"),
    *[
        (F, dict(start=v), e, "start")
        for v, e in [
            ("abc", TypeError),
            ([np.nan], ValueError),
            ([np.inf], ValueError),
            (np.zeros(5), ValueError),
            ({"a": 1}, TypeError),
            ([1.0, 2.0], ValueError),
        ]
    ],
    *[
        (FB, dict(family="binomial", n_quad=1, start=v), e, "start")
        for v, e in [
            ("abc", TypeError),
            ([1.0], ValueError),
            ([np.nan, 0, 1], ValueError),
            ([0, 0, np.inf], ValueError),
        ]
    ],
    *[
        (FP, dict(family="poisson", offset=v), e, m)
        for v, e, m in [
            ("nocol", ValueError, "nocol"),
            (3, ValueError, "offset"),
            (np.ones(3), ValueError, "offset"),
            ("cat", TypeError, "cat"),
        ]
    ],
    *[
        (F, dict(center_group=v), e, m)
        for v, e, m in [
            (["x"], TypeError, "center_group"),
            ({"schol": ["x"]}, ValueError, "schol"),
            ({"school": ["nox"]}, ValueError, "nox"),
            ({"school": ["cat"]}, ValueError, "cat"),
            ("school", TypeError, "center_group"),
            ({"school": [3]}, TypeError, "center_group"),
        ]
    ],
    *[
        (F, dict(center_grand=v), e, m)
        for v, e, m in [
            (["nox"], ValueError, "nox"),
            ({"x": 1}, TypeError, "center_grand"),
            ([3], TypeError, "center_grand"),
        ]
    ],
    *[
        (F, dict(weights=w), e, m)
        for w, e, m in [
            (["w1", "nope"], ValueError, "nope"),
            ("w1", TypeError, "weights"),
            (["w1"], ValueError, "weights"),
            (["w1", "w2", "w2"], ValueError, "weights"),
            ({"a": "w1"}, TypeError, "weights"),
            ([1, 2], TypeError, "weight"),
            (["x", "w2"], ValueError, "'x'"),
            (["cat", "w2"], TypeError, "'cat'"),
        ]
    ],
    (F, dict(executor="x", plausible_values={"y": ["y", "yb"]}), TypeError, "executor"),
]


@pytest.mark.parametrize(
    "formula, kwargs, exc, culprit",
    ARGUMENTS,
    # ids without memory addresses: the same in every process (pytest-xdist)
    ids=[
        re.sub(r" at 0x[0-9a-f]+", "", f"{i}-{list(a[1].items())[-1]!r}")[:60]
        for i, a in enumerate(ARGUMENTS)
    ],
)
def test_bad_argument(formula, kwargs, exc, culprit):
    fails(exc, culprit, pywemix.mix, formula, two(), **kwargs)


# ---------------------------------------------------------------------------
# formulas
# ---------------------------------------------------------------------------
FORMULAS = [
    ("y ~ x + (1|school", "'('"),
    ("y ~ x + (1||)", "grouping factor"),
    ("y ~ x + (|school)", "(|school)"),
    ("~ x + (1|school)", "response"),
    ("y ~ x (1|school)", "(1|school)"),
    ("y ~ x + (1|nosuch)", "nosuch"),
    ("nosuch ~ x + (1|school)", "nosuch"),
    ("y ~ nox + (1|school)", "nox"),
    ("y ~ x", "random term"),
    ("y ~ x + (nox|school)", "nox"),
    ("y ~ x + (1|school) + (1|school)", "school"),
    ("y ~ x + (1|school/)", "grouping"),
    ("y ~ x + (1|x)", "'x'"),
    ("y ~ x + (1|y)", "'y'"),
    ("y ~ y + (1|school)", "'y'"),
    ("", "'~'"),
    ("y ~~ x + (1|school)", "'~'"),
    ("y ~ x + (1|school) + (1|cat)", "'cat'"),
    ("y + x ~ x + (1|school)", "y + x"),
    ("y ~ x + (1|school) | cat", "(1|school)"),
    ("y ~ x + (1 | 1)", "'1'"),
    ("y ~ x + offset(o) + (1|school)", "offset"),
    ("school ~ x + (1|school)", "school"),
    ("y ~ . + (1|school)", "."),
]


@pytest.mark.parametrize("formula, culprit", FORMULAS)
def test_bad_formula(formula, culprit):
    fails(ValueError, culprit, pywemix.mix, formula, two())


@pytest.mark.parametrize("formula", [3, None, ["y ~ x + (1|school)"]])
def test_formula_not_a_string(formula):
    fails(TypeError, "formula", pywemix.mix, formula, two())


# ---------------------------------------------------------------------------
# responses, weights, grouping factors, predictors
# ---------------------------------------------------------------------------
def _yb(f):
    return lambda d: f(d["yb"])


DATA = [
    # (id, formula, columns to replace, kwargs, exception, culprit)
    ("response constant", F, dict(y=1.0), {}, ValueError, "'y'"),
    ("response all NaN", F, dict(y=np.nan), {}, ValueError, "'y'"),
    ("response inf", F, dict(y=lambda d: d.y.where(d.index != 0, np.inf)), {}, ValueError, "'y'"),
    ("response text", F, dict(y=lambda d: d.y.astype(str)), {}, TypeError, "'y'"),
    ("response huge", F, dict(y=lambda d: d.y * 1e200), {}, ValueError, "'y'"),
    ("response tiny", F, dict(y=lambda d: d.y * 1e-200), {}, ValueError, "'y'"),
    ("response log of negatives", "np.log(y) ~ x + (1|school)", {}, {}, ValueError, "np.log(y)"),
    (
        "binomial 3 values",
        FB,
        dict(yb=lambda d: d.yb + (d.x > 1)),
        dict(family="binomial"),
        ValueError,
        "'yb'",
    ),
    ("binomial 0/2", FB, dict(yb=lambda d: 2 * d.yb), dict(family="binomial"), ValueError, "'yb'"),
    (
        "binomial -1/1",
        FB,
        dict(yb=lambda d: 2 * d.yb - 1),
        dict(family="binomial"),
        ValueError,
        "'yb'",
    ),
    (
        "binomial 0.5",
        FB,
        dict(yb=lambda d: d.yb * 0.5),
        dict(family="binomial"),
        ValueError,
        "'yb'",
    ),
    ("binomial constant", FB, dict(yb=0), dict(family="binomial"), ValueError, "'yb'"),
    (
        "binomial inf",
        FB,
        dict(yb=lambda d: d.yb.where(d.x < 2, np.inf)),
        dict(family="binomial"),
        ValueError,
        "'yb'",
    ),
    (
        "binomial 3 categories",
        FB,
        dict(yb=lambda d: pd.Categorical(np.array(["a", "b", "c"])[np.arange(len(d)) % 3])),
        dict(family="binomial"),
        ValueError,
        "'yb'",
    ),
    (
        "poisson negative",
        FP,
        dict(yp=lambda d: d.yp - 1),
        dict(family="poisson"),
        ValueError,
        "'yp'",
    ),
    (
        "poisson non-integer",
        FP,
        dict(yp=lambda d: d.yp + 0.5),
        dict(family="poisson"),
        ValueError,
        "'yp'",
    ),
    ("poisson bool", FP, dict(yp=lambda d: d.yp > 0), dict(family="poisson"), TypeError, "'yp'"),
    ("poisson all zero", FP, dict(yp=0), dict(family="poisson"), ValueError, "'yp'"),
    (
        "weight negative",
        F,
        dict(w1=lambda d: d.w1.where(d.index != 3, -1)),
        dict(weights=["w1", "w2"]),
        ValueError,
        "'w1'",
    ),
    (
        "weight NaN",
        F,
        dict(w1=lambda d: d.w1.where(d.index != 3)),
        dict(weights=["w1", "w2"]),
        ValueError,
        "'w1'",
    ),
    (
        "weight inf",
        F,
        dict(w2=lambda d: d.w2.where(d.school != "s01", np.inf)),
        dict(weights=["w1", "w2"]),
        ValueError,
        "'w2'",
    ),
    ("weights all zero", F, dict(w1=0.0), dict(weights=["w1", "w2"]), ValueError, "'w1'"),
    (
        "weight text",
        F,
        dict(w1=lambda d: d.w1.astype(str)),
        dict(weights=["w1", "w2"]),
        TypeError,
        "'w1'",
    ),
    (
        "weight objects",
        F,
        dict(w1=lambda d: d.w1.astype(object)),
        dict(weights=["w1", "w2"]),
        TypeError,
        "'w1'",
    ),
    ("weight bool", F, dict(w1=lambda d: d.w1 > 0), dict(weights=["w1", "w2"]), TypeError, "'w1'"),
    (
        "weight categorical",
        F,
        dict(w1=lambda d: pd.Categorical(d.w1)),
        dict(weights=["w1", "w2"]),
        TypeError,
        "'w1'",
    ),
    (
        "weight huge",
        F,
        dict(w1=lambda d: d.w1 * 1e300),
        dict(weights=["w1", "w2"]),
        ValueError,
        "'w1'",
    ),
    (
        "level-2 weight varies in a group",
        F,
        dict(w2=lambda d: d.w1),
        dict(weights=["w1", "w2"]),
        ValueError,
        "'w2'",
    ),
    ("group all NaN", F, dict(school=np.nan), {}, ValueError, "'school'"),
    ("single group", F, dict(school="a"), {}, ValueError, "'school'"),
    ("groups of one row", F, dict(school=lambda d: np.arange(len(d))), {}, ValueError, "'school'"),
    (
        "groups of one row, binomial",
        FB,
        dict(school=lambda d: np.arange(len(d))),
        dict(family="binomial", n_quad=1),
        ValueError,
        "'school'",
    ),
    (
        "group ids 1 and '1'",
        F,
        dict(
            school=lambda d: pd.Series(
                [1 if i % 2 else "1" for i in range(len(d))], dtype=object, index=d.index
            )
        ),
        {},
        TypeError,
        "'school'",
    ),
    ("predictor all NaN", "y ~ x + z + (1|school)", dict(z=np.nan), {}, ValueError, "'z'"),
    ("predictor constant", "y ~ x + z + (1|school)", dict(z=2.0), {}, ValueError, "'z'"),
    (
        "predictor collinear",
        "y ~ x + z + (1|school)",
        dict(z=lambda d: 2 * d.x),
        {},
        ValueError,
        "'z'",
    ),
    (
        "predictor collinear, binomial",
        "yb ~ x + z + (1|school)",
        dict(z=lambda d: 2 * d.x),
        dict(family="binomial", n_quad=1),
        ValueError,
        "'z'",
    ),
    ("predictor inf", F, dict(x=lambda d: d.x.where(d.index != 2, np.inf)), {}, ValueError, "'x'"),
    ("predictor huge", F, dict(x=lambda d: d.x * 1e200), {}, ValueError, "'x'"),
    ("predictor tiny", F, dict(x=lambda d: d.x * 1e-200), {}, ValueError, "'x'"),
    (
        "predictor constant up to rounding",
        F,
        dict(x=lambda d: d.x + 1e8),
        {},
        ValueError,
        "'x' is constant",
    ),
    ("categorical with one level", "y ~ x + z + (1|school)", dict(z="a"), {}, ValueError, "'z'"),
    (
        "column named Intercept",
        "y ~ Intercept + (1|school)",
        dict(Intercept=lambda d: d.x),
        {},
        ValueError,
        "'Intercept'",
    ),
    (
        "predictor dates",
        "y ~ z + (1|school)",
        dict(z=pd.Timestamp("2020-01-01")),
        {},
        TypeError,
        "'z'",
    ),
    ("predictor complex", "y ~ z + (1|school)", dict(z=lambda d: d.x + 1j), {}, TypeError, "'z'"),
    ("random slope all NaN", "y ~ x + (z|school)", dict(z=np.nan), {}, ValueError, "'z'"),
    (
        "log of negatives",
        "y ~ np.log(z) + (1|school)",
        dict(z=lambda d: d.x),
        {},
        ValueError,
        "np.log(z)",
    ),
    ("offset all NaN", FP, dict(o=np.nan), dict(family="poisson", offset="o"), ValueError, "'o'"),
    ("offset inf", FP, dict(o=np.inf), dict(family="poisson", offset="o"), ValueError, "'o'"),
    (
        "centring a within-group constant",
        "y ~ x + z + (1|school)",
        dict(z=lambda d: d.groupby("school").x.transform("mean")),
        dict(center_group={"school": ["z"]}),
        ValueError,
        "'z'",
    ),
]


@pytest.mark.parametrize(
    "formula, columns, kwargs, exc, culprit", [c[1:] for c in DATA], ids=[c[0] for c in DATA]
)
def test_bad_data(formula, columns, kwargs, exc, culprit):
    fails(exc, culprit, pywemix.mix, formula, two(**columns), **kwargs)


THREE = [
    (
        "not nested",
        dict(district=lambda d: np.arange(len(d)) % 5),
        ["w1", "w2", "w3"],
        "'district'",
    ),
    ("two weights", {}, ["w1", "w2"], "weights"),
    ("four weights", {}, ["w1", "w2", "w3", "w3"], "weights"),
    ("top weight varies", dict(w3=lambda d: d.w2), ["w1", "w2", "w3"], "'w3'"),
    ("single district", dict(district=0), None, "'district'"),
    ("same groups", dict(district=lambda d: d.school), None, "'district'"),
]


@pytest.mark.parametrize(
    "columns, weights, culprit", [c[1:] for c in THREE], ids=[c[0] for c in THREE]
)
@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_bad_three_level_data(columns, weights, culprit, family):
    formula = F3 if family == "gaussian" else F3.replace("y ~", "yb ~")
    fails(
        ValueError,
        culprit,
        pywemix.mix,
        formula,
        three(**columns),
        weights,
        family=family,
        n_quad=1,
    )


CONTAINERS = [
    ("dict", lambda d: d.to_dict("list"), TypeError, "data"),
    ("ndarray", lambda d: d.to_numpy(), TypeError, "data"),
    ("list", lambda d: d.to_numpy().tolist(), TypeError, "data"),
    ("None", lambda d: None, TypeError, "data"),
    ("Series", lambda d: d.y, TypeError, "data"),
    ("no rows", lambda d: d.iloc[:0], ValueError, "no rows"),
    ("no columns", lambda d: pd.DataFrame(), ValueError, "'school'"),
    ("duplicated column", lambda d: pd.concat([d, d[["x"]]], axis=1), ValueError, "'x'"),
    (
        "MultiIndex columns",
        lambda d: d.set_axis(pd.MultiIndex.from_product([["a"], d.columns]), axis=1),
        TypeError,
        "MultiIndex",
    ),
]


@pytest.mark.parametrize(
    "make, exc, culprit", [c[1:] for c in CONTAINERS], ids=[c[0] for c in CONTAINERS]
)
def test_bad_container(make, exc, culprit):
    fails(exc, culprit, pywemix.mix, F, make(_two()))


# ---------------------------------------------------------------------------
# legal but awkward input: a finite fit, the trouble recorded on the result
# ---------------------------------------------------------------------------
def test_random_slope_constant_in_the_data_is_recorded():
    r = finite_fit(quiet(pywemix.mix, "y ~ x + (z|school)", two(z=1.0)))
    assert any(isinstance(w, str) and "'z'" in w and "school" in w for w in r.warnings)


def test_random_slope_zero_after_dropping_zero_weights_is_recorded():
    data = two(w1=lambda d: d.w1.where(d.cat == "a", 0))
    r = finite_fit(quiet(pywemix.mix, "y ~ x + (cat|school)", data, ["w1", "w2"]))
    assert any("'cat[T.b]' is zero in every row" in w for w in r.warnings)


@pytest.mark.filterwarnings("ignore::pywemix.BoundaryWarning")
def test_factor_double_bar_dependence_is_recorded():
    with pytest.warns(DataWarning, match="'school'"):
        pywemix.mix("y ~ x + (cat||school)", two())


@pytest.mark.parametrize(
    "columns, weights, message",
    [
        (dict(school=lambda d: d.school.where(d.index != 3)), None, "school: 1"),
        (dict(w1=lambda d: d.w1.where(d.school != "s00", 0)), ["w1", "w2"], "'w1' equal to 0"),
        (dict(x=lambda d: pd.array(d.x.where(d.index != 3), dtype="Float64")), None, "x: 1"),
    ],
)
def test_repaired_data_is_recorded(columns, weights, message):
    r = finite_fit(quiet(pywemix.mix, F, two(**columns), weights))
    assert any(message in w for w in r.warnings)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d.convert_dtypes(),
        lambda d: d.assign(
            school=pd.Categorical(d.school, categories=sorted(d.school.unique()) + ["unused"])
        ),
        lambda d: d.assign(x=d.x.astype(object)),
        lambda d: d.set_axis([0] * len(d)),
    ],
    ids=["nullable dtypes", "unused group category", "object numbers", "repeated index"],
)
def test_legal_containers_fit_as_the_plain_frame(make):
    base = quiet(pywemix.mix, F, _two())
    r = finite_fit(quiet(pywemix.mix, F, make(_two())))
    np.testing.assert_allclose(r.params.to_numpy(), base.params.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("scale", [1e-4, 1e4])
def test_predictor_on_a_very_different_scale_is_recorded(scale):
    r = finite_fit(quiet(pywemix.mix, F, two(x=lambda d: d.x * scale)))
    assert any("very different scales" in w and "'x'" in w for w in r.warnings)


def test_linear_algebra_failure_names_the_badly_scaled_predictor():
    fails(ValueError, "'x'", pywemix.mix, "y ~ x + (x|school)", two(x=lambda d: d.x * 1e8))


def test_numbers_stored_as_text_are_recorded():
    r = quiet(pywemix.mix, "y ~ z + (1|school)", two(z=lambda d: d.x.round(2).astype(str)))
    assert np.all(np.isfinite(np.r_[r.params.to_numpy(), r.llf, r.std_errors("model").to_numpy()]))
    assert any("'z' holds numbers stored as text" in w for w in r.warnings)
    # most of z's categories have one row: their robust standard errors are
    # not identified, which is said, on every platform (never a silent NaN)
    singletons = r.bse.index[~np.isfinite(r.bse.to_numpy())]
    assert len(singletons) > 0
    said = [w for w in r.warnings if "cluster-robust variance of" in w]
    assert said and repr(singletons[0]) in said[0]


def test_max_iter_reached_is_recorded():
    r = quiet(pywemix.mix, FB, two(), family="binomial", n_quad=1, max_iter=1)
    assert any("did not converge" in w for w in r.warnings)


# ---------------------------------------------------------------------------
# result methods
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    return quiet(pywemix.mix, "y ~ x + cat + (1|school)", _two(), ["w1", "w2"])


@pytest.fixture(scope="module")
def fitted_binomial():
    return quiet(
        pywemix.mix, "yb ~ x + cat + (1|school)", _two(), ["w1", "w2"], family="binomial", n_quad=1
    )


METHODS = [
    *[
        (lambda r, a=a: r.conf_int(alpha=a), e, "alpha")
        for a, e in [
            (0, ValueError),
            (1, ValueError),
            (-1, ValueError),
            ("x", TypeError),
            (None, TypeError),
            (np.nan, ValueError),
            (1.5, ValueError),
            ([0.05], TypeError),
            (True, TypeError),
        ]
    ],
    *[
        (lambda r, k=k, m=m, arg=arg: getattr(r, m)(**{arg: k}), ValueError, arg)
        for m, arg in [
            ("ranef", "kind"),
            ("residuals", "kind"),
            ("predict", "type"),
            ("conf_int", "which"),
        ]
        for k in ("nope", None, 3)
    ],
    # covariance kinds: None is the result's default kind (issue 19)
    *[
        (lambda r, k=k, m=m: getattr(r, m)(kind=k), ValueError, "kind")
        for m in ("conf_int", "cov_params", "std_errors", "tidy")
        for k in ("nope", 3)
    ],
    *[(lambda r, k=k: r.plot(k), ValueError, "kind") for k in ("nope", None, 3)],
    (lambda r: r.ranef(se="yes"), TypeError, "se"),
    *[
        (lambda r, t=t: r.wald_test(t), e, m)
        for t, e, m in [
            ("nope", ValueError, "nope"),
            (["x", "nope"], ValueError, "nope"),
            ([], ValueError, "terms"),
            (3, TypeError, "terms"),
            (["x", "x"], ValueError, "'x'"),
            (["X"], ValueError, "'X'"),
        ]
    ],
    (lambda r: r.wald_test(["var(nope)"], kind="variance"), ValueError, "var(nope)"),
    (lambda r: r.wald_test(["x"], kind="nope"), ValueError, "kind"),
    (lambda r: r.wald_test(["x"], cov="nope"), ValueError, "cov"),
    (lambda r: r.wald_test(R=np.ones((1, 7))), ValueError, "R"),
    (lambda r: r.wald_test(R=[[np.nan, 1, 0]]), ValueError, "R"),
    (lambda r: r.wald_test(R=[[0, 0, 0]]), ValueError, "R"),
    (lambda r: r.wald_test(R=np.eye(3), q=[0, 0]), ValueError, "q"),
    (lambda r: r.wald_test(["x"], R=np.eye(3)), ValueError, "R"),
    *[(lambda r, n=n: r.simulate(n), ValueError, "n") for n in (0, -1, 10**12)],
    *[(lambda r, n=n: r.simulate(n), TypeError, "n") for n in (2.5, "2", None, True)],
    *[
        (lambda r, s=s: r.simulate(2, seed=s), e, "seed")
        for s, e in [("abc", TypeError), (1.5, TypeError), (-1, ValueError), ([1, 2], TypeError)]
    ],
    (lambda r: pywemix.anova(r), ValueError, "two models"),
    (lambda r: pywemix.anova(r, 3), TypeError, "model 2"),
    (lambda r: pywemix.anova(r, r, refit="x"), TypeError, "refit"),
    (lambda r: pywemix.compare(r, r, kind="nope"), ValueError, "kind"),
    (lambda r: pywemix.compare(r, r, names=["a"]), ValueError, "names"),
]


@pytest.mark.parametrize("call, exc, culprit", METHODS, ids=range(len(METHODS)))
def test_bad_method_argument(fitted, call, exc, culprit):
    fails(exc, culprit, call, fitted)


def test_anova_of_different_families(fitted, fitted_binomial):
    fails(ValueError, "binomial", pywemix.anova, fitted, fitted_binomial)


def _new(**columns):
    return _two().iloc[:10].assign(**columns)


NEWDATA = [
    ("missing predictor", lambda: _new().drop(columns="x"), {}, ValueError, "'x'"),
    ("missing group", lambda: _new().drop(columns="school"), {}, ValueError, "'school'"),
    ("new category", lambda: _new(cat="zz"), {}, ValueError, "'cat'"),
    ("new group", lambda: _new(school="new"), {}, ValueError, "allow_new_levels"),
    ("text for a number", lambda: _new(x="a"), {}, TypeError, "'x'"),
    ("bool for a number", lambda: _new(x=True), {}, TypeError, "'x'"),
    ("infinite predictor", lambda: _new(x=np.inf), {}, ValueError, "'x'"),
    (
        "duplicated column",
        lambda: pd.concat([_new(), _new()[["x"]]], axis=1),
        {},
        ValueError,
        "'x'",
    ),
    (
        "MultiIndex columns",
        lambda: _new().set_axis(pd.MultiIndex.from_product([["a"], _new().columns]), axis=1),
        {},
        TypeError,
        "MultiIndex",
    ),
    ("ndarray", lambda: _new().to_numpy(), {}, TypeError, "data"),
    ("Series", lambda: _new().iloc[0], {}, TypeError, "data"),
    ("include_random not bool", _new, dict(include_random="x"), TypeError, "include_random"),
    ("allow_new_levels not bool", _new, dict(allow_new_levels="x"), TypeError, "allow_new_levels"),
]


@pytest.mark.parametrize(
    "make, kwargs, exc, culprit", [c[1:] for c in NEWDATA], ids=[c[0] for c in NEWDATA]
)
@pytest.mark.parametrize("which", ["fitted", "fitted_binomial"])
def test_bad_newdata(request, which, make, kwargs, exc, culprit):
    result = request.getfixturevalue(which)
    fails(exc, culprit, result.predict, make(), **kwargs)


@pytest.fixture(scope="module")
def fitted_logical():
    return quiet(pywemix.mix, "y ~ z + (1|school)", two(z=lambda d: d.x > 0))


@pytest.mark.parametrize("z", [["False", "True"] * 5, ["no", "yes"] * 5, [2, 1] * 5])
def test_predict_logical_column_refuses_other_values(fitted_logical, z):
    fails(ValueError, "'z'", fitted_logical.predict, _new(z=z))


def test_predict_logical_column_takes_numbers_0_and_1(fitted_logical):
    np.testing.assert_array_equal(
        fitted_logical.predict(_new(z=[0, 1] * 5)),
        fitted_logical.predict(_new(z=[False, True] * 5)),
    )


def test_predict_missing_values_give_nan_only_in_their_rows(fitted):
    new = _new(x=lambda d: d.x.where(d.index != d.index[0]))
    pred = fitted.predict(new)
    assert np.isnan(pred.iloc[0]) and np.all(np.isfinite(pred.iloc[1:]))


@pytest.mark.parametrize("kind", ["resid_fitted", "qq_resid", "qq_ranef", "caterpillar", "coef"])
def test_every_plot_kind_of_a_binomial_fit(fitted_binomial, kind):
    import matplotlib.pyplot as plt

    fig = fitted_binomial.plot(kind)
    assert len(fig.axes) >= 1
    plt.close(fig)


# ---------------------------------------------------------------------------
# plausible values, by=, replicate weights
# ---------------------------------------------------------------------------
def _pv_data():
    return two(y2=lambda d: d.y + 0.1)


@pytest.mark.parametrize(
    "pv, exc, culprit",
    [
        (["y", "y2"], TypeError, "plausible_values"),
        ({"y": ["y", "nope"]}, ValueError, "nope"),
        ({"y": ["y"]}, ValueError, "two columns"),
        ({"y": []}, ValueError, "two columns"),
        ({"y": "y2"}, ValueError, "two columns"),
        ({"z": ["y", "y2"]}, ValueError, "'z'"),
        ({"y": ["y2", "y2"]}, ValueError, "y2"),
        ({"y": ["y", "y2"], "x": ["x", "x"]}, ValueError, "'x'"),
    ],
)
def test_bad_plausible_values(pv, exc, culprit):
    fails(exc, culprit, pywemix.mix, F, _pv_data(), plausible_values=pv)


@pytest.mark.parametrize(
    "columns, exc, culprit",
    [
        (dict(y2=lambda d: d.y2.astype(str)), TypeError, "'y2'"),
        (dict(y2=np.nan), ValueError, "'y2'"),
        (dict(y2=1.0), ValueError, "'y2'"),
        (dict(y2=lambda d: d.y2.where(d.index != 4, np.inf)), ValueError, "'y2'"),
    ],
)
def test_bad_plausible_value_columns(columns, exc, culprit):
    fails(
        exc,
        culprit,
        pywemix.mix,
        F,
        _pv_data().assign(**columns),
        plausible_values={"y": ["y", "y2"]},
    )


def test_plausible_value_column_used_as_a_predictor():
    fails(ValueError, "'x'", pywemix.mix, F, _pv_data(), plausible_values={"y": ["y", "x"]})


def test_binomial_plausible_value_names_its_column():
    fails(
        ValueError,
        "'yb2'",
        pywemix.mix,
        FB,
        two(yb2=lambda d: 2 * d.yb),
        family="binomial",
        n_quad=1,
        plausible_values={"yb": ["yb", "yb2"]},
    )


def test_plausible_values_keyed_by_a_response_expression():
    data = two(y=lambda d: d.y.abs() + 1, y2=lambda d: 3 * d.y.abs() + 1)
    formula = "np.log(y) ~ x + (1|school)"
    fails(
        ValueError,
        "('y')",
        pywemix.mix,
        formula,
        data,
        plausible_values={formula.split(" ~")[0]: ["y", "y2"]},
    )
    res = quiet(pywemix.mix, formula, data, plausible_values={"y": ["y", "y2"]})
    alone = quiet(pywemix.mix, "np.log(y2) ~ x + (1|school)", data)
    np.testing.assert_allclose(res.fits[1].params.to_numpy(), alone.params.to_numpy(), rtol=1e-8)


@pytest.fixture(scope="module")
def pv_fit():
    return quiet(pywemix.mix, F, _pv_data(), plausible_values={"y": ["y", "y2"]})


@pytest.mark.parametrize(
    "call, exc, culprit",
    [
        (lambda r: r.plot("coef", value=5), ValueError, "value"),
        (lambda r: r.plot("coef", value="a"), TypeError, "value"),
        (lambda r: r.plot("resid_fitted", value=1.5), TypeError, "value"),
        (lambda r: r.plot("nope"), ValueError, "nope"),
        (lambda r: r.conf_int(alpha=2), ValueError, "alpha"),
        (lambda r: r.wald_test(["nope"]), ValueError, "nope"),
        (lambda r: r.predict(_new().drop(columns="x")), ValueError, "'x'"),
        (lambda r: r.predict(_new(school="zz")), ValueError, "allow_new_levels"),
        (lambda r: pywemix.anova(r, r), TypeError, "plausible"),
    ],
)
def test_bad_plausible_value_result_calls(pv_fit, call, exc, culprit):
    fails(exc, culprit, call, pv_fit)


@pytest.mark.parametrize(
    "by, columns, exc, culprit",
    [
        ("nope", {}, ValueError, "nope"),
        (["cat"], {}, TypeError, "by"),
        (3, {}, TypeError, "by"),
        ("cat", dict(cat=lambda d: d.cat.where(d.x < 1)), ValueError, "'cat'"),
        ("cat", dict(cat=np.nan), ValueError, "'cat'"),
        ("school", {}, ValueError, "'school'"),
    ],
)
def test_bad_by(by, columns, exc, culprit):
    fails(exc, culprit, pywemix.mix, F, two(**columns), by=by)


def test_by_result_lookup_of_an_unknown_value_names_the_column():
    by = quiet(pywemix.mix, F, two(), by="cat")
    with pytest.raises(KeyError, match="'nope' is not a value of 'cat'"):
        by["nope"]


def test_by_a_factor_of_the_formula_names_it():
    fails(ValueError, "'cat'", pywemix.mix, "y ~ x + cat + (1|school)", two(), by="cat")


REPLICATES = [
    (dict(columns="nope1-3"), ValueError, "nope1"),
    (dict(columns=["w1", "nope"]), ValueError, "nope"),
    (dict(columns=3), TypeError, "columns"),
    (dict(columns=[]), ValueError, "two columns"),
    (dict(columns=["w1"]), ValueError, "two columns"),
    (dict(columns=["w1", "w1"]), ValueError, "w1"),
    (dict(columns="w1-0"), ValueError, "w1-0"),
    (dict(columns=["r1", "r2"], method="nope"), ValueError, "nope"),
    (dict(columns=["r1", "r2"], fay=2), ValueError, "fay"),
    (dict(columns=["r1", "r2"], fay="a"), TypeError, "fay"),
    (dict(columns=["r1", "r2"], scale=-1), ValueError, "scale"),
    (dict(columns=["r1", "r2"], scale="x"), ValueError, "scale"),
    (dict(columns=["r1", "r2"], full_weight="nope"), ValueError, "nope"),
    (dict(columns=["cat", "r1"]), TypeError, "'cat'"),
]


def _rep_data(**columns):
    return two(r1=lambda d: d.w1, r2=lambda d: d.w1 * 1.1).assign(**columns)


@pytest.mark.parametrize("spec, exc, culprit", REPLICATES, ids=range(len(REPLICATES)))
def test_bad_replicates(spec, exc, culprit):
    def fit():
        return pywemix.mix(F, _rep_data(), ["w1", "w2"], replicates=pywemix.Replicates(**spec))

    fails(exc, culprit, fit)


@pytest.mark.parametrize(
    "columns, weights, culprit",
    [
        (dict(r2=lambda d: d.r2.where(d.x < 1)), ["w1", "w2"], "'r2'"),
        (dict(r2=lambda d: -d.r2), ["w1", "w2"], "'r2'"),
        (dict(r2=lambda d: d.w1), ["w1", "w2"], "'w1'"),
        ({}, None, "full_weight"),
    ],
)
def test_bad_replicate_columns(columns, weights, culprit):
    fails(
        ValueError,
        culprit,
        pywemix.mix,
        F,
        _rep_data(**columns),
        weights,
        replicates=pywemix.Replicates(["r1", "r2"], method="jk1"),
    )


@pytest.mark.parametrize(
    "r2", [lambda d: d.r2.astype(str), lambda d: d.r2 > 0], ids=["text", "bool"]
)
def test_replicate_column_not_numeric(r2):
    fails(
        TypeError,
        "'r2'",
        pywemix.mix,
        F,
        _rep_data(r2=r2),
        ["w1", "w2"],
        replicates=pywemix.Replicates(["r1", "r2"], method="jk1"),
    )


def test_replicates_not_a_replicates_object():
    fails(
        TypeError, "replicates", pywemix.mix, F, _rep_data(), ["w1", "w2"], replicates=["r1", "r2"]
    )


@pytest.mark.parametrize(
    "kwargs, culprit", [({}, "'jkzone'"), (dict(zone="x", rep="cat", weight="w1"), "'cat'")]
)
def test_bad_jackknife_columns(kwargs, culprit):
    fails(ValueError, culprit, pywemix.jackknife_weights, two(), **kwargs)
