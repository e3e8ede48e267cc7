"""Parsing of lme4-style formulas (pywemix.design.formula.parse_formula).

The meaning of each random-term form is lme4's (``findbars``, ``nobars``,
``expandDoubleVerts``); the terms of an effects expression are compared as
formulaic sees them, so that equivalent spellings (``x`` and ``1 + x``) count
as the same model.
"""

from __future__ import annotations

import pytest
from formulaic import Formula

from pywemix.design.formula import ParsedFormula, RandomTerm, parse_formula


def terms(expr: str) -> set:
    """Terms of a right-hand side as formulaic parses it ('1' = intercept)."""
    return {str(t) for t in Formula(expr)}


def random_summary(parsed: ParsedFormula) -> list:
    """(term set, grouping columns) of every random term, in formula order."""
    return [(terms(t.expr), t.group) for t in parsed.random]


# -- response / fixed / random split ---------------------------------------


def test_split_response_fixed_random():
    p = parse_formula("y ~ x + z + (1 + x | school) + (1 | district)")
    assert isinstance(p, ParsedFormula)
    assert p.formula == "y ~ x + z + (1 + x | school) + (1 | district)"
    assert p.response == "y"
    assert terms(p.fixed) == {"1", "x", "z"}
    assert random_summary(p) == [({"1", "x"}, ("school",)), ({"1"}, ("district",))]
    assert all(isinstance(t, RandomTerm) for t in p.random)


@pytest.mark.parametrize(
    "formula", ["y ~ (1|g) + x", "y ~ x + (1|g)", "y~x+(1|g)", "y ~ (1 | g)+x"]
)
def test_random_term_position_and_spacing_do_not_matter(formula):
    p = parse_formula(formula)
    assert p.response == "y"
    assert terms(p.fixed) == {"1", "x"}
    assert random_summary(p) == [({"1"}, ("g",))]


def test_only_random_terms_leave_an_intercept_only_fixed_part():
    p = parse_formula("y ~ (1 | g)")
    assert terms(p.fixed) == {"1"}


def test_transformed_response():
    p = parse_formula("np.log(y) ~ x + (1|g)")
    assert p.response == "np.log(y)"
    assert p.required_columns == {"y", "x", "g"}


# -- random-term forms -------------------------------------------------------


def test_slope_without_intercept_spelled_out_is_one_correlated_term():
    short = parse_formula("y ~ x + (x | g)")
    long = parse_formula("y ~ x + (1 + x | g)")
    assert len(short.random) == len(long.random) == 1
    assert random_summary(short) == random_summary(long) == [({"1", "x"}, ("g",))]


def test_random_slope_only():
    p = parse_formula("y ~ x + (0 + x | g)")
    assert random_summary(p) == [({"x"}, ("g",))]


def test_double_bar_is_uncorrelated_intercept_and_slope():
    p = parse_formula("y ~ x + (x || g)")
    assert random_summary(p) == [({"1"}, ("g",)), ({"x"}, ("g",))]
    # the same model written out
    assert random_summary(p) == random_summary(parse_formula("y ~ x + (1|g) + (0 + x|g)"))


def test_double_bar_with_several_variables():
    p = parse_formula("y ~ x + (1 + x + z || g)")
    assert random_summary(p) == [({"1"}, ("g",)), ({"x"}, ("g",)), ({"z"}, ("g",))]


def test_double_bar_without_intercept():
    p = parse_formula("y ~ x + (0 + x + z || g)")
    assert random_summary(p) == [({"x"}, ("g",)), ({"z"}, ("g",))]


def test_several_terms_on_one_factor_keep_their_order():
    p = parse_formula("y ~ x + (1 + x | g) + (0 + z | g) + (1 | h)")
    assert random_summary(p) == [({"1", "x"}, ("g",)), ({"z"}, ("g",)), ({"1"}, ("h",))]


def test_nested_slash_expands_to_every_prefix():
    p = parse_formula("y ~ x + (1 | a/b/c)")
    assert [t.group for t in p.random] == [("a",), ("a", "b"), ("a", "b", "c")]
    assert all(terms(t.expr) == {"1"} for t in p.random)
    # lme4's names: inner:outer
    assert [t.group_name for t in p.random] == ["a", "b:a", "c:b:a"]


def test_nested_slash_with_a_slope_gives_the_slope_at_every_level():
    p = parse_formula("y ~ x + (x | a/b)")
    assert random_summary(p) == [({"1", "x"}, ("a",)), ({"1", "x"}, ("a", "b"))]


def test_interaction_grouping_factor_in_either_order_is_one_factor():
    p = parse_formula("y ~ x + (1 | a:b) + (0 + x | b:a)")
    groups = [t.group for t in p.random]
    assert groups == [("a", "b"), ("a", "b")]  # the first spelling is kept
    assert len(set(groups)) == 1
    p2 = parse_formula("y ~ x + (1 | b:a) + (0 + x | a:b)")
    assert [t.group for t in p2.random] == [("b", "a"), ("b", "a")]
    assert p.random[0].group_name == "b:a"
    assert p2.random[0].group_name == "a:b"


def test_slash_form_and_interaction_are_the_same_factor():
    p = parse_formula("y ~ x + (1 | a/b) + (0 + x | b:a)")
    groups = [t.group for t in p.random]
    assert groups == [("a",), ("a", "b"), ("a", "b")]
    assert len(set(groups)) == 2


def test_backquoted_grouping_column():
    p = parse_formula("y ~ x + (1 | `school id`)")
    assert p.random[0].group == ("school id",)
    assert "school id" in p.required_columns


# -- fixed part ----------------------------------------------------------------


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("y ~ 0 + x + (1|g)", {"x"}),
        ("y ~ x - 1 + (1|g)", {"x"}),
        ("y ~ x + (1|g) - 1", {"x"}),
        ("y ~ 0 + (1|g)", set()),
        ("y ~ (1|g) - 1", set()),
        ("y ~ I(x**2) + np.log(z) + (1|g)", {"1", "I(x ** 2)", "np.log(z)"}),
        ("y ~ a*b + (1|g)", {"1", "a", "b", "a:b"}),
        ("y ~ a:b + (1|g)", {"1", "a:b"}),
    ],
)
def test_fixed_part(formula, expected):
    assert terms(parse_formula(formula).fixed) == expected


# -- required columns ----------------------------------------------------------


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("y ~ x + (1|g)", {"y", "x", "g"}),
        ("y ~ I(x**2) + np.log(z) + (1|g)", {"y", "x", "z", "g"}),
        ("y ~ a*b + (0 + w|g) + (1|h)", {"y", "a", "b", "w", "g", "h"}),
        ("y ~ 1 + (v || a/b)", {"y", "v", "a", "b"}),
        ("y ~ (1 | a:b)", {"y", "a", "b"}),
    ],
)
def test_required_columns(formula, expected):
    assert parse_formula(formula).required_columns == expected


# -- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + (1 | g",  # unbalanced (
        "y ~ x + 1 | g)",  # unbalanced )
        "y ~ x + ((1 | g)",
        "y ~ x + ( | g)",  # empty left of |
        "y ~ x + (1 | )",  # empty right of |
        "y ~ x + (x || )",
        "y ~ x ~ z + (1 | g)",  # two ~
        "y + (1 | g)",  # no ~
        "~ x + (1 | g)",  # no response
        "y ~ x - (1 | g)",  # subtracted random term
        "y ~ x + (1 | log(g))",  # grouping factor is an expression
        "y ~ x + (1 | g + h)",
    ],
)
def test_syntax_errors(formula):
    with pytest.raises(ValueError, match="syntax"):
        parse_formula(formula)


@pytest.mark.parametrize("formula", ["y ~ x", "y ~ x + z", "y ~ 1"])
def test_no_random_term(formula):
    with pytest.raises(ValueError, match="random"):
        parse_formula(formula)


@pytest.mark.parametrize("formula", [None, 3, ["y ~ x + (1|g)"], b"y ~ x + (1|g)"])
def test_non_string_formula(formula):
    with pytest.raises(TypeError):
        parse_formula(formula)
