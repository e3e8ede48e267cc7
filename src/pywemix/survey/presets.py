"""The replicate weights of a survey preset (``mix(..., survey=...)``), found in a data frame.

The presets themselves are records in :mod:`pywemix.presets` (the survey
registry); their columns are found by the same functions that read survey
files (:func:`pywemix.survey.detect.find_replicate_columns`): PISA files
carry 80 Fay replicate weights ``W_FSTURWT1..80`` of the total student
weight ``W_FSTUWT`` (k = 0.5; OECD 2009, PISA Data Analysis Manual, 2nd
ed.); TIMSS and PIRLS files carry jackknife zones ``JKZONE``, indicators
``JKREP`` and the total weight ``TOTWGT``, from which the JK2 weights are
built (Foy and LaRoche 2016). Column names are matched ignoring case.

A preset's level weights (PISA ``W_FSTUWT`` and ``W_SCHGRNRABWT``, TIMSS and
PIRLS ``TOTWGT`` and ``SCHWGT``, ...; :mod:`pywemix.presets`) are the
model's weights when ``weights=`` is not given (:func:`preset_weights`);
those the data lack are named in a :class:`SurveyWarning` and give unit
weights at their level.

A preset never falls back silently: data without any of its replicate
columns give the cluster-robust sandwich with a :class:`SurveyWarning`
naming them; data with only some of them are an error (a replication
variance from part of a replicate design is not the survey's), and so is a
jackknife design without its total weight; a missing full-sample weight
(PISA's ``W_FSTUWT``) is replaced by the model's total weight, with a
warning.
"""

from __future__ import annotations

from ..io.columns import NameIndex
from ..presets import SurveyPreset
from ..warnings import SurveyWarning, warn
from .detect import (
    ReplicateColumns,
    derived_weight,
    find_replicate_columns,
    find_weights,
    span_names,
)
from .replicates import Replicates

__all__ = ["find_preset_columns", "preset_replicates", "preset_weights", "span_names"]


def find_preset_columns(preset: SurveyPreset, columns) -> ReplicateColumns | None:
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
    found = find_replicate_columns(preset, NameIndex(columns, "the data"))
    if found is None:
        what, names = (
            ("jackknife columns", scheme.zones)
            if scheme.zones is not None
            else ("replicate weight columns", scheme.columns)
        )
        warn(
            f"survey={preset.name!r}: the data have none of the preset's {what} "
            f"({span_names(names)}), so the standard errors are the cluster-robust sandwich; "
            "pass replicates=False to choose it without this warning, or name the "
            "replicate weights with replicates=pywemix.Replicates(...)",
            SurveyWarning,
        )
    return found


def preset_replicates(preset: SurveyPreset | None, data, jackknife=None) -> Replicates | None:
    """The :class:`Replicates` a survey preset implies for ``data`` (a pandas
    DataFrame), or None when the preset has none or the data have none of
    its columns (see :func:`find_preset_columns`).

    ``jackknife(data, zone, rep, weight, method) -> Replicates`` builds the
    weights of a jackknife scheme: by default (None) a
    :func:`jackknife_weights` frame joined by row label; on a Dask
    DataFrame, columns computed on each partition
    (:func:`pywemix.survey.dask_refit.jk2_columns`).
    """
    if preset is None:
        return None
    found = find_preset_columns(preset, data.columns)
    return None if found is None else found.replicates(data, jackknife)


def preset_weights(args, data) -> tuple:
    """``(args, data)`` with the survey preset's level weights as ``weights``
    when the user gave none.

    The weights are found by the preset's naming rules (any case), as
    :class:`~pywemix.SurveyData` finds them; a weight the data lack but whose
    factors they have (TIMSS's ``SCHWGT = WGTFAC1 x WGTADJ1``) is computed
    and added to ``data``. A level whose weight is not in the data gets unit
    weights, with a :class:`SurveyWarning` naming the missing columns: a
    preset never fits other weights than its own without saying so.
    ``weights=`` given (``[None, None]`` for unit weights) is left alone.

    Parameters
    ----------
    args : MixArguments
    data : pandas or Dask DataFrame

    Returns
    -------
    tuple of (MixArguments, DataFrame)

    Raises
    ------
    ValueError
        When the preset's weights are found but the model has another
        number of levels than the preset weights.
    """
    preset = args.preset
    if preset is None or args.weights is not None:
        return args, data
    found = find_weights(preset, NameIndex(data.columns, "the data"))
    if found.derived:
        data = data.assign(
            **{name: derived_weight(data, factors) for name, factors in found.derived}
        )
    if not found.complete:
        warn(_missing_weights(preset, found), SurveyWarning)
    if not any(found.columns):
        return args, data
    levels = len({term.group for term in args.parsed.random}) + 1
    if levels != len(found.columns):
        raise ValueError(
            f"survey={preset.name!r} weights {len(found.columns)} levels "
            f"({', '.join(c or '(none)' for c in found.columns)}, level 1 first), but the "
            f"model has {levels}: name one weight per level with weights=[...]"
        )
    return args.replace(weights=list(found.columns)), data


def _missing_weights(preset: SurveyPreset, found) -> str:
    """The warning of :func:`preset_weights` when some level weight is missing."""
    levels = [f"level {i + 1} {' or '.join(c)}" for i, c in enumerate(preset.weights.levels)]
    missing = [
        f"level {i + 1} ({' or '.join(c)})"
        for i, (c, col) in enumerate(zip(preset.weights.levels, found.columns))
        if col is None
    ]
    used = [f"{col} at level {i + 1}" for i, col in enumerate(found.columns) if col] or ["none"]
    which = "that level has" if len(missing) == 1 else "those have"
    return (
        f"survey={preset.name!r}: the data lack the preset's level weight of "
        f"{' and '.join(missing)}, so {which} "
        f"unit weights (the preset's weights: "
        f"{'; '.join(levels)}; found: {', '.join(used)}). A school weight is in the "
        "school file: merge it (pywemix.read_survey(..., school=...)), or name the "
        "weights yourself with weights=[...] (a None per level for unit weights "
        "without this warning)"
    )
