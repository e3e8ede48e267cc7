"""Design columns of plain terms (pywemix.design.columns) against formulaic.

A formula whose terms are the intercept and column names is built from the
model frame directly; formulaic's ``model_matrix`` of the same frame must
give the same columns, names and numbers, bit for bit.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.design.columns import plain_matrix, plain_terms
from pywemix.design.frame import categorical_values, prepare_categoricals
from pywemix.design.model import DeferredSpec, build_design, fixed_matrix


def frame(seed=0, n=60):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "i": rng.integers(-5, 5, n),
            "u": rng.integers(0, 9, n).astype(np.uint16),
            "f32": rng.normal(size=n).astype(np.float32),
            "s": rng.choice(["b", "a", "c d", "é"], n),
            "lg": rng.random(n) < 0.5,
            "cat": pd.Categorical(rng.choice(["z", "y", "x"], n), categories=["z", "y", "x", "w"]),
            "icat": pd.Categorical(rng.choice([3, 1, 2], n)),
            "fcat": pd.Categorical(rng.choice([1.5, 2.0], n)),
            "one": ["k"] * n,
            "a.b": rng.normal(size=n),
        }
    )
    return prepare_categoricals(df, ["s", "lg", "cat", "icat", "fcat", "one"])


FORMULAS = [
    "1 + x",
    "x + s",
    "0 + s + x",
    "s + cat - 1",
    "x + i + u + f32",
    "lg + s + cat",
    "0 + lg",
    "icat + fcat",
    "0 + fcat + icat + x",
    "x + x + s",
    "1",
    "0 + x",
    "cat + 0 + s + lg",
    "s + one",
    "0 + one",
    "`a.b` + s",
]


@pytest.mark.parametrize("expr", FORMULAS)
def test_plain_terms_equal_formulaic(expr):
    df = frame()
    got = plain_matrix(expr, df)
    assert got is not None
    M, names, structure = got
    mm = fixed_matrix(expr, df)
    assert names == list(mm.columns)
    assert M.flags.c_contiguous and M.dtype == float
    assert np.array_equal(M, mm.to_numpy(dtype=float))
    assert [(str(t.term), list(t.columns)) for t in mm.model_spec.structure] == [
        (t.term, list(t.columns)) for t in structure
    ]


@pytest.mark.parametrize(
    "expr",
    [
        "x:s",
        "x * s",
        "np.log(u + 1)",
        "C(s)",
        "scale(x)",
        "poly(x, 2)",
        "I(x > 0)",
        "x + missing",
        "bs(x, df=3)",
    ],
)
def test_other_terms_are_left_to_formulaic(expr):
    assert plain_matrix(expr, frame()) is None


def test_plain_terms_are_parsed_once():
    assert plain_terms("1 + x + s") == ("1", "x", "s")
    assert plain_terms("x:z") is None


def test_deferred_spec_stands_for_formulaic_spec():
    """predict codes new data with the spec, made on first use; it pickles
    (as the frame it is built from) and gives each term's columns."""
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "g": rng.integers(0, 30, n),
            "x": rng.normal(size=n),
            "s": rng.choice(["lo", "mid", "hi"], n),
        }
    )
    df["y"] = df["x"] + (df["s"] == "hi") + rng.normal(size=n) + df["g"] % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pywemix.mix("y ~ x + s + (1|g)", df)
    spec = res.design.fixed_spec
    assert isinstance(spec, DeferredSpec) and spec.spec is None
    new = df.sample(50, random_state=1)
    X = fixed_matrix(spec, new).to_numpy(dtype=float)
    assert np.array_equal(
        X,
        fixed_matrix(
            "x + s", new.assign(s=pd.Categorical(new["s"], categories=["hi", "lo", "mid"]))
        ).to_numpy(dtype=float),
    )
    assert [list(p.columns) for p in spec.structure] == [
        ["Intercept"],
        ["x"],
        ["s[T.lo]", "s[T.mid]"],
    ]
    back = pickle.loads(pickle.dumps(res))
    assert np.allclose(back.predict(new), res.predict(new), rtol=0, atol=0)


def test_text_categories_sorted_as_before():
    """One factorisation and a sort of the distinct values give what coding
    the text column and sorting all of it gave."""
    s = pd.Series(["b", "a", None, "c", "a", "é", "B", "a b"] * 3, dtype="str")
    rows = np.array([0, 1, 3, 4, 5, 6, 7, 9, 12])
    for r in (None, rows):
        got = categorical_values(s, "s", r)
        used = s if r is None else s.iloc[r]
        codes, uniques = pd.factorize(used.dropna().astype(str), sort=True)  # (pandas 2: None)
        assert list(got.categories) == list(uniques)
        assert got.categories.dtype == pd.Index(list(uniques)).dtype
        if r is not None:
            assert np.array_equal(got.codes, codes)
    obj = pd.Series(["y", "x", "y"], dtype=object)
    assert list(categorical_values(obj, "o").categories) == ["x", "y"]


def test_design_of_plain_terms_equals_formulaic_design(monkeypatch):
    """The whole design with and without the plain-term columns."""
    from pywemix.design import model

    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(
        {
            "g": rng.integers(0, 25, n),
            "x": rng.normal(size=n),
            "s": rng.choice(["p", "q", "r"], n),
            "w": rng.uniform(1, 2, n),
        }
    )
    df["y"] = df["x"] + rng.normal(size=n)
    formula = pywemix.design.formula.parse_formula("y ~ x + s + (1 + x | g)")
    fast = build_design(formula, df, ["w", None], cond_weights=True)
    monkeypatch.setattr(model, "plain_matrix", lambda expr, frame: None)
    slow = build_design(formula, df, ["w", None], cond_weights=True)
    assert fast.x_names == slow.x_names
    assert np.array_equal(fast.X, slow.X)
    assert all(np.array_equal(a, b) for a, b in zip(fast.Z, slow.Z))
    assert [b.names for b in fast.blocks[0]] == [b.names for b in slow.blocks[0]]
