"""Where a :class:`~pywemix.SurveyData` takes its columns from.

Every source has ``names`` (a :class:`~pywemix.io.NameIndex`), ``where``
(its name in messages), ``n_rows``, ``known_rows`` (None when counting
would read data), ``index``, ``cache_folder`` and ``read(columns)``
returning those columns (pandas, or Dask for a Parquet folder), and
``lazy`` (whether columns are read from disk when asked for).
"""

from __future__ import annotations

import glob
import os

import pandas as pd

from ..io.columns import ColumnFile, NameIndex
from ..io.tables import require

__all__ = ["FrameSource", "FileSource", "DatasetSource", "DaskSource", "open_source", "is_dask"]


def is_dask(data) -> bool:
    """Whether ``data`` is a Dask DataFrame (without importing Dask)."""
    return (type(data).__module__ or "").startswith("dask") and hasattr(data, "npartitions")


class FrameSource:
    """A pandas DataFrame already in memory."""

    lazy = False

    def __init__(self, df: pd.DataFrame, where: str = "the data"):
        self.df = df
        self.where = where
        self.names = NameIndex(df.columns, where)
        self.n_rows = self.known_rows = len(df)
        self.index = df.index
        self.cache_folder = None

    def read(self, columns) -> pd.DataFrame:
        """
        Read columns.

        Parameters
        ----------
        columns : list of str
            Column names, as the source spells them.

        Returns
        -------
        DataFrame
            The columns, one row per row of the frame.
        """
        return self.df[list(columns)]


class FileSource:
    """An SPSS, SAS, Stata, CSV or Parquet file, read column by column
    (:class:`~pywemix.io.ColumnFile`), through the column cache."""

    lazy = True

    def __init__(self, path, cache=True, encoding=None):
        self.file = ColumnFile(path, cache=cache, encoding=encoding)
        self.where = repr(self.file.name)
        self.names = self.file.names
        self.path = self.file.path
        self.cache_folder = self.file.cache.folder

    @property
    def n_rows(self) -> int:
        """Number of rows of the file (counted when not known from its metadata)."""
        return self.file.n_rows

    @property
    def known_rows(self):
        """Number of rows if known without reading the file, else None."""
        return self.file.known_rows

    @property
    def index(self) -> pd.RangeIndex:
        """The row index of the columns read: 0 .. n_rows - 1."""
        return pd.RangeIndex(self.n_rows)

    def read(self, columns) -> pd.DataFrame:
        """
        Read columns.

        Parameters
        ----------
        columns : list of str
            Column names, as the source spells them.

        Returns
        -------
        DataFrame
            The columns, read in one pass (or from the column cache).
        """
        return self.file.read(columns)


class DatasetSource:
    """A folder of Parquet files read into pandas column by column (pyarrow)."""

    lazy = True

    def __init__(self, path):
        require("pyarrow", path)
        import pyarrow.dataset as ds

        self.path = path
        self.dataset = ds.dataset(path, format="parquet")
        self.where = repr(os.path.basename(os.path.normpath(path)))
        self.names = NameIndex(
            [n for n in self.dataset.schema.names if not n.startswith("__index_level_")], self.where
        )
        self.n_rows = self.known_rows = self.dataset.count_rows()
        self.index = pd.RangeIndex(self.n_rows)
        self.cache_folder = None

    def read(self, columns) -> pd.DataFrame:
        """
        Read columns.

        Parameters
        ----------
        columns : list of str
            Column names, as the source spells them.

        Returns
        -------
        DataFrame
            The columns of every file, in pandas, with a fresh range index.
        """
        return self.dataset.to_table(columns=list(columns)).to_pandas().reset_index(drop=True)


class DaskSource:
    """A Dask DataFrame (a Parquet folder read by Dask): columns stay lazy."""

    lazy = True

    def __init__(self, ddf, where: str = "the Dask DataFrame"):
        self.ddf = ddf
        self.where = where
        self.names = NameIndex(ddf.columns, where)
        self.index = self.known_rows = self.cache_folder = None

    @property
    def n_rows(self) -> int:
        """Number of rows (computed: one pass over the files)."""
        return int(self.ddf.shape[0].compute())

    def read(self, columns):
        """
        Select columns, lazily.

        Parameters
        ----------
        columns : list of str
            Column names.

        Returns
        -------
        dask.dataframe.DataFrame
            The columns (nothing is computed).
        """
        return self.ddf[list(columns)]


def open_source(path, cache=True, backend=None, encoding=None):
    """The source of a file, a folder of Parquet files or a glob.

    ``backend``: ``"dask"`` (default for a folder or glob) or ``"pandas"``.
    """
    if backend not in (None, "pandas", "dask"):
        raise ValueError(f"backend must be 'pandas', 'dask' or None, got {backend!r}")
    try:
        text = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"path must be a file name (str or path-like), got {type(path).__name__}"
        ) from None
    folder = os.path.isdir(text) or (not os.path.exists(text) and glob.has_magic(text))
    if not folder:
        if backend == "dask":
            raise ValueError(
                f"backend='dask' reads a folder of Parquet files; {text!r} is a "
                "single file (read it with backend=None)"
            )
        return FileSource(text, cache=cache, encoding=encoding)
    if os.path.isdir(text) and not glob.glob(os.path.join(text, "**", "*.parquet"), recursive=True):
        raise ValueError(f"folder {text!r} holds no Parquet files")
    if backend == "pandas":
        return DatasetSource(text)
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(
            f"reading the Parquet folder {text!r} with Dask needs the package "
            "dask: pip install 'pywemix[dask]', or pass backend='pandas'"
        ) from None
    return DaskSource(dd.read_parquet(text), repr(os.path.basename(os.path.normpath(text))))
