"""The replicate weights of a survey preset (``mix(..., survey=...)``), found in a data frame.

The presets themselves are records in :mod:`pywemix.presets` (the survey
registry); their columns are found by the same functions that read survey
files (:func:`pywemix.survey.detect.find_replicate_columns`): PISA files
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

from ..io.columns import NameIndex
from ..presets import SurveyPreset
from ..warnings import SurveyWarning, warn
from .detect import ReplicateColumns, find_replicate_columns, span_names
from .replicates import Replicates

__all__ = ["find_preset_columns", "preset_replicates", "span_names"]


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
        what, names = (("jackknife columns", scheme.zones) if scheme.zones is not None
                       else ("replicate weight columns", scheme.columns))
        warn(f"survey={preset.name!r}: the data have none of the preset's {what} "
             f"({span_names(names)}), so the standard errors are the cluster-robust sandwich; "
             "pass replicates=False to choose it without this warning, or name the "
             "replicate weights with replicates=pywemix.Replicates(...)", SurveyWarning)
    return found


def preset_replicates(preset: SurveyPreset | None, data) -> Replicates | None:
    """The :class:`Replicates` a survey preset implies for ``data`` (a pandas
    DataFrame), or None when the preset has none or the data have none of
    its columns (see :func:`find_preset_columns`)."""
    if preset is None:
        return None
    found = find_preset_columns(preset, data.columns)
    return None if found is None else found.replicates(data)
