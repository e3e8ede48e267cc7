"""Reading survey data files: CSV, Parquet, SPSS, SAS and Stata.

SPSS, SAS and Stata files need the optional ``pyreadstat`` package
(``pip install pywemix[files]``); their value labels become pandas
categoricals, in the order of their codes.
"""
from __future__ import annotations

import os

import pandas as pd

__all__ = ["read_data"]

_READSTAT = {".sav": "read_sav", ".zsav": "read_sav", ".por": "read_por",
             ".sas7bdat": "read_sas7bdat", ".xpt": "read_xport", ".dta": "read_dta"}


def _readstat(path, func):
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"reading {os.path.basename(path)!r} needs the optional package pyreadstat: "
            "pip install 'pywemix[files]'") from None
    df, meta = getattr(pyreadstat, func)(path)
    labels = getattr(meta, "variable_value_labels", {}) or {}
    for col, mapping in labels.items():
        if col not in df.columns or not mapping:
            continue
        values = df[col]
        present = set(values.dropna().unique())
        if not present <= set(mapping):
            continue  # partly labelled: keep the raw values
        order = [mapping[k] for k in sorted(mapping) if k in present]
        order = list(dict.fromkeys(order))
        df[col] = pd.Categorical(values.map(mapping), categories=order)
    return df


def read_data(path, **kwargs) -> pd.DataFrame:
    """Read a data file into a pandas DataFrame, by its extension.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` / ``.txt`` / ``.tsv``, ``.parquet``, SPSS ``.sav``, SAS
        ``.sas7bdat`` / ``.xpt``, Stata ``.dta``.
    **kwargs
        Passed to the underlying reader (pandas for CSV and Parquet).

    Returns
    -------
    DataFrame
        Labelled SPSS/SAS/Stata variables become categoricals.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".txt"):
        return pd.read_csv(path, **kwargs)
    if ext == ".tsv":
        return pd.read_csv(path, sep="\t", **kwargs)
    if ext in (".parquet", ".pq"):
        return pd.read_parquet(path, **kwargs)
    if ext in _READSTAT:
        return _readstat(path, _READSTAT[ext])
    raise ValueError(
        f"unknown data file type {ext!r} for {path!r}: use .csv, .tsv, .parquet, .sav, "
        ".sas7bdat, .xpt or .dta")
