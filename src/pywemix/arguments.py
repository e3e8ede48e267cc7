"""The arguments of :func:`pywemix.mix`, checked once, as one frozen record.

``mix`` builds a :class:`MixArguments` from its parameters and passes it to
everything that fits: the in-memory pipeline (:mod:`pywemix.pipeline`), the
Dask fits (:mod:`pywemix.dask`), the survey layer (plausible values,
replicates, ``by=``; :mod:`pywemix.survey`) and every refit (``anova``'s ML
refit, replicate refits). A new argument of ``mix`` is a field here, its
check in :meth:`MixArguments.__post_init__`, and the code that uses it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .checks import check_bool, check_positive_int
from .design.center import Centering, check_centering, make_centering
from .design.formula import ParsedFormula, parse_formula
from .design.scaling import PRESET_NONE, normalize_scaling
from .objective.families import Family, check_link, get_family
from .presets import SurveyPreset, survey_preset

__all__ = ["MixArguments", "MAX_QUAD"]

#: most Gauss-Hermite points per random effect: the rule's nodes come from an
#: eigendecomposition of an n_quad x n_quad matrix, and far fewer points reach
#: double precision for smooth integrands
MAX_QUAD = 1000


@dataclass(frozen=True, eq=False)
class MixArguments:
    """The arguments of one ``mix`` call (all but ``data``), checked.

    The fields named as ``mix``'s parameters hold the values given (those
    with one normal form -- ``cond_weights``, ``n_quad``, ``max_iter``,
    ``reml`` -- normalised); the fields after them are derived by the checks.
    :meth:`replace` re-checks, so a refit (``anova``'s ML refit, a Dask
    refit) changes arguments through the same checks. The survey arguments
    (``plausible_values``, ``replicates``, ``by``, ``executor``) are checked
    by the survey layer, which knows the data.

    An executor does not travel with the record: pickling (to run fits in
    other processes or on a cluster) leaves ``executor`` None.

    Attributes
    ----------
    parsed : ParsedFormula
        The parsed formula.
    family_object : Family or None
        None for the Gaussian family.
    scaling : str
        Level-1 scaling method (``"none"``, ``"size"``, ``"effective"``, or
        :data:`~pywemix.design.scaling.PRESET_NONE` when a survey preset
        chose no scaling).
    preset : SurveyPreset or None
        The survey preset (:mod:`pywemix.presets`); None for ``survey=None``
        or ``survey=False``.
    groups : dict
        ``center_group`` checked: grouping factor -> list of columns.
    grand : list
        ``center_grand`` checked.
    transform : Centering or None
        The centering the design applies.
    """

    formula: str
    weights: Any
    cond_weights: bool
    family: Any
    link: str | None
    n_quad: int
    offset: Any
    trials: Any
    center_group: Any
    center_grand: Any
    weight_scaling: Any
    survey: Any
    plausible_values: Any
    executor: Any
    reml: bool
    start: Any
    max_iter: int | None
    replicates: Any
    by: Any
    parsed: ParsedFormula = field(init=False, repr=False)
    family_object: Family | None = field(init=False, repr=False)
    scaling: str = field(init=False, repr=False)
    preset: SurveyPreset | None = field(init=False, repr=False)
    groups: dict = field(init=False, repr=False)
    grand: list = field(init=False, repr=False)
    transform: Centering | None = field(init=False, repr=False)

    def __post_init__(self):
        """Every check of ``mix`` that needs no data (TypeError/ValueError)."""
        fam = _family(self.family, self.link)
        cond_weights = check_bool(self.cond_weights, "cond_weights")
        # survey=False: no preset (on a SurveyData, not the data's own survey)
        preset = None if self.survey is None or self.survey is False else survey_preset(self.survey)
        scaling = _scaling(self.weight_scaling, preset, cond_weights)
        parsed = parse_formula(self.formula)
        groups, grand = check_centering(self.center_group, self.center_grand, parsed)
        n_quad = check_positive_int(self.n_quad, "n_quad")
        if n_quad > MAX_QUAD:
            raise ValueError(
                f"n_quad must be at most {MAX_QUAD} (points per random effect), "
                f"got {n_quad}; adaptive quadrature is usually accurate with 5 "
                "to 25"
            )
        max_iter = check_positive_int(self.max_iter, "max_iter", allow_none=True)
        reml = check_bool(self.reml, "reml")
        if reml and fam is not None:
            raise ValueError("reml=True is only defined for the gaussian family")
        _check_trials(self.trials, fam, parsed)
        for name, value in (
            ("cond_weights", cond_weights),
            ("n_quad", n_quad),
            ("max_iter", max_iter),
            ("reml", reml),
            ("parsed", parsed),
            ("family_object", fam),
            ("scaling", scaling),
            ("preset", preset),
            ("groups", groups),
            ("grand", grand),
            ("transform", make_centering(groups, grand)),
        ):
            object.__setattr__(self, name, value)

    def replace(self, **changes) -> MixArguments:
        """A copy with some of ``mix``'s arguments changed, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def survey_name(self) -> str | None:
        """The survey preset's canonical name (None without one)."""
        return None if self.preset is None else self.preset.name

    def __getstate__(self):
        state = dict(self.__dict__)
        state["executor"] = None  # an executor stays in the process that owns it
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


def _check_trials(trials, family, parsed) -> None:
    """``trials`` is a column name, for a binomial proportion (not ``cbind``)."""
    if trials is None:
        return
    if not isinstance(trials, str):
        raise TypeError(f"trials must be the name of a column, got {type(trials).__name__}")
    if family is None or family.name != "binomial":
        raise ValueError(
            f"trials={trials!r} is for the binomial family (a proportion of "
            f"successes out of trials), not {family.name if family else 'gaussian'!r}"
        )
    if parsed.response.replace(" ", "").startswith("cbind("):
        raise ValueError(
            f"trials={trials!r} with a cbind(successes, failures) response: the "
            "trials are already successes + failures; give one or the other"
        )


def _family(family, link):
    """None for the Gaussian family, else a Family object (checks the link)."""
    if isinstance(family, str) and family.strip().lower() == "gaussian":
        link = check_link(link)
        if link not in (None, "identity"):
            raise ValueError(f"family 'gaussian' has no link {link!r}; its links are 'identity'")
        return None
    return get_family(family, link)


def _scaling(weight_scaling, preset, cond_weights) -> str:
    """Level-1 scaling method after the survey preset's weight rule.

    A preset without scaling (TIMSS, PIRLS, NAEP) gives
    :data:`~pywemix.design.scaling.PRESET_NONE`: no scaling and no
    unscaled-weight warning, since the EdSurvey note recommends no scaling
    for these surveys (the settings record ``"none"``).
    """
    method = normalize_scaling(weight_scaling)
    if preset is None:
        return method
    rule = preset.weights
    if method != "none" and method != rule.scaling:
        raise ValueError(
            f"weight_scaling={weight_scaling!r} conflicts with the "
            f"{preset.name} preset ({rule.note})"
        )
    if rule.unconditional and cond_weights:
        raise ValueError(
            f"the {preset.name} preset takes the total weight and the school "
            f"weight ({', '.join(rule.columns)}), unconditional: use "
            "cond_weights=False"
        )
    return PRESET_NONE if rule.scaling == "none" else rule.scaling
