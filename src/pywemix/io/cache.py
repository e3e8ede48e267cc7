"""The column cache: columns read from a data file, kept as Parquet files.

Reading some columns of an SPSS, SAS, Stata or CSV file means one pass over
the whole file (those formats store rows, not columns). The columns read are
therefore kept, one Parquet file per column, so that a later read of them
takes seconds.

Where (``read_survey(..., cache=...)``):

- ``cache=True`` (default): ``$PYWEMIX_CACHE_DIR`` if set, else
  ``$XDG_CACHE_HOME/pywemix/columns``, else ``~/.cache/pywemix/columns``
  (:func:`cache_root`); each data file gets a folder
  ``<file name>-<hash of its absolute path>`` there;
- ``cache="beside"``: a folder ``<file name>.pywemix-cache`` beside the file;
- ``cache="some/folder"``: that folder instead of the default root;
- ``cache=False``: no cache.

Never stale: a cache folder records its file's size, modification time
(nanoseconds) and a fingerprint (a hash of the file's first and last MiB),
and the cache format's version. When any of them differs from the file as it
is now, the folder's columns are deleted before anything is read from it. A
cached column holds the column as it was converted (value labels as
categoricals, user-missing codes as missing, ids as integers).
:func:`clear_cache` deletes the cache of a file, or all of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile

import pandas as pd

from ..warnings import PerformanceWarning, warn

__all__ = ["ColumnCache", "cache_root", "clear_cache", "CACHE_VERSION"]

#: Bumped whenever the way columns are converted changes: older caches are
#: then rebuilt, not served.
CACHE_VERSION = 1
_FINGERPRINT_BYTES = 1 << 20
_SAFE = re.compile(r"^[A-Za-z0-9_.]{1,80}$")


def cache_root() -> str:
    """
    Return the default cache folder (see the module's documentation).

    Returns
    -------
    str
        ``$PYWEMIX_CACHE_DIR``, else ``$XDG_CACHE_HOME/pywemix/columns``, else
        ``~/.cache/pywemix/columns``.
    """
    env = os.environ.get("PYWEMIX_CACHE_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pywemix", "columns")


def cache_folder(path: str, cache) -> str | None:
    """The cache folder of data file ``path`` for a ``cache=`` argument."""
    if cache is False or cache is None:
        return None
    path = os.path.abspath(path)
    name = os.path.basename(path.rstrip(os.sep))
    if isinstance(cache, str) and cache == "beside":
        return os.path.join(os.path.dirname(path), name + ".pywemix-cache")
    if cache is True:
        root = cache_root()
    elif isinstance(cache, (str, os.PathLike)):
        root = os.path.abspath(os.fspath(cache))
    else:
        raise TypeError(f"cache must be True, False, 'beside' or a folder, got {cache!r}")
    digest = hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return os.path.join(root, f"{name}-{digest}")


def file_state(path: str) -> dict:
    """What identifies a version of a file: size, mtime and a fingerprint."""
    st = os.stat(path)
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        h.update(fh.read(_FINGERPRINT_BYTES))
        if st.st_size > 2 * _FINGERPRINT_BYTES:
            fh.seek(-_FINGERPRINT_BYTES, os.SEEK_END)
            h.update(fh.read(_FINGERPRINT_BYTES))
    return {
        "path": os.path.abspath(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "fingerprint": h.hexdigest(),
        "version": CACHE_VERSION,
    }


class ColumnCache:
    """Columns of one data file, each kept as a Parquet file in a folder.

    Parameters
    ----------
    path : str
        The data file.
    cache : bool, str or path-like
        Where (see the module's documentation).

    Attributes
    ----------
    folder : str or None
        The cache folder; None when caching is off or the folder cannot be
        written (then a :class:`~pywemix.PerformanceWarning` says so once).
    """

    def __init__(self, path, cache=True):
        self.path = os.path.abspath(os.fspath(path))
        self.folder = cache_folder(self.path, cache)
        if self.folder is not None:
            self._validate()

    def _validate(self) -> None:
        """Empty the folder when it holds another version of the file."""
        assert self.folder is not None  # called when caching is on
        state = file_state(self.path)
        record = os.path.join(self.folder, "source.json")
        try:
            with open(record) as fh:
                if json.load(fh) == state:
                    return
        except (OSError, ValueError):
            pass
        try:
            if os.path.isdir(self.folder):
                shutil.rmtree(self.folder)
            os.makedirs(self.folder, exist_ok=True)
            _atomic_write(record, json.dumps(state, indent=1).encode())
        except OSError as exc:
            warn(
                f"the column cache folder {self.folder!r} cannot be written ({exc}): "
                "every read goes back to the data file; pass cache= another folder",
                PerformanceWarning,
            )
            self.folder = None

    def file_of(self, column: str) -> str:
        """
        Return the Parquet file holding a column (whether or not it exists).

        Parameters
        ----------
        column : str
            The column's name.

        Returns
        -------
        str
            The file's path in :attr:`folder`.
        """
        digest = hashlib.sha1(column.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = column if _SAFE.match(column) else "col"
        assert self.folder is not None  # called when caching is on
        return os.path.join(self.folder, f"{safe}-{digest}.parquet")

    def cached(self, columns: list) -> list:
        """
        List the columns that are in the cache.

        Parameters
        ----------
        columns : list of str
            Column names.

        Returns
        -------
        list of str
            Those of ``columns`` that are cached (none when caching is off).
        """
        if self.folder is None:
            return []
        return [c for c in columns if os.path.exists(self.file_of(c))]

    def read(self, columns: list) -> pd.DataFrame:
        """
        Read cached columns.

        Parameters
        ----------
        columns : list of str
            Column names, every one cached.

        Returns
        -------
        DataFrame
            The columns, in that order.
        """
        frames = [pd.read_parquet(self.file_of(c)) for c in columns]
        out = pd.concat(frames, axis=1) if frames else pd.DataFrame()
        out.columns = list(columns)
        return out

    def write(self, df: pd.DataFrame) -> None:
        """
        Keep every column of a frame in the cache.

        A cache that cannot be written warns (PerformanceWarning) and keeps
        nothing.

        Parameters
        ----------
        df : DataFrame
            Columns read from the data file, one row per row of the file.
        """
        if self.folder is None:
            return
        try:
            for c in df.columns:
                part = df[[c]].reset_index(drop=True)
                part.columns = [str(c)]
                _atomic_parquet(part, self.file_of(c))
        except OSError as exc:
            warn(
                f"writing the column cache in {self.folder!r} failed ({exc}); the "
                "columns read are not cached",
                PerformanceWarning,
            )


def _atomic_write(target: str, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _atomic_parquet(df: pd.DataFrame, target: str) -> None:
    """Write to a temporary file and rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def clear_cache(path: str | os.PathLike | None = None, cache=True) -> None:
    """
    Delete the column cache of a data file, or the whole cache.

    Parameters
    ----------
    path : str or path-like, optional
        The data file whose cached columns are deleted; None deletes the
        whole cache root given by ``cache``.
    cache : bool, str or path-like, default True
        As ``read_survey(cache=)``: True is :func:`cache_root`.
    """
    if path is None:
        root = cache_root() if cache is True else os.fspath(cache)
        if os.path.isdir(root):
            shutil.rmtree(root)
        return
    folder = cache_folder(os.fspath(path), cache)
    if folder is not None and os.path.isdir(folder):
        shutil.rmtree(folder)
