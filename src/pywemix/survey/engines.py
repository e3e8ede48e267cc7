"""Where one sample is fitted: in memory, or on a Dask DataFrame.

The survey dispatch (:func:`pywemix.survey.dispatch.fit_survey`) asks an
engine two things: which replicate weights apply to the data
(:meth:`replicates`: the ``replicates`` argument, or the survey preset's),
and the fit of one sample with them (:meth:`fit`: replicates, plausible
values or a plain fit). :class:`InMemory` fits pandas (and polars) data with
the pipeline of :mod:`pywemix.pipeline`; :class:`OnDask` fits Dask
DataFrames with :func:`pywemix.dask.mix_dask`.

Replication variances on Dask plug in at :class:`OnDask`: its
:meth:`OnDask.replicates` finds the replicate weight columns (a preset's,
JK2 weights computed on the partitions, or those named), and
:meth:`OnDask.fit` refits on the workers (:mod:`pywemix.survey.dask_refit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..dask import is_dask_dataframe, mix_dask
from ..dask.fit import collect_model_columns, in_memory_reason
from ..design.frame import to_pandas
from ..executors import map_chunks
from ..pipeline import FrameFit, fit_frame
from ..warnings import collecting, reissue, silently
from .dask_refit import actor_columns, dask_replicate_weights, jk2_columns, replicate_columns
from .plausible import (
    PlausibleValuesResult,
    _fit_one,
    check_plausible_values,
    drop_partly_missing,
    fit_plausible_values,
    prepare_plausible_values,
)
from .presets import preset_replicates
from .refit import refit_replicates, replicate_weights
from .replicates import Replicates
from .result import plausible_result, single_result

__all__ = [
    "InMemory",
    "OnDask",
    "engine_for",
    "join_replicates",
    "fit_replicated",
    "fit_replicated_dask",
]


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


class OnDask:
    """Fits of a Dask DataFrame on its workers (:mod:`pywemix.dask`)."""

    name = "dask"

    @staticmethod
    def prepare(data):
        return data

    @staticmethod
    def replicates(args, data) -> tuple:
        """``(data, replicates)``: the replicate weights of ``args`` (given, or
        the survey preset's; None for none) as columns of the data. A
        jackknife preset (TIMSS, PIRLS) adds its JK2 weights as columns
        computed on each partition (:func:`~pywemix.survey.dask_refit.jk2_columns`);
        a replicate-weight DataFrame, joined by row label in memory, is
        refused (NotImplementedError)."""
        rep = args.replicates
        if rep is False:
            return data, None
        if rep is not None:
            replicate_columns(data, rep)  # checked before any fit
            return data, rep
        built = {}

        def jackknife(frame, zone, indicator, weight, method):
            built["data"], out = jk2_columns(frame, zone, indicator, weight, method)
            return out

        rep = preset_replicates(args.preset, data, jackknife)
        return built.get("data", data), rep

    @staticmethod
    def fit(args, data, replicates=None):
        """One sample: replicate refits, plausible values, or a single fit."""
        if replicates is not None:
            return fit_replicated_dask(args, data, replicates)
        if args.plausible_values is not None:
            return _dask_plausible_values(args, data)
        return mix_dask(args, data)


def engine_for(data):
    """:class:`OnDask` for a Dask DataFrame, else :class:`InMemory`."""
    return OnDask if is_dask_dataframe(data) else InMemory


def _dask_plausible_values(args, data, carry=()) -> PlausibleValuesResult:
    """One Dask fit per plausible value, combined (as
    :func:`~pywemix.survey.plausible.fit_plausible_values`; rows where only
    some values are missing are dropped from every fit, with the same
    warning). ``carry``: as :func:`~pywemix.dask.mix_dask`."""
    response, cols = check_plausible_values(args.plausible_values, args.formula)
    data = drop_partly_missing(data, cols)
    fits = [mix_dask(args, data.assign(**{response: data[c]}), carry) for c in cols]
    return PlausibleValuesResult(fits, response, cols, args.formula)


def join_replicates(data: pd.DataFrame, rep: Replicates) -> pd.DataFrame:
    """The data with the columns of a replicate-weight DataFrame joined by
    index label (row order does not matter), and a unique index (replicate
    columns are read by row label)."""
    if rep.frame is None:
        return data if data.index.is_unique else data.reset_index(drop=True)
    if not data.index.is_unique:
        raise ValueError(
            "the data's index has repeated labels, so the replicate-weight "
            "DataFrame cannot be joined to it by row label: give the data a "
            "unique index (data.reset_index(drop=True)) before building the "
            "replicate weights from it"
        )
    missing = data.index.difference(rep.frame.index)
    if len(missing):
        raise ValueError(
            f"{len(missing)} rows of the data (index labels "
            f"{list(missing[:5])}) are not in the replicate-weight DataFrame's "
            "index: build it from the same data (jackknife_weights(data))"
        )
    frame = rep.frame.reindex(data.index)
    clash = [c for c in frame.columns if c in data.columns]
    if clash:
        if all(frame[c].equals(data[c]) for c in clash):
            return data
        bad = next(c for c in clash if not frame[c].equals(data[c]))
        rows = int((frame[bad] != data[bad]).sum())
        raise ValueError(
            f"replicate weight columns {clash[:5]} are already in the data "
            f"with other values ({bad!r}: in {rows} of {len(data)} rows): "
            "a frame cut from the data before they were filtered or "
            "re-indexed (reset_index) joins other rows' weights by index "
            "label; name the data's own columns (Replicates([...])), or "
            "rename the frame's"
        )
    return pd.concat([data, frame], axis=1)


def _check_reml(args) -> None:
    if args.reml:
        raise ValueError(
            "reml=True needs unit weights, but replicate weights are not: fit "
            "with reml=False (WeMix's weighted pseudo-likelihood is ML)"
        )


def fit_replicated(args, data, rep: Replicates):
    """Full-sample fit(s), then one refit per replicate (and plausible value).

    With plausible values, each value's full-sample fit and its refits run
    in one task (``args.executor``, chunks of values, one per worker); the
    design is built once per task and reused by its values, and the
    replicate weights once per task.
    """
    _check_reml(args)
    if args.plausible_values is None:
        full = fit_frame(args, data)
        with collecting() as messages:
            weights = replicate_weights(full.design, data, rep)
            est = refit_replicates(full, weights)
        return single_result(full, rep, est, weights.paired, messages)
    response, cols, data = prepare_plausible_values(args, data)
    refitted = cols if rep.plausible_values == "all" else cols[:1]
    done = map_chunks(
        args.executor,
        _ReplicatedValues(rep, refitted),
        cols,
        shared=(FrameFit(args), data, response),
        desc="plausible values",
        unit="chunk",
    )
    pv = PlausibleValuesResult([d.fit for d in done], response, cols, args.formula)
    reissue(pv.warnings)
    messages = list({str(m): m for d in done for m in d.messages}.values())
    reissue(messages)
    ests = [d.estimates for d in done if d.estimates is not None]
    return plausible_result(pv, rep, ests, done[0].paired, messages)


def fit_replicated_dask(args, data, rep: Replicates):
    """:func:`fit_replicated` on a Dask DataFrame: full-sample fit(s) on the
    workers, then the refits of :mod:`pywemix.survey.dask_refit` (a model
    that :func:`~pywemix.dask.mix_dask` fits in memory is fitted in memory
    with its replicate columns, with the same warning)."""
    _check_reml(args)
    reason = in_memory_reason(args, data)
    if reason is not None:
        cols, full = replicate_columns(data, rep)
        extra = cols + ([full] if full else []) + _plausible_columns(args)
        frame = collect_model_columns(args, data, reason, extra)
        return fit_replicated(
            args, frame if frame.index.is_unique else frame.reset_index(drop=True), rep
        )
    carry = actor_columns(args, data, rep) if args.family_object is not None else ()
    if args.plausible_values is None:
        full = mix_dask(args, data, carry)
        with collecting() as messages:
            weights, refit, _ = dask_replicate_weights(full, rep)
            est = refit_replicates(full, weights, refit=refit)
        return single_result(full, rep, est, weights.paired, messages)
    pv = _dask_plausible_values(args, data, carry)
    fits = pv.fits if rep.plausible_values == "all" else pv.fits[:1]
    with collecting() as messages:
        ests, sums = [], None
        for f in fits:  # the per-group sums serve every value fitted to the same rows
            weights, refit, sums = dask_replicate_weights(f, rep, sums)
            ests.append(refit_replicates(f, weights, refit=refit))
    return plausible_result(pv, rep, ests, weights.paired, messages)


def _plausible_columns(args) -> list:
    if args.plausible_values is None:
        return []
    return list(check_plausible_values(args.plausible_values, args.formula)[1])


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
