"""Centering and data-learning formula transforms on a Dask DataFrame.

In memory, ``center_group`` / ``center_grand`` subtract weighted means of the
model's rows (:mod:`pywemix.design.center`), and formulaic's stateful
transforms -- ``center(x)``, ``scale(x)``, ``standardize(x)``,
``poly(x, d)``, the levels of ``C(x)`` and of other categorical expressions --
learn their state from those rows. On a Dask DataFrame every learned number
is a function of sums over the rows, so the workers compute partition sums
and the client combines them; only O(groups + terms) numbers reach it:

- centering: per group, ``sum w x`` and ``sum w`` (pass 1 of
  :mod:`pywemix.dask.design`), a grand mean from their totals;
- ``center``/``scale``/``standardize``: per partition the count, mean and
  centred sum of squares, pooled exactly
  (:math:`M_2 = \\sum_i M_{2,i} + \\sum_i n_i(\\bar x_i - \\bar x)^2`;
  Chan, Golub & LeVeque 1983, "Algorithms for computing the sample
  variance", *The American Statistician* 37(3));
- ``poly(x, d)``: the power sums :math:`S_k = \\sum (x - \\bar x)^k`,
  :math:`k \\le 2d`, of a second pass; the three-term recurrence of the monic
  orthogonal polynomials (Stieltjes procedure; Gautschi 2004, *Orthogonal
  Polynomials: Computation and Approximation*, sec. 2.2) then runs on
  polynomials held as coefficient vectors in :math:`x - \\bar x`, with
  :math:`\\langle p, q\\rangle = \\sum_{ij} p_i q_j S_{i+j}`;
- categorical expressions: the distinct values of each partition.

The learned state replaces the state formulaic learned on a sample of rows
(``ModelSpec.update``), so the partitions, ``predict`` and the result use the
same numbers as an in-memory fit. R equivalents: ``scale``, ``poly``,
``factor``.
"""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

import numpy as np
import pandas as pd
from formulaic.parser.types import Factor
from formulaic.transforms import TRANSFORMS
from formulaic.utils.layered_mapping import LayeredMapping
from formulaic.utils.stateful_transforms import stateful_eval

from ..design.center import numeric_values

__all__ = [
    "unsupported_term",
    "centre_sums",
    "centre_model",
    "centre_rows",
    "learned_terms",
    "term_statistics",
    "power_sums",
    "learned_specs",
]

#: transforms whose state is computed on the workers
LEARNED = ("center", "scale", "standardize", "poly")
#: transforms that learn from the data and are not (their state needs quantiles
#: or the rows' order): such fits run in memory, with a warning naming the term
NOT_ON_WORKERS = ("bs", "cr", "cs", "cc", "te", "lag")
_CALL = re.compile(r"(?<![\w.])(center|scale|standardize|poly|bs|cr|cs|cc|te|lag|C)\s*\(")


def _call_text(text: str, start: int) -> str:
    """The call beginning at ``start`` (up to its balanced closing parenthesis)."""
    depth = 0
    for i in range(text.index("(", start), len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    return text[start:]


def unsupported_term(parsed) -> str | None:
    """The first term whose learned state cannot be computed on the workers
    (None when all can): a response with a data-learning transform, a spline
    or ``lag``, or a learning transform nested inside another."""
    if not parsed.response_is_column and _CALL.search(parsed.response):
        return f"the response {parsed.response!r}"
    rhs = " + ".join([parsed.fixed] + [t.expr for t in parsed.random])
    for m in _CALL.finditer(rhs):
        call = _call_text(rhs, m.start())
        if m.group(1) in NOT_ON_WORKERS:
            return call
        if _CALL.search(call[call.index("(") + 1 :]):
            return call
    return None


# -- centering ---------------------------------------------------------------


def centre_sums(used: pd.DataFrame, plan) -> dict:
    """Pass-1 sums of one partition's used rows: per centred grouping factor,
    ``sum w`` and ``sum w x`` by group; for grand centering, their totals."""
    if not plan.centre_groups and not plan.centre_grand:
        return {}
    w = used[plan.spec[0]].to_numpy(dtype=float) if plan.spec[0] else np.ones(len(used))
    out = {}
    for name, cols, columns in plan.centre_groups:
        sums = pd.DataFrame({c: w * numeric_values(used, c) for c in columns})
        sums["(w)"] = w
        out[name] = sums.groupby([used[c].to_numpy() for c in cols]).sum()
    out["(grand)"] = {c: float(np.sum(w * numeric_values(used, c))) for c in plan.centre_grand}
    out["(grand w)"] = float(np.sum(w))
    return out


def centre_model(scans, plan, table, levels, centering):
    """The fitted :class:`~pywemix.design.center.Centering` and, for the
    partitions, ``(column, level position or None, means)`` in the order in
    memory applies them (group means first, then grand means)."""
    if centering is None:
        return None, ()
    by_name = {lev.name: i for i, lev in enumerate(levels)}
    steps: list[tuple[Any, int | None, Any]] = []
    group_means: dict = {}
    grand_means: dict = {}
    shift: dict = {}  # column -> sum w * (group mean) over rows, for a grand mean after it
    for name, cols, columns in plan.centre_groups:
        pos = by_name[name]
        lev = levels[pos]
        sums = (
            pd.concat([s[name] for s in scans if name in s])
            .groupby(level=list(range(len(cols))))
            .sum()
        )
        keys = table.iloc[lev.starts][list(cols)]
        index = (
            pd.MultiIndex.from_frame(keys)
            if len(cols) > 1
            else pd.Index(keys.iloc[:, 0].to_numpy())
        )
        sums = sums.reindex(index)
        for c in columns:
            mean = sums[c].to_numpy() / sums["(w)"].to_numpy()
            steps.append((c, pos, mean))
            group_means[(name, c)] = pd.Series(mean, index=lev.labels)
            shift[c] = shift.get(c, 0.0) + float(
                np.sum(sums[c].to_numpy() - mean * sums["(w)"].to_numpy())
            )
    total_w = sum(s["(grand w)"] for s in scans if s)
    for c in plan.centre_grand:
        wx = sum(s["(grand)"][c] for s in scans if s)
        grand_means[c] = (shift[c] if c in shift else wx) / total_w
        steps.append((c, None, grand_means[c]))
    return centering.fitted(group_means, grand_means), tuple(steps)


def centre_rows(frame: pd.DataFrame, steps, codes) -> pd.DataFrame:
    """``frame`` with the centering ``steps`` applied (``codes``: each row's
    group index per level, level 2 first)."""
    if not steps:
        return frame
    frame = frame.copy()
    for c, pos, mean in steps:
        x = numeric_values(frame, c)
        frame[c] = x - (mean if pos is None else mean[codes[pos]])
    return frame


# -- stateful formula transforms ----------------------------------------------


def _transform(name):
    return TRANSFORMS[name]


def _bound(call: ast.Call, name: str) -> dict:
    """The call's arguments other than the data, bound to the transform's
    signature (literal values only)."""
    sig = inspect.signature(_transform(name))
    try:
        args = [ast.literal_eval(a) for a in call.args[1:]]
        if any(k.arg is None for k in call.keywords):
            raise TypeError("a ** argument has no literal names")
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in call.keywords}
        bound = sig.bind(None, *args, **kwargs)
    except (ValueError, TypeError, SyntaxError):
        raise NotImplementedError(
            f"formula term {ast.unparse(call)!r}: only literal arguments of {name}() are "
            "computed on the workers"
        ) from None
    bound.apply_defaults()
    return dict(bound.arguments)


def learned_terms(specs, plain_columns) -> dict:
    """What must be learned from all rows, by expression: ``(kind, data
    expression, options)`` with kind ``"moments"`` (center, scale,
    standardize, poly) or ``"levels"`` (a categorical expression).

    Raises
    ------
    NotImplementedError
        Naming a term with learned state not computed on the workers.
    """
    out: dict[str, Any] = {}
    for spec in specs:
        for key in spec.transform_state:
            call = ast.parse(key, mode="eval").body
            name = getattr(getattr(call, "func", None), "id", None)
            if name not in LEARNED or not call.args:
                raise NotImplementedError(
                    f"formula term {key!r} learns from the data in a way not computed on "
                    "the workers: compute it as a column first, or fit in memory"
                )
            out[key] = ("moments", ast.unparse(call.args[0]), (name, _bound(call, name)))
        for key, (kind, _state) in spec.encoder_state.items():
            if kind is Factor.Kind.CATEGORICAL and key not in plain_columns:
                call = ast.parse(key, mode="eval").body
                fixed = isinstance(call, ast.Call) and any(k.arg == "levels" for k in call.keywords)
                if not fixed:
                    out[key] = ("levels", key, None)
    return out


def _evaluate(expr: str, frame: pd.DataFrame):
    """The values of a formula expression on ``frame`` (formulaic's namespace)."""
    values = stateful_eval(expr, LayeredMapping(frame, TRANSFORMS), None, {}, None)
    return getattr(values, "__wrapped__", values)


def term_statistics(frame: pd.DataFrame, terms: dict) -> dict:
    """First pass of one partition's model rows: per ``moments`` term the count,
    mean, centred and raw sums of squares; per ``levels`` term the distinct
    values."""
    out = {}
    for key, (kind, expr, _) in terms.items():
        values = _evaluate(expr, frame)
        if kind == "levels":
            out[key] = pd.unique(np.asarray(values)).tolist()
            continue
        x = np.asarray(values, dtype=float)
        mean = float(np.mean(x)) if len(x) else 0.0
        out[key] = (len(x), mean, float(np.sum((x - mean) ** 2)), float(np.sum(x * x)))
    return out


def power_sums(frame: pd.DataFrame, terms: dict, means: dict) -> dict:
    """Second pass (``poly`` of degree 2 and more): :math:`\\sum (x - m)^k`,
    ``k = 0 .. 2 degree``, per term."""
    out = {}
    for key, degree in means.items():
        c = np.asarray(_evaluate(terms[key][1], frame), dtype=float) - degree[0]
        out[key] = np.array([np.sum(c**k) for k in range(2 * degree[1] + 1)])
    return out


def _pooled(stats) -> tuple:
    """(n, mean, centred sum of squares, raw sum of squares) of all partitions."""
    stats = [s for s in stats if s[0]]
    n = sum(s[0] for s in stats)
    mean = sum(s[0] * s[1] for s in stats) / n
    m2 = sum(s[2] for s in stats) + sum(s[0] * (s[1] - mean) ** 2 for s in stats)
    return n, mean, m2, sum(s[3] for s in stats)


def _scale_state(state, options, pooled) -> dict:
    """formulaic's ``scale`` state from the pooled moments."""
    name, args = options
    n, mean, m2, ss = pooled
    state = dict(state)
    center = True if name == "center" else args["center"]
    scale = False if name == "center" else args["scale" if name == "scale" else "rescale"]
    if isinstance(center, bool) and center:
        state["center"] = np.float64(mean)
    if isinstance(scale, bool) and scale:
        c = state["center"]
        around = (
            m2
            if c is not None and isinstance(center, bool)
            else (ss if c is None else m2 + n * (mean - float(c)) ** 2)
        )
        state["scale"] = np.sqrt(np.float64(around) / (n - state["ddof"]))
    return state


def poly_state(mean: float, sums: np.ndarray, degree: int) -> dict:
    """``alpha`` and ``norms2`` of formulaic's ``poly`` from the power sums
    ``sums[k]`` of ``x - mean`` (module notes)."""

    def inner(p, q):
        return float(sum(p[i] * q[j] * sums[i + j] for i in range(len(p)) for j in range(len(q))))

    def times_c(p):
        return np.r_[0.0, p]

    alpha, norms2 = {}, {}
    prev, cur = None, np.array([1.0])
    for k in range(degree + 1):
        norms2[k] = np.float64(inner(cur, cur))
        if k == degree:
            break
        alpha[k] = np.float64(mean + inner(times_c(cur), cur) / norms2[k])
        nxt = times_c(cur) + np.r_[(mean - alpha[k]) * cur, 0.0]
        if prev is not None:
            nxt[: len(prev)] -= norms2[k] / norms2[k - 1] * prev
        prev, cur = cur, nxt
    return {"alpha": alpha, "norms2": norms2}


def poly_degrees(terms: dict, first: list) -> dict:
    """``key -> (mean, degree)`` of the orthogonal ``poly`` terms of degree 2+."""
    out = {}
    for key, (kind, _, options) in terms.items():
        if (
            kind == "moments"
            and options[0] == "poly"
            and not options[1]["raw"]
            and options[1]["degree"] >= 2
        ):
            out[key] = (_pooled([s[key] for s in first])[1], int(options[1]["degree"]))
    return out


def learned_states(terms: dict, first: list, second: list, degrees: dict) -> dict:
    """``key -> state`` for every term, from the partitions' statistics."""
    out: dict[str, Any] = {}
    for key, (kind, _, options) in terms.items():
        if kind == "levels":
            seen = pd.unique(
                np.concatenate([np.asarray(s[key], dtype=object) for s in first] or [np.array([])])
            )
            values = pd.Series(list(seen)).infer_objects()
            out[key] = list(values.astype("category").cat.categories)
            continue
        pooled = _pooled([s[key] for s in first])
        name, args = options
        if name != "poly":
            out[key] = (name, args, pooled)
        elif args["raw"]:
            continue
        elif args["degree"] >= 2:
            out[key] = poly_state(pooled[1], sum(s[key] for s in second), args["degree"])
        else:
            out[key] = poly_state(pooled[1], np.array([pooled[0], 0.0, pooled[2]]), 1)
    return out


def learned_specs(specs, states: dict) -> list:
    """``specs`` with their learned state replaced (structure to be rebuilt)."""
    out = []
    for spec in specs:
        ts = dict(spec.transform_state)
        for key in ts:
            if key in states:
                s = states[key]
                ts[key] = _scale_state(ts[key], s[:2], s[2]) if isinstance(s, tuple) else s
        es = dict(spec.encoder_state)
        for key, (kind, _state) in es.items():
            if kind is Factor.Kind.CATEGORICAL and key in states:
                es[key] = (kind, {"categories": states[key]})
        out.append(spec.update(structure=None, transform_state=ts, encoder_state=es))
    return out
