"""Reading survey data files: CSV (also compressed), Parquet, SPSS, SAS and Stata.

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
        ``.csv`` / ``.txt`` / ``.tsv`` (also compressed: ``.gz``, ``.bz2``,
        ``.xz``, ``.zip``, ``.zst``), ``.parquet``, SPSS ``.sav``, SAS
        ``.sas7bdat`` / ``.xpt``, Stata ``.dta``.
    **kwargs
        Passed to the underlying reader (pandas for CSV and Parquet).

    Returns
    -------
    DataFrame
        Labelled SPSS/SAS/Stata variables become categoricals.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If ``path`` is a directory, has an unknown extension, or cannot be
        read (empty, corrupt or not in the format its extension says).
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a file name (str or path-like), got "
                        f"{type(path).__name__}") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a data file")
    ext, compressed = _extension(path)
    if compressed and ext not in _TEXT:
        kind = f"{ext!r} files" if ext else "files without a data extension"
        raise ValueError(f"compressed {kind} are not supported ({path!r}): only CSV and "
                         "TSV files may be compressed (.csv.gz, .tsv.zip, ...)")
    if ext in _TEXT:
        kw = dict(sep="\t", **kwargs) if ext == ".tsv" and "sep" not in kwargs \
            and "delimiter" not in kwargs else kwargs
        return _guarded(path, "a CSV/TSV file", pd.read_csv, path, **kw)
    if ext in (".parquet", ".pq"):
        return _guarded(path, "a Parquet file", pd.read_parquet, path, **kwargs)
    if ext in _READSTAT:
        return _guarded(path, f"a {ext} file", _readstat, path, _READSTAT[ext])
    raise ValueError(
        f"unknown data file type {ext!r} for {path!r}: use .csv, .tsv, .parquet, .sav, "
        ".sas7bdat, .xpt or .dta (CSV and TSV may be compressed: .csv.gz, .csv.zip, ...)")


_TEXT = (".csv", ".txt", ".tsv")
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst", ".tar")


def _extension(path):
    """(data extension, whether compressed): ``x.csv.gz`` -> ``(".csv", True)``."""
    root, ext = os.path.splitext(path)
    if ext.lower() in _COMPRESSED:
        return os.path.splitext(root)[1].lower(), True
    return ext.lower(), False


def _guarded(path, what, reader, *args, **kwargs):
    """``reader(*args, **kwargs)``, with read failures as a ValueError naming the file."""
    try:
        return reader(*args, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"data file {path!r} is empty (no columns to read)") from None
    except (TypeError, ImportError, MemoryError):
        raise  # a bad keyword argument or a missing optional package
    except Exception as exc:  # pandas, pyarrow and pyreadstat raise their own errors
        raise ValueError(f"cannot read {path!r} as {what}: "
                         f"{type(exc).__name__}: {exc}") from exc
