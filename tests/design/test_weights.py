"""Weights of every level (pywemix.design.weights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pywemix.design.weights import (
    conditional_weights,
    constant_within,
    normalize_weight_spec,
    validate_weights,
)


def test_conditional_weights_divide_by_the_level_above():
    arrays = {"w1": np.array([4.0, 6.0]), "w2": np.array([2.0, 2.0]), "w3": np.array([1.0, 1.0])}
    cond = conditional_weights(arrays, ["w1", "w2", "w3"], cond_weights=False)
    np.testing.assert_allclose(cond[0], [2.0, 3.0])
    np.testing.assert_allclose(cond[1], [2.0, 2.0])
    np.testing.assert_allclose(cond[2], [1.0, 1.0])


def test_level_without_weight_takes_the_level_above():
    arrays = {"w1": np.array([4.0, 6.0]), "w3": np.array([2.0, 2.0])}
    cond = conditional_weights(arrays, ["w1", None, "w3"], cond_weights=False)
    np.testing.assert_allclose(cond[0], [2.0, 3.0])
    assert cond[1] is None


def test_already_conditional_weights_are_kept():
    arrays = {"w1": np.array([4.0, 6.0]), "w2": np.array([2.0, 2.0])}
    cond = conditional_weights(arrays, ["w1", "w2"], cond_weights=True)
    assert cond[0] is arrays["w1"] and cond[1] is arrays["w2"]


@pytest.mark.parametrize(
    "weights, exc, match",
    [
        ("w1", TypeError, "the string 'w1'"),
        (["w1"], ValueError, "needs 2 entries"),
        ([1, None], TypeError, "column name or None"),
    ],
)
def test_weight_spec_errors(weights, exc, match):
    with pytest.raises(exc, match=match):
        normalize_weight_spec(weights, 2)


@pytest.mark.parametrize(
    "values, match",
    [
        ([1.0, np.nan], "1 missing"),
        ([1.0, np.inf], "1 infinite"),
        ([1.0, -2.0], "1 negative"),
        ([1.0, 1e101], "double precision"),
    ],
)
def test_bad_weight_values_are_named(values, match):
    with pytest.raises(ValueError, match=f"'w'.*{match}"):
        validate_weights(pd.DataFrame({"w": values}), ["w", None])


def test_group_weight_must_be_constant_within_groups():
    with pytest.raises(ValueError, match="'w2' varies within school 7"):
        constant_within(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), "w2", "school", lambda g: 7)
