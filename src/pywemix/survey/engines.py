"""Where one sample is fitted: in memory, or on a Dask DataFrame.

The survey dispatch (:func:`pywemix.survey.dispatch.fit_survey`) asks an
engine two things: which replicate weights apply to the data
(:meth:`replicates`: the ``replicates`` argument, or the survey preset's),
and the fit of one sample with them (:meth:`fit`: replicates, plausible
values or a plain fit). :class:`InMemory` fits pandas (and polars) data with
the pipeline of :mod:`pywemix.pipeline`; :class:`OnDask` fits Dask
DataFrames with :func:`pywemix.dask.mix_dask`.

Replication variances on Dask are not implemented yet: :class:`OnDask` is
the one place where they plug in (its :meth:`OnDask.replicates`, which
refuses replicate weights now, and :meth:`OnDask.fit` with ``replicates``).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..dask import is_dask_dataframe, mix_dask
from ..design.frame import to_pandas
from ..executors import map_chunks
from ..pipeline import FrameFit, fit_frame
from ..warnings import collecting, reissue, silently
from .plausible import (PlausibleValuesResult, _fit_one, check_plausible_values,
                        drop_partly_missing, fit_plausible_values, prepare_plausible_values)
from .presets import find_preset_columns, preset_replicates, span_names
from .refit import refit_replicates, replicate_weights
from .replicates import Replicates
from .result import plausible_result, single_result

__all__ = ["InMemory", "OnDask", "engine_for", "join_replicates", "fit_replicated"]


class InMemory:
    """Fits of a pandas (or polars) DataFrame in this process."""

    name = "memory"

    @staticmethod
    def prepare(data) -> pd.DataFrame:
        return to_pandas(data)

    @staticmethod
    def replicates(args, data) -> tuple:
        """``(data, replicates)``: the replicate weights of ``args`` (given, or
        the survey preset's; None for none), their columns joined to the data."""
        rep = args.replicates
        if rep is None:
            rep = preset_replicates(args.preset, data)
        if not rep:
            return data, None
        return join_replicates(data, rep), rep

    @staticmethod
    def fit(args, data, replicates=None):
        """One sample: replicate refits, plausible values, or a single fit."""
        if replicates is not None:
            return fit_replicated(args, data, replicates)
        if args.plausible_values is not None:
            return fit_plausible_values(args, data)
        return fit_frame(args, data)


_DASK_REPLICATES = (
    "replication standard errors are not computed on a Dask DataFrame yet ({what}): select "
    "the columns you need and fit them in memory (ddf[columns].compute()), or pass "
    "replicates=False for the cluster-robust sandwich")


class OnDask:
    """Fits of a Dask DataFrame on its workers (:mod:`pywemix.dask`)."""

    name = "dask"

    @staticmethod
    def prepare(data):
        return data

    @staticmethod
    def replicates(args, data) -> tuple:
        """``(data, None)``; replicate weights, given or found by a preset, are
        refused (NotImplementedError) rather than replaced by the sandwich."""
        rep = args.replicates
        if rep is False:
            return data, None
        if rep is not None:
            raise NotImplementedError(_DASK_REPLICATES.format(what=f"replicates={rep!r}"))
        found = None if args.preset is None else find_preset_columns(args.preset, data.columns)
        if found is not None:
            raise NotImplementedError(_DASK_REPLICATES.format(
                what=f"survey={args.preset.name!r} found its replicate columns "
                     f"{span_names(found.columns)} in the data"))
        return data, None

    @staticmethod
    def fit(args, data, replicates=None):
        if replicates is not None:  # pragma: no cover - refused by replicates()
            raise NotImplementedError(_DASK_REPLICATES.format(what="replicates"))
        if args.plausible_values is not None:
            return _dask_plausible_values(args, data)
        return mix_dask(args, data)


def engine_for(data):
    """:class:`OnDask` for a Dask DataFrame, else :class:`InMemory`."""
    return OnDask if is_dask_dataframe(data) else InMemory


def _dask_plausible_values(args, data) -> PlausibleValuesResult:
    """One Dask fit per plausible value, combined (as
    :func:`~pywemix.survey.plausible.fit_plausible_values`; rows where only
    some values are missing are dropped from every fit, with the same
    warning)."""
    response, cols = check_plausible_values(args.plausible_values, args.formula)
    data = drop_partly_missing(data, cols)
    fits = [mix_dask(args, data.assign(**{response: data[c]})) for c in cols]
    return PlausibleValuesResult(fits, response, cols, args.formula)


def join_replicates(data: pd.DataFrame, rep: Replicates) -> pd.DataFrame:
    """The data with the columns of a replicate-weight DataFrame joined by
    index label (row order does not matter), and a unique index (replicate
    columns are read by row label)."""
    if rep.frame is None:
        return data if data.index.is_unique else data.reset_index(drop=True)
    if not data.index.is_unique:
        raise ValueError("the data's index has repeated labels, so the replicate-weight "
                         "DataFrame cannot be joined to it by row label: give the data a "
                         "unique index (data.reset_index(drop=True)) before building the "
                         "replicate weights from it")
    missing = data.index.difference(rep.frame.index)
    if len(missing):
        raise ValueError(f"{len(missing)} rows of the data (index labels "
                         f"{list(missing[:5])}) are not in the replicate-weight DataFrame's "
                         "index: build it from the same data (jackknife_weights(data))")
    frame = rep.frame.reindex(data.index)
    clash = [c for c in frame.columns if c in data.columns]
    if clash:
        if all(frame[c].equals(data[c]) for c in clash):
            return data
        bad = next(c for c in clash if not frame[c].equals(data[c]))
        rows = int((frame[bad] != data[bad]).sum())
        raise ValueError(f"replicate weight columns {clash[:5]} are already in the data "
                         f"with other values ({bad!r}: in {rows} of {len(data)} rows): "
                         "a frame cut from the data before they were filtered or "
                         "re-indexed (reset_index) joins other rows' weights by index "
                         "label; name the data's own columns (Replicates([...])), or "
                         "rename the frame's")
    return pd.concat([data, frame], axis=1)


def fit_replicated(args, data, rep: Replicates):
    """Full-sample fit(s), then one refit per replicate (and plausible value).

    With plausible values, each value's full-sample fit and its refits run
    in one task (``args.executor``, chunks of values, one per worker); the
    design is built once per task and reused by its values, and the
    replicate weights once per task.
    """
    if args.reml:
        raise ValueError("reml=True needs unit weights, but replicate weights are not: fit "
                         "with reml=False (WeMix's weighted pseudo-likelihood is ML)")
    if args.plausible_values is None:
        full = fit_frame(args, data)
        with collecting() as messages:
            weights = replicate_weights(full.design, data, rep)
            est = refit_replicates(full, weights)
        return single_result(full, rep, est, weights.paired, messages)
    response, cols, data = prepare_plausible_values(args, data)
    refitted = cols if rep.plausible_values == "all" else cols[:1]
    done = map_chunks(args.executor, _ReplicatedValues(rep, refitted), cols,
                      shared=(FrameFit(args), data, response), desc="plausible values",
                      unit="chunk")
    pv = PlausibleValuesResult([d.fit for d in done], response, cols, args.formula)
    reissue(pv.warnings)
    messages = list({str(m): m for d in done for m in d.messages}.values())
    reissue(messages)
    ests = [d.estimates for d in done if d.estimates is not None]
    return plausible_result(pv, rep, ests, done[0].paired, messages)


@dataclass(frozen=True)
class _Value:
    """One plausible value's full-sample fit, its replicate estimates (None
    when not refitted), whether the replicates pair up, and the warnings of
    the replicate weights and refits (recorded, not issued)."""

    fit: object
    estimates: object
    paired: bool
    messages: tuple


class _ReplicatedValues:
    """Full-sample fits of some plausible values and their replicate refits,
    one value after the other (a picklable task of
    :func:`~pywemix.executors.map_chunks`): the replicate weights are made
    once, from the first design, for every value fitted to the same rows;
    warnings are recorded, not issued (the caller issues them)."""

    def __init__(self, rep: Replicates, refitted):
        self.rep, self.refitted = rep, frozenset(refitted)

    def __call__(self, shared, columns) -> list:
        fit, data, response = shared
        return silently(self._values)(silently(fit), data, response, columns)

    def _values(self, fit, data, response, columns) -> list:
        out, weights, rows = [], None, None
        for c in columns:
            full = _fit_one((fit, data, response), c)
            if c not in self.refitted:
                out.append(_Value(full, None, False, ()))
                continue
            with collecting() as messages:
                if weights is None or not full.design.frame.index.equals(rows):
                    weights = replicate_weights(full.design, data, self.rep)
                    rows = full.design.frame.index
                est = refit_replicates(full, weights)
            out.append(_Value(full, est, weights.paired, tuple(messages)))
        return out
