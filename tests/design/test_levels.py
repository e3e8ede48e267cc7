"""Levels of a nested model (pywemix.design.levels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pywemix.design.levels import order_levels, sorted_levels


def _frame():
    # 2 districts > 4 schools > rows, shuffled
    d = pd.DataFrame(
        {"district": [1, 1, 1, 1, 2, 2, 2, 2, 2], "school": [10, 10, 11, 11, 20, 20, 21, 21, 21]}
    )
    return d.iloc[[4, 0, 7, 2, 8, 1, 5, 3, 6]].reset_index(drop=True)


def test_levels_ordered_from_most_groups_up():
    ordered = order_levels(_frame(), [("district",), ("school",)])
    assert [cols for cols, _ in ordered] == [("school",), ("district",)]


def test_sorted_levels_make_groups_contiguous_and_link_parents():
    frame = _frame()
    order, (schools, districts) = sorted_levels(
        frame, order_levels(frame, [("school",), ("district",)])
    )
    sorted_frame = frame.iloc[order]
    assert np.all(np.diff(schools.codes) >= 0)
    assert schools.n_groups == 4 and districts.n_groups == 2
    # every school's parent is the district of its rows
    first_rows = sorted_frame.iloc[schools.starts]
    assert list(districts.labels[schools.parent]) == list(first_rows["district"])
    np.testing.assert_array_equal(schools.child_starts(districts), [0, 2])


def test_crossed_factors_are_refused():
    d = pd.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2]})
    with pytest.raises(ValueError, match="crossed, not nested"):
        order_levels(d, [("a",), ("b",)])


def test_single_group_is_refused():
    d = pd.DataFrame({"a": [1, 1, 1]})
    with pytest.raises(ValueError, match="'a' has a single group"):
        order_levels(d, [("a",)])
