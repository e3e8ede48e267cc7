"""The replicate weights of a survey preset (``mix(..., survey=...)``), found in the data.

The presets themselves are records in :mod:`pywemix.presets`: PISA files
carry 80 Fay replicate weights ``W_FSTURWT1..80`` of the total student
weight ``W_FSTUWT`` (k = 0.5; OECD 2009, PISA Data Analysis Manual, 2nd
ed.); TIMSS and PIRLS files carry jackknife zones ``JKZONE``, indicators
``JKREP`` and the total weight ``TOTWGT``, from which the JK2 weights are
built (Foy and LaRoche 2016). Column names are matched ignoring case.

A preset never falls back silently: data without any of its replicate
columns give the cluster-robust sandwich with a :class:`SurveyWarning`
naming them; data with only some of them are an error (a replication
variance from part of a replicate design is not the survey's), and so is a
jackknife design without its total weight; a missing full-sample weight
(PISA's ``W_FSTUWT``) is replaced by the model's total weight, with a
warning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..presets import ReplicateScheme, SurveyPreset
from ..warnings import SurveyWarning, warn
from .replicates import Replicates, jackknife_weights

__all__ = ["PresetColumns", "find_preset_columns", "preset_replicates", "span_names"]


@dataclass(frozen=True)
class PresetColumns:
    """The data's columns for a preset's replicate scheme.

    ``columns``: the replicate weights (or the zone, indicator and total
    weight columns of a jackknife scheme); ``full_weight``: the full-sample
    weight, or None when the data lack it.
    """

    preset: SurveyPreset
    columns: tuple
    full_weight: str | None

    @property
    def scheme(self) -> ReplicateScheme:
        """The preset's replicate scheme: method and where its weights are found."""
        return self.preset.replicates


def _lookup(columns, names) -> list:
    """The columns matching ``names`` ignoring case (None where missing)."""
    lower = {c.lower(): c for c in columns if isinstance(c, str)}
    return [lower.get(n.lower()) for n in names]


def span_names(names) -> str:
    """Column names in few words: numbered runs as ``W_FSTURWT41..W_FSTURWT80``."""
    runs, out = [], []
    for n in names:
        m = re.fullmatch(r"(.*?)(\d+)", n)
        stem, k = (m.group(1), int(m.group(2))) if m else (n, None)
        if runs and k is not None and runs[-1][0] == stem and runs[-1][2] == k - 1:
            runs[-1][2] = k
            runs[-1][4] = n
        else:
            runs.append([stem, k, k, n, n])
    for stem, a, b, first, last in runs:
        out.append(first if a == b else f"{first}..{last}")
    return ", ".join(out[:8]) + (f" and {len(out) - 8} more" if len(out) > 8 else "")


def find_preset_columns(preset: SurveyPreset, columns) -> PresetColumns | None:
    """The preset's replicate columns among ``columns``; None (with a
    :class:`SurveyWarning`) when there are none of them.

    Raises
    ------
    ValueError
        When only some of the replicate columns are there, or a jackknife
        scheme lacks its zone, indicator or total weight column.
    """
    scheme = preset.replicates
    if scheme is None:
        return None
    names = scheme.zones if scheme.zones is not None else scheme.columns
    found = _lookup(columns, names)
    missing = [n for n, f in zip(names, found) if f is None]
    what = ("jackknife columns" if scheme.zones is not None else
            "replicate weight columns")
    if len(missing) == len(names):
        warn(f"survey={preset.name!r}: the data have none of the preset's {what} "
             f"({span_names(names)}), so the standard errors are the cluster-robust sandwich; "
             "pass replicates=False to choose it without this warning, or name the "
             "replicate weights with replicates=pywemix.Replicates(...)", SurveyWarning)
        return None
    if missing:
        raise ValueError(_partial_message(preset, names, missing, what))
    full = None
    if scheme.full_weight is not None:
        (full,) = _lookup(columns, [scheme.full_weight])
        if full is None:
            warn(f"survey={preset.name!r}: the full-sample weight {scheme.full_weight} is not "
                 "in the data, so the replicate factors are taken relative to the model's "
                 "total weight (its level-1 weight, or the product of the conditional "
                 "weights); name it with replicates=pywemix.Replicates(..., full_weight=...)",
                 SurveyWarning)
    return PresetColumns(preset, tuple(found), full)


def _partial_message(preset, names, missing, what) -> str:
    scheme = preset.replicates
    if scheme.zones is not None:
        return (f"survey={preset.name!r} builds JK2 replicate weights from "
                f"{', '.join(names)}, but {span_names(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in the data: build them "
                "from your columns, replicates=pywemix.Replicates(pywemix.jackknife_weights("
                "data, zone=..., rep=..., weight=...), method='jk2'), or pass "
                "replicates=False for the cluster-robust sandwich")
    return (f"survey={preset.name!r}: {len(missing)} of its {len(names)} {what} are not in "
            f"the data ({span_names(missing)}); a replication variance from the other "
            f"{len(names) - len(missing)} is not {preset.name}'s. Keep all {len(names)} "
            "columns, name the replicates yourself (replicates=pywemix.Replicates([...], "
            "method=...)), or pass replicates=False for the cluster-robust sandwich")


def preset_replicates(preset: SurveyPreset | None, data) -> Replicates | None:
    """The :class:`Replicates` a survey preset implies for ``data`` (a pandas
    DataFrame), or None when the preset has none or the data have none of
    its columns (see :func:`find_preset_columns`)."""
    if preset is None:
        return None
    found = find_preset_columns(preset, data.columns)
    if found is None:
        return None
    scheme = found.scheme
    if scheme.zones is None:
        return Replicates(list(found.columns), method=scheme.method, fay=scheme.fay,
                          full_weight=found.full_weight)
    try:
        return Replicates(jackknife_weights(data, *found.columns), method=scheme.method)
    except ValueError as exc:
        raise ValueError(f"{exc} (survey={preset.name!r} builds JK2 replicate weights from "
                         f"{', '.join(found.columns)}; replicates=False keeps the sandwich)") \
            from None
