"""``ColumnFile``: names from metadata, lookups ignoring case, reads of some
columns with labels and user-missing codes converted."""

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pywemix.io import ColumnFile, NameIndex
from pywemix.io.labels import labels_to_categoricals


def test_name_index_ignores_case_exact_wins():
    idx = NameIndex(["ESCS", "x", "X", "ab", "AB"], "f.sav")
    assert idx.find("escs") == "ESCS" and idx.find("nope") is None
    assert idx.find("x") == "x" and idx.find("X") == "X" and idx.find("AB") == "AB"
    with pytest.raises(
        ValueError,
        match=r"matches several columns of f.sav ignoring case: "
        r"\['ab', 'AB'\]",
    ):
        idx.find("Ab")
    with pytest.raises(ValueError, match="column 'ecss' is not in f.sav; did you mean ESCS"):
        idx.resolve("ecss")


def test_labels_missing_codes_and_metadata(tmp_path):
    df = pd.DataFrame(
        {"A": [1.0, 2.0, 9.0, 3.0], "B": [1.5, 98.0, 2.5, 99.0], "S": ["x", "y", "x", "y"]}
    )
    path = tmp_path / "d.sav"
    pyreadstat.write_sav(
        df,
        str(path),
        variable_value_labels={
            "A": {3: "high", 1: "low", 2: "mid", 9: "omit"},
            "B": {98: "skip", 99: "n/a"},
        },
        missing_ranges={"A": [9], "B": [{"lo": 98, "hi": 99}]},
        column_labels={"A": "an item", "B": "a score", "S": None},
    )
    f = ColumnFile(path, cache=False)
    assert f.names.names == ["A", "B", "S"] and f.n_rows == 4
    assert f.variable_labels == {"A": "an item", "B": "a score"}
    out = f.read(["b", "a"])
    assert list(out.columns) == ["B", "A"]
    a = out["A"]
    assert a.dtype.ordered and list(a.cat.categories) == ["low", "mid", "high"]
    assert a.tolist()[:2] == ["low", "mid"] and pd.isna(a.iloc[2])
    np.testing.assert_array_equal(out["B"].isna(), [False, True, False, True])


def test_categories_are_the_labels_not_the_values_present():
    df = pd.DataFrame({"A": [2.0, 2.0]})
    out = labels_to_categoricals(
        df.copy(),
        {"A": {1: "a", 2: "b", 3: "c", 9: "m"}},
        {"A": [{"lo": 9, "hi": 9}]},
        ordered=True,
        all_labels=True,
    )
    assert list(out["A"].cat.categories) == ["a", "b", "c"]
    present = labels_to_categoricals(df.copy(), {"A": {1: "a", 2: "b"}})
    assert list(present["A"].cat.categories) == ["b"] and not present["A"].dtype.ordered


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data file"):
        ColumnFile(tmp_path / "none.sav")
    (tmp_path / "d.csv.gz").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read 'd.csv.gz' column by column"):
        ColumnFile(tmp_path / "d.csv.gz")
    (tmp_path / "bad.sav").write_bytes(b"not spss")
    with pytest.raises(ValueError, match="cannot read .*bad.sav.* as a .sav file"):
        ColumnFile(tmp_path / "bad.sav")
