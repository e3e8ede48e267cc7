"""How each survey's files name their plausible values, weights, replicates and keys.

One frozen :class:`SurveyLayout` per survey, in :data:`LAYOUTS`: naming
rules as data, read by :func:`pywemix.read_survey` and
:func:`pywemix.survey_data` (and overridable there). Column names are
matched ignoring case, as EdSurvey does (it lower-cases every name).

PISA (OECD; EdSurvey ``readPISA``)
    Plausible values ``PV<k><SCALE>``, k = 1..10 (1..5 before 2015):
    ``PV1MATH..PV10MATH`` -> ``math``; every domain and subscale alike
    (``PV1MCCR`` -> ``mccr``, ``PV1READ`` -> ``read``, ``PV1SCIE`` -> ``scie``,
    ``PV1FLIT`` -> ``flit``, PISA 2003's ``PV1MATH1`` -> ``math1``). Weights:
    level 1 the total student weight ``W_FSTUWT``, level 2 the school weight
    ``W_SCHGRNRABWT`` (PISA 2015 on; ``W_FSCHWT`` before, which EdSurvey's
    ``mixed.sdf`` names). Replicates: ``W_FSTURWT1..80`` (``W_FSTR1..80``
    before 2015), Fay's BRR with k = 0.5, full weight ``W_FSTUWT`` (OECD
    2009, PISA Data Analysis Manual, 2nd ed.). School file key: ``CNT`` +
    ``CNTSCHID`` (``CNT`` + ``SCHOOLID`` before 2015).
TIMSS, PIRLS (IEA; EdSurvey ``readTIMSS``, ``readPIRLS``)
    Plausible values ``<grade>S<scale>01..05``, grade A (4th), B (8th), M
    or P (TIMSS Advanced), the scale four letters whose first is the
    subject: ``BSMMAT01..05`` -> ``mmat``, ``BSSSCI01`` -> ``ssci``,
    ``BSMALG01`` -> ``malg``, ``ASMMAT01`` -> ``mmat``, PIRLS ``ASRREA01`` ->
    ``rrea``. The international benchmark columns (``BSMIBM01``,
    ``ASRIBM01``) are categorical and not scales (as EdSurvey's
    ``readPIRLS``). Weights: total student weight ``TOTWGT`` and school
    weight ``SCHWGT`` (school file); when the data have no ``SCHWGT``, it is
    ``WGTFAC1 x WGTADJ1``, the school's weighting factor times its
    nonresponse adjustment (TIMSS User Guide: "multiplying WGTFAC1 by
    WGTADJ1 gives the sampling weight for the school, adjusted for
    non-participation"). Replicates: JK2, two per jackknife zone, built
    from ``JKZONE``, ``JKREP`` and ``TOTWGT`` (Foy and LaRoche 2016).
    School file key: ``IDCNTRY`` + ``IDSCHOOL``.
TALIS (OECD; EdSurvey ``readTALIS``)
    No plausible values. Weights: teacher ``TCHWGT``, school ``SCHWGT``.
    Replicates: ``TRWGT1..100``, Fay's BRR with k = 0.5 (EdSurvey's
    ``jkSumMultiplier`` 0.04 = 1 / (100 (1 - 0.5)^2)). Key: ``IDCNTRY`` +
    ``IDSCHOOL``.
NAEP (NCES; EdSurvey ``readNAEP``)
    Plausible values from their variable labels as EdSurvey reads them
    ("Plausible NAEP math value #3 (num & oper)" -> ``num_oper``,
    "(composite)" -> ``composite``), else from their names
    ``<subject>RPCM<k>`` -> ``composite`` (``MRPCM1..5``) and
    ``<subject>RPS<x><k>`` -> the subscale ``s<x>`` (``MRPSCA1`` -> ``sca``).
    Weights: ``ORIGWT`` and the school weight ``SMSRSWT``, as the EdSurvey
    note's Appendix A, which adds that there is no recommended weight
    transformation for NAEP. Replicates: ``SRWT01..62``, one jackknife
    replicate per zone (EdSurvey's ``jkSumMultiplier`` = 1). Key: student
    ``SCRPSU``, school file ``SSCRPSU`` (EdSurvey's NAEP merge).

Level weights (EdSurvey note, Nguyen and Kelley 2018, "Methods Used for
Estimating Mixed-Effects Models in EdSurvey", eq. 5 and Table 1; EdSurvey's
``mixed.sdf`` uses ``weightVars = c("w_fstuwt", "w_fschwt")`` for PISA and
``c("totwgt", "schwgt")`` for TIMSS): every layout lists *total*
(unconditional) weights, level 1 first, so that the level-1 conditional
weight is ``w1 / w2``: for TIMSS and PIRLS exactly the note's
``TOTWGT / SCHWGT``; for PISA the note scales the level-1 weight by method A
within schools, which does not depend on whether it is conditional.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["SurveyLayout", "PlausibleValueRule", "ReplicateRule", "LAYOUTS", "get_layout",
           "SURVEY_NAMES"]


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
class ReplicateRule:
    """A survey's replicate weights.

    Attributes
    ----------
    method : str
        A :class:`~pywemix.Replicates` method: ``"fay"``, ``"jk2"``, ...
    prefixes : tuple of str
        Replicate columns ``<prefix><r>``, r = 1..count (a leading zero
        allowed: NAEP's ``SRWT01``); the first prefix found is used. Empty
        for JK2 weights built from zones.
    count : int
        Number of replicate columns expected.
    full_weight : tuple of str
        The full-sample weight (first found).
    fay : float
        Fay's k (method ``"fay"``).
    zone, rep : str
        Jackknife zone and replicate-indicator columns (JK2 built by
        :func:`~pywemix.jackknife_weights` from them and ``full_weight``).
    """

    method: str
    prefixes: tuple = ()
    count: int = 0
    full_weight: tuple = ()
    fay: float = 0.5
    zone: str | None = None
    rep: str | None = None


@dataclass(frozen=True)
class SurveyLayout:
    """How one survey's files name things (see the module's documentation).

    Attributes
    ----------
    name : str
        ``"PISA"``, ``"TIMSS"``, ...
    plausible_values : tuple of PlausibleValueRule
    pv_label_pattern : str, optional
        Variable labels naming a plausible value (NAEP), with groups
        ``index`` and ``scale``; takes precedence over the name rules.
    default_scale : str, optional
        The scale EdSurvey uses when a formula names none.
    level_weights : tuple of tuple of str
        Per level, level 1 first, the candidate columns (first found).
    weights_conditional : bool
        Whether those weights are conditional (False: total weights).
    derived_weights : tuple of (str, tuple of str)
        A weight missing from the data computed as the product of factors:
        ``(("SCHWGT", ("WGTFAC1", "WGTADJ1")),)``.
    other_weights : str, optional
        Other weight columns (regular expression), listed by ``describe()``.
    weight_rule : str
        The level weights' rule and its source, as ``describe()`` shows it.
    replicates : ReplicateRule, optional
    school_keys : tuple of tuple of str
        Candidate key columns of the student file (first found).
    school_file_keys : tuple of tuple of str
        The same keys as the school file names them (empty: same names).
    country : str, optional
        The country column (for fits by country).
    signature : tuple of str
        Columns whose presence identifies the survey (``survey=None``).
    signature_scales : str, optional
        With the signature, a scale code (regular expression) that must be
        found (tells TIMSS from PIRLS).
    """

    name: str
    title: str
    plausible_values: tuple = ()
    pv_label_pattern: str | None = None
    default_scale: str | None = None
    level_weights: tuple = ()
    weights_conditional: bool = False
    derived_weights: tuple = ()
    other_weights: str | None = None
    weight_rule: str = ""
    replicates: ReplicateRule | None = None
    school_keys: tuple = ()
    school_file_keys: tuple = ()
    country: str | None = None
    signature: tuple = ()
    signature_scales: str | None = None
    aliases: tuple = field(default=())


_PISA = SurveyLayout(
    name="PISA", title="OECD Programme for International Student Assessment",
    plausible_values=(PlausibleValueRule(r"PV(?P<index>[1-9][0-9]?)(?P<scale>[A-Z][A-Z0-9_]*)"),),
    default_scale="math",
    level_weights=(("W_FSTUWT",), ("W_SCHGRNRABWT", "W_FSCHWT")),
    other_weights=r"W_FSTUWT_.*|W_F?SCH.*WT.*",
    weight_rule="total student weight W_FSTUWT, school weight W_SCHGRNRABWT (W_FSCHWT "
                "before 2015); EdSurvey scales level 1 by method A within schools, none "
                "above (EdSurvey mixed-models note, Table 1)",
    replicates=ReplicateRule("fay", prefixes=("W_FSTURWT", "W_FSTR"), count=80,
                             full_weight=("W_FSTUWT",), fay=0.5),
    school_keys=(("CNT", "CNTSCHID"), ("CNT", "SCHOOLID")),
    country="CNT", signature=("W_FSTUWT",))

_IEA_PV = PlausibleValueRule(r"[ABMP]S(?P<scale>[MSPRE][A-Z]{3})(?P<index>[0-9]{2})",
                             exclude=r".ibm")
_IEA_WEIGHTS = dict(
    level_weights=(("TOTWGT",), ("SCHWGT",)),
    derived_weights=(("SCHWGT", ("WGTFAC1", "WGTADJ1")),),
    other_weights=r"HOUWGT|SENWGT|WGTFAC[0-9]|WGTADJ[0-9][A-Z]?|TCHWGT|MATWGT|SCIWGT",
    weight_rule="level 1 = total student weight / school weight (TOTWGT / SCHWGT), "
                "level 2 = SCHWGT, no scaling (EdSurvey mixed-models note, eq. 5)",
    replicates=ReplicateRule("jk2", full_weight=("TOTWGT",), zone="JKZONE", rep="JKREP"),
    school_keys=(("IDCNTRY", "IDSCHOOL"),), country="IDCNTRY",
    signature=("TOTWGT", "JKZONE"))

_TIMSS = SurveyLayout(
    name="TIMSS", title="IEA Trends in International Mathematics and Science Study",
    plausible_values=(_IEA_PV,), default_scale="mmat", signature_scales=r"[ms]...",
    aliases=("TIMSS ADVANCED",), **_IEA_WEIGHTS)

_PIRLS = SurveyLayout(
    name="PIRLS", title="IEA Progress in International Reading Literacy Study",
    plausible_values=(_IEA_PV,), default_scale="rrea", signature_scales=r"[rle]...",
    **_IEA_WEIGHTS)

_TALIS = SurveyLayout(
    name="TALIS", title="OECD Teaching and Learning International Survey",
    level_weights=(("TCHWGT",), ("SCHWGT",)),
    other_weights=r"WGTFAC[0-9]|WGTADJ[0-9]",
    weight_rule="teacher weight TCHWGT, school weight SCHWGT; the EdSurvey note "
                "(Table 1) recommends TCHWGT / SCHWGT, then method A at level 1 "
                "(not implemented in EdSurvey)",
    replicates=ReplicateRule("fay", prefixes=("TRWGT",), count=100, full_weight=("TCHWGT",),
                             fay=0.5),
    school_keys=(("IDCNTRY", "IDSCHOOL"),), country="IDCNTRY",
    signature=("TCHWGT", "TRWGT1"))

_NAEP = SurveyLayout(
    name="NAEP", title="NCES National Assessment of Educational Progress",
    plausible_values=(PlausibleValueRule(
        r"[A-Z]RP(?P<scale>CM|S[A-Z]{1,3})(?P<index>[0-9]{1,2})", names=(("cm", "composite"),)),),
    pv_label_pattern=r".*plausible.*value.*#\s*(?P<index>[0-9]+)\s*\((?P<scale>[^)]*)\).*",
    default_scale="composite",
    level_weights=(("ORIGWT",), ("SMSRSWT",)),
    weight_rule="ORIGWT and school weight SMSRSWT as in the EdSurvey note's Appendix A; "
                "the note gives no recommended weight transformation for NAEP",
    replicates=ReplicateRule("jk2", prefixes=("SRWT",), count=62, full_weight=("ORIGWT",)),
    school_keys=(("SCRPSU",),), school_file_keys=(("SSCRPSU",),),
    signature=("ORIGWT", "SRWT01"))

#: Survey name -> layout.
LAYOUTS = {lay.name: lay for lay in (_PISA, _TIMSS, _PIRLS, _TALIS, _NAEP)}

#: Names accepted by ``survey=`` (case-insensitive).
SURVEY_NAMES = tuple(LAYOUTS) + tuple(a for lay in LAYOUTS.values() for a in lay.aliases)


def get_layout(survey) -> SurveyLayout:
    """The layout of a survey name or alias (case-insensitive)."""
    if isinstance(survey, SurveyLayout):
        return survey
    if isinstance(survey, str):
        key = " ".join(survey.upper().split())
        for lay in LAYOUTS.values():
            if key == lay.name or key in lay.aliases:
                return lay
    raise ValueError(f"unknown survey {survey!r}; known: {', '.join(SURVEY_NAMES)} "
                     "(or None to detect it from the column names)")
