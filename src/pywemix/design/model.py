"""The model design: response, fixed and random design blocks, levels, weights.

``build_design`` is the first stage of a fit (lme4's ``lFormula``): it turns a
formula, a data frame and weight column names into numeric arrays sorted so
that the groups of every level are contiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FormulaicError
from formulaic.materializers import PandasMaterializer
from interface_meta import override
from scipy.linalg import lapack

from ..warnings import DataWarning, warn
from .columns import plain_matrix
from .formula import ParsedFormula, cbind_parts, parse_formula
from .frame import (
    categorical_values,
    check_columns,
    check_predictor_types,
    complete_rows,
    is_text,
    numeric_array,
    numeric_values,
    to_pandas,
)
from .levels import order_levels, sorted_levels
from .scaling import scale_within, warn_unscaled
from .validate import (
    check_centered,
    check_magnitude,
    check_response_not_predictor,
    check_terms,
    warn_dependent_random,
    warn_number_levels,
    warn_scales,
)
from .weights import (
    check_unconditional,
    conditional_weights,
    constant_within,
    normalize_weight_spec,
    validate_weights,
    zero_weight_rows,
)

__all__ = [
    "DesignBase",
    "ModelDesign",
    "build_design",
    "fixed_matrix",
    "fixed_columns",
    "family_columns",
    "random_matrix",
    "random_blocks",
    "check_rank",
    "check_identifiable",
]


@dataclass(frozen=True)
class RandomBlock:
    """The random effects of one term at one level (one covariance block)."""

    expr: str
    names: tuple
    columns: slice  # columns of the level's Z


@dataclass(frozen=True)
class DesignBase:
    """What every model design holds, whether it keeps the rows
    (:class:`ModelDesign`) or only per-group statistics
    (:class:`pywemix.dask.design.DaskDesign`).

    Attributes
    ----------
    parsed : ParsedFormula
    x_names : list of str
        Fixed-effect column names.
    blocks : list of list of RandomBlock, one list per level
    levels : list of Level, from level 2 up
    w1 : ndarray
        Conditional level-1 weights (a Dask design: their range).
    wg : list of ndarray
        Conditional weights of the groups of each level (level 2 up).
    frame : DataFrame
        The model frame (a Dask design: a few rows, the template for
        ``predict``).
    fixed_spec, random_specs : formulaic ModelSpec(s)
        To build the same columns on new data.
    weight_spec : list of (str or None)
        Weight column per level, level 1 first.
    cond_weights : bool
    n_dropped : int
        Rows dropped for zero weights.
    offset : ndarray or None
    offset_column : str or None
    centering : Centering or None
        The fitted centering (for ``predict``).
    response_levels : tuple or None
        The categories of an ordinal response, in order (its codes 0, 1, ...).
    """

    parsed: ParsedFormula
    x_names: list
    blocks: list
    levels: list
    w1: np.ndarray
    wg: list
    frame: pd.DataFrame
    fixed_spec: object
    random_specs: list
    weight_spec: list
    cond_weights: bool
    n_dropped: int = 0
    offset: np.ndarray | None = None
    offset_column: str | None = None
    centering: object = None
    response_levels: tuple | None = None

    @property
    def n_levels(self) -> int:
        """Number of levels including the observation level."""
        return len(self.levels) + 1

    @property
    def response(self) -> str:
        """The response's name in the formula."""
        return self.parsed.response


@dataclass(frozen=True, kw_only=True)
class ModelDesign(DesignBase):
    """
    Numeric form of a mixed model, rows sorted by group at every level.

    The fields of :class:`DesignBase` and the rows' arrays; made by
    :func:`build_design` (stage 1, lme4's ``lFormula``). A frozen dataclass
    whose fields are given by keyword.

    Parameters
    ----------
    parsed : ParsedFormula
        The parsed formula.
    x_names : list of str
        Fixed-effect column names.
    blocks : list of list of RandomBlock
        One list per level, from level 2 up.
    levels : list of Level
        The grouping levels, from level 2 up.
    w1 : ndarray
        Conditional level-1 weights.
    wg : list of ndarray
        Conditional weights of the groups of each level (level 2 up).
    frame : DataFrame
        The model frame, sorted by group.
    fixed_spec : formulaic ModelSpec
        To build the same fixed-effect columns on new data.
    random_specs : list of formulaic ModelSpec
        To build the same random-effect columns on new data.
    weight_spec : list of (str or None)
        Weight column per level, level 1 first.
    cond_weights : bool
        Whether the weights were given as conditional weights.
    n_dropped : int, default 0
        Rows dropped for zero weights.
    offset : ndarray, optional
        The offset of the linear predictor.
    offset_column : str, optional
        The offset's column.
    centering : Centering, optional
        The fitted centering (for ``predict``).
    response_levels : tuple, optional
        The categories of an ordinal response, in order (its codes 0, 1, ...).
    y : ndarray (n,) or (n, 2)
        The response, coded by the family (ordinal: category codes 0, 1,
        ...); a binomial response with trials (``cbind``) holds (successes,
        trials) per row.
    X : ndarray (n, p)
        The fixed-effects design matrix.
    Z : list of ndarray (n, q_l)
        The random-effects design matrices, one per level from level 2 up.
    raw_weights : dict
        The weight columns as given, by name.

    See Also
    --------
    build_design : Makes it from a formula and data.
    """

    y: np.ndarray
    X: np.ndarray
    Z: list
    raw_weights: dict = field(repr=False)

    @property
    def row_positions(self) -> np.ndarray:
        """Position in the user's data of each (sorted) row."""
        return self.frame[_POSITION].to_numpy()

    @property
    def n_obs(self) -> int:
        """Number of observations (rows) used."""
        return len(self.y)


class LogicalAsFactor(PandasMaterializer):
    """formulaic's pandas materializer, with logical values coded as a factor.

    R codes a logical term (``I(x > 0)``, ``x > 0``) as a factor with levels
    ``FALSE``, ``TRUE``: ``0 + I(x > 0)`` gives a column for each level, as
    ``lme4`` expands ``(I(x > 0) || g)`` to ``(1 | g) + (0 + I(x > 0) | g)``.
    formulaic would code it as one 0/1 column. Logical *columns* are made
    categorical beforehand (:func:`~pywemix.design.frame.prepare_categoricals`);
    this covers logical expressions. Stored model specs name it, so predictions
    code new data the same way.
    """

    REGISTER_NAME = "pywemix_pandas"
    REGISTER_INPUTS = ()  # only used when asked for by name

    @override
    def _is_categorical(self, values) -> bool:
        dtype = getattr(values, "dtype", None)
        if dtype is not None and pd.api.types.is_bool_dtype(dtype):
            return True
        return super()._is_categorical(values)


def fixed_matrix(spec_or_formula, frame: pd.DataFrame):
    """Fixed-effects design matrix from a formula string or a stored model spec."""
    try:
        # log(0) and the like give NaN/inf, reported by formulaic or _check_finite
        with np.errstate(all="ignore"):
            if isinstance(spec_or_formula, str):
                mm = model_matrix(
                    spec_or_formula, frame, na_action="raise", materializer=LogicalAsFactor
                )
            else:
                mm = spec_or_formula.get_model_matrix(frame, na_action="raise")
    except FormulaicError as exc:
        raise ValueError(f"cannot build the design matrix: {exc}") from None
    except ValueError as exc:
        term = re.search(r"`([^`]+)` contains null values", str(exc))
        if term is None:
            raise
        raise ValueError(
            f"term {term.group(1)!r} gives missing values in some rows after evaluation (for "
            "example the log or square root of a negative number): transform the column so "
            "that every row the model uses is defined, or drop those rows"
        ) from None
    return mm


def fixed_columns(mm, family=None):
    """``(X, names)`` of a fixed-effects model matrix for ``family``: without
    the intercept for families whose parameters take its place (the ordinal
    thresholds; R's ``ordinal::clmm`` drops the intercept column of the same
    treatment-coded matrix)."""
    return family_columns(np.asarray(mm, dtype=float), list(mm.columns), family)


def family_columns(X: np.ndarray, names, family=None):
    """``(X, names)`` without the intercept column when ``family`` has none
    (see :func:`fixed_columns`); the same arrays otherwise."""
    names = list(names)
    if family is None or family.has_intercept or "Intercept" not in names:
        return np.ascontiguousarray(X), names
    keep = [n != "Intercept" for n in names]
    return np.ascontiguousarray(X[:, keep]), [n for n in names if n != "Intercept"]


def random_matrix(expr_or_spec, frame: pd.DataFrame):
    """Random-effects design block for one term."""
    return fixed_matrix(expr_or_spec, frame)


class DeferredSpec:
    """formulaic's model spec of a right-hand side on the model frame, built
    when first used.

    A design of plain terms (:func:`~pywemix.design.columns.plain_matrix`) is
    built without formulaic; its spec -- what ``predict`` needs to code new
    data the same way, and the columns of every term -- is formulaic's
    ``model_matrix(expr, frame).model_spec``, made on first access to any of
    its attributes (``get_model_matrix``, ``structure``, ``column_names``,
    ...), which it then stands for.
    """

    def __init__(self, expr: str, frame: pd.DataFrame):
        self.expr, self.frame, self.spec = expr, frame, None

    def materialize(self):
        """The formulaic ModelSpec."""
        if self.spec is None:
            self.spec = fixed_matrix(self.expr, self.frame).model_spec
        return self.spec

    def __getattr__(self, name):
        if name.startswith("__") or name in ("expr", "frame", "spec"):
            raise AttributeError(name)
        return getattr(self.materialize(), name)

    def __reduce__(self):
        return DeferredSpec, (self.expr, self.frame)

    def __repr__(self) -> str:
        return f"DeferredSpec({self.expr!r})"


def design_columns(expr: str, frame: pd.DataFrame):
    """The design matrix of a right-hand side on the model frame.

    Returns
    -------
    (ndarray, list of str, structure, spec)
        The C-contiguous float matrix, its column names, the columns of each
        term (entries with ``term`` and ``columns``) and the model spec (a
        :class:`DeferredSpec` when the terms are plain).
    """
    plain = plain_matrix(expr, frame)
    if plain is not None:
        M, names, structure = plain
        return M, names, structure, DeferredSpec(expr, frame)
    mm = fixed_matrix(expr, frame)
    return (
        np.ascontiguousarray(mm.to_numpy(dtype=float)),
        list(mm.columns),
        mm.model_spec.structure,
        mm.model_spec,
    )


def _check_finite(M: np.ndarray, names, what: str) -> None:
    bad = ~np.isfinite(M)
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(
            f"{what} column(s) {', '.join(map(repr, cols))} have "
            f"{int(bad.sum())} infinite or undefined values"
        )


def check_rank(X: np.ndarray, names) -> None:
    """Refuse a fixed-effects design of deficient rank, warn about a badly conditioned one.

    Parameters
    ----------
    X : ndarray (n, p)
        The fixed-effects columns, or any matrix with the same column norms and
        cosines (a square root of ``X'X``, as the Dask design passes).
    names : sequence of str
        Column names, for the messages.

    Raises
    ------
    ValueError
        Naming the all-zero columns, or those that are linear combinations of
        the others (R's ``lm`` drops them as aliased; lme4 drops them with a
        message).

    Notes
    -----
    A pivoted Cholesky factorisation of the matrix of column cosines: each
    pivot is the squared share of a column not explained by the columns
    before it; a share below 1e-14 is a deficiency, one below 1e-9 a warning.
    """
    if X.shape[1] == 0:
        return
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    zero = [names[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        raise ValueError(
            f"rank-deficient fixed-effects design: column(s) "
            f"{', '.join(map(repr, zero))} are all zero"
        )
    Xs = X / norms
    C = Xs.T @ Xs
    # pivoted Cholesky of the columns' cosines: a pivot is the squared share
    # of a column not explained by the columns before it (R's lm uses a QR
    # tolerance of 1e-7 on that share's square root)
    L, piv, rank, info = lapack.dpstrf(C, lower=1, tol=1e-14)
    if rank < X.shape[1]:
        aliased = [names[j] for j in sorted(piv[rank:] - 1)]
        raise ValueError(
            f"rank-deficient fixed-effects design: {len(aliased)} column(s) are linear "
            f"combinations of the others and cannot be estimated: "
            f"{', '.join(map(repr, aliased))}{_near_constant_hint(C, names)}"
        )
    share = np.diag(L)[:rank] ** 2
    if share.min() < 1e-9:
        worst = names[piv[int(np.argmin(share))] - 1]
        warn(
            f"the fixed-effects design is badly conditioned: column {worst!r} is "
            "nearly a linear combination of the others (for example a variable with "
            "a large mean beside the intercept); centre or rescale the predictors for "
            "accurate estimates",
            DataWarning,
        )


def _near_constant_hint(C: np.ndarray, names) -> str:
    """Name the columns that are constant up to rounding beside the intercept
    (cosine with it of 1 to 12 digits, e.g. ``x + 1e8``): centring them helps."""
    if "Intercept" not in names:
        return ""
    k = list(names).index("Intercept")
    near = [n for j, n in enumerate(names) if j != k and abs(C[j, k]) > 1 - 1e-12]
    if not near:
        return ""
    return (
        f"; {', '.join(map(repr, near))} {'is' if len(near) == 1 else 'are'} constant "
        "up to rounding error relative to the mean: centre (or drop) "
        f"{'it' if len(near) == 1 else 'them'}"
    )


def _frame(data, parsed: ParsedFormula, spec, extra=()):
    needed = sorted(parsed.model_columns(data.columns) | set(extra))
    calls = [
        c
        for c in needed
        if c not in data.columns and re.search(rf"(?<![\w.]){re.escape(c)}\s*\(", parsed.formula)
    ]
    if calls:
        raise ValueError(
            f"unknown function {calls[0]!r} in the formula (and no such column): functions "
            "are numpy's (np.log, np.sqrt, ...), formulaic's (log, exp, scale, center, "
            "poly, C, I, ...) and Python's; an offset is given with mix(..., offset=)"
        )
    used = set(needed) | {w for w in spec if w is not None}
    dup = (
        []
        if data.columns.is_unique
        else sorted(set(data.columns[data.columns.duplicated()]) & used)
    )
    if dup:
        raise ValueError(
            f"data has several columns named {', '.join(map(repr, dup))}, "
            "which the model uses: rename them"
        )
    check_columns(data, needed)
    weights = [w for w in spec if w is not None]
    check_columns(data, weights, "weight column")
    columns = {c: data[c] for c in dict.fromkeys(needed + weights)}
    rows = complete_rows({c: columns[c] for c in needed}, len(data))
    predictors = parsed.predictor_model_columns(data.columns)
    check_response_not_predictor(parsed, predictors)
    check_predictor_types(columns, sorted(predictors))
    groups = {c for t in parsed.random for c in t.group}
    out = {}
    for c, col in columns.items():
        if c in predictors and (
            not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
        ):
            out[c] = categorical_values(col, c, rows)
            if c not in groups and is_text(col):
                warn_number_levels(c, out[c].categories)
        else:
            values = col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array
            out[c] = values if rows is None else values[rows]
    out[_POSITION] = np.arange(len(data)) if rows is None else rows
    # not copied here: build_design takes the rows in group order next (a copy)
    return pd.DataFrame(out, index=data.index if rows is None else data.index[rows], copy=False)


def _expression(expr, frame, name):
    """One column (a Series) from a column name or an expression of the frame."""
    if expr in frame.columns:
        return frame[expr]
    try:
        with np.errstate(all="ignore"):  # log(0) and the like: checked below
            lhs = model_matrix(f"{expr} ~ 1", frame, na_action="ignore").lhs
    except FormulaicError as exc:
        raise ValueError(f"cannot evaluate the response {name!r}: {exc}") from None
    if lhs.shape[1] != 1:
        raise ValueError(
            f"the response {name!r} must give one column, got "
            f"{lhs.shape[1]} ({', '.join(map(str, lhs.columns))})"
        )
    return pd.Series(np.asarray(lhs.iloc[:, 0]), index=frame.index, name=expr)


def response_frame(frame, parsed):
    """The response of ``frame``'s rows: a Series (a column or an expression),
    or for ``cbind(successes, failures)`` a DataFrame of the two."""
    name = parsed.response
    if parsed.response_is_column:
        return frame[name]
    parts = cbind_parts(name)
    if parts is None:
        return _expression(name, frame, name).rename(name)
    return pd.DataFrame(
        {p: _expression(p, frame, name).to_numpy() for p in parts}, index=frame.index
    )


def with_trials(proportion: pd.Series, trials: pd.Series, name: str, column: str):
    """(successes, failures) of a proportion of successes out of ``trials``
    (a frame as ``cbind(successes, failures)`` gives); successes within
    ``1e-6`` of a whole number are rounded to it (proportions written with
    few digits)."""
    for values, what in (
        (proportion, f"the proportion {name!r}"),
        (trials, f"the trials column {column!r}"),
    ):
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype
        ):
            raise TypeError(f"{what} must be numeric, got dtype {values.dtype}")
    p, n = proportion.to_numpy(dtype=float), trials.to_numpy(dtype=float)
    bad_n = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
    if bad_n.any():
        raise ValueError(
            f"the trials column {column!r} must hold non-negative whole "
            f"numbers; {int(bad_n.sum())} values are not, e.g. "
            f"{pd.unique(n[bad_n]).tolist()[:5]}"
        )
    bad_p = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad_p.any():
        raise ValueError(
            f"the binomial response {name!r} with trials={column!r} must be a "
            f"proportion in [0, 1]; {int(bad_p.sum())} values are not, e.g. "
            f"{pd.unique(p[bad_p]).tolist()[:5]}"
        )
    s = p * n
    r = np.round(s)
    off = np.abs(s - r) > 1e-6 * np.maximum(1.0, s)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"the proportion {name!r} times the trials {column!r} must be a "
            f"whole number of successes; {int(off.sum())} rows are not, e.g. "
            f"{p[i]:g} x {n[i]:g} = {s[i]:g}"
        )
    return pd.DataFrame({"successes": r, "failures": n - r}, index=proportion.index)


def response_values(values, name: str, family) -> np.ndarray:
    """The checked response vector of ``values`` (family-coded; numeric,
    finite and in double range for the Gaussian family; never constant;
    (successes, trials) for a ``cbind`` response)."""
    if isinstance(values, pd.DataFrame) and (family is None or family.name != "binomial"):
        raise TypeError(
            f"the response {name!r} (successes, failures) is for the binomial "
            f"family, not {family.name if family else 'gaussian'!r}"
        )
    if family is not None:
        y = family.response(values, name)
        if y.ndim == 2:  # binomial with trials: not constant in its proportion
            prop = family.observed(y)[y[:, 1] > 0]
            if np.ptp(prop) == 0:
                raise ValueError(
                    f"response {name!r} has the same proportion of successes "
                    f"({prop[0]:g}) in all {len(y)} rows: there is nothing "
                    "to model"
                )
            return y
    else:
        y = numeric_values(values, name, "response")
        bad = ~np.isfinite(y)
        if bad.any():
            raise ValueError(
                f"response {name!r} has {int(bad.sum())} non-finite values "
                f"(e.g. {y[bad][0]}): remove those rows or transform the "
                "response"
            )
        check_magnitude(y, [name], "response")
    if np.ptp(y) == 0:
        raise ValueError(
            f"response {name!r} is constant ({y[0]:g}) in all {len(y)} rows "
            "used: there is nothing to model"
        )
    return y


def _weights(frame, parsed, spec, cond_weights):
    groups = list(dict.fromkeys(t.group for t in parsed.random))
    arrays = validate_weights(frame, spec)
    ordered = order_levels(frame, groups)
    if len(spec) != len(ordered) + 1:  # pragma: no cover - checked by caller
        raise ValueError("wrong number of weights")
    names = [":".join(reversed(cols)) for cols, _ in ordered]
    for lvl in range(1, len(spec)):
        col = spec[lvl]
        if col is not None:
            cols, codes = ordered[lvl - 1]

            def label(g, cols=cols, codes=codes):
                first = int(np.flatnonzero(codes == g)[0])
                return ":".join(str(frame[c].iloc[first]) for c in reversed(cols))

            constant_within(arrays[col], codes, col, names[lvl - 1], label)
    drop = zero_weight_rows(arrays, spec, [c for _, c in ordered], names)
    if drop.any():
        frame = frame.loc[~drop]
        if len(frame) == 0:
            raise ValueError(
                "no rows left after dropping rows with zero weights (weight "
                f"columns {', '.join(repr(w) for w in spec if w is not None)})"
            )
        arrays = {k: v[~drop] for k, v in arrays.items()}
        ordered = order_levels(frame, groups)
    return frame, arrays, ordered, int(drop.sum())


def build_design(
    formula: str | ParsedFormula,
    data,
    weights: list | None = None,
    cond_weights: bool = False,
    transform=None,
    family=None,
    offset=None,
    weight_scaling: str = "none",
    trials: str | None = None,
) -> ModelDesign:
    """
    Build the numeric design of a weighted mixed model.

    Stage 1 of a fit; R equivalent: ``lme4::lFormula``.

    Parameters
    ----------
    formula : str
        An lme4-style formula (or a parsed formula).
    data : pandas.DataFrame or polars.DataFrame
        The data; rows with missing values in model variables are dropped.
    weights : list of (str or None), optional
        One weight column per level, level 1 first.
    cond_weights : bool
        Whether the weights are already conditional.
    transform : Centering, optional
        Its ``fit(frame, levels, weight_arrays, weight_spec)`` centres the
        complete, sorted rows before the design matrices are built; the
        fitted centering is kept on the design (``centering``) for predict.
    family : Family, optional
        Non-Gaussian family; checks and codes the response.
    offset : str or array-like, optional
        Column name or values added to the linear predictor.
    weight_scaling : {"none", "size", "effective"} or PRESET_NONE
        Scaling of the conditional level-1 weights within level-2 groups;
        :data:`~pywemix.design.scaling.PRESET_NONE` is "none" chosen by a
        survey preset (no unscaled-weight warning).
    trials : str, optional
        Column of the numbers of trials of a binomial response given as a
        proportion of successes.

    Returns
    -------
    ModelDesign
        The response, design matrices, weights and levels, rows sorted by group.

    Raises
    ------
    ValueError
        For a formula, column, weight or offset the data cannot give (each
        message names the term, column or level at fault).
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    n_group_factors = len({t.group for t in parsed.random})
    spec = normalize_weight_spec(weights, n_group_factors + 1)
    data, offset_column = _with_offset(to_pandas(data), offset)
    frame = _frame(data, parsed, spec, [c for c in (offset_column, trials) if c])
    frame, arrays, ordered, n_dropped = _weights(frame, parsed, spec, cond_weights)
    order, levels = sorted_levels(frame, ordered)
    frame = frame.iloc[order]
    arrays = {k: v[order] for k, v in arrays.items()}
    centering = None
    if transform is not None:
        before = frame
        frame, centering = transform.fit(frame, levels, arrays, spec)
        check_centered(before, frame)
    values = response_frame(frame, parsed)
    if trials is not None:
        values = with_trials(values, frame[trials], parsed.response, trials)
    family, response_levels = (
        family.for_response(values, parsed.response) if family is not None else (None, None)
    )
    y = response_values(values, parsed.response, family)
    off = np.zeros(len(frame))
    if offset_column:
        off = numeric_array(frame, offset_column, "offset")
        if not np.all(np.isfinite(off)):
            raise ValueError(
                f"offset {_offset_label(offset, offset_column)} has "
                f"{int((~np.isfinite(off)).sum())} infinite values"
            )
    X, x_names, structure, fixed_spec = design_columns(f"{parsed.fixed}", frame)
    X, x_names = family_columns(X, x_names, family)
    check_terms(structure)
    _check_finite(X, x_names, "fixed-effect")
    check_magnitude(X, x_names, "fixed-effect column")
    check_rank(X, x_names)
    warn_scales(X, x_names)
    Z, blocks, rspecs = random_blocks(parsed, frame, levels, plain=True)
    check_identifiable(levels, Z, len(y), family is None)
    if not cond_weights:
        check_unconditional(arrays, spec, levels)
    cond = conditional_weights(arrays, spec, cond_weights)
    w1 = cond[0] if cond[0] is not None else np.ones(len(y))
    warn_unscaled(w1, levels[0].starts, weight_scaling, repr(levels[0].name))
    w1 = scale_within(w1, levels[0].starts, weight_scaling)
    wg = [
        (cond[i][lev.starts] if cond[i] is not None else np.ones(lev.n_groups))
        for i, lev in enumerate(levels, start=1)
    ]
    return ModelDesign(
        parsed,
        x_names,
        blocks,
        levels,
        w1,
        wg,
        frame,
        fixed_spec,
        rspecs,
        spec,
        cond_weights,
        n_dropped,
        off,
        offset_column if isinstance(offset, str) else None,
        centering,
        response_levels,
        y=y,
        X=X,
        Z=Z,
        raw_weights=arrays,
    )


_OFFSET = "(offset)"
_POSITION = "(row position)"


def _offset_label(offset, column):
    return repr(offset) if isinstance(offset, str) else "array"


def _with_offset(data: pd.DataFrame, offset):
    """Return (data, offset column name or None), adding an array offset as a column."""
    if offset is None:
        return data, None
    if isinstance(offset, str):
        if offset not in data.columns:
            raise ValueError(f"offset column {offset!r} is not in the data")
        s = data[offset]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise TypeError(f"offset column {offset!r} must be numeric, got dtype {s.dtype}")
        return data, offset
    if isinstance(offset, pd.Series):
        if not offset.index.equals(data.index):
            if not offset.index.is_unique or not data.index.isin(offset.index).all():
                raise ValueError(
                    "offset is a Series whose index does not match the data's "
                    "rows: align it with the data (or pass its values)"
                )
            offset = offset.reindex(data.index)
    values = np.asarray(offset)
    if values.ndim != 1 or len(values) != len(data):
        raise ValueError(
            f"offset array must have one value per data row ({len(data)}), got shape {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"offset array must be numeric, got dtype {values.dtype}")
    data = data.copy(deep=False)
    data[_OFFSET] = values.astype(float)
    return data, _OFFSET


def random_blocks(parsed, frame, levels, specs=None, plain=False):
    """The random-effects design of every level.

    Parameters
    ----------
    parsed : ParsedFormula
    frame : DataFrame
        The model frame (or, for Dask designs, a sample with every category).
    levels : list of Level
    specs : list of list of ModelSpec, optional
        Per level and term, the model specs to build the columns with (Dask
        designs: with the state learned from all rows); by default each
        term's expression learns from ``frame``.
    plain : bool
        Build plain terms without formulaic (:func:`design_columns`; the
        specs are then :class:`DeferredSpec`).

    Returns
    -------
    Z : list of ndarray
        Per level, the random-effects columns of all its terms side by side.
    blocks : list of list of RandomBlock
        Per level, one covariance block per term (its expression, effect
        names and columns in ``Z``).
    specs : list of list
        Per level and term, formulaic's model spec (to build the same columns
        on new data).
    """
    Z, blocks, model_specs = [], [], []
    for i, lev in enumerate(levels):
        cols, blk, sp, start = [], [], [], 0
        terms = [t for t in parsed.random if t.group == lev.columns]
        for k, term in enumerate(terms):
            spec = None if specs is None else specs[i][k]
            M, names, spec = _random_columns(term.expr, frame, spec, plain)
            if M.shape[1] == 0:
                raise ValueError(f"random term ({term.expr} | {term.group_name}) has no effects")
            cols.append(M)
            _check_finite(M, names, f"random-effect ({term.group_name})")
            blk.append(RandomBlock(term.expr, names, slice(start, start + len(names))))
            sp.append(spec)
            start += len(names)
        _check_distinct_effects(blk, lev)
        Z.append(np.ascontiguousarray(np.hstack(cols)))
        warn_dependent_random(Z[-1], [n for b in blk for n in b.names], lev.name)
        blocks.append(blk)
        model_specs.append(sp)
    return Z, blocks, model_specs


def _random_columns(expr, frame, spec, plain):
    """(matrix, names, spec) of one random term's effects."""
    if plain and spec is None:
        M, names, _, spec = design_columns(expr, frame)
        return M, tuple(names), spec
    mm = random_matrix(expr if spec is None else spec, frame)
    return mm.to_numpy(dtype=float), tuple(mm.columns), mm.model_spec


def _check_distinct_effects(blocks, lev) -> None:
    """An effect in two terms of one grouping factor is not identifiable."""
    seen: dict = {}
    for b in blocks:
        for name in b.names:
            if name in seen:
                raise ValueError(
                    f"random effect {name!r} of grouping factor {lev.name!r} appears in two "
                    f"terms, ({seen[name]} | {lev.name}) and ({b.expr} | {lev.name}): "
                    "its variance cannot be split between them; keep it in one term"
                )
            seen[name] = b.expr


def check_identifiable(levels, Z, n_obs, gaussian: bool) -> None:
    """Refuse random effects of the lowest grouping level that cannot be told
    apart from the residual.

    Parameters
    ----------
    levels : list of Level
    Z : list of ndarray
        Random-effects columns per level (only their number is used).
    n_obs : int
        Rows used.
    gaussian : bool
        Whether the model has a residual variance.

    Raises
    ------
    ValueError
        When every group has one row, or (Gaussian) when there are at least
        as many level-2 random effects as rows: lme4's
        ``check.nobs.vs.nlev`` and ``check.nobs.vs.nRE``.
    """
    lev = levels[0]
    if lev.n_groups >= n_obs:
        raise ValueError(
            f"every group of {lev.name!r} has a single observation ({lev.n_groups} groups, "
            f"{n_obs} rows): its random effects cannot be told apart from the "
            "observation-level variation; use a grouping factor with repeated rows"
        )
    q = Z[0].shape[1]
    if gaussian and q * lev.n_groups >= n_obs:
        raise ValueError(
            f"{q * lev.n_groups} random effects at level 2 ({q} per {lev.name} group, "
            f"{lev.n_groups} groups) for {n_obs} observations: the random effects and the "
            "residual variance are not identifiable; simplify the random part"
        )
