"""Finding a survey's plausible values, weights, replicates and keys by name.

The rules are the survey registry's (:mod:`pywemix.presets`), applied here
only: by :class:`~pywemix.SurveyData` and by ``mix(..., survey=...)`` on a
data frame (:mod:`pywemix.survey.presets`). Names are matched ignoring case
(:class:`~pywemix.io.NameIndex`). Every function returns the data's own
spelling of the columns it finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..io.columns import NameIndex
from ..presets import PRESETS, ReplicateScheme, SurveyPreset
from ..warnings import SurveyWarning, warn
from .replicates import Replicates, jackknife_weights

__all__ = [
    "SurveyWeights",
    "ReplicateColumns",
    "detect_survey",
    "find_plausible_values",
    "check_plausible_values",
    "find_weights",
    "derived_weight",
    "find_replicate_columns",
    "find_keys",
    "span_names",
]


@dataclass(frozen=True)
class SurveyWeights:
    """The level weights of a survey's data.

    Attributes
    ----------
    columns : tuple
        One column per level, level 1 first (``mix(weights=...)``); None at
        a level whose weight is not in the data.
    conditional : bool
        Whether they are conditional (``mix(cond_weights=...)``); survey
        files ship total weights (False).
    rule : str
        Where the choice comes from (shown by ``describe()``).
    derived : tuple of (str, tuple of str)
        Weights computed as a product of factors because the data lack them.
    missing : tuple of str
        Per level without a weight, the names looked for.
    """

    columns: tuple = ()
    conditional: bool = False
    rule: str = ""
    derived: tuple = ()
    missing: tuple = ()

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def complete(self) -> bool:
        """Whether every level has its weight."""
        return all(c is not None for c in self.columns)


def detect_survey(names: NameIndex) -> SurveyPreset | None:
    """The survey whose signature columns are all in ``names`` (and, where
    the record asks, whose scales are found), else None (none or several
    match)."""
    hits = []
    for preset in PRESETS:
        if not preset.signature or not all(n in names for n in preset.signature):
            continue
        if preset.signature_scales is not None:
            scales = find_plausible_values(preset, names, {}, check=False)
            if not any(re.fullmatch(preset.signature_scales, s) for s in scales):
                continue
        hits.append(preset)
    return hits[0] if len(hits) == 1 else None


def _label_scale(text: str) -> str:
    """ "num & oper" -> "num_oper" (EdSurvey's names of NAEP scales)."""
    words = re.sub(r"[^a-z ]", " ", text.lower()).split()
    return "_".join(words)


def find_plausible_values(
    preset: SurveyPreset, names: NameIndex, labels: dict, check: bool = True
) -> dict:
    """Scale -> its plausible-value columns in value order, by the survey's
    naming rules (a variable label rule first, then the name rules).

    Raises
    ------
    ValueError
        (``check=True``) A scale with one plausible value, or with gaps in
        its numbering; a value number in two columns.
    """
    found: dict = {}
    for col in names:
        hit = None
        label = labels.get(col)
        if preset.pv_label_pattern and isinstance(label, str):
            m = re.fullmatch(preset.pv_label_pattern, label, flags=re.IGNORECASE | re.DOTALL)
            if m is not None:
                hit = _label_scale(m["scale"]), int(m["index"])
        for rule in preset.plausible_values:
            if hit is None:
                hit = rule.match(col)
        if hit is None:
            continue
        scale, k = hit
        slot = found.setdefault(scale, {})
        if k in slot:
            raise ValueError(
                f"plausible value {k} of scale {scale!r} is in two columns, "
                f"{slot[k]!r} and {col!r}: pass plausible_values= to choose"
            )
        slot[k] = col
    if check:
        for scale, slot in found.items():
            _check_sequence(scale, slot, names.where)
    return {scale: [slot[k] for k in sorted(slot)] for scale, slot in found.items()}


def _check_sequence(scale, slot: dict, where) -> None:
    if len(slot) < 2:
        (col,) = slot.values()
        raise ValueError(
            f"scale {scale!r} has one plausible value only ({col!r} in {where}): "
            "a scale needs two or more; pass plausible_values= to list the "
            "scales yourself (or plausible_values=False for none)"
        )
    gaps = sorted(set(range(1, max(slot) + 1)) - set(slot))
    if gaps:
        raise ValueError(
            f"scale {scale!r} lacks plausible value(s) {gaps} (found "
            f"{[slot[k] for k in sorted(slot)]} in {where}): the file looks "
            "truncated; pass plausible_values= to list the scales yourself"
        )


def check_plausible_values(spec, names: NameIndex) -> dict:
    """A user's ``plausible_values={scale: [columns]}``, names resolved."""
    if not isinstance(spec, dict):
        raise TypeError(
            "plausible_values must be a dict {scale: [columns]}, None (detect) "
            f"or False (none), got {type(spec).__name__}"
        )
    out = {}
    for scale, cols in spec.items():
        if isinstance(cols, str) or len(list(cols)) < 2:
            raise ValueError(
                f"scale {scale!r} needs a list of two or more plausible-value columns, got {cols!r}"
            )
        out[str(scale)] = [names.resolve(c, f"plausible value of {scale!r}") for c in cols]
    return out


def find_weights(preset: SurveyPreset, names: NameIndex) -> SurveyWeights:
    """The level weights of the survey's weight rule, as found in ``names``
    (total weights: ``conditional`` False)."""
    rule = preset.weights
    columns, derived, missing = [], [], []
    recipes = dict(rule.derived)
    for candidates in rule.levels:
        col = next((names.find(c) for c in candidates if c in names), None)
        if (
            col is None
            and candidates[0] in recipes
            and all(f in names for f in recipes[candidates[0]])
        ):
            col = candidates[0]
            derived.append((col, tuple(names.find(f) for f in recipes[col])))
        if col is None:
            missing.append(" or ".join(candidates))
        columns.append(col)
    return SurveyWeights(tuple(columns), False, rule.explanation, tuple(derived), tuple(missing))


def derived_weight(frame, factors):
    """A weight the data lack, as the product of its factors (a column of a
    pandas or Dask frame): TIMSS's school weight ``WGTFAC1 x WGTADJ1``."""
    out = frame[factors[0]].astype(float)
    for f in factors[1:]:
        out = out * frame[f].astype(float)
    return out


@dataclass(frozen=True)
class ReplicateColumns:
    """A survey's replicate columns found in data.

    Attributes
    ----------
    preset : SurveyPreset
    columns : tuple of str
        The replicate weights, in order; for a JK2 scheme built from zones,
        the zone, replicate indicator and total weight columns.
    full_weight : str or None
        The full-sample weight (None when the data lack it).
    """

    preset: SurveyPreset
    columns: tuple
    full_weight: str | None

    @property
    def scheme(self) -> ReplicateScheme:
        """The preset's replicate scheme (method, Fay factor, zones)."""
        scheme = self.preset.replicates
        assert scheme is not None  # detected only for a preset with replicates
        return scheme

    @property
    def from_zones(self) -> bool:
        """Whether the replicate weights are built from jackknife zones."""
        return self.scheme.zones is not None

    def replicates(self, data=None, jackknife=None) -> Replicates:
        """The :class:`~pywemix.Replicates`: of the columns, or (zones) JK2
        weights built from ``data`` by :func:`~pywemix.jackknife_weights`, or
        by ``jackknife(data, zone, rep, weight, method) -> Replicates`` when
        given (on a Dask DataFrame, columns computed on each partition)."""
        scheme = self.scheme
        if not self.from_zones:
            return Replicates(
                list(self.columns),
                method=scheme.method,
                fay=scheme.fay,
                full_weight=self.full_weight,
            )
        try:
            if jackknife is not None:
                return jackknife(data, *self.columns, scheme.method)
            return Replicates(jackknife_weights(data, *self.columns), method=scheme.method)
        except ValueError as exc:
            raise ValueError(
                f"{exc} (survey={self.preset.name!r} builds JK2 replicate "
                f"weights from {', '.join(self.columns)}; replicates=False "
                "keeps the sandwich)"
            ) from None


def find_replicate_columns(preset: SurveyPreset, names: NameIndex) -> ReplicateColumns | None:
    """The survey's replicate columns in ``names``; None when there are none.

    Numbered columns match with any number of leading zeros (``SRWT1`` or
    ``SRWT01``), the first of the scheme's prefixes found counts (PISA's
    ``W_FSTURWT`` before the older ``W_FSTR``). A missing full-sample weight
    (PISA's ``W_FSTUWT``) gives ``full_weight=None`` and a
    :class:`~pywemix.SurveyWarning`: the replicate factors are then taken
    relative to the model's total weight.

    Raises
    ------
    ValueError
        When only some of the replicate columns are there (naming the
        missing ones), or a jackknife scheme lacks its zone, indicator or
        total weight column.
    """
    scheme = preset.replicates
    if scheme is None:
        return None
    if scheme.zones is not None:
        found = [names.find(z) for z in scheme.zones]
        if not any(found):
            return None
        missing = [z for z, f in zip(scheme.zones, found) if f is None]
        if missing:
            raise ValueError(_partial_zones(preset, missing, names.where))
        return ReplicateColumns(preset, tuple(found), found[2])
    for prefix in scheme.prefixes:
        pattern = re.compile(re.escape(prefix) + r"0*([1-9][0-9]*)", re.IGNORECASE)
        numbered = {int(m[1]): c for c in names if (m := pattern.fullmatch(c))}
        if not numbered:
            continue
        missing = [
            f"{prefix}{r:0{scheme.width}d}" for r in range(1, scheme.count + 1) if r not in numbered
        ]
        if missing:
            raise ValueError(_partial_columns(preset, missing, names.where))
        full = names.find(scheme.full_weight) if scheme.full_weight else None
        if full is None and scheme.full_weight is not None:
            warn(
                f"survey={preset.name!r}: the full-sample weight {scheme.full_weight} is not "
                f"in {names.where}, so the replicate factors are taken relative to the "
                "model's total weight (its level-1 weight, or the product of the "
                "conditional weights); name it with replicates=pywemix.Replicates(..., "
                "full_weight=...)",
                SurveyWarning,
            )
        return ReplicateColumns(
            preset, tuple(numbered[r] for r in range(1, scheme.count + 1)), full
        )
    return None


def _partial_zones(preset, missing, where) -> str:
    return (
        f"survey={preset.name!r} builds JK2 replicate weights from "
        f"{', '.join(preset.replicates.zones)}, but {span_names(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not in {where}: build them from your "
        "columns, replicates=pywemix.Replicates(pywemix.jackknife_weights(data, "
        "zone=..., rep=..., weight=...), method='jk2'), or pass replicates=False for "
        "the cluster-robust sandwich"
    )


def _partial_columns(preset, missing, where) -> str:
    n = preset.replicates.count
    return (
        f"survey={preset.name!r}: {len(missing)} of its {n} replicate weight columns "
        f"are not in {where} ({span_names(missing)}); a replication variance from the "
        f"other {n - len(missing)} is not {preset.name}'s. Keep all {n} columns, name the "
        "replicates yourself (replicates=pywemix.Replicates([...], method=...)), or pass "
        "replicates=False for the cluster-robust sandwich"
    )


def span_names(names) -> str:
    """Column names in few words: numbered runs as ``W_FSTURWT41..W_FSTURWT80``."""
    runs: list = []
    for n in names:
        m = re.fullmatch(r"(.*?)(\d+)", n)
        stem, k = (m.group(1), int(m.group(2))) if m else (n, None)
        if runs and k is not None and runs[-1][0] == stem and runs[-1][2] == k - 1:
            runs[-1][2], runs[-1][4] = k, n
        else:
            runs.append([stem, k, k, n, n])
    out = [first if a == b else f"{first}..{last}" for _, a, b, first, last in runs]
    return ", ".join(out[:8]) + (f" and {len(out) - 8} more" if len(out) > 8 else "")


def find_keys(candidates, names: NameIndex):
    """The first candidate key (tuple of columns) all in ``names``, else None."""
    for key in candidates:
        if all(k in names for k in key):
            return tuple(names.find(k) for k in key)
    return None
