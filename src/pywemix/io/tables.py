"""Reading survey data files: CSV (also compressed), Parquet, SPSS, SAS and Stata.

Parquet files are read with ``pyarrow``, SPSS, SAS and Stata files with
``pyreadstat`` (both installed with pywemix; the ``pywemix[files]`` extra
names them too). Value labels become pandas categoricals, in the order of
their codes; numeric columns holding only whole numbers (ids, counts) become
integers.
"""

from __future__ import annotations

import importlib
import os

import pandas as pd

from .labels import labels_to_categoricals, whole_numbers_as_int

__all__ = ["read_data", "require"]

_READSTAT = {
    ".sav": "read_sav",
    ".zsav": "read_sav",
    ".por": "read_por",
    ".sas7bdat": "read_sas7bdat",
    ".xpt": "read_xport",
    ".dta": "read_dta",
}


def require(module: str, path) -> None:
    """ImportError naming the package (and pywemix's extra) if it is missing."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"reading {os.path.basename(path)!r} needs the package {module}, which is not "
            f"installed (it comes with pywemix; reinstall pywemix, or: pip install "
            f"{module}, or pip install 'pywemix[files]')"
        ) from None


def _readstat(path, func):
    require("pyreadstat", path)
    import pyreadstat

    df, meta = getattr(pyreadstat, func)(path)
    labels = getattr(meta, "variable_value_labels", {}) or {}
    return whole_numbers_as_int(labels_to_categoricals(df, labels))


def read_data(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """
    Read a data file into a pandas DataFrame, by its extension.

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
        Labelled SPSS/SAS/Stata variables become categoricals; their numeric
        variables holding only whole numbers become ``int64`` (``Int64``
        when some values are missing), so that ids stay ``1``, not ``1.0``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If ``path`` is a directory, has an unknown extension, or cannot be
        read (empty, corrupt or not in the format its extension says).
    ImportError
        If the package that reads the format (pyarrow for Parquet,
        pyreadstat for SPSS, SAS and Stata) is not installed; the message
        names it.
    TypeError
        If ``path`` is not a file name.

    See Also
    --------
    pywemix.read_survey : Reads a survey's file column by column, with its
        plausible values, weights and replicates.

    Notes
    -----
    R equivalents: ``read.csv``, ``arrow::read_parquet``, ``haven::read_sav``,
    ``haven::read_sas``, ``haven::read_dta``.

    Examples
    --------
    >>> import os, tempfile
    >>> import pywemix
    >>> path = os.path.join(tempfile.mkdtemp(), "pisa.csv.gz")
    >>> pywemix.datasets.load_pisa().to_csv(path, index=False)
    >>> pywemix.read_data(path).shape
    (1184, 13)
    """
    path = existing_file(path)
    ext, compressed = _extension(path)
    if compressed and ext not in _TEXT:
        kind = f"{ext!r} files" if ext else "files without a data extension"
        raise ValueError(
            f"compressed {kind} are not supported ({path!r}): only CSV and "
            "TSV files may be compressed (.csv.gz, .tsv.zip, ...)"
        )
    if ext in _TEXT:
        kw = (
            dict(sep="\t", **kwargs)
            if ext == ".tsv" and "sep" not in kwargs and "delimiter" not in kwargs
            else kwargs
        )
        return _guarded(path, "a CSV/TSV file", pd.read_csv, path, **kw)
    if ext in (".parquet", ".pq"):
        if "engine" not in kwargs:
            require("pyarrow", path)
        return _guarded(path, "a Parquet file", pd.read_parquet, path, **kwargs)
    if ext in _READSTAT:
        return _guarded(path, f"a {ext} file", _readstat, path, _READSTAT[ext])
    raise ValueError(
        f"unknown data file type {ext!r} for {path!r}: use .csv, .tsv, .parquet, .sav, "
        ".sas7bdat, .xpt or .dta (CSV and TSV may be compressed: .csv.gz, .csv.zip, ...)"
    )


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
        raise ValueError(f"cannot read {path!r} as {what}: {type(exc).__name__}: {exc}") from exc


def existing_file(path) -> str:
    """``path`` as a string, checked to name an existing file (not a folder):
    TypeError, FileNotFoundError or ValueError saying which."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"path must be a file name (str or path-like), got {type(path).__name__}"
        ) from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a data file")
    return path
