"""``pywemix fit FORMULA 'folder/*.parquet' --scheduler ADDRESS``."""
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
    rc = main(["fit", FORMULA, str(tmp_path / "*.parquet"), "--weights", "pwt1", "pwt2",
               "--cond-weights", "--scheduler", dask_client.scheduler.address, "--json"])
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
