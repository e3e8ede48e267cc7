"""Reading data files: whole tables, or only the columns a model needs.

- :func:`read_data`: a CSV (also compressed), Parquet, SPSS, SAS or Stata
  file into a pandas DataFrame;
- :class:`ColumnFile`: one file's column names and labels from its metadata,
  and reads of some columns only, kept in a column cache
  (:class:`ColumnCache`, Parquet files in a cache folder) so that later reads
  take seconds. :func:`pywemix.read_survey` builds on it.
"""

from .cache import ColumnCache, cache_root, clear_cache
from .columns import ColumnFile, NameIndex
from .tables import read_data

__all__ = ["read_data", "ColumnFile", "ColumnCache", "NameIndex", "cache_root", "clear_cache"]
