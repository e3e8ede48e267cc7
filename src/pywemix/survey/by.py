"""One fit per value of a column (countries), as ``mix(..., by="cnt")``.

R equivalents: ``BIFIEsurvey::BIFIE.twolevelreg`` on a ``BIFIEdata`` split
by country; ``EdSurvey``'s ``edsurvey.data.frame.list``.

On a Dask DataFrame, one shuffle brings each group's rows (the columns the
fit reads) into one partition, and every group is fitted in memory on the
worker holding it, by the code of the pandas ``by=`` fit: survey groups
(countries) are small next to the data -- PISA's 81 countries have about
7,500 students each -- and a group's fit needs its rows together anyway
(its quadrature, its replicate refits), so the rows never reach this
process and the fits run in parallel. A group larger than
:data:`GROUP_CELLS` (rows x columns read) is instead fitted on the whole
cluster, as a Dask fit of its rows.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..dask import has_client, is_dask_dataframe
from ..dask.fit import model_column_names
from ..executors import executor_workers, map_tasks
from ..results.inference import check_alpha
from ..results.plots import KINDS, plot_groups
from ..results.summary import SCHEMA, tex_escape
from ..warnings import DataWarning, collecting, silently, warn
from .dask_refit import replicate_columns
from .engines import InMemory, OnDask
from .plausible import check_plausible_values
from .replicates import resolve_column

__all__ = ["fit_by", "ByResult", "BySummary", "GroupFitError", "GROUP_CELLS"]

#: On a Dask DataFrame, a group with more cells than this (rows x columns the
#: fit reads; 2**26 doubles are 512 MB) is fitted on the cluster as a Dask
#: fit; smaller groups are fitted in memory on the worker holding their rows.
GROUP_CELLS = 1 << 26


class GroupFitError(LookupError):
    """``by_result[value]`` for a value whose fit failed: the message says why.

    A :class:`LookupError` but not a :class:`KeyError` (a value that is not
    in the data at all raises ``KeyError``); ``value in by_result`` is False
    for both, and ``by_result.errors[value]`` holds the message.
    """


class _GroupFit:
    """Fit one group's data (picklable, for process pools and clusters);
    returns the result or the error's message, and the warnings of the fit
    (recorded, not issued, so that the caller issues them naming the group)."""

    def __init__(self, args, replicates, engine=InMemory):
        self.args, self.replicates, self.engine = args, replicates, engine

    def __call__(self, data):
        with collecting() as messages:
            out = silently(self._fit)(data)
        # a fit keeps its own warnings; the bucket has those issued outside it
        recorded = list(getattr(out, "warnings", ())) + list(messages)
        return out, list(dict.fromkeys(recorded))

    def _fit(self, data):
        try:
            return self.engine.fit(self.args, data, self.replicates)
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
        raise ValueError(
            f"by column {col!r} has {n_na} missing values: drop those rows or give them a value"
        )
    uniq = pd.unique(values)
    try:
        uniq = sorted(uniq)
    except TypeError:
        pass
    return col, uniq


def _groups_label(col, keys, n_groups) -> str:
    """``cnt='AAA'``, or ``cnt='AAA', 'BBB' (2 of 30 groups)``."""
    if len(keys) == 1:
        return f"{col}={keys[0]!r}"
    return f"{col}={', '.join(map(repr, keys))} ({len(keys)} of {n_groups} groups)"


def _issue_group_warnings(col, keys, done) -> None:
    """Each distinct warning of the groups' fits once, naming its groups."""
    groups: dict = {}
    for k, (_, messages) in zip(keys, done):
        for m in dict.fromkeys(m for m in messages if not getattr(m, "issued", False)):
            groups.setdefault((str(m), getattr(m, "category", None)), []).append(k)
    for (text, category), ks in groups.items():
        warn(f"{_groups_label(col, ks, len(keys))}: {text}", category)


def fit_by(args, data, replicates=None) -> ByResult:
    """Fit the model to the rows of every value of column ``args.by``.

    Groups run through ``args.executor`` when one is given (a
    ``concurrent.futures`` executor or a ``distributed.Client``; see
    :func:`pywemix.executors.map_tasks`): the results come back, never
    futures, equal to those of a serial run, and an unexpected failure
    cancels the groups not yet fitted. Plausible values and replicates of a
    group run in that group's task; with plausible values and fewer groups
    than the executor has workers, the groups are fitted one after the
    other, the plausible values of each (with their replicates) in parallel
    instead. A group whose fit fails gets its error
    recorded in ``ByResult.errors``, and one warning lists them; when every
    group fails, ValueError. The groups' warnings are issued once each, in
    the caller, naming the groups that gave them (``cnt='AAA': ...``, or
    ``cnt='AAA', 'BBB' (2 of 30 groups): ...``).
    """
    if is_dask_dataframe(data):
        col, values, done = _fit_dask_groups(args, data, replicates)
    else:
        col, values = _by_values(data, args.by)
        codes = data[col].to_numpy()
        subsets = [data.loc[codes == v] for v in values]
        done = _fit_frame_groups(args, replicates, col, subsets)
    keys = [v.item() if isinstance(v, np.generic) else v for v in values]
    out = [r for r, _ in done]
    _issue_group_warnings(col, keys, done)
    fits = {k: r for k, r in zip(keys, out) if not isinstance(r, _Failure)}
    errors = {k: str(r) for k, r in zip(keys, out) if isinstance(r, _Failure)}
    if not fits:
        raise ValueError(
            f"no group of {col!r} could be fitted ({len(errors)} groups): "
            + "; ".join(f"{col}={k!r}: {m}" for k, m in list(errors.items())[:3])
        )
    if errors:
        warn(
            f"{len(errors)} of {len(keys)} groups of {col!r} could not be fitted: "
            + "; ".join(f"{k}: {m}" for k, m in list(errors.items())[:5]),
            DataWarning,
        )
    return ByResult(col, fits, errors, args.formula)


def _fit_frame_groups(args, replicates, col, subsets) -> list:
    """(result, messages) per group of an in-memory frame: the groups as
    tasks of ``args.executor``; with plausible values and fewer groups than
    workers, the groups one after the other, the plausible values (and
    their replicates) of each on the executor."""
    if args.plausible_values is not None and len(subsets) < executor_workers(args.executor):
        return map_tasks(
            None, _GroupFit(args, replicates), subsets, desc=f"groups of {col}", unit="group"
        )
    task = _GroupFit(args.replace(executor=None), replicates)
    return map_tasks(args.executor, task, subsets, desc=f"groups of {col}", unit="group")


def _fit_dask_groups(args, data, replicates) -> tuple:
    """(column, sorted values, (result, messages) per value) of a Dask
    DataFrame: the groups' rows shuffled into whole groups per partition and
    fitted there in memory; groups above :data:`GROUP_CELLS` fitted as Dask
    fits (module notes)."""
    col = resolve_column(data, args.by, "by column")
    counts = data[col].value_counts(dropna=False).compute()
    n_na = int(counts[counts.index.isna()].sum())
    if n_na:
        raise ValueError(
            f"by column {col!r} has {n_na} missing values: drop those rows or give them a value"
        )
    counts = counts[counts > 0]
    values = list(counts.index)
    try:
        values = sorted(values)
    except TypeError:
        pass
    columns = _group_columns(args, data, replicates, col)
    big = [v for v in values if counts[v] * len(columns) > GROUP_CELLS]
    args = args.replace(executor=None)
    done = {v: _GroupFit(args, replicates, OnDask)(data.loc[data[col] == v]) for v in big}
    small = [v for v in values if v not in done]
    if small:
        frame = data[columns]
        if big:
            frame = frame.loc[~frame[col].isin(big)]
        frame = frame.shuffle(on=col, npartitions=min(len(small), max(1, data.npartitions)))
        task, parts, client = (
            _PartitionFit(_GroupFit(args, replicates), col),
            frame.to_delayed(),
            None,
        )
        if has_client():  # the partitions stay on the workers, where they are fitted
            from distributed import get_client

            client = get_client()
            parts = client.compute(parts)
        for part in map_tasks(client, task, parts, desc=f"groups of {col}", unit="partition"):
            done.update(part)
    return col, values, [done[v] for v in values]


def _group_columns(args, data, replicates, col) -> list:
    """The columns a group's fit reads: the model's, the plausible values, the
    replicate weights and the ``by`` column."""
    extra = [col]
    if args.plausible_values is not None:
        extra += check_plausible_values(args.plausible_values, args.formula)[1]
    if replicates is not None:
        cols, full = replicate_columns(data, replicates)
        extra += cols + ([full] if full else [])
    needed = set(model_column_names(args, data.columns)) | set(extra)
    return [c for c in data.columns if c in needed]


class _PartitionFit:
    """Fit every group of a partition of whole groups (picklable, for the
    workers): ``{value: (result or failure, messages)}``."""

    def __init__(self, task, column):
        self.task, self.column = task, column

    def __call__(self, part):
        if hasattr(part, "compute"):  # a delayed partition, without a distributed.Client
            part = part.compute()
        out = {}
        codes = part[self.column]
        for value in pd.unique(codes):
            rows = part.loc[(codes == value).to_numpy()]
            rows = rows.sort_index() if rows.index.is_unique else rows.reset_index(drop=True)
            out[value] = self.task(rows)
        return out


class ByResult(Mapping):
    """
    Fits by value of a column: a mapping value -> result.

    ``errors`` maps the values whose fit failed to the error message
    (``result[value]`` for such a value raises :class:`GroupFitError`, a
    value not in the data ``KeyError``).

    The fits' estimates and Wald inference are stacked into tables indexed
    by group, as statsmodels' and linearmodels' results are indexed by
    term: ``params`` and ``bse`` (Series with a (value, term) MultiIndex;
    ``.unstack()`` gives one row per value, one column per term),
    ``cov_params()`` (block diagonal: the groups are separate samples),
    ``var_components``, ``conf_int()`` (DataFrame, same index),
    ``wald_test()`` (one row per value), ``tidy()`` (the fits' ``tidy()``
    rows with the value as the first column). Every table uses each fit's
    default covariance kind unless ``kind`` names another, and its
    ``attrs["variance"]`` says which. ``summary()`` reports every fit (text,
    HTML in Jupyter, LaTeX, dict/JSON); ``plot("coef")`` draws every
    group's estimates. Groups whose fit failed have no rows.
    R equivalent: ``lapply`` over ``split(data, data$cnt)`` (EdSurvey's
    ``edsurvey.data.frame.list`` results).

    Parameters
    ----------
    column : str
        The ``by`` column.
    fits : mapping
        Value -> the result of its fit.
    errors : mapping
        Value -> the message of its failed fit.
    formula : str
        The model formula.
    """

    def __init__(self, column, fits, errors, formula):
        self.column, self._fits, self.errors, self.formula = (
            column,
            dict(fits),
            dict(errors),
            formula,
        )

    def __getitem__(self, key):
        if key in self._fits:
            return self._fits[key]
        if key in self.errors:
            raise GroupFitError(f"{self.column} = {key!r} could not be fitted: {self.errors[key]}")
        raise KeyError(
            f"{key!r} is not a value of {self.column!r}; its fitted values are "
            f"{list(self._fits)[:10]}"
        )

    def __contains__(self, key):
        return key in self._fits

    def get(self, key: object, default: object = None) -> object:
        """
        Return the fit of a value, or ``default`` (also for a failed fit).

        Parameters
        ----------
        key : object
            A value of the ``by`` column.
        default : object, optional
            Returned when ``key`` has no fit.

        Returns
        -------
        object
            The fit's result, or ``default``.
        """
        return self._fits.get(key, default)

    def __iter__(self):
        return iter(self._fits)

    def __len__(self):
        return len(self._fits)

    # -- the covariance kinds of the fits ---------------------------------------
    @property
    def variance_kinds(self) -> tuple:
        """The covariance kinds every fit has, the default first."""
        fits = list(self._fits.values())
        return tuple(
            k for k in fits[0].variance_kinds if all(k in f.variance_kinds for f in fits[1:])
        )

    @property
    def default_kind(self) -> str:
        """The fits' default covariance kind (the same for every fit)."""
        return next(iter(self._fits.values())).default_kind

    @property
    def warnings(self) -> tuple:
        """The fits' warnings, each naming its value."""
        return tuple(f"{self.column}={k!r}: {w}" for k, r in self._fits.items() for w in r.warnings)

    def _stack(self, get, name=None):
        """``get(fit)`` (a Series or DataFrame indexed by term) of every fit,
        stacked under a (value, term) MultiIndex; ``attrs`` gathers the fits'
        notes (naming their value) and covariance kinds."""
        parts = {}
        for k, r in self._fits.items():
            try:
                parts[k] = get(r)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{self.column} = {k!r}: {exc}") from exc
        out = pd.concat(parts, names=[self.column, "term"])
        out = out.rename(name) if name is not None else out
        kinds = {p.attrs.get("variance") for p in parts.values()} - {None}
        out.attrs = {
            "notes": [
                f"{self.column}={k!r}: {n}"
                for k, p in parts.items()
                for n in p.attrs.get("notes", [])
            ]
        }
        if kinds:
            out.attrs["variance"] = kinds.pop() if len(kinds) == 1 else sorted(kinds)
        return out

    @property
    def params(self) -> pd.Series:
        """
        Fixed-effect estimates of every fit: a Series indexed by (value, term).

        ``params.unstack()`` gives one row per value, one column per term.
        """
        return self._stack(lambda r: r.params, "params")

    @property
    def bse(self) -> pd.Series:
        """
        Standard errors of the fixed effects of every fit, indexed as ``params``.

        Each fit's default covariance kind, named in ``attrs["variance"]``:
        cluster-robust, or replication for replicate weights.
        """
        return self._stack(lambda r: r.bse, "bse")

    @property
    def var_components(self) -> pd.DataFrame:
        """Every fit's variance components, indexed by (value, row)."""
        return self._stack(lambda r: r.var_components)

    def cov_params(self, kind: str | None = None) -> pd.DataFrame:
        """
        Covariance of all the fits' fixed effects, indexed by (value, term).

        Block diagonal, the groups being separate samples.

        Parameters
        ----------
        kind : str, optional
            As the fits' ``cov_params`` (None: their default).

        Returns
        -------
        DataFrame
            (value, term) by (value, term); ``attrs["variance"]`` names the kind.
        """
        blocks = {k: r.cov_params(kind) for k, r in self._fits.items()}
        index = pd.MultiIndex.from_tuples(
            [(k, t) for k, b in blocks.items() for t in b.index], names=[self.column, "term"]
        )
        out = pd.DataFrame(0.0, index=index, columns=index)
        for k, b in blocks.items():
            out.loc[k, k] = b.to_numpy()
        out.attrs["variance"] = next(iter(blocks.values())).attrs.get("variance")
        return out

    def conf_int(
        self,
        alpha: float = 0.05,
        kind: str | None = None,
        which: str = "fixed",
        *,
        cols: str | int | list | None = None,
    ) -> pd.DataFrame:
        """
        Wald confidence intervals of every fit, indexed by (value, term).

        Parameters
        ----------
        alpha : float
            1 - confidence level.
        kind : str, optional
            As the fits' ``conf_int`` (None: each fit's default covariance kind).
        which : {"fixed", "variance", "all"}
            As the fits' ``conf_int`` (``"all"`` adds the variance components).
        cols : str, int or list of them, optional
            As the fits' ``conf_int``.

        Returns
        -------
        DataFrame
            The fits' intervals under a (value, term) MultiIndex;
            ``attrs["notes"]`` gathers the fits' notes (variance intervals
            truncated at 0 or on the boundary), each naming its value;
            ``attrs["variance"]`` the covariance kind.
        """
        alpha = check_alpha(alpha)
        return self._stack(lambda r: r.conf_int(alpha, kind, which, cols=cols))

    def wald_test(
        self,
        terms: str | list | None = None,
        *,
        R=None,
        q=None,
        kind: str = "fixed",
        cov: str | None = None,
    ) -> pd.DataFrame:
        """
        Run the same Wald test in every fit: one row per value.

        The arguments are those of the fits' ``wald_test``
        (:meth:`pywemix.MixResult.wald_test`). A factor's or an interaction's
        name tests all its columns in each fit (their number, ``df``, may
        differ between groups when a level is missing in one).

        Parameters
        ----------
        terms : str or list of str, optional
            Terms tested jointly against zero (default: every fixed effect).
        R : array_like, optional
            Constraint matrix instead of ``terms``.
        q : array_like, optional
            Right-hand side (default zeros).
        kind : {"fixed", "variance"}
            Test fixed effects or variance components.
        cov : str, optional
            Covariance kind (None: each fit's default).

        Returns
        -------
        DataFrame
            Indexed by value; columns ``statistic`` (chi-square), ``df``,
            ``p_value``; ``attrs["variance"]`` names the covariance kind.

        Raises
        ------
        ValueError
            If the test fails in one fit (a term missing from it, say); the
            message names the value.
        """
        rows, used = {}, set()
        for k, r in self._fits.items():
            try:
                t = r.wald_test(terms, R=R, q=q, kind=kind, cov=cov)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{self.column} = {k!r}: {exc}") from exc
            rows[k] = {"statistic": t.statistic, "df": t.df, "p_value": t.p_value}
            used.add(t.cov)
        out = pd.DataFrame.from_dict(rows, orient="index").rename_axis(self.column)
        out.attrs["variance"] = used.pop() if len(used) == 1 else sorted(used)
        return out

    def tidy(self, alpha: float = 0.05, kind: str | None = None) -> pd.DataFrame:
        """
        One long table: the fits' ``tidy()`` rows, with the value as first column.

        Parameters
        ----------
        alpha : float, default 0.05
            1 - confidence level of the intervals.
        kind : str, optional
            As the fits' ``tidy`` (None: each fit's default covariance kind).

        Returns
        -------
        DataFrame
            The fits' rows, with a column named after ``by`` holding the value;
            ``attrs["variance"]`` names the covariance kind.
        """
        parts = []
        for k, r in self._fits.items():
            t = r.tidy(alpha, kind)
            t.insert(0, self.column, k)
            parts.append(t)
        if not parts:
            return pd.DataFrame(columns=[self.column, "term"])
        out = pd.concat(parts, ignore_index=True)
        out.attrs = {
            "notes": [n for p in parts for n in p.attrs.get("notes", [])],
            "variance": parts[0].attrs.get("variance"),
        }
        return out

    def plot(self, kind: str = "coef", group=None):
        """
        Draw a plot as a matplotlib Figure.

        Parameters
        ----------
        kind : str, default "coef"
            ``"coef"`` without ``group``: every fixed effect but the intercept,
            one panel per term, each group's estimate with its 95% interval
            (``conf_int()``, the fits' default covariance kind, named on the
            axis). Other kinds (see :func:`pywemix.results.plots.plot`) need
            ``group``.
        group : object, optional
            A value of the ``by`` column: that group's fit's ``plot(kind)``.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.

        Raises
        ------
        ValueError
            For an unknown kind, or a one-fit kind without ``group``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
        if group is not None:
            return self[group].plot(kind)
        if kind != "coef":
            raise ValueError(
                f"plot kind {kind!r} belongs to one fit: give the group, "
                f"e.g. plot({kind!r}, group={next(iter(self._fits))!r})"
            )
        return plot_groups(self.params, self.conf_int(), self.column, self.covariance_description())

    def covariance_description(self) -> str:
        """
        Describe the standard errors of the fits (their default kind).

        Returns
        -------
        str
            The fits' description, or the kind followed by "(each group's own)"
            when the descriptions differ.
        """
        kinds = [r.covariance() for r in self._fits.values()]
        texts = list(dict.fromkeys(k.description for k in kinds))
        return texts[0] if len(texts) == 1 else f"{kinds[0].short} (each group's own)"

    def summary(self) -> BySummary:
        """
        Report every group's fit (text, HTML, LaTeX, dict/JSON).

        Returns
        -------
        BySummary
            The overview and every fit's report.
        """
        return BySummary(self)

    def __repr__(self):
        return (
            f"<ByResult {self.formula!r} by {self.column!r}: {len(self._fits)} fits, "
            f"{len(self.errors)} errors>"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


class BySummary:
    """
    Reports of every group's fit, and an overview table.

    ``str`` (``as_text()``) gives the text; ``as_html()`` (what Jupyter
    shows), ``as_latex()``, ``as_dict()`` and ``to_json()`` the other
    formats, each with every fit's report in it. ``overview`` is the table of
    estimates and standard errors, one row per value.

    Parameters
    ----------
    result : ByResult
        The fits.
    """

    def __init__(self, result: ByResult):
        self.result = result
        self.parts = {k: r.summary() for k, r in result.items()}
        self.overview = _overview(result)

    def as_text(self) -> str:
        """
        Render the report as text: every fit's report under its value.

        Returns
        -------
        str
            The text (what ``print`` shows).
        """
        r = self.result
        lines = [
            f"Fits of {r.formula!r} by {r.column!r}: {len(r)} fitted, {len(r.errors)} failed",
            f"Standard errors: {r.covariance_description()}",
        ]
        for k, s in self.parts.items():
            title = f"{r.column} = {k}"
            lines += ["", title, "#" * len(title), str(s)]
        if r.errors:
            lines += ["", "Not fitted:"] + [f"  - {k}: {m}" for k, m in r.errors.items()]
        return "\n".join(lines)

    def __str__(self):
        return self.as_text()

    __repr__ = __str__

    def as_html(self) -> str:
        """
        Render the report as HTML (what Jupyter shows).

        Returns
        -------
        str
            An HTML fragment: the overview, then every fit's report.
        """
        return self._repr_html_()

    def _repr_html_(self) -> str:
        """An overview table (estimate and standard error of every fixed
        effect, one row per value), the values not fitted, then every fit's
        report in a collapsible section."""
        r, esc = self.result, html.escape
        parts = [
            f"<div class='pywemix-by'><h4>Fits of {esc(r.formula)} by "
            f"{esc(r.column)}: {len(r)} fitted, {len(r.errors)} failed</h4>",
            f"<p>Standard errors: {esc(r.covariance_description())}</p>",
            self.overview.to_html(float_format="{:.6g}".format, na_rep=""),
        ]
        if r.errors:
            parts.append("<p><b>Not fitted</b></p><ul>")
            parts += [f"<li>{esc(str(k))}: {esc(m)}</li>" for k, m in r.errors.items()]
            parts.append("</ul>")
        parts += [
            f"<details><summary>{esc(r.column)} = {esc(str(k))}</summary>{s.as_html()}</details>"
            for k, s in self.parts.items()
        ]
        parts.append("</div>")
        return "".join(parts)

    def as_latex(self) -> str:
        """
        Render the report as LaTeX: the overview, then every fit's report.

        Returns
        -------
        str
            LaTeX (``booktabs`` needed, as for a fit's ``as_latex``).
        """
        r = self.result
        parts = [
            f"\\section*{{Fits by {_tex(r.column)}}}",
            _tex(f"Standard errors: {r.covariance_description()}") + "\n",
            self.overview.to_latex(float_format="{:.6g}".format, na_rep=""),
        ]
        for k, s in self.parts.items():
            parts += [f"\\subsection*{{{_tex(r.column)} = {_tex(k)}}}", s.as_latex()]
        if r.errors:
            parts.append(
                "\\paragraph{Not fitted}\n\\begin{itemize}\n"
                + "".join(f"  \\item {_tex(k)}: {_tex(m)}\n" for k, m in r.errors.items())
                + "\\end{itemize}"
            )
        return "\n".join(parts)

    def as_dict(self) -> dict:
        """
        Return the report as plain Python objects.

        Returns
        -------
        dict
            ``schema``, ``by`` (the column), ``formula``, ``standard_errors``
            (the fits' default kind and its description), ``fits`` (value ->
            that fit's :meth:`Summary.as_dict
            <pywemix.results.summary.Summary.as_dict>`, values as text) and
            ``errors`` (value -> message).
        """
        r = self.result
        return {
            "schema": SCHEMA,
            "by": r.column,
            "formula": r.formula,
            "standard_errors": {"kind": r.default_kind, "description": r.covariance_description()},
            "fits": {str(k): s.as_dict() for k, s in self.parts.items()},
            "errors": {str(k): m for k, m in r.errors.items()},
        }

    def to_json(self, indent: int = 1) -> str:
        """
        Return ``as_dict()`` as a JSON string (strict: no NaN or Infinity).

        Parameters
        ----------
        indent : int, default 1
            Indentation of the JSON text.

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.as_dict(), indent=indent, allow_nan=False)


def _overview(r: ByResult) -> pd.DataFrame:
    """Estimate and standard error of every fixed effect, one row per value."""
    overview = pd.concat(
        {"Estimate": r.params.unstack(), "Std. Error": r.bse.unstack()}, axis=1
    ).swaplevel(axis=1)
    terms = list(dict.fromkeys(r.params.index.get_level_values("term")))
    overview = overview[[(t, c) for t in terms for c in ("Estimate", "Std. Error")]]
    overview.columns.names = [None, None]
    return overview


def _tex(value) -> str:
    return tex_escape(str(value))
