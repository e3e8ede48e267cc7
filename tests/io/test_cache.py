"""The column cache: later reads come from it, a changed file is never served
from it, and its location is configurable."""

import os

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pywemix.io import ColumnFile, cache_root, clear_cache
from pywemix.io.cache import ColumnCache


def _write(path, seed=0, n=50):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "ID": np.arange(n, dtype=float),
            "Y": rng.normal(size=n),
            "SEX": rng.integers(1, 3, n).astype(float),
        }
    )
    pyreadstat.write_sav(df, str(path), variable_value_labels={"SEX": {1: "F", 2: "M"}})
    return df


def _no_file_reads(monkeypatch):
    def fail(self, names):
        raise AssertionError(f"read {names} from the file, not the cache")

    monkeypatch.setattr(ColumnFile, "_read_file", fail)


def test_second_read_comes_from_the_cache(tmp_path, monkeypatch):
    df = _write(tmp_path / "d.sav")
    first = ColumnFile(tmp_path / "d.sav", cache=tmp_path / "c").read(["y", "sex", "id"])
    _no_file_reads(monkeypatch)
    again = ColumnFile(tmp_path / "d.sav", cache=tmp_path / "c").read(["Y", "SEX", "ID"])
    pd.testing.assert_frame_equal(first, again)
    assert again["SEX"].dtype.ordered and again["ID"].dtype == "int64"
    np.testing.assert_allclose(again["Y"], df["Y"])


def test_part_cached_part_read(tmp_path, monkeypatch):
    _write(tmp_path / "d.sav")
    ColumnFile(tmp_path / "d.sav", cache=tmp_path / "c").read(["Y"])
    seen = []
    real = ColumnFile._read_file
    monkeypatch.setattr(
        ColumnFile, "_read_file", lambda self, names: seen.append(names) or real(self, names)
    )
    out = ColumnFile(tmp_path / "d.sav", cache=tmp_path / "c").read(["SEX", "Y"])
    assert seen == [["SEX"]] and list(out.columns) == ["SEX", "Y"]


def test_a_changed_file_is_never_served_from_the_cache(tmp_path):
    path = tmp_path / "d.sav"
    _write(path, seed=1)
    old = ColumnFile(path, cache=tmp_path / "c").read(["Y"])
    stat = os.stat(path)
    new = _write(path, seed=2)  # same size, new values
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    got = ColumnFile(path, cache=tmp_path / "c").read(["Y"])
    np.testing.assert_allclose(got["Y"], new["Y"])
    assert not np.allclose(old["Y"], got["Y"])


def test_locations(tmp_path, monkeypatch):
    _write(tmp_path / "d.sav")
    monkeypatch.setenv("PYWEMIX_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root() == str(tmp_path / "env")
    f = ColumnFile(tmp_path / "d.sav")
    assert f.cache.folder.startswith(str(tmp_path / "env") + os.sep)
    f.read(["Y"])
    assert len(os.listdir(f.cache.folder)) == 2  # source.json + one column
    beside = ColumnFile(tmp_path / "d.sav", cache="beside")
    assert beside.cache.folder == str(tmp_path / "d.sav.pywemix-cache")
    off = ColumnFile(tmp_path / "d.sav", cache=False)
    off.read(["Y"])
    assert off.cache.folder is None
    clear_cache(tmp_path / "d.sav")
    assert not os.path.exists(f.cache.folder)
    with pytest.raises(TypeError, match="cache must be"):
        ColumnCache(tmp_path / "d.sav", cache=3)


def test_parquet_files_are_not_cached(tmp_path):
    pd.DataFrame({"A": [1.0, 2.0]}).to_parquet(tmp_path / "d.parquet")
    f = ColumnFile(tmp_path / "d.parquet", cache=tmp_path / "c")
    assert f.cache.folder is None and f.read(["a"])["A"].tolist() == [1.0, 2.0]
    assert not os.path.exists(tmp_path / "c")
