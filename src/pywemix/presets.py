"""The survey registry: one frozen record per survey, everything pywemix knows of it.

A :class:`SurveyPreset` holds a large-scale assessment's naming rules (how
its files name plausible values, weights, replicate weights and school keys),
its weight rule (:class:`WeightRule`: which weight at which level,
conditional or not, the level-1 scaling of the EdSurvey note) and its
replicate scheme (:class:`ReplicateScheme`). The registry :data:`PRESETS` is
data only, read by

- ``mix(..., survey=...)``: the argument checks take the weight rule
  (:mod:`pywemix.arguments`), the summary its description
  (:class:`~pywemix.results.settings.FitSettings`), the survey layer the
  replicate columns (:func:`pywemix.survey.presets.preset_replicates`);
- :func:`pywemix.read_survey` and :func:`pywemix.survey_data`: the naming
  rules find the scales, weights, replicates and keys of a file
  (:mod:`pywemix.survey.detect`, the one place the rules are applied).

Column names are matched ignoring case, as EdSurvey does (it lower-cases
every name).

PISA (OECD; EdSurvey ``readPISA``)
    Plausible values ``PV<k><SCALE>``, k = 1..10 (1..5 before 2015):
    ``PV1MATH..PV10MATH`` -> ``math``; every domain and subscale alike
    (``PV1MCCR`` -> ``mccr``, ``PV1READ`` -> ``read``, ``PV1SCIE`` -> ``scie``,
    ``PV1FLIT`` -> ``flit``, PISA 2003's ``PV1MATH1`` -> ``math1``). Weights:
    level 1 the total student weight ``W_FSTUWT``, level 2 the school weight
    ``W_SCHGRNRABWT`` (PISA 2015 on; ``W_FSCHWT`` before, which EdSurvey's
    ``mixed.sdf`` names); level 1 scaled by method A within schools, none
    above, as the EdSurvey note says (its Table 1 and the sentence "The
    default scaling method for PISA in the EdSurvey package is Method A").
    EdSurvey's own code scales PISA's level 1 by ``sum(w) / sum(w^2)``, which
    is method B; the preset follows the note (method A);
    ``weight_scaling="effective"`` without the preset gives method B.
    Replicates: ``W_FSTURWT1..80`` (``W_FSTR1..80`` before 2015), Fay's BRR
    with k = 0.5, full weight ``W_FSTUWT`` (OECD 2009, PISA Data Analysis
    Manual, 2nd ed.). School file key: ``CNT`` + ``CNTSCHID`` (``CNT`` +
    ``SCHOOLID`` before 2015).
TIMSS, TIMSS Advanced, PIRLS (IEA; EdSurvey ``readTIMSS``, ``readTIMSSAdv``, ``readPIRLS``)
    Plausible values ``<grade>S<scale>01..05``, grade A (4th) or B (8th) in
    TIMSS and PIRLS, M or P in TIMSS Advanced, the scale four letters whose
    first is the subject: ``BSMMAT01..05`` -> ``mmat``, ``BSSSCI01`` ->
    ``ssci``, ``BSMALG01`` -> ``malg``, ``ASMMAT01`` -> ``mmat``, PIRLS
    ``ASRREA01`` -> ``rrea``, TIMSS Advanced ``MSMMAT01`` -> ``mmat``,
    ``PSPPHY01`` -> ``pphy``. The international benchmark columns
    (``BSMIBM01``, ``ASRIBM01``) are categorical and not scales (as EdSurvey's
    ``readPIRLS``). Weights: total student weight ``TOTWGT`` and school
    weight ``SCHWGT`` (school file), given unconditional, so that level 1 is
    ``TOTWGT / SCHWGT`` (the note's eq. 5), unscaled; when the data have no
    ``SCHWGT``, it is ``WGTFAC1 x WGTADJ1``, the school's weighting factor
    times its nonresponse adjustment (TIMSS User Guide: "multiplying WGTFAC1
    by WGTADJ1 gives the sampling weight for the school, adjusted for
    non-participation"). Replicates: JK2, two per jackknife zone, built from
    ``JKZONE``, ``JKREP`` and ``TOTWGT`` (Foy and LaRoche 2016). School file
    key: ``IDCNTRY`` + ``IDSCHOOL``.
TALIS (OECD; EdSurvey ``readTALIS``)
    No plausible values. Weights: teacher ``TCHWGT``, school ``SCHWGT``,
    unconditional, level 1 then scaled by method A (the note's Table 1; not
    implemented in EdSurvey). Replicates: ``TRWGT1..100``, Fay's BRR with
    k = 0.5 (EdSurvey's ``jkSumMultiplier`` 0.04 = 1 / (100 (1 - 0.5)^2);
    OECD 2019, TALIS 2018 Technical Report). Key: ``IDCNTRY`` + ``IDSCHOOL``.
NAEP (NCES; EdSurvey ``readNAEP``)
    Plausible values from their variable labels as EdSurvey reads them
    ("Plausible NAEP math value #3 (num & oper)" -> ``num_oper``,
    "(composite)" -> ``composite``), else from their names
    ``<subject>RPCM<k>`` -> ``composite`` (``MRPCM1..5``) and
    ``<subject>RPS<x><k>`` -> the subscale ``s<x>`` (``MRPSCA1`` -> ``sca``).
    Weights: ``ORIGWT`` and the school weight ``SMSRSWT``, as the EdSurvey
    note's Appendix A, which adds that there is no recommended weight
    transformation for NAEP (no scaling). Replicates: ``SRWT01..62``, one
    jackknife replicate per zone of ``ORIGWT`` (EdSurvey's
    ``jkSumMultiplier`` = 1). Key: student ``SCRPSU``, school file
    ``SSCRPSU`` (EdSurvey's NAEP merge).

Level weights (EdSurvey note, Nguyen and Kelley 2018, "Methods Used for
Estimating Mixed-Effects Models in EdSurvey", eq. 5 and Table 1; EdSurvey's
``mixed.sdf`` uses ``weightVars = c("w_fstuwt", "w_fschwt")`` for PISA and
``c("totwgt", "schwgt")`` for TIMSS): every record lists *total*
(unconditional) weights, level 1 first, as the files ship them, so that the
level-1 conditional weight is ``w1 / w2``.

To add a survey, add a record to :data:`PRESETS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PlausibleValueRule",
    "WeightRule",
    "ReplicateScheme",
    "SurveyPreset",
    "PRESETS",
    "survey_preset",
    "preset_names",
]


@dataclass(frozen=True)
class PlausibleValueRule:
    """Plausible-value columns recognised by their names.

    Attributes
    ----------
    pattern : str
        Regular expression matched (ignoring case) against the whole column
        name, with groups ``index`` (the value's number) and ``scale``.
    names : tuple of (str, str)
        Scale codes (lower case) renamed: ``(("cm", "composite"),)``.
    exclude : str, optional
        Scale codes (regular expression) that are not scales.
    """

    pattern: str
    names: tuple = ()
    exclude: str | None = None

    def match(self, column: str):
        """``(scale, index)`` of a plausible-value column, else None."""
        m = re.fullmatch(self.pattern, column, flags=re.IGNORECASE)
        if m is None:
            return None
        code = m["scale"].lower()
        if self.exclude and re.fullmatch(self.exclude, code):
            return None
        return dict(self.names).get(code, code), int(m["index"])


@dataclass(frozen=True)
class WeightRule:
    """A survey's level weights and how they enter the model.

    Attributes
    ----------
    levels : tuple of tuple of str
        Per level, level 1 first, the candidate columns (the first found is
        used); total (unconditional) weights, as the files ship them.
    unconditional : bool
        The weights must be given unconditional (``cond_weights=False``):
        the level-1 weight is then the total student weight divided by the
        school weight, the "TIMSS method" of the EdSurvey note (eq. 5).
    scaling : {"none", "size", "effective"}
        Level-1 scaling (method A is ``"size"``); none above level 1.
    note : str
        The rule in words, as the summary shows it.
    explanation : str
        The rule and its source, as ``SurveyData.describe()`` shows it.
    derived : tuple of (str, tuple of str)
        A weight missing from the data computed as the product of factors:
        ``(("SCHWGT", ("WGTFAC1", "WGTADJ1")),)``.
    other : str, optional
        Other weight columns (regular expression), listed by ``describe()``.
    """

    levels: tuple = ()
    unconditional: bool = False
    scaling: str = "none"
    note: str = ""
    explanation: str = ""
    derived: tuple = ()
    other: str | None = None

    @property
    def columns(self) -> tuple:
        """The weight column of each level as the current files name it."""
        return tuple(candidates[0] for candidates in self.levels)


@dataclass(frozen=True)
class ReplicateScheme:
    """A survey's replicate weights: shipped in its files, or built from zones.

    Either numbered replicate-weight columns ``<prefix><r>``, r = 1..count,
    with their full-sample weight ``full_weight``, or ``zones`` (jackknife
    zone, replicate indicator and total weight columns), from which the JK2
    weights are built, two per zone (:func:`pywemix.jackknife_weights`).

    Attributes
    ----------
    method : {"fay", "brr", "jk1", "jk2", "bootstrap"}
        Variance formula (see :class:`pywemix.Replicates`).
    prefixes : tuple of str
        Names of the replicate columns without their number, the current
        files' first (older files' after it); the first found is used.
    count : int
        Number of replicate columns.
    full_weight : str or None
        The full-sample weight of the replicate columns.
    fay : float
        Fay's k (``method="fay"``).
    zones : tuple of (str, str, str) or None
        (zone, replicate indicator, total weight) columns.
    width : int
        Digits of the replicate number in the current files' names (NAEP's
        ``SRWT01``: 2); any number of leading zeros is accepted in data.
    """

    method: str
    prefixes: tuple = ()
    count: int = 0
    full_weight: str | None = None
    fay: float = 0.5
    zones: tuple | None = None
    width: int = 0

    @property
    def columns(self) -> tuple:
        """The replicate columns as the current files name them (empty for zones)."""
        if not self.prefixes:
            return ()
        return tuple(f"{self.prefixes[0]}{r:0{self.width}d}" for r in range(1, self.count + 1))

    @property
    def needed(self) -> tuple:
        """Every column the scheme reads (replicates first)."""
        if self.zones is not None:
            return tuple(self.zones)
        return self.columns + ((self.full_weight,) if self.full_weight else ())


@dataclass(frozen=True)
class SurveyPreset:
    """A large-scale assessment: its naming rules, weight rule and replicate scheme.

    See the module's documentation for each survey's rules and sources.

    Attributes
    ----------
    name : str
        Canonical name (upper case), as results record it.
    weights : WeightRule
    replicates : ReplicateScheme or None
        None when the survey ships no replicate weights pywemix knows.
    aliases : tuple of str
        Other accepted names (matched ignoring case, spaces, ``_`` and ``-``).
    title : str
        The survey's full name.
    plausible_values : tuple of PlausibleValueRule
        Naming rules of plausible-value columns.
    pv_label_pattern : str, optional
        Variable labels naming a plausible value (NAEP), with groups
        ``index`` and ``scale``; takes precedence over the name rules.
    default_scale : str, optional
        The scale EdSurvey uses when a formula names none.
    school_keys : tuple of tuple of str
        Candidate key columns of the student file (first found).
    school_file_keys : tuple of tuple of str
        The same keys as the school file names them (empty: same names).
    country : str, optional
        The country column (for fits by country).
    signature : tuple of str
        Columns whose presence identifies the survey (``read_survey(survey=None)``);
        empty: never detected.
    signature_scales : str, optional
        With the signature, a scale code (regular expression) that must be
        found (tells TIMSS from PIRLS).
    """

    name: str
    weights: WeightRule
    replicates: ReplicateScheme | None = None
    aliases: tuple = ()
    title: str = ""
    plausible_values: tuple = ()
    pv_label_pattern: str | None = None
    default_scale: str | None = None
    school_keys: tuple = ()
    school_file_keys: tuple = ()
    country: str | None = None
    signature: tuple = ()
    signature_scales: str | None = None

    @property
    def description(self) -> str:
        """E.g. ``"PISA (method A at level 1, none above)"``."""
        return f"{self.name} ({self.weights.note})"


def _iea_pv(grades: str) -> PlausibleValueRule:
    return PlausibleValueRule(
        rf"[{grades}]S(?P<scale>[MSPRE][A-Z]{{3}})(?P<index>[0-9]{{2}})", exclude=r".ibm"
    )


_IEA_LEVELS = (("TOTWGT",), ("SCHWGT",))
_IEA_DERIVED = (("SCHWGT", ("WGTFAC1", "WGTADJ1")),)
_IEA_OTHER = r"HOUWGT|SENWGT|WGTFAC[0-9]|WGTADJ[0-9][A-Z]?|TCHWGT|MATWGT|SCIWGT|PHYWGT"
_IEA_EXPLANATION = (
    "level 1 = total student weight / school weight (TOTWGT / SCHWGT), "
    "level 2 = SCHWGT, no scaling (EdSurvey mixed-models note, eq. 5)"
)
_TIMSS_WEIGHTS = WeightRule(
    _IEA_LEVELS,
    unconditional=True,
    scaling="none",
    note="level 1 = total student weight / school weight, none above",
    explanation=_IEA_EXPLANATION,
    derived=_IEA_DERIVED,
    other=_IEA_OTHER,
)
_JK2_ZONES = ReplicateScheme("jk2", zones=("JKZONE", "JKREP", "TOTWGT"))
_IEA: dict[str, Any] = dict(
    replicates=_JK2_ZONES,
    school_keys=(("IDCNTRY", "IDSCHOOL"),),
    country="IDCNTRY",
    signature=("TOTWGT", "JKZONE"),
)

_PISA = SurveyPreset(
    "PISA",
    WeightRule(
        (("W_FSTUWT",), ("W_SCHGRNRABWT", "W_FSCHWT")),
        scaling="size",
        note="method A at level 1, none above",
        other=r"W_FSTUWT_.*|W_F?SCH.*WT.*",
        explanation="total student weight W_FSTUWT, school weight W_SCHGRNRABWT (W_FSCHWT "
        "before 2015); level 1 scaled by method A within schools, none above, "
        "as the EdSurvey mixed-models note says (Table 1; EdSurvey's code uses "
        "method B)",
    ),
    ReplicateScheme("fay", ("W_FSTURWT", "W_FSTR"), 80, "W_FSTUWT", fay=0.5),
    title="OECD Programme for International Student Assessment",
    plausible_values=(PlausibleValueRule(r"PV(?P<index>[1-9][0-9]?)(?P<scale>[A-Z][A-Z0-9_]*)"),),
    default_scale="math",
    school_keys=(("CNT", "CNTSCHID"), ("CNT", "SCHOOLID")),
    country="CNT",
    signature=("W_FSTUWT",),
)

#: The survey registry of ``mix(..., survey=...)``, ``read_survey`` and ``survey_data``.
PRESETS = (
    _PISA,
    SurveyPreset(
        "TIMSS",
        _TIMSS_WEIGHTS,
        title="IEA Trends in International Mathematics and Science Study",
        plausible_values=(_iea_pv("AB"),),
        default_scale="mmat",
        signature_scales=r"[ms]...",
        **_IEA,
    ),
    SurveyPreset(
        "TIMSS ADVANCED",
        WeightRule(
            _IEA_LEVELS,
            unconditional=True,
            note="level 1 = total student weight / school weight",
            explanation=_IEA_EXPLANATION,
            derived=_IEA_DERIVED,
            other=_IEA_OTHER,
        ),
        aliases=("TIMSSADV",),
        title="IEA TIMSS Advanced",
        plausible_values=(_iea_pv("MP"),),
        default_scale="mmat",
        signature_scales=r"....",
        **_IEA,
    ),
    SurveyPreset(
        "PIRLS",
        _TIMSS_WEIGHTS,
        title="IEA Progress in International Reading Literacy Study",
        plausible_values=(_iea_pv("AB"),),
        default_scale="rrea",
        signature_scales=r"[rle]...",
        **_IEA,
    ),
    SurveyPreset(
        "NAEP",
        WeightRule(
            (("ORIGWT",), ("SMSRSWT",)),
            note="no scaling",
            explanation="ORIGWT and school weight SMSRSWT as in the EdSurvey note's Appendix A; "
            "the note gives no recommended weight transformation for NAEP",
        ),
        ReplicateScheme("jk2", ("SRWT",), 62, "ORIGWT", width=2),
        title="NCES National Assessment of Educational Progress",
        plausible_values=(
            PlausibleValueRule(
                r"[A-Z]RP(?P<scale>CM|S[A-Z]{1,3})(?P<index>[0-9]{1,2})",
                names=(("cm", "composite"),),
            ),
        ),
        pv_label_pattern=r".*plausible.*value.*#\s*(?P<index>[0-9]+)\s*\((?P<scale>[^)]*)\).*",
        default_scale="composite",
        school_keys=(("SCRPSU",),),
        school_file_keys=(("SSCRPSU",),),
        signature=("ORIGWT", "SRWT01"),
    ),
    SurveyPreset(
        "TALIS",
        WeightRule(
            (("TCHWGT",), ("SCHWGT",)),
            unconditional=True,
            scaling="size",
            note="level 1 = teacher weight / school weight, scaled by method A",
            explanation="teacher weight TCHWGT, school weight SCHWGT; the EdSurvey note "
            "(Table 1) recommends TCHWGT / SCHWGT, then method A at level 1 (not "
            "implemented in EdSurvey)",
            other=r"WGTFAC[0-9]|WGTADJ[0-9]",
        ),
        ReplicateScheme("fay", ("TRWGT",), 100, "TCHWGT", fay=0.5),
        title="OECD Teaching and Learning International Survey",
        school_keys=(("IDCNTRY", "IDSCHOOL"),),
        country="IDCNTRY",
        signature=("TCHWGT", "TRWGT1"),
    ),
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
        raise TypeError(
            f"survey must be the name of a survey preset "
            f"({', '.join(preset_names())}), got {type(survey).__name__}"
        )
    key = _key(survey)
    for p in PRESETS:
        if key in {_key(p.name)} | {_key(a) for a in p.aliases}:
            return p
    raise ValueError(f"unknown survey preset {survey!r}; known: {', '.join(preset_names())}")
