"""The survey layer of ``mix``: replicate weights, fits by group, presets.

``mix(..., replicates=..., by=..., survey=...)`` hands its call here with
every other argument bound (``bound(formula, data)`` fits one model).
"""
from __future__ import annotations

import pandas as pd

from ..design.frame import to_pandas
from ..warnings import collecting
from .presets import preset_replicates
from .refit import refit_replicates, replicate_weights
from .replicates import Replicates
from .result import plausible_result, single_result

__all__ = ["survey_dispatch", "fit_replicated", "join_replicates"]


def survey_dispatch(bound, formula, data, *, replicates=None, by=None,
                    plausible_values=None, executor=None, survey=None):
    """Fit through the survey layer; None when it has nothing to add (a
    preset without replicate columns in the data, no ``by``)."""
    if replicates is not None and replicates is not False \
            and not isinstance(replicates, Replicates):
        raise TypeError("replicates must be a pywemix.Replicates (or False), got "
                        f"{type(replicates).__name__}")
    data = to_pandas(data)
    if replicates is None:
        replicates = preset_replicates(survey, data)
    replicates = replicates or None
    if replicates is None and by is None:
        return None
    if replicates is not None:
        data = join_replicates(data, replicates)
    if by is not None:
        from .by import fit_by
        return fit_by(bound, formula, data, by, replicates=replicates,
                      plausible_values=plausible_values, executor=executor)
    return fit_replicated(bound, formula, data, replicates, plausible_values, executor)


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


def fit_replicated(bound, formula, data, rep: Replicates, plausible_values=None,
                   executor=None):
    """Full-sample fit(s), then one refit per replicate (and plausible value)."""
    if getattr(bound, "kwargs", {}).get("reml"):
        raise ValueError("reml=True needs unit weights, but replicate weights are not: fit "
                         "with reml=False (WeMix's weighted pseudo-likelihood is ML)")
    if plausible_values is None:
        full = bound(formula, data)
        with collecting() as messages:
            weights = replicate_weights(full.design, data, rep)
            est = refit_replicates(full, weights)
        return single_result(full, rep, est, weights.paired, messages)
    from ..pv import fit_plausible_values
    pv = fit_plausible_values(bound, formula, data, plausible_values, executor)
    fits = pv.fits if rep.plausible_values == "all" else pv.fits[:1]
    with collecting() as messages:
        weights = replicate_weights(fits[0].design, data, rep)
        ests = []
        for f in fits:
            w = weights if f.design.frame.index.equals(fits[0].design.frame.index) \
                else replicate_weights(f.design, data, rep)
            ests.append(refit_replicates(f, w))
    return plausible_result(pv, rep, ests, weights.paired, messages)
