"""The settings a model was fitted with, as one typed, frozen record.

The summary makes its labels from it; :func:`pywemix.anova` and
:func:`pywemix.bootstrap_lrt` compare the records of two fits (not their
display strings) to decide whether the fits are comparable. R equivalent:
the ``call`` and the ``devcomp$dims`` flags of an lme4 ``merMod``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..presets import survey_preset

__all__ = ["FitSettings"]

#: Descriptions of the level-1 weight scaling methods, for the summary.
SCALING_LABELS = {
    "none": "none",
    "size": "method A (level-1 weights sum to the group size)",
    "effective": "method B (level-1 weights sum to the effective group size)",
}

#: Settings that must agree for two fits to be compared by their likelihoods,
#: with their labels (as the summary shows them).
COMPARED = (
    ("family", "Family"),
    ("link", "Link"),
    ("weight_spec", "Weights"),
    ("cond_weights", "Conditional weights"),
    ("survey", "Survey preset"),
    ("weight_scaling", "Weight scaling"),
    ("center_group", "Centering"),
    ("center_grand", "Centering"),
)


@dataclass(frozen=True)
class FitSettings:
    """
    How a model was fitted (everything but the data and the formula's terms).

    A frozen dataclass: its fields are its parameters and attributes.

    Parameters
    ----------
    formula : str
        The model formula.
    family : str, default "gaussian"
        ``"gaussian"``, ``"binomial"`` or ``"poisson"``.
    link : str, default "identity"
        Link function name.
    n_quad : int or None
        Quadrature points per random effect (None for the Gaussian family).
    reml : bool
        Restricted maximum likelihood (Gaussian family only).
    weighted : bool
        Whether any weight differs from 1 (the likelihood is then a
        pseudo-likelihood).
    weight_spec : tuple of (str or None)
        Weight column per level, level 1 first.
    cond_weights : bool
        Whether the weights were given as conditional weights.
    weight_scaling : {"none", "size", "effective"}
        Level-1 scaling method (after the survey preset).
    survey : str or None
        Survey preset name (upper case), if any.
    center_group : tuple of (str, tuple of str)
        Grouping factor and the columns centred on its group means.
    center_grand : tuple of str
        Columns centred on their overall mean.
    offset_column : str or None
        Offset column name (None for no offset or an array offset).
    has_offset : bool
        Whether the linear predictor has a non-zero offset.
    family_object : Family or None
        The family object itself (None for the Gaussian family); not compared.

    Raises
    ------
    ValueError
        For REML with weights other than 1: WeMix's weighted
        pseudo-likelihood is defined for maximum likelihood only.
    """

    formula: str
    family: str = "gaussian"
    link: str = "identity"
    n_quad: int | None = None
    reml: bool = False
    weighted: bool = False
    weight_spec: tuple = ()
    cond_weights: bool = False
    weight_scaling: str = "none"
    survey: str | None = None
    center_group: tuple = ()
    center_grand: tuple = ()
    offset_column: str | None = None
    has_offset: bool = False
    family_object: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.reml and self.weighted:
            raise ValueError(
                "reml=True needs unit weights: WeMix's weighted pseudo-likelihood is "
                "defined for maximum likelihood only; fit with reml=False"
            )

    @property
    def criterion(self) -> str:
        """``"REML"`` or ``"ML"``."""
        return "REML" if self.reml else "ML"

    @property
    def weights_from_preset(self) -> bool:
        """
        Whether the weights are the survey preset's level weights.

        That is, its column names (any case; a level may be unweighted), as
        ``mix`` takes them when ``weights=`` is not given.
        """
        if self.survey is None or not any(self.weight_spec):
            return False
        levels = survey_preset(self.survey).weights.levels
        return len(levels) == len(self.weight_spec) and all(
            w is None or w.lower() in {c.lower() for c in names}
            for w, names in zip(self.weight_spec, levels)
        )

    def labels(self) -> list:
        """
        Give the summary's lines for the survey preset, weight scaling and centering.

        Returns
        -------
        list of tuple of str
            ``(label, text)`` pairs.
        """
        rows = []
        if self.survey is not None:
            rows.append(("Survey preset", survey_preset(self.survey).description))
        rows.append(("Weight scaling", SCALING_LABELS[self.weight_scaling]))
        if self.center_group or self.center_grand:
            rows.append(("Centering", self.centering_label()))
        return rows

    def centering_label(self) -> str:
        """
        Describe the centering in words.

        Returns
        -------
        str
            E.g. ``"x within school; z grand mean"``, or ``"none"``.
        """
        parts = [f"{', '.join(cols)} within {g}" for g, cols in self.center_group]
        if self.center_grand:
            parts.append(f"{', '.join(self.center_grand)} grand mean")
        return "; ".join(parts) or "none"

    def differences(self, other: FitSettings) -> list:
        """
        List the settings in which ``other`` differs from this record.

        The formula, REML and the quadrature points may differ between fits
        that can be compared; the other settings may not.

        Parameters
        ----------
        other : FitSettings
            The settings of another fit.

        Returns
        -------
        list of tuple of str
            ``(label, this value, other value)`` with the values as text; empty
            when the two fits can be compared.
        """
        out: list = []
        for name, label in COMPARED:
            a, b = getattr(self, name), getattr(other, name)
            if a != b and label not in [d[0] for d in out]:
                out.append((label, _text(self, name), _text(other, name)))
        return out


def _text(settings, field) -> str:
    """A setting's value as the summary shows it."""
    value = getattr(settings, field)
    if field in ("center_group", "center_grand"):
        return settings.centering_label()
    if field == "weight_spec":
        return ", ".join(w or "(none)" for w in value)
    if field == "weight_scaling":
        return SCALING_LABELS[value]
    return "none" if value is None else str(value)
