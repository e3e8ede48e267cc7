"""Replicate weights of the survey presets (``mix(..., survey=...)``).

PISA files carry 80 Fay replicate weights ``W_FSTURWT1..80`` of the total
student weight ``W_FSTUWT`` (k = 0.5; OECD 2009, PISA Data Analysis Manual,
2nd ed.); TIMSS and PIRLS files carry jackknife zones ``JKZONE``, indicators
``JKREP`` and the total weight ``TOTWGT``, from which the JK2 weights are
built (Foy and LaRoche 2016). Column names are matched ignoring case.
"""
from __future__ import annotations

from .replicates import Replicates, jackknife_weights

__all__ = ["preset_replicates"]

_PISA = ["W_FSTURWT%d" % i for i in range(1, 81)]


def _lookup(data, names):
    """The data's columns for ``names`` ignoring case, or None if any is missing."""
    lower = {c.lower(): c for c in data.columns if isinstance(c, str)}
    found = [lower.get(n.lower()) for n in names]
    return None if any(f is None for f in found) else found


def preset_replicates(survey, data):
    """The :class:`Replicates` a survey preset implies for ``data``, or None
    when the survey has none or its columns are not in the data."""
    if not isinstance(survey, str):
        return None
    key = survey.strip().upper()
    if key == "PISA":
        cols = _lookup(data, _PISA + ["W_FSTUWT"])
        if cols is None:
            return None
        return Replicates(cols[:-1], method="fay", fay=0.5, full_weight=cols[-1])
    if key in ("TIMSS", "PIRLS", "TIMSS ADVANCED"):
        cols = _lookup(data, ["JKZONE", "JKREP", "TOTWGT"])
        if cols is None:
            return None
        try:
            return Replicates(jackknife_weights(data, *cols), method="jk2")
        except ValueError as exc:
            raise ValueError(f"{exc} (survey={survey!r} builds JK2 replicate weights from "
                             f"{', '.join(cols)}; replicates=False keeps the sandwich)") \
                from None
    return None
