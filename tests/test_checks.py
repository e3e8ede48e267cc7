"""The shared argument checks (pywemix.checks): one message per kind of mistake."""

from __future__ import annotations

import numpy as np
import pytest

from pywemix.checks import check_bool, check_positive_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_integers_pass_as_int(value):
    out = check_positive_int(value, "n_quad")
    assert out == value and type(out) is int


def test_none_passes_only_when_allowed():
    assert check_positive_int(None, "max_iter", allow_none=True) is None
    with pytest.raises(TypeError, match="max_iter must be a positive integer, got None"):
        check_positive_int(None, "max_iter")


@pytest.mark.parametrize("value", [True, 2.5, "3", 3.0])
def test_non_integers_are_type_errors_naming_the_argument(value):
    with pytest.raises(TypeError, match=r"n_quad must be a positive integer or None, got"):
        check_positive_int(value, "n_quad", allow_none=True)


@pytest.mark.parametrize("value", [0, -2])
def test_integers_below_one_are_value_errors(value):
    with pytest.raises(ValueError, match=f"n must be a positive integer, got {value}"):
        check_positive_int(value, "n")


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_booleans_pass_as_bool(value):
    out = check_bool(value, "reml")
    assert out == bool(value) and type(out) is bool


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_non_booleans_are_type_errors(value):
    with pytest.raises(TypeError, match="reml must be True or False"):
        check_bool(value, "reml")
