"""One fit per value of a column (countries), as ``mix(..., by="cnt")``.

R equivalents: ``BIFIEsurvey::BIFIE.twolevelreg`` on a ``BIFIEdata`` split
by country; ``EdSurvey``'s ``edsurvey.data.frame.list``.
"""
from __future__ import annotations

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
    value not in the data ``KeyError``);
    ``tidy()`` stacks the fits' ``tidy()`` tables with the value as the
    first column; ``summary()`` reports every fit.
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
        raise KeyError(key)

    def __contains__(self, key):
        return key in self._fits

    def get(self, key, default=None):
        return self._fits.get(key, default)

    def __iter__(self):
        return iter(self._fits)

    def __len__(self):
        return len(self._fits)

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
