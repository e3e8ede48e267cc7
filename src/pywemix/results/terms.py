"""Fixed-effect terms and the columns they stand for.

A term of the fixed part (``escs``, a factor ``st29q03``, ``C(x)``, an
interaction ``escs:st04q01``) gives one or more columns of the design
matrix. :func:`term_columns` reads that mapping from formulaic's
``ModelSpec`` of the fixed part, whatever the result (a single fit,
replicate-weight, plausible-value, pooled or Dask result), and
:func:`expand_terms` turns names of terms and of columns into the columns a
Wald test restricts, as Stata's ``testparm`` and R's ``car::Anova`` test a
factor or an interaction as a whole.
"""

from __future__ import annotations

from formulaic import Formula
from formulaic.errors import FormulaicError

__all__ = ["fitted_design", "fixed_spec", "term_columns", "expand_terms"]


def _attribute(obj, name):
    """``obj.name``, or None when it has none (results raise AttributeError
    with advice for one fit's attributes: that means "none" here)."""
    try:
        return getattr(obj, name)
    except AttributeError:
        return None


def fitted_design(result):
    """The design of ``result``, or of its first fit; None if there is none.

    ``MixResult``, a Dask result and a ``ReplicateResult`` of one fit have a
    ``design``; a combination of fits (``fits``: plausible values, pooled
    fits; ``full``: a replicate result of plausible values) has its first
    fit's (the fits of a combination share their model).
    """
    seen = set()
    while result is not None and id(result) not in seen:
        seen.add(id(result))
        design = _attribute(result, "design")
        if design is not None:
            return design
        fits = _attribute(result, "fits")
        result = fits[0] if fits else _attribute(result, "full")
    return None


def fixed_spec(model):
    """The formulaic ``ModelSpec`` of the fixed part of ``model``, or None.

    Parameters
    ----------
    model : result, design or ModelSpec
        A ``ModelSpec`` itself; anything with a ``fixed_spec`` (a design,
        a model record); or a result, whose design is found by
        :func:`fitted_design`.
    """
    if hasattr(model, "structure") and hasattr(model, "column_names"):
        return model
    spec = _attribute(model, "fixed_spec")
    if spec is None:
        spec = _attribute(fitted_design(model), "fixed_spec")
    return spec


def term_columns(model) -> dict:
    """The fixed-effect columns of each term of a model.

    Parameters
    ----------
    model : result, design or ModelSpec
        See :func:`fixed_spec`.

    Returns
    -------
    dict
        Term label (formulaic's: ``"1"`` for the intercept, ``"escs"``,
        ``"st29q03"``, ``"C(x)"``, ``"escs:st04q01"``) -> list of the
        column names it gives (``["st29q03[T.Agree]", ...]``), in the
        order of the design matrix. Empty when the model has no spec.

    Notes
    -----
    The mapping is formulaic's ``ModelSpec.structure`` (R:
    ``attr(model.matrix(m), "assign")`` with ``attr(terms(m),
    "term.labels")``).
    """
    spec = fixed_spec(model)
    if spec is None:
        return {}
    return {str(part.term): list(part.columns) for part in spec.structure}


def _parsed_term(name: str, spec):
    """The label of the term of ``spec`` that ``name`` writes another way
    (``"f:x"`` for ``"x:f"``, ``"I(x ** 2)"`` for ``"I(x**2)"``), or None."""
    try:
        parsed = [t for t in Formula(name) if str(t) != "1"]
    except (FormulaicError, ValueError, SyntaxError, TypeError):
        return None
    if len(parsed) != 1:
        return None
    return next((str(t) for t in spec.terms if t == parsed[0]), None)


def expand_terms(names, columns, model=None) -> list:
    """The columns each name stands for: itself if it is a column, all of a
    term's columns if it names a term.

    Parameters
    ----------
    names : list of str
        Column names (``"st29q03[T.Agree]"``) and term names (``"st29q03"``,
        ``"escs:st04q01"``, ``"C(x)"``; an interaction's factors in any
        order, spaces as you like).
    columns : list of str
        The fixed-effect columns (``params.index``).
    model : result, design or ModelSpec, optional
        Where the terms come from (see :func:`fixed_spec`); without it only
        column names are known.

    Returns
    -------
    list of (str, list of str)
        Each name with its columns. A name that is neither a column nor a
        term has an empty list (the caller reports it).

    Notes
    -----
    A name that is a column is that column (a numeric variable's term and
    its column have the same name). A name is matched to a term by its
    label, or else by parsing it with formulaic (terms are sets of
    factors, so ``"x:f"`` is ``"f:x"``).
    """
    spec = fixed_spec(model) if model is not None else None
    terms = term_columns(spec) if spec is not None else {}
    out = []
    for name in names:
        if name in columns:
            out.append((name, [name]))
            continue
        label = name if name in terms else (_parsed_term(name, spec) if spec is not None else None)
        cols = [c for c in terms.get(label, []) if c in columns]
        out.append((name, cols if len(cols) == len(terms.get(label, [])) else []))
    return out
