"""The typed settings record of a fit (pywemix.results.settings.FitSettings):
what the summary shows and what anova/bootstrap_lrt compare."""

from __future__ import annotations

import dataclasses

import pytest

from pywemix.results.settings import SCALING_LABELS, FitSettings

BASE = FitSettings("y ~ x + (1|g)", weighted=True, weight_spec=("w1", "w2"))


def test_formula_reml_and_quadrature_points_may_differ():
    other = dataclasses.replace(BASE, formula="y ~ 1 + (1|g)", n_quad=7)
    assert BASE.differences(other) == []
    assert BASE.differences(BASE) == []
    unweighted = FitSettings("y ~ 1 + (1|g)", reml=True)
    assert unweighted.differences(dataclasses.replace(unweighted, reml=False)) == []


@pytest.mark.parametrize(
    "change, label",
    [
        (dict(family="binomial", link="logit"), "Family"),
        (dict(weight_spec=("w1", None)), "Weights"),
        (dict(cond_weights=True), "Conditional weights"),
        (dict(survey="PISA"), "Survey preset"),
        (dict(weight_scaling="size"), "Weight scaling"),
        (dict(center_grand=("x",)), "Centering"),
    ],
)
def test_each_compared_setting_is_named_with_both_values(change, label):
    other = dataclasses.replace(BASE, **change)
    diffs = BASE.differences(other)
    assert diffs[0][0] == label
    assert diffs[0][1] != diffs[0][2]
    # symmetric up to the order of the values
    back = other.differences(BASE)
    assert [(a, c, b) for a, b, c in back] == diffs


def test_values_are_shown_as_the_summary_shows_them():
    other = dataclasses.replace(
        BASE,
        weight_spec=("w1", None),
        weight_scaling="effective",
        center_group=(("g", ("x",)),),
        center_grand=("z",),
    )
    diffs = {label: (a, b) for label, a, b in BASE.differences(other)}
    assert diffs["Weights"] == ("w1, w2", "w1, (none)")
    assert diffs["Weight scaling"] == (SCALING_LABELS["none"], SCALING_LABELS["effective"])
    assert diffs["Centering"] == ("none", "x within g; z grand mean")
    assert list(diffs).count("Centering") == 1


def test_labels_and_criterion():
    s = dataclasses.replace(BASE, center_grand=("x",))
    labels = dict(s.labels())
    assert labels["Weight scaling"] == SCALING_LABELS["none"]
    assert labels["Centering"] == "x grand mean"
    assert "Survey preset" not in labels
    assert FitSettings("y ~ 1 + (1|g)", reml=True).criterion == "REML"
    assert BASE.criterion == "ML"


def test_weighted_reml_is_refused():
    with pytest.raises(ValueError, match="reml=True needs unit weights"):
        dataclasses.replace(BASE, reml=True)
