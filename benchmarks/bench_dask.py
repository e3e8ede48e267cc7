"""Dask fits at scale: wall time, memory, and agreement with the in-memory fit
(not part of the test suite).

Usage::

    python /work/shared/tools/make_data.py pisa --schools 1000 --size 100 \\
        --seed 3 --parts 10 /work/data/pisa1m            # ~1M rows, 1000 schools
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa1m
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa1m --logit

    # ~10M rows (--parts 100 of 1000 schools of 100 students), logit on 2 workers
    python /work/shared/tools/make_data.py pisa --schools 1000 --size 100 \\
        --seed 3 --parts 100 /work/data/pisa10m
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa10m --logit --memory 5GB

    # ~100M rows in ~1M schools: 2 workers with 5 GB each; the in-memory fit
    # is skipped (the data do not fit) and checked on 1/100 of the files instead
    python /work/shared/tools/make_data.py pisa --schools 10000 --size 100 \\
        --seed 3 --parts 100 /work/data/pisa100m
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_dask.py \\
        /work/data/pisa100m --memory 5GB --in-memory no --subset 100

    # replication standard errors (issue 19): 80 Fay replicates (survey="PISA"),
    # or the TIMSS JK2 weights from jkzone/jkrep, on ~1M rows
    python /work/shared/tools/make_data.py pisa --schools 1000 --size 100 \\
        --seed 3 --replicates 80 --parts 10 /work/data/pisa1m_rep80
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa1m_rep80 --replicates PISA
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa1m_rep80 --replicates PISA --pv
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa1m_rep80 --replicates TIMSS
    # a logit model with 80 replicates on ~100k rows (refits on the actors)
    python /work/shared/tools/make_data.py pisa --schools 500 --size 50 \\
        --seed 3 --replicates 80 --parts 4 /work/data/pisa100k_rep80
    PYTHONPATH=src python benchmarks/bench_dask.py /work/data/pisa100k_rep80 \\
        --replicates PISA --logit --n-quad 5

Steps: (1) a LocalCluster of ``--workers`` single-threaded worker processes
with ``--memory`` each; (2) ``dd.read_parquet`` + ``pywemix.mix`` on it, timed
(cluster start-up excluded), then the peak resident memory of this (client)
process (``resource.getrusage``; nothing else has run in it yet) and of every
worker process; (3) the same model in memory (``pd.read_parquet`` +
``pywemix.mix``) on all the files (``--in-memory yes``, or ``auto`` when the
columns take under a third of the available memory), with the ratio of the
times (target for 1M rows: at most 3) and the largest relative differences
of llf, params, bse and variances; or, when the data do not fit, the Dask and
in-memory fits of every ``--subset``-th file compared the same way. With
``--json PATH`` the figures are also written as JSON.

With ``--replicates PISA`` (or ``TIMSS``) the model ``pv1math ~ escs + (1|schoolid)``
(``--logit``: ``highmath ~ escs + (1|schoolid)``, binomial) is fitted with the
survey preset's replication standard errors (``--pv``: the five plausible
values x the replicates): the Dask fit as above, then the
in-memory fit of the same columns (the model's and the replicate columns) in
a child process, whose peak resident memory is its own; the figures are the
two times and their ratio, the peak memory of the client, the workers and
the in-memory process, and the largest relative differences of the
replication standard errors.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import time
import warnings

import numpy as np
import pandas as pd

import pywemix

FORMULA = "pv1math ~ escs + st04q01 + (1 + escs|schoolid)"
LOGIT = "highmath ~ escs + st04q01 + (1|schoolid)"
KW = dict(weights=["pwt1", "pwt2"], cond_weights=True)
COLUMNS = ["schoolid", "escs", "st04q01", "pwt1", "pwt2", "pv1math", "highmath"]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _peak_rss_mb() -> float:
    """Peak resident memory of the calling process (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rows(files) -> int:
    """Rows of the Parquet files, from their footers (no data read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _fits_in_memory(n_rows) -> bool:
    """Whether the model's columns (and the fit's copies) fit comfortably."""
    import psutil

    need = n_rows * len(COLUMNS) * 8 * 6  # the frame, its model frame and arrays
    return need < psutil.virtual_memory().available / 3


def _differences(res, mem) -> dict:
    return {
        "llf": _rel(res.llf, mem.llf),
        "params": _rel(res.params, mem.params),
        "bse": _rel(res.bse, mem.bse),
        "variances": _rel(res.var_components["variance"], mem.var_components["variance"]),
        "variance_ses": _rel(res.var_components["std_error"], mem.var_components["std_error"]),
    }


def _in_memory(files, formula, kw) -> tuple:
    """(read + fit seconds, read seconds, result) of the in-memory fit."""
    t0 = time.perf_counter()
    df = pd.concat([pd.read_parquet(f, columns=COLUMNS) for f in files], ignore_index=True)
    t_read = time.perf_counter() - t0
    mem = pywemix.mix(formula, df, **kw)
    return time.perf_counter() - t0, t_read, mem


REPLICATE_FORMULA = "pv1math ~ escs + (1|schoolid)"
REPLICATE_LOGIT = "highmath ~ escs + (1|schoolid)"
PVS = [f"pv{k}math" for k in range(1, 6)]


def _replicate_kw(args) -> dict:
    """The mix arguments of the replicate benchmark."""
    survey = args.replicates
    kw = (
        dict(weights=["pwt1", "pwt2"], cond_weights=True, survey=survey)
        if survey == "PISA"
        else dict(weights=["totwgt", "pwt2"], survey=survey)
    )
    if args.pv:
        kw["plausible_values"] = {"pv1math": PVS}
    if args.logit:
        kw.update(family="binomial", n_quad=args.n_quad)
    return kw


def _replicate_columns(files, survey, pv) -> list:
    import pyarrow.parquet as pq

    names = pq.ParquetFile(files[0]).schema_arrow.names
    reps = (
        [c for c in names if c.startswith("w_fsturwt")] if survey == "PISA" else ["jkzone", "jkrep"]
    )
    cols = ["schoolid", "escs", "pwt1", "pwt2", "w_fstuwt", "highmath"] + (
        PVS if pv else ["pv1math"]
    )
    return cols + reps


def _replicate_figures(res) -> dict:
    return {
        "params": np.asarray(res.params, dtype=float),
        "bse": np.asarray(res.bse, dtype=float),
        "variance_ses": res.var_components["std_error"].to_numpy(dtype=float),
        "icc_se": float(res.icc_std_error),
        "method": res.method,
    }


def _with_total(data):
    """The data with TIMSS's total weight ``totwgt`` (make_data.py's ``w_fstuwt``)."""
    return data.assign(totwgt=data["w_fstuwt"])


def _in_memory_replicates(files, formula, columns, kw) -> dict:
    """The in-memory replicate fit (run in a child process: its peak memory is its own)."""
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    df = _with_total(
        pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)
    )
    t_read = time.perf_counter() - t0
    res = pywemix.mix(formula, df, **kw)
    out = _replicate_figures(res)
    out.update(seconds=time.perf_counter() - t0, read_seconds=t_read, peak_rss_mb=_peak_rss_mb())
    return out


def _replicate_benchmark(args, files, n_rows, out) -> None:
    """Dask replicate fit vs the in-memory replicate fit (module notes)."""
    import multiprocessing

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    kw = _replicate_kw(args)
    formula = REPLICATE_LOGIT if args.logit else REPLICATE_FORMULA
    columns = _replicate_columns(files, args.replicates, args.pv)
    out.update(formula=formula, survey=args.replicates, plausible_values=args.pv)
    pvs = ", 5 plausible values" if args.pv else ""
    print(
        f"{formula}, survey={args.replicates!r}{pvs}: {n_rows} rows in "
        f"{len(files)} files; {args.workers} workers with {args.memory} each",
        flush=True,
    )
    warnings.simplefilter("ignore")
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        res = pywemix.mix(formula, _with_total(dd.read_parquet(files)), **kw)
        out["dask_seconds"] = time.perf_counter() - t0
        out["client_peak_rss_mb"] = _peak_rss_mb()
        out["worker_peak_rss_mb"] = sorted(client.run(_peak_rss_mb).values())
    dask_fig = _replicate_figures(res)
    out["method"] = dask_fig["method"]
    print(
        f"dask: read + fit {out['dask_seconds']:.1f} s ({res.method}); peak RSS: client "
        f"{out['client_peak_rss_mb']:.0f} MB, workers "
        f"{', '.join(f'{v:.0f}' for v in out['worker_peak_rss_mb'])} MB",
        flush=True,
    )
    if args.in_memory == "no":
        return
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        mem = pool.apply(_in_memory_replicates, (files, formula, columns, kw))
    out.update(
        memory_seconds=mem["seconds"],
        read_seconds=mem["read_seconds"],
        memory_peak_rss_mb=mem["peak_rss_mb"],
        ratio=out["dask_seconds"] / mem["seconds"],
    )
    out["max_relative_difference"] = {
        k: _rel(dask_fig[k], mem[k]) for k in ("params", "bse", "variance_ses", "icc_se")
    }
    print(
        f"in memory: read {mem['read_seconds']:.1f} s, read + fit {mem['seconds']:.1f} s, "
        f"peak RSS {mem['peak_rss_mb']:.0f} MB; time ratio dask / memory "
        f"{out['ratio']:.2f}"
    )
    for name, value in out["max_relative_difference"].items():
        print(f"  max relative difference, {name}: {value:.2e}")


def _dask_fit(files, formula, kw):
    import dask.dataframe as dd

    t0 = time.perf_counter()
    res = pywemix.mix(formula, dd.read_parquet(files), **kw)
    return time.perf_counter() - t0, res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="folder of Parquet files (make_data.py --parts)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory", default="2GiB", help="memory limit per worker")
    ap.add_argument("--formula", default=None, help=f"default {FORMULA!r}")
    ap.add_argument(
        "--logit", action="store_true", help=f"fit {LOGIT!r} (binomial, --n-quad nodes)"
    )
    ap.add_argument("--n-quad", type=int, default=5)
    ap.add_argument(
        "--in-memory",
        choices=("auto", "yes", "no"),
        default="auto",
        help="compare with the in-memory fit on all files",
    )
    ap.add_argument(
        "--subset",
        type=int,
        default=100,
        help="without the full comparison: check every SUBSET-th file",
    )
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument(
        "--replicates",
        choices=("PISA", "TIMSS"),
        help="replication standard errors of this survey preset (module notes)",
    )
    ap.add_argument(
        "--pv",
        action="store_true",
        help="with --replicates: the five plausible values x the replicates",
    )
    args = ap.parse_args(argv)
    if args.replicates:
        files = sorted(glob.glob(os.path.join(args.folder, "*.parquet")))
        out = dict(
            folder=args.folder,
            rows=_rows(files),
            files=len(files),
            workers=args.workers,
            worker_memory=args.memory,
            load=os.getloadavg(),
        )
        _replicate_benchmark(args, files, out["rows"], out)
        out["load_after"] = os.getloadavg()
        print(f"load average before / after: {out['load'][0]:.2f} / {out['load_after'][0]:.2f}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=1)
        return
    kw = dict(KW, family="binomial", n_quad=args.n_quad) if args.logit else dict(KW)
    formula = args.formula or (LOGIT if args.logit else FORMULA)
    files = sorted(glob.glob(os.path.join(args.folder, "*.parquet")))
    n_rows = _rows(files)
    full = args.in_memory == "yes" or (args.in_memory == "auto" and _fits_in_memory(n_rows))
    out = dict(
        folder=args.folder,
        formula=formula,
        rows=n_rows,
        files=len(files),
        workers=args.workers,
        worker_memory=args.memory,
    )
    print(
        f"{formula}: {n_rows} rows in {len(files)} files; {args.workers} workers "
        f"with {args.memory} each",
        flush=True,
    )
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore")
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        out["dask_seconds"], res = _dask_fit(files, formula, kw)
        out["client_peak_rss_mb"] = _peak_rss_mb()
        peaks = client.run(_peak_rss_mb)
        out["worker_peak_rss_mb"] = sorted(peaks.values())
        print(
            f"dask: read + fit {out['dask_seconds']:.1f} s; llf {res.llf:.6f}; peak RSS: "
            f"client {out['client_peak_rss_mb']:.0f} MB, workers "
            f"{', '.join(f'{v:.0f}' for v in out['worker_peak_rss_mb'])} MB",
            flush=True,
        )
        if not full:
            subset = files[:: max(1, args.subset)]
            out["check_files"] = len(subset)
            _, res = _dask_fit(subset, formula, kw)
    if full:
        out["memory_seconds"], out["read_seconds"], mem = _in_memory(files, formula, kw)
        out["ratio"] = out["dask_seconds"] / out["memory_seconds"]
        print(
            f"in memory: read {out['read_seconds']:.1f} s, read + fit "
            f"{out['memory_seconds']:.1f} s; ratio {out['ratio']:.2f} (target <= 3)"
        )
    else:
        _, _, mem = _in_memory(subset, formula, kw)
        print(
            f"the data do not fit in memory: fits of {len(subset)} of the "
            f"{len(files)} files compared"
        )
    out["max_relative_difference"] = _differences(res, mem)
    for name, value in out["max_relative_difference"].items():
        print(f"  max relative difference, {name}: {value:.2e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
