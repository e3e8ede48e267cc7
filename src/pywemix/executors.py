"""Running many independent tasks: serially, in a concurrent.futures executor,
or on a Dask cluster.

One function, :func:`map_tasks`, serves every place where pywemix runs many
fits (plausible values, bootstrap refits, replicates, ``by=`` groups):

>>> from pywemix.executors import map_tasks
>>> map_tasks(None, pow, [1, 2, 3], shared=2)          # pow(2, item)
[2, 4, 8]

``executor`` may be

- ``None``: the tasks run one after the other in this process;
- any :class:`concurrent.futures.Executor` (or any object with a callable
  ``map`` method, used as ``executor.map``);
- a :class:`distributed.Client`: the shared data are sent to the workers once
  (``client.scatter``) and the tasks' results (not futures) are gathered.

Dask is imported only when a ``distributed.Client`` is passed, so nothing
here needs it installed.
"""
from __future__ import annotations

__all__ = ["check_executor", "is_dask_client", "map_tasks"]

#: Runs of at least this many tasks show a progress bar by default.
PROGRESS_MIN_TASKS = 20


def is_dask_client(executor) -> bool:
    """Whether ``executor`` is a :class:`distributed.Client` (no import of Dask
    unless the object comes from the ``distributed`` package)."""
    if not type(executor).__module__.split(".")[0] == "distributed":
        return False
    from distributed import Client
    return isinstance(executor, Client)


def check_executor(executor, name: str = "executor") -> None:
    """Raise TypeError unless ``executor`` is None, a Dask client, or has a
    callable ``map`` method (a concurrent.futures executor)."""
    if executor is None or is_dask_client(executor):
        return
    if not callable(getattr(executor, "map", None)):
        raise TypeError(f"{name} must have a callable map method (a concurrent.futures "
                        "executor) or be a distributed.Client, got "
                        f"{type(executor).__name__}")


def map_tasks(executor, fn, items, *, shared=None, progress=None, desc: str = "fits",
              unit: str = "task") -> list:
    """``[fn(item) for item in items]``, or ``[fn(shared, item) ...]``, on ``executor``.

    Parameters
    ----------
    executor : None, concurrent.futures.Executor or distributed.Client
        Where the tasks run (see the module notes).
    fn : callable
        Picklable (a module-level function or a picklable object) when the
        executor runs tasks in other processes.
    items : iterable
        One task per item.
    shared : object, optional
        Data every task needs (a data frame, a fitted model). When given, each
        task is ``fn(shared, item)``; a Dask client receives it once
        (``client.scatter(shared, broadcast=True)``) instead of with every task.
    progress : bool, optional
        Show a tqdm progress bar; default: when there are at least
        ``PROGRESS_MIN_TASKS`` tasks and tqdm is installed.
    desc, unit : str
        Labels of the progress bar.

    Returns
    -------
    list
        The results (never futures), in the order of ``items``. An exception
        raised by a task is raised here, after the tasks not yet run are
        cancelled.

    Raises
    ------
    TypeError
        If ``executor`` is none of the accepted kinds.
    """
    check_executor(executor)
    items = list(items)
    show = len(items) >= PROGRESS_MIN_TASKS if progress is None else bool(progress)
    bar = _bar(len(items), show, desc, unit, required=bool(progress))
    args = [items] if shared is None else [[shared] * len(items), items]
    try:
        if executor is not None and is_dask_client(executor):
            return _on_client(executor, fn, items, shared, bar)
        if executor is not None and callable(getattr(executor, "submit", None)):
            return _on_executor(executor, fn, args, bar)
        results = map(fn, *args) if executor is None else executor.map(fn, *args)
        out = []
        for r in results:
            out.append(r)
            bar.update(1)
        return out
    finally:
        bar.close()


def _on_executor(executor, fn, args, bar) -> list:
    """Submit every task, collect the results in order; on an error (or an
    interrupt) the tasks not yet started are cancelled before it is raised."""
    futures = [executor.submit(fn, *a) for a in zip(*args)]
    try:
        out = []
        for f in futures:
            out.append(f.result())
            bar.update(1)
        return out
    except BaseException:
        for f in futures:
            f.cancel()
        raise


def _on_client(client, fn, items, shared, bar) -> list:
    """Scatter ``shared`` once, map ``fn`` over ``items``, gather in order; on
    an error the remaining tasks are cancelled on the cluster."""
    from distributed import as_completed
    if shared is None:
        futures = client.map(fn, items, pure=False)
    else:
        handle = client.scatter(shared, broadcast=True)
        futures = client.map(fn, [handle] * len(items), items, pure=False)
    try:
        for done in as_completed(futures):
            if done.status == "error":
                done.result()  # raises the task's exception
            bar.update(1)
        return client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        for f in futures:
            f.release()


class _NoBar:
    def update(self, k):
        pass

    def close(self):
        pass


def _bar(n, show, desc, unit, required=False):
    """A tqdm bar of ``n`` steps, or a do-nothing one (not shown, or no tqdm).

    ``required`` (the user asked for ``progress=True``): ImportError naming
    the package when tqdm is missing.
    """
    if not show:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if required:
            raise ImportError(
                "progress=True needs the package tqdm, which is not installed (it comes "
                "with pywemix; reinstall pywemix, or: pip install tqdm, or pip install "
                "'pywemix[progress]'); or pass progress=False") from None
        return _NoBar()
    return tqdm(total=n, desc=desc, unit=unit)
