"""Whether an object is a Dask DataFrame, and whether a Dask client is in use.

Nothing here imports Dask unless a Dask object is passed or a client is asked
for, so ``import pywemix`` does not need Dask installed.
"""

from __future__ import annotations

__all__ = ["is_dask_dataframe", "has_client"]


def is_dask_dataframe(data: object) -> bool:
    """
    Tell whether ``data`` is a Dask DataFrame.

    Imports Dask only for objects of the ``dask`` package.

    Parameters
    ----------
    data : object
        Anything.

    Returns
    -------
    bool
        Whether it is a ``dask.dataframe.DataFrame``.
    """
    if type(data).__module__.split(".")[0] not in ("dask", "dask_expr"):
        return False
    import dask.dataframe as dd

    return isinstance(data, dd.DataFrame)


def has_client() -> bool:
    """
    Tell whether a ``distributed.Client`` is in use in this process.

    Returns
    -------
    bool
        False also when ``distributed`` is not installed.
    """
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return False
    return True
