"""Survey presets: one frozen record per survey (data only).

A :class:`SurveyPreset` says how a large-scale assessment's weights enter a
multilevel model (:class:`WeightRule`: which weight at which level,
conditional or not, the level-1 scaling of the EdSurvey note) and how its
replicate weights are built (:class:`ReplicateScheme`). The registry
:data:`PRESETS` is read by ``mix(..., survey=...)``: the argument checks take
the weight rule (:mod:`pywemix.arguments`), the summary its description
(:class:`~pywemix.results.settings.FitSettings`), the survey layer the
replicate scheme (:func:`pywemix.survey.presets.preset_replicates`).

Sources: the EdSurvey note "Methods Used for Estimating Mixed-Effects Models
in EdSurvey" (weights and scaling, its Table 1); the replicate designs of
OECD (2009), *PISA Data Analysis Manual*, 2nd ed. (80 Fay replicates,
k = 0.5); Foy and LaRoche (2016), *Methods and Procedures in TIMSS 2015*
(JK2 from jackknife zones); NCES's NAEP data (62 jackknife replicates of
``ORIGWT``); OECD (2019), *TALIS 2018 Technical Report* (100 Fay replicates
of the teacher weight, k = 0.5). R equivalents: EdSurvey's ``readPISA``,
``readTIMSS``, ``readNAEP``, ``readTALIS`` record the same weights.

To add a survey, add a record to :data:`PRESETS`; new kinds of information
(plausible-value naming rules, school keys) are new fields with defaults.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["WeightRule", "ReplicateScheme", "SurveyPreset", "PRESETS", "survey_preset",
           "preset_names"]


@dataclass(frozen=True)
class WeightRule:
    """How a survey's weights enter the model.

    Attributes
    ----------
    columns : tuple of str
        The survey's weight columns, level 1 first, as its files name them
        (for messages; the model's weights are still given to ``mix``).
    unconditional : bool
        The weights must be given unconditional (``cond_weights=False``):
        the level-1 weight is then the total student weight divided by the
        school weight, the "TIMSS method" of the EdSurvey note (eq. 5).
    scaling : {"none", "size", "effective"}
        Level-1 scaling (method A is ``"size"``); none above level 1.
    note : str
        The rule in words, as the summary shows it.
    """

    columns: tuple = ()
    unconditional: bool = False
    scaling: str = "none"
    note: str = ""


@dataclass(frozen=True)
class ReplicateScheme:
    """How a survey's replicate weights are found in its data.

    Either ``columns`` (replicate weights shipped in the file, with their
    full-sample weight ``full_weight``) or ``zones`` (jackknife zone,
    replicate indicator and total weight columns, from which the JK2
    weights are built, two per zone). Names are matched ignoring case.

    Attributes
    ----------
    method : {"fay", "brr", "jk1", "jk2", "bootstrap"}
        Variance formula (see :class:`pywemix.Replicates`).
    columns : tuple of str
    full_weight : str or None
    fay : float
        Fay's k (``method="fay"``).
    zones : tuple of (str, str, str) or None
        (zone, replicate indicator, total weight) columns.
    """

    method: str
    columns: tuple = ()
    full_weight: str | None = None
    fay: float = 0.5
    zones: tuple | None = None

    @property
    def needed(self) -> tuple:
        """Every column the scheme reads (replicates first)."""
        if self.zones is not None:
            return tuple(self.zones)
        return self.columns + ((self.full_weight,) if self.full_weight else ())


@dataclass(frozen=True)
class SurveyPreset:
    """A large-scale assessment: its name, weight rule and replicate scheme.

    Attributes
    ----------
    name : str
        Canonical name (upper case), as results record it.
    aliases : tuple of str
        Other accepted names (matched ignoring case, spaces, ``_`` and ``-``).
    weights : WeightRule
    replicates : ReplicateScheme or None
        None when the survey ships no replicate weights pywemix knows.
    """

    name: str
    weights: WeightRule
    replicates: ReplicateScheme | None = None
    aliases: tuple = ()

    @property
    def description(self) -> str:
        """E.g. ``"PISA (method A at level 1, none above)"``."""
        return f"{self.name} ({self.weights.note})"


def _numbered(stem: str, n: int, width: int = 0) -> tuple:
    return tuple(f"{stem}{i:0{width}d}" for i in range(1, n + 1))


_TIMSS_WEIGHTS = WeightRule(("TOTWGT", "SCHWGT"), unconditional=True, scaling="none",
                            note="level 1 = total student weight / school weight, none above")
_JK2_ZONES = ReplicateScheme("jk2", zones=("JKZONE", "JKREP", "TOTWGT"))

#: The survey presets of ``mix(..., survey=...)``.
PRESETS = (
    SurveyPreset("PISA", WeightRule(("W_FSTUWT", "W_SCHGRNRABWT"), scaling="size",
                                    note="method A at level 1, none above"),
                 ReplicateScheme("fay", _numbered("W_FSTURWT", 80), "W_FSTUWT", fay=0.5)),
    SurveyPreset("TIMSS", _TIMSS_WEIGHTS, _JK2_ZONES),
    SurveyPreset("TIMSS ADVANCED", WeightRule(("TOTWGT", "SCHWGT"), unconditional=True,
                                              note="level 1 = total student weight / "
                                                   "school weight"),
                 _JK2_ZONES, aliases=("TIMSSADV",)),
    SurveyPreset("PIRLS", _TIMSS_WEIGHTS, _JK2_ZONES),
    SurveyPreset("NAEP", WeightRule(("ORIGWT",), note="no scaling"),
                 ReplicateScheme("jk2", _numbered("SRWT", 62, 2), "ORIGWT")),
    SurveyPreset("TALIS", WeightRule(("TCHWGT", "SCHWGT"), unconditional=True, scaling="size",
                                     note="level 1 = teacher weight / school weight, "
                                          "scaled by method A"),
                 ReplicateScheme("fay", _numbered("TRWGT", 100), "TCHWGT", fay=0.5)),
)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).upper()


def preset_names() -> list:
    """The canonical names of the presets."""
    return [p.name for p in PRESETS]


def survey_preset(survey) -> SurveyPreset:
    """The preset called ``survey`` (its name or an alias, any case).

    Raises
    ------
    TypeError
        If ``survey`` is not a string.
    ValueError
        For an unknown name (the message lists the presets).
    """
    if not isinstance(survey, str):
        raise TypeError(f"survey must be the name of a survey preset "
                        f"({', '.join(preset_names())}), got {type(survey).__name__}")
    key = _key(survey)
    for p in PRESETS:
        if key in {_key(p.name)} | {_key(a) for a in p.aliases}:
            return p
    raise ValueError(f"unknown survey preset {survey!r}; known: {', '.join(preset_names())}")
