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

Tasks run in parallel use one BLAS thread each (:func:`one_blas_thread`), as
Dask's worker processes do (``OPENBLAS_NUM_THREADS=1``): each task gets one
core, and the BLAS threads of several tasks never compete for the same
cores (which can make small matrix products tens of times slower).

Tasks in a process whose glibc allocator was told to give memory back
eagerly (``MALLOC_TRIM_THRESHOLD_`` in the environment, which Dask's nanny
sets for every worker process) keep freed memory for reuse while they run
(:func:`reusing_freed_memory`), and give it back when they end. Without
that, every array of 128 KiB or more is a fresh ``mmap`` whose pages fault
in one by one: a country's plausible-value x replicate fits took twice the
CPU time (half of it in the kernel) on a Dask worker as in this process.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = [
    "check_executor",
    "is_dask_client",
    "map_tasks",
    "map_chunks",
    "one_blas_thread",
    "reusing_freed_memory",
    "executor_workers",
]

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
        raise TypeError(
            f"{name} must have a callable map method (a concurrent.futures "
            "executor) or be a distributed.Client, got "
            f"{type(executor).__name__}"
        )


class _ProcessSetting:
    """A setting of this process held while any block needs it: nested and
    concurrent uses (threads of a pool) are counted; the first calls
    ``begin()``, the last calls ``end(what begin returned)``."""

    def __init__(self, begin, end):
        self.begin, self.end = begin, end
        self.depth, self.state, self.lock = 0, None, threading.Lock()

    @contextmanager
    def held(self):
        with self.lock:
            if self.depth == 0:
                self.state = self.begin()
            self.depth += 1
        try:
            yield
        finally:
            with self.lock:
                self.depth -= 1
                if self.depth == 0:
                    self.end(self.state)
                    self.state = None


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _limit_blas():
    return _blas_controller().limit(limits=1, user_api="blas")


_ONE_BLAS_THREAD = _ProcessSetting(_limit_blas, lambda limiter: limiter.restore_original_limits())


def one_blas_thread():
    """Within the block (``with one_blas_thread(): ...``), BLAS libraries
    (OpenBLAS, MKL, ...) use one thread.

    Nested and concurrent uses (several threads of a thread pool) are
    counted: the first sets the limit, the last restores the threads the
    process had. Matrix products of the sizes pywemix's refits use gain
    nothing from more threads, and threads of several tasks running at once
    oversubscribe the cores.
    """
    return _ONE_BLAS_THREAD.held()


#: glibc's ``mallopt`` parameters (malloc.h) and the values tasks run with:
#: blocks below 32 MiB come from the heap, and up to 256 MiB of freed memory
#: stays at its top for the next arrays.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TASK_MMAP_THRESHOLD, _TASK_TRIM_THRESHOLD = 32 * 2**20, 256 * 2**20
#: glibc's own mmap threshold, used when the environment names none.
_GLIBC_MMAP_THRESHOLD = 128 * 2**10


@functools.cache
def _eager_glibc() -> Any:
    """The C library when it is glibc and the environment makes it give
    memory back eagerly (``MALLOC_TRIM_THRESHOLD_``, as Dask's nanny sets it);
    else None."""
    if not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl has no mallopt effect)
        return libc
    except (OSError, AttributeError):
        return None


def _env_bytes(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def reusing_freed_memory():
    """Within the block (``with reusing_freed_memory(): ...``), freed memory
    is kept for reuse; at its end it is given back to the system as the
    environment asks.

    Only acts in a process where glibc was told to trim eagerly
    (``MALLOC_TRIM_THRESHOLD_`` set, as in Dask's worker processes); else it
    does nothing. Nested and concurrent uses (several worker threads) are
    counted: the first relaxes the allocator, the last restores the
    environment's settings and calls ``malloc_trim(0)``.

    Notes
    -----
    With ``MALLOC_TRIM_THRESHOLD_`` set, glibc stops adapting its mmap
    threshold, so every block of 128 KiB or more is mapped and unmapped
    anew, and its pages fault in one by one on first use. The fits'
    temporary arrays are mostly of that size.
    """
    return nullcontext() if _eager_glibc() is None else _RELAXED_MALLOC.held()


def _relax_malloc():
    libc = _eager_glibc()
    libc.mallopt(_M_MMAP_THRESHOLD, _TASK_MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, _TASK_TRIM_THRESHOLD)


def _restore_malloc(_):
    libc = _eager_glibc()
    libc.mallopt(_M_MMAP_THRESHOLD, _env_bytes("MALLOC_MMAP_THRESHOLD_", _GLIBC_MMAP_THRESHOLD))
    libc.mallopt(_M_TRIM_THRESHOLD, _env_bytes("MALLOC_TRIM_THRESHOLD_", 0))
    libc.malloc_trim(0)


_RELAXED_MALLOC = _ProcessSetting(_relax_malloc, _restore_malloc)


class _OneThreadTask:
    """``fn`` run with one BLAS thread (picklable when ``fn`` is): a task in
    another process gets one core, as on Dask's workers, and reuses the
    memory it frees (:func:`reusing_freed_memory`)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        with one_blas_thread(), reusing_freed_memory():
            return self.fn(*args)


def map_tasks(
    executor, fn, items, *, shared=None, progress=None, desc: str = "fits", unit: str = "task"
) -> list:
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
            return _on_client(executor, _OneThreadTask(fn), items, shared, bar)
        if isinstance(executor, ThreadPoolExecutor):  # threads share this process's BLAS
            with one_blas_thread():
                return _on_executor(executor, fn, args, bar)
        if executor is not None and callable(getattr(executor, "submit", None)):
            return _on_executor(executor, _OneThreadTask(fn), args, bar)
        results = map(fn, *args) if executor is None else executor.map(fn, *args)
        out = []
        for r in results:
            out.append(r)
            bar.update(1)
        return out
    finally:
        bar.close()


def executor_workers(executor) -> int:
    """How many tasks ``executor`` runs at once: 1 for None, the worker
    threads of a Dask client, the ``max_workers`` of a ``concurrent.futures``
    pool (else the CPUs of this machine)."""
    if executor is None:
        return 1
    if is_dask_client(executor):
        return max(1, sum(executor.nthreads().values()))
    workers = getattr(executor, "_max_workers", None)  # ThreadPool/ProcessPoolExecutor
    return int(workers) if workers else (os.cpu_count() or 1)


def map_chunks(
    executor, fn, items, *, shared=None, progress=None, desc: str = "fits", unit: str = "task"
) -> list:
    """``[fn(shared, item) for item in items]`` run as one task per chunk of items.

    The items are split into as many contiguous chunks as ``executor`` runs
    tasks at once (:func:`executor_workers`; one chunk without an executor),
    and ``fn(shared, chunk)`` returns the list of a chunk's results: what a
    task keeps between its items (a design built for the first, reused by
    the others) is kept for the whole chunk, and a process pool receives
    ``shared`` once per chunk (a Dask cluster once, see :func:`map_tasks`).

    Returns
    -------
    list
        The results of all items, in their order.
    """
    items = list(items)
    n = max(1, min(len(items), executor_workers(executor)))
    bounds = [len(items) * k // n for k in range(n + 1)]
    chunks = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    done = map_tasks(executor, fn, chunks, shared=shared, progress=progress, desc=desc, unit=unit)
    return [r for chunk in done for r in chunk]


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
    """Scatter ``shared`` once to every worker, and items that are data
    (arrays, data frames: the groups of ``by=``) once each, so that each task
    runs where its data are; map ``fn`` over the items, gather in order; on
    an error the remaining tasks are cancelled on the cluster."""
    from distributed import as_completed

    held = []
    if any(hasattr(item, "shape") for item in items):
        items = held = client.scatter(list(items), hash=False)
    if shared is None:
        futures = client.map(fn, items, pure=False)
    else:
        handle = client.scatter(shared, broadcast=True, hash=False)
        # a list, tuple or dict is scattered element by element
        held = held + (
            list(handle.values())
            if isinstance(handle, dict)
            else list(handle)
            if isinstance(handle, (list, tuple))
            else [handle]
        )
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
        for f in futures + held:
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
                "'pywemix[progress]'); or pass progress=False"
            ) from None
        return _NoBar()
    return tqdm(total=n, desc=desc, unit=unit)
