"""What each partition computes (pywemix.dask.passes): the rows a fit uses and
their categories, coded the same in every partition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pywemix.dask.design import make_plan
from pywemix.dask.passes import complete_rows, scan_partition, used_rows, with_categories
from pywemix.design.formula import parse_formula

dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(scope="module")
def frame():
    return pd.DataFrame(
        {
            "y": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
            "x": [0.1, np.nan, 0.3, 0.4, 0.5, 0.6],
            "f": ["a", "b", "a", "c", "b", "a"],
            "g": [1, 1, 2, 2, 3, 3],
            "w1": [1.0, 1.0, 1.0, 0.0, 2.0, 1.0],
            "w2": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
            "unused": list("uvwxyz"),
        }
    )


def _plan(frame):
    parsed = parse_formula("y ~ x + f + (1|g)")
    return make_plan(parsed, dd.from_pandas(frame, npartitions=1), ["w1", "w2"], None, False)


def test_rows_with_missing_values_or_zero_weight_are_not_used(frame):
    plan = _plan(frame)
    counts = {}
    complete, keep = complete_rows(frame, plan, counts)
    assert list(complete.index) == [0, 3, 4, 5]
    assert keep.tolist() == [True, False, True, True]
    assert counts["n_incomplete"] == 2 and counts["missing"]["x"] == 1
    assert counts["zero_rows"] == [1, 0]
    assert list(used_rows(frame, plan).index) == [0, 4, 5]
    assert "unused" not in complete.columns


def test_the_scan_lists_categories_of_the_used_rows(frame):
    plan = _plan(frame)
    assert plan.categorical == ["f"]
    scan = scan_partition(frame, plan)
    assert sorted(scan["categories"]["f"]) == ["a", "b"]  # 'c' is on a zero-weight row
    coded = with_categories(frame, {"f": ["b", "a", "c"]})
    assert list(coded["f"].cat.categories) == ["b", "a", "c"]
    assert coded["f"].tolist() == frame["f"].tolist()
