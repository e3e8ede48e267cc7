"""Dask fit vs read_parquet + in-memory fit (not part of the test suite).

Usage::

    python /work/shared/tools/make_data.py pisa --schools 1000 --size 100 \\
        --seed 3 --parts 10 /tmp/pisa1m
    PYTHONPATH=src python benchmarks/bench_dask.py /tmp/pisa1m [--workers 2] [--logit]

Prints the wall times of (a) ``pd.read_parquet`` + ``pywemix.mix`` in memory
and (b) ``dd.read_parquet`` + ``pywemix.mix`` on a LocalCluster of worker
processes (cluster start-up excluded), their ratio (target: at most 3), and
the largest relative differences of llf, params, bse and variances.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import pywemix

FORMULA = "pv1math ~ escs + st04q01 + (1 + escs|schoolid)"
LOGIT = "highmath ~ escs + st04q01 + (1|schoolid)"
KW = dict(weights=["pwt1", "pwt2"], cond_weights=True)


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="folder of Parquet files (make_data.py --parts)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory", default="2GiB", help="memory limit per worker")
    ap.add_argument("--formula", default=FORMULA)
    ap.add_argument("--logit", action="store_true",
                    help="fit LOGIT (binomial, n_quad=5) instead of the Gaussian formula")
    args = ap.parse_args(argv)
    kw = dict(KW, family="binomial", n_quad=5) if args.logit else dict(KW)
    formula = LOGIT if args.logit else args.formula
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    df = pd.read_parquet(args.folder)
    t_read = time.perf_counter() - t0
    mem = pywemix.mix(formula, df, **kw)
    t_mem = time.perf_counter() - t0
    print(f"in memory: {len(df)} rows, read {t_read:.1f} s, read + fit {t_mem:.1f} s")
    del df
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory, dashboard_address=":0") as cluster, \
            Client(cluster):
        t0 = time.perf_counter()
        res = pywemix.mix(formula, dd.read_parquet(args.folder), **kw)
        t_dask = time.perf_counter() - t0
    print(f"dask ({args.workers} workers): fit {t_dask:.1f} s; ratio {t_dask / t_mem:.2f} "
          "(target <= 3)")
    for name, a, b in (("llf", res.llf, mem.llf), ("params", res.params, mem.params),
                       ("bse", res.bse, mem.bse),
                       ("variances", res.var_components["variance"],
                        mem.var_components["variance"]),
                       ("variance SEs", res.var_components["std_error"],
                        mem.var_components["std_error"])):
        print(f"  max relative difference, {name}: {_rel(a, b):.2e}")


if __name__ == "__main__":
    main()
