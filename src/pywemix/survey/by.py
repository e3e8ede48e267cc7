"""One fit per value of a column (countries), as ``mix(..., by="cnt")``.

R equivalents: ``BIFIEsurvey::BIFIE.twolevelreg`` on a ``BIFIEdata`` split
by country; ``EdSurvey``'s ``edsurvey.data.frame.list``.
"""
from __future__ import annotations

import html
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..warnings import DataWarning, PywemixWarning, collecting, silently, warn
from .replicates import resolve_column

__all__ = ["fit_by", "ByResult", "GroupFitError"]


class GroupFitError(LookupError):
    """``by_result[value]`` for a value whose fit failed: the message says why.

    A :class:`LookupError` but not a :class:`KeyError` (a value that is not
    in the data at all raises ``KeyError``); ``value in by_result`` is False
    for both, and ``by_result.errors[value]`` holds the message.
    """


class _GroupFit:
    """Fit one group's data (picklable, for process pools); returns the
    result or the error's message, and the warnings of the fit (recorded,
    not issued, so that the caller issues them naming the group)."""

    def __init__(self, bound, replicates, plausible_values, inner_executor):
        self.bound, self.replicates = bound, replicates
        self.plausible_values, self.inner_executor = plausible_values, inner_executor

    def __call__(self, formula, data):
        with collecting() as messages:
            out = silently(self._fit)(formula, data)
        # a fit keeps its own warnings; the bucket has those issued outside it
        recorded = list(getattr(out, "warnings", ())) + list(messages)
        return out, list(dict.fromkeys(recorded))

    def _fit(self, formula, data):
        from .fit import fit_replicated
        try:
            if self.replicates is not None:
                return fit_replicated(self.bound, formula, data, self.replicates,
                                      self.plausible_values, self.inner_executor)
            if self.plausible_values is not None:
                from ..pv import fit_plausible_values
                return fit_plausible_values(self.bound, formula, data,
                                            self.plausible_values, self.inner_executor)
            return self.bound(formula, data)
        except Exception as exc:  # recorded per group, reported by ByResult
            return _Failure(f"{type(exc).__name__}: {exc}")


class _Failure(str):
    """The error message of a group that could not be fitted."""


def _by_values(data, by):
    if not isinstance(by, str):
        raise TypeError(f"by must be a column name, got {by!r}")
    col = resolve_column(data, by, "by column")
    values = data[col]
    n_na = int(values.isna().sum())
    if n_na:
        raise ValueError(f"by column {col!r} has {n_na} missing values: drop those rows or "
                         "give them a value")
    uniq = pd.unique(values)
    try:
        uniq = sorted(uniq)
    except TypeError:
        pass
    return col, uniq


def fit_by(bound, formula, data, by, *, replicates=None, plausible_values=None,
           executor=None):
    """Fit the model to the rows of every value of column ``by``.

    Groups run through ``executor.map`` when one is given (plausible values
    and replicates of a group then run in that group's task). A group whose
    fit fails gets its error recorded in ``ByResult.errors``, and one
    warning lists them; when every group fails, ValueError. Each group's
    warnings are issued with the group named first (``cnt='AAA': ...``).
    """
    col, values = _by_values(data, by)
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor (with a map "
                        f"method), got {type(executor).__name__}")
    codes = data[col].to_numpy()
    subsets = [data.loc[codes == v] for v in values]
    task = _GroupFit(bound, replicates, plausible_values, None)
    if executor is None:
        with warnings.catch_warnings():  # plausible values re-issue theirs: named below
            warnings.simplefilter("ignore", PywemixWarning)
            done = [task(formula, s) for s in subsets]
    else:
        done = list(executor.map(task, [formula] * len(subsets), subsets))
    keys = [v.item() if isinstance(v, np.generic) else v for v in values]
    out = [r for r, _ in done]
    for k, (_, messages) in zip(keys, done):
        for m in dict.fromkeys(messages):
            warn(f"{col}={k!r}: {m}", getattr(m, "category", None))
    fits = {k: r for k, r in zip(keys, out) if not isinstance(r, _Failure)}
    errors = {k: str(r) for k, r in zip(keys, out) if isinstance(r, _Failure)}
    if not fits:
        raise ValueError(f"no group of {col!r} could be fitted ({len(errors)} groups): "
                         + "; ".join(f"{col}={k!r}: {m}" for k, m in list(errors.items())[:3]))
    if errors:
        warn(f"{len(errors)} of {len(keys)} groups of {col!r} could not be fitted: "
             + "; ".join(f"{k}: {m}" for k, m in list(errors.items())[:5]), DataWarning)
    return ByResult(col, fits, errors, formula)


class ByResult(Mapping):
    """Fits by value of a column: a mapping value -> result.

    ``errors`` maps the values whose fit failed to the error message
    (``result[value]`` for such a value raises :class:`GroupFitError`, a
    value not in the data ``KeyError``).

    The fits' estimates and Wald inference are stacked into tables indexed
    by group, as statsmodels' and linearmodels' results are indexed by
    term: ``params`` and ``bse`` (Series with a (value, term) MultiIndex;
    ``.unstack()`` gives one row per value, one column per term),
    ``conf_int()`` (DataFrame, same index), ``wald_test()`` (one row per
    value), ``tidy()`` (the fits' ``tidy()`` rows with the value as the
    first column). ``summary()`` reports every fit (text; HTML in Jupyter,
    as the result itself). Groups whose fit failed have no rows.
    R equivalent: ``lapply`` over ``split(data, data$cnt)`` (EdSurvey's
    ``edsurvey.data.frame.list`` results).
    """

    def __init__(self, column, fits, errors, formula):
        self.column, self._fits, self.errors, self.formula = column, dict(fits), \
            dict(errors), formula

    def __getitem__(self, key):
        if key in self._fits:
            return self._fits[key]
        if key in self.errors:
            raise GroupFitError(f"{self.column} = {key!r} could not be fitted: "
                                f"{self.errors[key]}")
        raise KeyError(f"{key!r} is not a value of {self.column!r}; its fitted values are "
                       f"{list(self._fits)[:10]}")

    def __contains__(self, key):
        return key in self._fits

    def get(self, key, default=None):
        return self._fits.get(key, default)

    def __iter__(self):
        return iter(self._fits)

    def __len__(self):
        return len(self._fits)

    def _stack(self, get, name=None):
        """``get(fit)`` (a Series or DataFrame indexed by term) of every fit,
        stacked under a (value, term) MultiIndex."""
        parts = {}
        for k, r in self._fits.items():
            try:
                parts[k] = get(r)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{self.column} = {k!r}: {exc}") from exc
        out = pd.concat(parts, names=[self.column, "term"])
        out = out.rename(name) if name is not None else out
        out.attrs = {"notes": [f"{self.column}={k!r}: {n}" for k, p in parts.items()
                               for n in p.attrs.get("notes", [])]}
        return out

    @property
    def params(self) -> pd.Series:
        """Fixed-effect estimates of every fit: a Series indexed by (value, term)
        (``params.unstack()``: one row per value, one column per term)."""
        return self._stack(lambda r: r.params, "params")

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects of every fit (each fit's default:
        cluster-robust, or replication for replicate weights), indexed as ``params``."""
        return self._stack(lambda r: r.bse, "bse")

    def conf_int(self, alpha: float = 0.05, **kwargs) -> pd.DataFrame:
        """Wald confidence intervals of every fit, indexed by (value, term).

        Parameters
        ----------
        alpha : float
            1 - confidence level.
        **kwargs
            ``kind`` and ``which`` of the fits' ``conf_int`` (e.g.
            ``which="all"`` adds the variance components).

        Returns
        -------
        DataFrame
            The fits' intervals under a (value, term) MultiIndex;
            ``attrs["notes"]`` gathers the fits' notes (variance intervals
            truncated at 0 or on the boundary), each naming its value.
        """
        from ..results.inference import check_alpha
        alpha = check_alpha(alpha)
        return self._stack(lambda r: r.conf_int(alpha, **kwargs))

    def wald_test(self, terms=None, **kwargs) -> pd.DataFrame:
        """The same Wald test in every fit: one row per value.

        Parameters
        ----------
        terms, **kwargs
            As the fits' ``wald_test`` (``terms``, or ``R`` and ``q``;
            ``kind``, ``cov``): a factor's or an interaction's name tests
            all its columns in each fit (their number, ``df``, may differ
            between groups when a level is missing in one). A term missing
            from one fit raises a ValueError naming the value.

        Returns
        -------
        DataFrame
            Indexed by value; columns ``statistic`` (chi-square), ``df``,
            ``p_value``.
        """
        rows = {}
        for k, r in self._fits.items():
            try:
                t = r.wald_test(terms, **kwargs)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{self.column} = {k!r}: {exc}") from exc
            rows[k] = {"statistic": t.statistic, "df": t.df, "p_value": t.p_value}
        out = pd.DataFrame.from_dict(rows, orient="index")
        return out.rename_axis(self.column)

    def tidy(self, *args, **kwargs) -> pd.DataFrame:
        """One long table: the fits' ``tidy()`` rows, with a column named
        after ``by`` holding the value (arguments as the fits' ``tidy``)."""
        parts = []
        for k, r in self._fits.items():
            t = r.tidy(*args, **kwargs)
            t.insert(0, self.column, k)
            parts.append(t)
        if not parts:
            return pd.DataFrame(columns=[self.column, "term"])
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> "BySummary":
        return BySummary(self)

    def __repr__(self):
        return (f"<ByResult {self.formula!r} by {self.column!r}: {len(self._fits)} fits, "
                f"{len(self.errors)} errors>")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


class BySummary:
    """Reports of every group's fit (``str`` gives the text)."""

    def __init__(self, result: ByResult):
        self.result = result
        self.parts = {k: r.summary() for k, r in result.items()}

    def __str__(self):
        r = self.result
        lines = [f"Fits of {r.formula!r} by {r.column!r}: {len(r)} fitted, "
                 f"{len(r.errors)} failed"]
        for k, s in self.parts.items():
            title = f"{r.column} = {k}"
            lines += ["", title, "#" * len(title), str(s)]
        if r.errors:
            lines += ["", "Not fitted:"] + [f"  - {k}: {m}" for k, m in r.errors.items()]
        return "\n".join(lines)

    __repr__ = __str__

    def as_html(self) -> str:
        """The report as an HTML fragment (what Jupyter shows)."""
        return self._repr_html_()

    def _repr_html_(self) -> str:
        """An overview table (estimate and standard error of every fixed
        effect, one row per value), the values not fitted, then every fit's
        report in a collapsible section."""
        r, esc = self.result, html.escape
        overview = pd.concat({"Estimate": r.params.unstack(), "Std. Error": r.bse.unstack()},
                             axis=1).swaplevel(axis=1)
        terms = list(dict.fromkeys(r.params.index.get_level_values("term")))
        overview = overview[[(t, c) for t in terms for c in ("Estimate", "Std. Error")]]
        overview.columns.names = [None, None]
        parts = [f"<div class='pywemix-by'><h4>Fits of {esc(r.formula)} by "
                 f"{esc(r.column)}: {len(r)} fitted, {len(r.errors)} failed</h4>",
                 overview.to_html(float_format="{:.6g}".format, na_rep="")]
        if r.errors:
            parts.append("<p><b>Not fitted</b></p><ul>")
            parts += [f"<li>{esc(str(k))}: {esc(m)}</li>" for k, m in r.errors.items()]
            parts.append("</ul>")
        parts += [f"<details><summary>{esc(r.column)} = {esc(str(k))}</summary>"
                  f"{s.as_html()}</details>" for k, s in self.parts.items()]
        parts.append("</div>")
        return "".join(parts)
