"""Reading Parquet with Dask and connecting to a cluster (for the command line).

R has no equivalent; the command ``pywemix fit FORMULA 'data/*.parquet'
--scheduler ADDRESS`` uses these.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["read_parquet", "connect"]


def read_parquet(path):
    """A Dask DataFrame of the Parquet file(s) at ``path`` (a file, a folder or
    a glob such as ``'data/*.parquet'``)."""
    import dask.dataframe as dd

    return dd.read_parquet(path)


@contextmanager
def connect(scheduler: str):
    """A ``distributed.Client`` for the block, closed after it.

    Parameters
    ----------
    scheduler : str
        ``"local"`` starts a LocalCluster of worker processes on this machine;
        otherwise the scheduler's address (``tcp://host:8786``).
    """
    from distributed import Client, LocalCluster

    if scheduler == "local":
        with (
            LocalCluster(processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(scheduler) as client:
            yield client
