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

import pandas as pd

from ..dask import is_dask_dataframe, mix_dask
from ..design.frame import to_pandas
from ..pipeline import fit_frame
from ..warnings import collecting
from .plausible import (PlausibleValuesResult, check_plausible_values, drop_partly_missing,
                        fit_plausible_values)
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
    """Full-sample fit(s), then one refit per replicate (and plausible value)."""
    if args.reml:
        raise ValueError("reml=True needs unit weights, but replicate weights are not: fit "
                         "with reml=False (WeMix's weighted pseudo-likelihood is ML)")
    if args.plausible_values is None:
        full = fit_frame(args, data)
        with collecting() as messages:
            weights = replicate_weights(full.design, data, rep)
            est = refit_replicates(full, weights)
        return single_result(full, rep, est, weights.paired, messages)
    pv = fit_plausible_values(args, data)
    fits = pv.fits if rep.plausible_values == "all" else pv.fits[:1]
    with collecting() as messages:
        weights = replicate_weights(fits[0].design, data, rep)
        ests = []
        for f in fits:
            w = weights if f.design.frame.index.equals(fits[0].design.frame.index) \
                else replicate_weights(f.design, data, rep)
            ests.append(refit_replicates(f, w))
    return plausible_result(pv, rep, ests, weights.paired, messages)
