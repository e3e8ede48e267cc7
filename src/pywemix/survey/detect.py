"""Finding a survey's plausible values, weights, replicates and keys by name.

The rules are the layouts' (:mod:`pywemix.survey.layouts`); names are
matched ignoring case (:class:`~pywemix.io.NameIndex`). Every function
returns the data's own spelling of the columns it finds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..io.columns import NameIndex
from .layouts import LAYOUTS, SurveyLayout

__all__ = ["SurveyWeights", "detect_survey", "find_plausible_values", "check_plausible_values",
           "find_weights", "find_replicate_columns", "find_keys"]


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


def detect_survey(names: NameIndex):
    """The layout whose signature columns are all in ``names``, else None
    (none or several match)."""
    hits = []
    for lay in LAYOUTS.values():
        if not all(n in names for n in lay.signature):
            continue
        if lay.signature_scales is not None:
            scales = find_plausible_values(lay, names, {}, check=False)
            if not any(re.fullmatch(lay.signature_scales, s) for s in scales):
                continue
        hits.append(lay)
    return hits[0] if len(hits) == 1 else None


def _label_scale(text: str) -> str:
    """"num & oper" -> "num_oper" (EdSurvey's names of NAEP scales)."""
    words = re.sub(r"[^a-z ]", " ", text.lower()).split()
    return "_".join(words)


def find_plausible_values(layout: SurveyLayout, names: NameIndex, labels: dict,
                          check: bool = True) -> dict:
    """Scale -> its plausible-value columns in value order, by the layout's
    rules (a variable label rule first, then the name rules)."""
    found: dict = {}
    for col in names:
        hit = None
        label = labels.get(col)
        if layout.pv_label_pattern and isinstance(label, str):
            m = re.fullmatch(layout.pv_label_pattern, label, flags=re.IGNORECASE | re.DOTALL)
            if m is not None:
                hit = _label_scale(m["scale"]), int(m["index"])
        for rule in layout.plausible_values:
            if hit is None:
                hit = rule.match(col)
        if hit is None:
            continue
        scale, k = hit
        slot = found.setdefault(scale, {})
        if k in slot:
            raise ValueError(f"plausible value {k} of scale {scale!r} is in two columns, "
                             f"{slot[k]!r} and {col!r}: pass plausible_values= to choose")
        slot[k] = col
    if check:
        for scale, slot in found.items():
            _check_sequence(scale, slot, names.where)
    return {scale: [slot[k] for k in sorted(slot)] for scale, slot in found.items()}


def _check_sequence(scale, slot: dict, where) -> None:
    if len(slot) < 2:
        (col,) = slot.values()
        raise ValueError(f"scale {scale!r} has one plausible value only ({col!r} in {where}): "
                         "a scale needs two or more; pass plausible_values= to list the "
                         "scales yourself (or plausible_values=False for none)")
    gaps = sorted(set(range(1, max(slot) + 1)) - set(slot))
    if gaps:
        raise ValueError(f"scale {scale!r} lacks plausible value(s) {gaps} (found "
                         f"{[slot[k] for k in sorted(slot)]} in {where}): the file looks "
                         "truncated; pass plausible_values= to list the scales yourself")


def check_plausible_values(spec, names: NameIndex) -> dict:
    """A user's ``plausible_values={scale: [columns]}``, names resolved."""
    if not isinstance(spec, dict):
        raise TypeError("plausible_values must be a dict {scale: [columns]}, None (detect) "
                        f"or False (none), got {type(spec).__name__}")
    out = {}
    for scale, cols in spec.items():
        if isinstance(cols, str) or len(list(cols)) < 2:
            raise ValueError(f"scale {scale!r} needs a list of two or more plausible-value "
                             f"columns, got {cols!r}")
        out[str(scale)] = [names.resolve(c, f"plausible value of {scale!r}") for c in cols]
    return out


def find_weights(layout: SurveyLayout, names: NameIndex) -> SurveyWeights:
    """The level weights the layout names, as found in ``names``."""
    columns, derived, missing = [], [], []
    recipes = dict(layout.derived_weights)
    for candidates in layout.level_weights:
        col = next((names.find(c) for c in candidates if c in names), None)
        if col is None and candidates[0] in recipes \
                and all(f in names for f in recipes[candidates[0]]):
            col = candidates[0]
            derived.append((col, tuple(names.find(f) for f in recipes[col])))
        if col is None:
            missing.append(" or ".join(candidates))
        columns.append(col)
    return SurveyWeights(tuple(columns), layout.weights_conditional, layout.weight_rule,
                         tuple(derived), tuple(missing))


def find_replicate_columns(layout: SurveyLayout, names: NameIndex):
    """``(columns, full_weight)`` of a layout's replicate columns, None when
    the data have none; a ValueError naming the missing ones when some are."""
    rule = layout.replicates
    if rule is None:
        return None
    full = next((names.find(c) for c in rule.full_weight if c in names), None)
    if rule.zone is not None:
        need = {"zone": rule.zone, "replicate indicator": rule.rep,
                "total weight": rule.full_weight[0]}
        have = {k: names.find(v) for k, v in need.items()}
        if not any(have.values()):
            return None
        lack = [f"{need[k]} ({k})" for k, v in have.items() if v is None]
        if lack:
            raise ValueError(f"{layout.name} builds JK2 replicate weights from "
                             f"{', '.join(need.values())}, but {names.where} lacks "
                             f"{', '.join(lack)}; pass replicates=False to read without them")
        return (have["zone"], have["replicate indicator"]), have["total weight"]
    for prefix in rule.prefixes:
        pat = re.compile(re.escape(prefix) + r"0*([1-9][0-9]*)", re.IGNORECASE)
        numbered = {int(m[1]): c for c in names if (m := pat.fullmatch(c))}
        if not numbered:
            continue
        lack = [f"{prefix}{r}" for r in range(1, rule.count + 1) if r not in numbered]
        if lack:
            raise ValueError(f"replicate weight columns missing from {names.where}: "
                             f"{', '.join(lack[:10])}{' ...' if len(lack) > 10 else ''} "
                             f"({len(lack)} of {prefix}1..{rule.count}); pass "
                             "replicates=False to read without replicate weights")
        if full is None:
            raise ValueError(f"{names.where} has the replicate weights {prefix}1..{rule.count} "
                             f"but not their full-sample weight {rule.full_weight[0]}")
        return [numbered[r] for r in range(1, rule.count + 1)], full
    return None


def find_keys(candidates, names: NameIndex):
    """The first candidate key (tuple of columns) all in ``names``, else None."""
    for key in candidates:
        if all(k in names for k in key):
            return tuple(names.find(k) for k in key)
    return None
