"""One data file's columns: names from its metadata, reads of some columns only.

An SPSS, SAS or Stata file's metadata (column names, variable and value
labels, user-missing codes) is read without its data; a read of some columns
makes one pass over the file and keeps only those
(``pyreadstat``'s ``usecols``), then keeps them in the column cache. Parquet
files are read column by column by ``pyarrow`` (no cache needed), CSV files
with pandas' ``usecols`` (cached, as parsing text is slow).

Column names are kept as the file spells them; lookups ignore case
(:class:`NameIndex`): ``escs`` finds ``ESCS``. A name written exactly as in
the file always wins; two columns that differ only in case must be named
exactly.
"""

from __future__ import annotations

import difflib
import os

import pandas as pd

from .cache import ColumnCache
from .labels import labels_to_categoricals, whole_numbers_as_int
from .tables import _READSTAT, _TEXT, _extension, _guarded, existing_file, require

__all__ = ["ColumnFile", "NameIndex", "FORMATS"]

#: Extensions read column by column, and their kind.
FORMATS = {
    **{ext: "readstat" for ext in _READSTAT},
    ".parquet": "parquet",
    ".pq": "parquet",
    **{ext: "text" for ext in _TEXT},
}


class NameIndex:
    """Column names with lookup ignoring case.

    Parameters
    ----------
    names : iterable of str
        The names as the file spells them.
    where : str
        What holds them, for error messages (``"student.sav"``).
    """

    def __init__(self, names, where: str = "the data"):
        self.names = [str(n) for n in names]
        self.where = where
        self._exact = set(self.names)
        self._lower: dict = {}
        for n in self.names:
            self._lower.setdefault(n.lower(), []).append(n)

    def __contains__(self, name) -> bool:
        return self.find(name) is not None

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def find(self, name: str) -> str | None:
        """
        Find the file's spelling of a name, ignoring case.

        Parameters
        ----------
        name : str
            A column name, any case.

        Returns
        -------
        str or None
            The name as the file spells it (an exact match first), or None if
            absent.

        Raises
        ------
        ValueError
            If the name matches several columns ignoring case.
        """
        if not isinstance(name, str):
            return None
        if name in self._exact:
            return name
        hits = self._lower.get(name.lower(), [])
        if len(hits) > 1:
            raise ValueError(
                f"column {name!r} matches several columns of {self.where} "
                f"ignoring case: {hits}; write it exactly as one of them"
            )
        return hits[0] if hits else None

    def resolve(self, name: str, what: str = "column") -> str:
        """
        Return the file's spelling of a name that must be there.

        Parameters
        ----------
        name : str
            A column name, any case.
        what : str, default "column"
            What the name is, for the error message.

        Returns
        -------
        str
            The name as the file spells it.

        Raises
        ------
        ValueError
            If absent (naming close matches) or ambiguous.
        """
        found = self.find(name)
        if found is None:
            close = difflib.get_close_matches(str(name).lower(), list(self._lower), n=3)
            hint = f"; did you mean {', '.join(self._lower[c][0] for c in close)}?" if close else ""
            raise ValueError(f"{what} {name!r} is not in {self.where}{hint}")
        return found


class ColumnFile:
    """A data file read column by column, through a column cache.

    R equivalent: the connection EdSurvey's ``readPISA`` / ``readTIMSS`` open
    (LaF files), read by ``getData``.

    Parameters
    ----------
    path : str or path-like
        SPSS ``.sav`` / ``.zsav`` / ``.por``, SAS ``.sas7bdat`` / ``.xpt``,
        Stata ``.dta``, Parquet ``.parquet`` or CSV ``.csv`` / ``.tsv`` /
        ``.txt`` (not compressed).
    cache : bool, str or path-like, default True
        The column cache (:mod:`pywemix.io.cache`); Parquet files are never
        cached.
    encoding : str, optional
        Text encoding of SPSS/SAS/Stata files whose metadata is wrong.

    Attributes
    ----------
    names : NameIndex
        Column names (lookup ignoring case).
    variable_labels : dict
        Column -> label (SPSS/SAS/Stata), for :meth:`pywemix.SurveyData.describe`.
    value_labels, missing_ranges : dict
        Column -> {code: label}; column -> user-missing ranges (SPSS).
    """

    def __init__(self, path, cache=True, encoding: str | None = None):
        self.path = os.path.abspath(existing_file(path))
        self.name = os.path.basename(self.path)
        ext, compressed = _extension(self.path)
        if compressed or ext not in FORMATS:
            raise ValueError(
                f"cannot read {self.name!r} column by column: use an SPSS "
                "(.sav, .zsav), SAS (.sas7bdat, .xpt), Stata (.dta), Parquet or "
                "uncompressed CSV file (pywemix.read_data reads compressed CSV)"
            )
        self.kind = FORMATS[ext]
        self.ext = ext
        self.encoding = encoding
        self._n_rows: int | None = None
        self.variable_labels: dict = {}
        self.value_labels: dict = {}
        self.missing_ranges: dict = {}
        self.names = NameIndex(self._read_names(), where=repr(self.name))
        self.cache = ColumnCache(self.path, cache if self.kind != "parquet" else False)

    # -- metadata -----------------------------------------------------------
    def _read_names(self) -> list:
        if self.kind == "parquet":
            require("pyarrow", self.path)
            import pyarrow.parquet as pq

            f = _guarded(self.path, "a Parquet file", pq.ParquetFile, self.path)
            self._n_rows = f.metadata.num_rows
            return [n for n in f.schema_arrow.names if not n.startswith("__index_level_")]
        if self.kind == "text":
            sep = "\t" if self.ext == ".tsv" else ","
            head = _guarded(self.path, "a CSV file", pd.read_csv, self.path, nrows=0, sep=sep)
            return list(head.columns)
        require("pyreadstat", self.path)
        _, meta = _guarded(
            self.path, f"a {self.ext} file", self._readstat, metadataonly=True, user_missing=True
        )
        self._n_rows = meta.number_rows if (meta.number_rows or -1) >= 0 else None
        names = list(meta.column_names)
        self.variable_labels = {n: lab for n, lab in zip(names, meta.column_labels or []) if lab}
        self.value_labels = dict(getattr(meta, "variable_value_labels", {}) or {})
        self.missing_ranges = dict(getattr(meta, "missing_ranges", {}) or {})
        return names

    def _readstat(self, **kwargs):
        import pyreadstat

        reader = getattr(pyreadstat, _READSTAT[self.ext])
        if self.encoding is not None:
            kwargs["encoding"] = self.encoding
        if self.ext in (".por", ".xpt"):  # readers without user-missing values or encoding
            kwargs.pop("user_missing", None)
            if self.ext == ".por":
                kwargs.pop("encoding", None)
        return reader(self.path, **kwargs)

    @property
    def known_rows(self):
        """
        Number of rows if known without reading data.

        None for a CSV file not read yet.
        """
        return self._n_rows

    @property
    def n_rows(self) -> int:
        """Number of rows (a CSV file is counted on first use)."""
        if self._n_rows is None:
            self._n_rows = len(self.read([self.names.names[0]]))
        return self._n_rows

    # -- data ---------------------------------------------------------------
    def read(self, columns: list) -> pd.DataFrame:
        """
        Read columns: from the cache where they are in it, the rest in one pass.

        Parameters
        ----------
        columns : list of str
            Column names, resolved ignoring case.

        Returns
        -------
        DataFrame
            Columns as the file spells them, in the order asked, with a
            RangeIndex of the file's rows.
        """
        names = list(dict.fromkeys(self.names.resolve(c) for c in columns))
        cached = set(self.cache.cached(names))
        parts = []
        if cached:
            parts.append(self.cache.read([c for c in names if c in cached]))
        todo = [c for c in names if c not in cached]
        if todo:
            fresh = self._read_file(todo)
            self.cache.write(fresh)
            parts.append(fresh)
        out = (
            pd.concat(parts, axis=1)
            if len(parts) > 1
            else (parts[0] if parts else pd.DataFrame(index=pd.RangeIndex(self.n_rows)))
        )
        if self._n_rows is None:
            self._n_rows = len(out)
        return out[names]

    def _read_file(self, names) -> pd.DataFrame:
        """One pass over the file for ``names``, values converted."""
        if self.kind == "parquet":
            df = _guarded(self.path, "a Parquet file", pd.read_parquet, self.path, columns=names)
            return df.reset_index(drop=True)
        if self.kind == "text":
            sep = "\t" if self.ext == ".tsv" else ","
            df = _guarded(self.path, "a CSV file", pd.read_csv, self.path, usecols=names, sep=sep)
            return df[names]
        df, _ = _guarded(self.path, f"a {self.ext} file", self._readstat, usecols=names)
        missing = [c for c in names if c not in df.columns]
        if missing:  # pragma: no cover - names come from the file's own metadata
            raise ValueError(f"columns {missing} could not be read from {self.name!r}")
        labels = {c: self.value_labels[c] for c in names if c in self.value_labels}
        df = labels_to_categoricals(
            df[names], labels, self.missing_ranges, ordered=True, all_labels=True
        )
        return whole_numbers_as_int(df)
