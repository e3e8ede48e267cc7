"""Reading Parquet with Dask and fitting it on a scheduler (pywemix.dask.io;
``pywemix fit FORMULA 'folder/*.parquet' --scheduler ADDRESS``)."""

from __future__ import annotations

import json
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.cli import main

pytest.importorskip("pyarrow")
pytest.importorskip("dask.dataframe")

FORMULA = "pv1math ~ escs + st04q01 + (1|schoolid)"


def test_fit_parquet_folder_on_a_scheduler(capsys, tmp_path, dask_client):
    src = resources.files("pywemix") / "data" / "pisa_example.csv"
    with resources.as_file(src) as p:
        df = pd.read_csv(p)
    for k, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(tmp_path / f"part{k}.parquet")
    rc = main(
        [
            "fit",
            FORMULA,
            str(tmp_path / "*.parquet"),
            "--weights",
            "pwt1",
            "pwt2",
            "--cond-weights",
            "--scheduler",
            dask_client.scheduler.address,
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    d = json.loads(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = pywemix.mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True)
    assert list(d["params"]) == list(mem.params.index)
    np.testing.assert_allclose(list(d["params"].values()), mem.params, rtol=1e-8)
    np.testing.assert_allclose(list(d["bse"].values()), mem.bse, rtol=1e-8)
    assert d["llf"] == pytest.approx(mem.llf, rel=1e-8)
    assert d["nobs"] == mem.nobs


def test_read_parquet_reads_a_folder_or_a_glob(tmp_path):
    from pywemix.dask.io import read_parquet

    df = pd.DataFrame({"y": np.arange(6.0), "g": list("aabbcc")})
    df.iloc[:3].to_parquet(tmp_path / "part0.parquet")
    df.iloc[3:].to_parquet(tmp_path / "part1.parquet")
    for path in (tmp_path, str(tmp_path / "*.parquet")):
        back = read_parquet(path)
        assert back.npartitions == 2
        pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), df, check_dtype=False)
