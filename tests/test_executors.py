"""The executor adapter: serial, concurrent.futures and distributed.Client."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import pywemix
from pywemix.executors import check_executor, is_dask_client, map_tasks

from conftest import needs_reference, reference_data


def _scaled(shared, item):
    return shared["factor"] * item


def test_serial_and_threads_agree_in_order():
    items = list(range(25))
    serial = map_tasks(None, _scaled, items, shared={"factor": 3}, progress=False)
    with ThreadPoolExecutor(max_workers=2) as ex:
        threaded = map_tasks(ex, _scaled, items, shared={"factor": 3}, progress=False)
    assert serial == threaded == [3 * i for i in items]
    assert map_tasks(None, abs, [-1, 2]) == [1, 2]


def test_bad_executor_is_a_type_error():
    with pytest.raises(TypeError, match="executor must have a callable map method"):
        check_executor(object())
    assert not is_dask_client(ThreadPoolExecutor)


def test_client_returns_results_in_order(dask_client):
    assert is_dask_client(dask_client)
    items = list(range(30))
    out = map_tasks(dask_client, _scaled, items, shared={"factor": np.float64(2.0)}, progress=False)
    assert out == [2.0 * i for i in items]


class _Counted:
    """Shared data that count how often they are pickled (in this process)."""

    pickled = 0

    def __init__(self, factor):
        self.factor = factor

    def __getstate__(self):
        type(self).pickled += 1
        return {"factor": self.factor}

    def __getitem__(self, key):
        return self.factor


def test_client_sends_shared_data_once_not_per_task(dask_client):
    _Counted.pickled = 0
    items = list(range(30))
    out = map_tasks(dask_client, _scaled, items, shared=_Counted(4), progress=False)
    assert out == [4 * i for i in items]
    # serialised a few times for the scatter, not once per task
    assert 1 <= _Counted.pickled <= 5


def _divide(x):
    return 1 / x


def test_client_raises_task_errors(dask_client):
    with pytest.raises(ZeroDivisionError):
        map_tasks(dask_client, _divide, [1, 0], progress=False)


def test_progress_bar_on_long_runs(capsys):
    pytest.importorskip("tqdm")
    map_tasks(None, abs, range(25), desc="testing")
    assert "testing" in capsys.readouterr().err


@needs_reference
def test_plausible_values_on_a_client_are_results(dask_client):
    df = reference_data("pisa_s1.csv")
    pvs = {"pv1math": [f"pv{k}math" for k in range(1, 4)]}
    kw = dict(weights=["pwt1", "pwt2"], cond_weights=True, plausible_values=pvs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = pywemix.mix("pv1math ~ escs + (1|schoolid)", df, **kw)
        remote = pywemix.mix("pv1math ~ escs + (1|schoolid)", df, executor=dask_client, **kw)
    assert all(isinstance(f, pywemix.MixResult) for f in remote.fits)
    np.testing.assert_allclose(remote.params, local.params, rtol=1e-12)
    np.testing.assert_allclose(remote.bse, local.bse, rtol=1e-10)


@needs_reference
def test_bootstrap_lrt_on_a_client_equals_serial(dask_client):
    d = reference_data("sleepstudy.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", d)
        m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", d)
        serial = pywemix.bootstrap_lrt(m0, m1, n=300, seed=4, progress=False)
        remote = pywemix.bootstrap_lrt(m0, m1, n=300, seed=4, progress=False, executor=dask_client)
    np.testing.assert_array_equal(serial.replicates, remote.replicates)
    assert serial.p_value == remote.p_value


# -- errors cancel the tasks not yet run (issue 19) ------------------------------------


def _fail_first(shared, item):
    """Task 0 fails at once; the others wait a little and record that they ran."""
    import time

    if item == 0:
        raise ValueError("task 0 failed")
    time.sleep(0.05)
    shared.append(item)
    return item


def test_an_error_cancels_the_tasks_not_yet_started():
    ran = []
    with ThreadPoolExecutor(max_workers=1) as ex:
        with pytest.raises(ValueError, match="task 0 failed"):
            map_tasks(ex, _fail_first, range(40), shared=ran, progress=False)
        ex.shutdown(wait=True)
    assert len(ran) < 5  # the queued tasks were cancelled, not run after the error


def _slow_or_fail(item):
    import time

    if item == 0:
        raise ValueError("task 0 failed")
    time.sleep(0.5)
    return item


def test_client_cancels_the_remaining_tasks_on_error(dask_client):
    with pytest.raises(ValueError, match="task 0 failed"):
        map_tasks(dask_client, _slow_or_fail, range(40), progress=False)
    # the 39 slow tasks (about 10 s on 2 workers) do not keep running
    import time

    time.sleep(0.5)
    processing = dask_client.processing()
    assert sum(len(v) for v in processing.values()) == 0


# -- chunks sized for the executor and one BLAS thread per task (issue 22) ---------------


def _chunk_sizes(shared, chunk):
    return [(len(chunk), shared * x) for x in chunk]


def test_chunks_one_per_worker_in_order():
    from pywemix.executors import executor_workers, map_chunks

    items = list(range(7))
    assert map_chunks(None, _chunk_sizes, items, shared=2) == [(7, 2 * x) for x in items]
    with ThreadPoolExecutor(max_workers=3) as ex:
        assert executor_workers(ex) == 3
        out = map_chunks(ex, _chunk_sizes, items, shared=2)
    assert [x for _, x in out] == [2 * x for x in items]
    assert sorted({n for n, _ in out}) == [2, 3]  # 7 items in 3 chunks: 2, 2, 3
    assert executor_workers(None) == 1


def test_client_chunks_one_per_worker_thread(dask_client):
    from pywemix.executors import executor_workers, map_chunks

    workers = executor_workers(dask_client)
    assert workers == sum(dask_client.nthreads().values())
    out = map_chunks(dask_client, _chunk_sizes, list(range(9)), shared=3)
    assert [x for _, x in out] == [3 * x for x in range(9)]
    assert sorted({n for n, _ in out}) == sorted(
        {len(c) for c in np.array_split(np.arange(9), workers)}
    )


def _blas_threads(_):
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


def test_tasks_on_executors_use_one_blas_thread():
    from concurrent.futures import ProcessPoolExecutor

    from pywemix.executors import one_blas_thread

    before = _blas_threads(None)
    with ProcessPoolExecutor(max_workers=2) as ex:
        assert map_tasks(ex, _blas_threads, range(4), progress=False) == [1] * 4
    with ThreadPoolExecutor(max_workers=2) as ex:
        assert map_tasks(ex, _blas_threads, range(4), progress=False) == [1] * 4
    with one_blas_thread():
        with one_blas_thread():  # nested: the outer block restores
            assert _blas_threads(None) == 1
        assert _blas_threads(None) == 1
    assert _blas_threads(None) == before


def test_client_scatters_data_items_once(dask_client, monkeypatch):
    import pandas as pd

    frames = [pd.DataFrame({"a": np.arange(5) + k}) for k in range(6)]
    calls = []
    scatter = dask_client.scatter

    def counted(data, **kw):
        calls.append(len(data) if isinstance(data, list) else 1)
        return scatter(data, **kw)

    monkeypatch.setattr(dask_client, "scatter", counted)
    out = map_tasks(dask_client, _frame_sum, frames, progress=False)
    assert out == [int(f["a"].sum()) for f in frames]
    assert calls == [6]  # one scatter of the six frames, none per task


def _frame_sum(frame):
    return int(frame["a"].sum())


def _page_faults_of_allocations(_=None) -> int:
    """Minor page faults while 200 arrays of 1 MiB are made and freed."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _k in range(200):
        np.ones(2**17).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


_FAULTS_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_executors import _page_faults_of_allocations as faults
from pywemix.executors import reusing_freed_memory
plain = faults()
with reusing_freed_memory():
    with reusing_freed_memory():  # nested: the outer block restores
        faults()
        inner = faults()
print(plain, inner, faults())
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc only")
def test_tasks_reuse_freed_memory_where_glibc_trims_eagerly():
    """With ``MALLOC_TRIM_THRESHOLD_`` set (as Dask's nanny sets it), each
    1 MiB array is a fresh mapping whose 256 pages fault in; within
    :func:`reusing_freed_memory` freed blocks are reused, and after it the
    environment's behaviour is back."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = _FAULTS_SCRIPT.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    plain, inner, after = map(int, out.stdout.split())
    assert plain > 200 * 200  # about 256 faults per array
    assert inner < plain / 20
    assert after > 200 * 200


def test_tasks_on_dask_workers_reuse_freed_memory(dask_client):
    """Dask's worker processes trim eagerly; pywemix's tasks there do not
    fault in every array they make."""
    faults = map_tasks(dask_client, _page_faults_of_allocations, [0, 1], progress=False)
    assert max(faults) < 200 * 256 / 20
