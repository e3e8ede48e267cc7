"""The model frame (pywemix.design.frame): rows and columns a model uses."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.design.frame import (
    check_columns,
    drop_incomplete,
    numeric_array,
    prepare_categoricals,
    to_pandas,
)

from conftest import small_random_intercept


def test_empty_data_frame_says_it_has_no_rows():
    d = small_random_intercept(1).iloc[:0]
    with pytest.raises(ValueError, match="the data frame has no rows"):
        pywemix.mix("y ~ x + (1|g)", d)


def test_column_missing_in_every_row_is_named():
    d = small_random_intercept(1).assign(z=np.nan)
    with pytest.raises(ValueError, match="every value of 'z' is missing"):
        pywemix.mix("y ~ x + z + (1|g)", d)


def test_several_empty_columns_are_all_named():
    d = pd.DataFrame({"a": [np.nan] * 3, "b": [None] * 3, "c": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="every value of 'a' and 'b' is missing"):
        drop_incomplete(d, ["a", "b", "c"])


def test_incomplete_rows_are_dropped_with_a_count():
    d = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, None]})
    with pytest.warns(pywemix.DataWarning, match=r"dropped 2 of 3 rows .*a: 1, b: 1"):
        out = drop_incomplete(d, ["a", "b"])
    assert list(out.index) == [0]


def test_no_complete_row():
    d = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.DataWarning)
        with pytest.raises(ValueError, match="no complete rows"):
            drop_incomplete(d, ["a", "b"])


def test_unknown_column_is_named_with_a_backtick_hint():
    d = pd.DataFrame({"a.b": [1.0]})
    with pytest.raises(ValueError, match=r"unknown column 'a'.*`a\.b`"):
        check_columns(d, ["a"])


def test_categorical_levels_in_a_fixed_order():
    d = pd.DataFrame(
        {
            "s": ["b", "a", "b"],
            "f": [True, False, True],
            "c": pd.Categorical(["y", "x", "y"], categories=["y", "x", "z"]),
            "o": pd.Series([1, 2.5, 3], dtype=object),
        }
    )
    out = prepare_categoricals(d, ["s", "f", "c", "o"])
    assert list(out["s"].cat.categories) == ["a", "b"]
    assert list(out["f"].cat.categories) == [False, True]
    assert list(out["c"].cat.categories) == ["y", "x"]  # order kept, unused dropped
    assert out["o"].dtype == float


def test_numeric_array_names_a_non_numeric_column():
    d = pd.DataFrame({"w": ["a", "b"]})
    with pytest.raises(TypeError, match="weight 'w' must be numeric"):
        numeric_array(d, "w", "weight")


def test_to_pandas_refuses_other_types():
    with pytest.raises(TypeError, match="pandas or polars"):
        to_pandas({"a": [1]})
