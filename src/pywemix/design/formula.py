"""Parsing of lme4-style mixed-model formulas.

The fixed part is left to formulaic; this module only splits the formula into
its response, fixed right-hand side and random-effect terms ``(expr | group)``,
expanding ``||`` (uncorrelated effects) and ``a/b`` (nested grouping factors).

R equivalents: ``lme4::findbars``, ``lme4::nobars``, ``lme4::expandDoubleVerts``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from formulaic import Formula
from formulaic.errors import FormulaicError

__all__ = ["RandomTerm", "ParsedFormula", "parse_formula", "cbind_parts"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(expr | group)``.

    Attributes
    ----------
    expr : str
        Right-hand side of the random-effect model, e.g. ``"1 + escs"``.
    group : tuple of str
        Columns whose combination identifies the groups (``("district",
        "school")`` for the inner factor of ``district/school``).
    """

    expr: str
    group: tuple

    @property
    def group_name(self) -> str:
        """Name of the grouping factor, as lme4 prints it (inner:outer)."""
        return ":".join(reversed(self.group))


@dataclass(frozen=True)
class ParsedFormula:
    """A mixed-model formula split into its parts.

    Attributes
    ----------
    formula : str
    response : str
        The left-hand side: a column name (backticks removed) or an
        expression such as ``np.log(y)`` (then ``response_expr`` is true).
    fixed : str
        The fixed part (formulaic syntax).
    random : tuple of RandomTerm
    """

    formula: str
    response: str
    fixed: str
    random: tuple
    response_expr: bool = False

    @property
    def response_is_column(self) -> bool:
        """Whether the response is a plain column name (not an expression)."""
        return not self.response_expr

    @property
    def required_columns(self) -> set:
        """Data columns the formula refers to (formulaic's view)."""
        return set(self.response_columns) | set(self.predictor_columns)

    @property
    def response_columns(self) -> frozenset:
        """Columns the response is made of."""
        if self.response_is_column:
            return frozenset([self.response])
        parts = cbind_parts(self.response)
        if parts is not None:
            return frozenset().union(*(_columns_of(p) for p in parts))
        return _columns_of(self.response)

    @property
    def predictor_columns(self) -> frozenset:
        """Columns the fixed and random parts use (grouping factors included)."""
        return _predictors(self.fixed, self.random)

    def model_columns(self, available) -> set:
        """The data columns a fit needs among ``available``.

        formulaic leaves out the arguments of stateful transforms
        (``scale(x)``, ``poly(x, 2)``) from its required variables, so every
        name written in the formula that is a column of the data counts too.
        """
        available = set(available)
        return self.required_columns | (_names_in(self.formula) & available)

    @property
    def predictor_names(self) -> set:
        """Every name written on the right-hand side (a superset of the
        predictor columns: function names too)."""
        rhs = " + ".join([self.fixed] + [f"{t.expr} + {' + '.join(t.group)}" for t in self.random])
        return set(self.predictor_columns) | _names_in(rhs)

    def predictor_model_columns(self, available) -> set:
        """:meth:`model_columns` of the right-hand side only."""
        return set(self.predictor_columns) | (self.predictor_names & set(available))


_NAME = re.compile(r"`([^`]+)`|((?:[^\W\d]|\.)[\w.]*)")


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[^\W\d]\w*", text) is not None


def _names_in(text: str) -> set:
    """Identifiers and backticked names written in ``text``."""
    return {a or b for a, b in _NAME.findall(text)}


@lru_cache(maxsize=256)
def cbind_parts(response: str):
    """The two expressions (successes, failures) of a ``cbind(a, b)`` response
    (lme4's binomial response with trials), or None for another response."""
    m = re.fullmatch(r"\s*cbind\s*\((.*)\)\s*", response, flags=re.S)
    if m is None:
        return None
    parts = [p.strip() for p in _split_top_level(m.group(1), ",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(
            f"the response {response!r} must be cbind(successes, failures): two expressions"
        )
    return parts


def _columns_of(expr: str) -> frozenset:
    """formulaic's required variables of ``expr``, with backticked names kept
    whole (formulaic reports `a.b` as the variable a)."""
    cols = set(Formula(expr).required_variables)
    quoted = set(re.findall(r"`([^`]+)`", expr))
    bare = _names_in(re.sub(r"`[^`]+`", " ", expr))
    for q in quoted:
        head = q.split(".")[0]
        if "." in q and head not in bare:
            cols.discard(head)
        cols.add(q)
    return frozenset(cols)


@lru_cache(maxsize=256)
def _predictors(fixed, random) -> frozenset:
    cols = set(_columns_of(fixed))
    for term in random:
        cols |= set(_columns_of(term.expr))
        cols |= set(term.group)
    return frozenset(cols)


#: What formulaic raises on a malformed formula (Python's own SyntaxError for
#: a malformed Python expression inside it).
_PARSE_ERRORS = (FormulaicError, SyntaxError)


def _plain(exc) -> str:
    """An error message on one line, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return " ".join(text.split())


def _split_top_level(text: str, sep: str) -> list:
    """Split ``text`` on ``sep`` where it is not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"formula syntax error: unbalanced ')' in {text!r}")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f"formula syntax error: unbalanced '(' in {text!r}")
    parts.append(text[start:])
    return parts


def _bar_terms(rhs: str):
    """Yield (start, end, inner) for every parenthesised ``(... | ...)`` group."""
    depth, start = 0, 0
    for i, ch in enumerate(rhs):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"formula syntax error: unbalanced ')' in {rhs!r}")
            if depth == 0:
                inner = rhs[start + 1 : i]
                if "|" in inner and _split_top_level(inner, "|")[0] != inner:
                    yield start, i + 1, inner
    if depth != 0:
        raise ValueError(f"formula syntax error: unbalanced '(' in {rhs!r}")


def _expand_groups(group: str) -> list:
    """``a/b/c`` -> [("a",), ("a", "b"), ("a", "b", "c")]; ``a:b`` -> [("a", "b")]."""
    group = group.strip()
    if not group:
        raise ValueError("formula syntax error: a random term has no grouping factor after '|'")
    nested = [g.strip() for g in group.split("/")]
    out = []
    for k in range(1, len(nested) + 1):
        cols: list = []
        for piece in nested[:k]:
            cols.extend(c.strip() for c in piece.split(":"))
        for c in cols:
            if not re.fullmatch(r"[^\W\d][\w.]*|`[^`]+`", c):
                raise ValueError(
                    f"formula syntax error: grouping factor {c!r} must be a column name"
                )
        out.append(tuple(c.strip("`") for c in cols))
    return out


def _term_labels(expr: str) -> tuple:
    """``(has an intercept, other term labels)`` of a random-effect expression."""
    try:
        parsed = Formula(expr)
    except _PARSE_ERRORS as exc:
        raise ValueError(f"formula syntax error in random term {expr!r}: {_plain(exc)}") from None
    labels = [str(t) for t in parsed]
    has_intercept = "1" in labels
    others = [t for t in labels if t != "1"]
    return has_intercept, others


def _canonical_groups(terms) -> list:
    """Give every grouping factor one spelling: ``a:b`` and ``b:a`` (or the
    ``a/b`` form, which means ``a:b``) are the same groups; the first spelling
    in the formula is kept."""
    first: dict = {}
    out = []
    for t in terms:
        group = first.setdefault(frozenset(t.group), t.group)
        if len(set(t.group)) != len(t.group):
            raise ValueError(
                f"formula syntax error: grouping factor {':'.join(t.group)!r} repeats a column"
            )
        out.append(RandomTerm(t.expr, group))
    return out


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula (see :func:`_parse`); results are cached."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    return _parse(formula)


@lru_cache(maxsize=256)
def _parse(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into response, fixed part and random terms.

    Parameters
    ----------
    formula : str
        For example ``"y ~ x + (1 + x | school) + (1 | district)"``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    ValueError
        On a syntax error, a missing response or when no random term is given.
    """
    lhs, rhs, backticked = _sides(formula)
    fixed, random = _split_random(rhs)
    if not random:
        raise ValueError(
            f"no random term in {formula!r}: a mixed model needs at least one term "
            "such as (1 | school); for a model without random effects use a "
            "weighted regression instead"
        )
    response_expr = not backticked and not _is_name(lhs)
    if response_expr:
        _check_parses(lhs, "the response")
    return ParsedFormula(formula, lhs, fixed, tuple(random), response_expr)


def _sides(formula: str):
    """``(response, right-hand side, whether the response was backticked)``."""
    if formula.count("~") != 1:
        raise ValueError(f"formula syntax error: expected exactly one '~' in {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise ValueError(f"formula syntax error: no response on the left of '~' in {formula!r}")
    backticked = re.fullmatch(r"`[^`]+`", lhs) is not None
    if backticked:
        lhs = lhs[1:-1]
    elif len(_split_top_level(lhs, "+")) > 1:
        raise ValueError(
            f"the response {lhs!r} must be a single variable or expression "
            "(several responses are not supported)"
        )
    if not rhs:
        raise ValueError(f"formula syntax error: nothing on the right of '~' in {formula!r}")
    return lhs, rhs, backticked


def _split_random(rhs: str):
    """``(fixed part, random terms)`` of a right-hand side.

    ``(e || g)`` becomes ``(1 | g)`` (when ``e`` has an intercept) and
    ``(0 + t | g)`` for every term ``t`` of ``e``, as lme4's
    ``expandDoubleVerts``; ``(e | a/b)`` becomes ``(e | a) + (e | a:b)``.
    """
    pieces: list = []
    random: list = []
    last = 0
    for start, end, inner in _bar_terms(rhs):
        pieces.append(rhs[last:start])
        last = end
        _check_joined(rhs, start, end)
        double = "||" in inner
        expr, group = (s.strip() for s in inner.split("||" if double else "|", 1))
        if not expr:
            raise ValueError(f"formula syntax error: empty effects in random term ({inner})")
        groups = _expand_groups(group)
        has_int, others = _term_labels(expr)
        exprs = (["1"] if has_int else []) + [f"0 + {t}" for t in others] if double else [expr]
        random.extend(RandomTerm(e, g) for g in groups for e in exprs)
    pieces.append(rhs[last:])
    return _fixed_part("".join(pieces)), _canonical_groups(random)


def _check_joined(rhs: str, start: int, end: int) -> None:
    """A random term must be joined to its neighbours by ``+`` (lme4 reads
    ``x (1 | g)`` as a call of ``x``)."""
    before, after = rhs[:start].rstrip(), rhs[end:].lstrip()
    # an unbalanced parenthesis next to the term is reported by _bar_terms
    if (before and before[-1] not in "+-(") or (after and after[0] not in "+-)"):
        raise ValueError(
            f"formula syntax error: random term {rhs[start:end]!r} must be "
            "joined to the other terms with '+'"
        )


def _fixed_part(text: str) -> str:
    """The fixed part left once the random terms are cut out, checked by formulaic."""
    # remove the '+' signs left dangling by the removed random terms
    fixed = re.sub(r"\+\s*(?=\+|$)", "", text.strip())
    fixed = re.sub(r"^\s*\+", "", fixed).strip()
    fixed = re.sub(r"\s+", " ", fixed)
    if re.search(r"-\s*$", fixed):
        raise ValueError("formula syntax error: a random term cannot be subtracted")
    if not fixed:
        fixed = "1"
    elif re.fullmatch(r"0|-\s*1", fixed):
        fixed = "0"
    _check_parses(fixed, "fixed part")
    return fixed


def _check_parses(expr: str, what: str) -> None:
    try:
        Formula(expr)
    except _PARSE_ERRORS as exc:
        raise ValueError(f"formula syntax error in {what} {expr!r}: {_plain(exc)}") from None
