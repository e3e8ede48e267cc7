"""Benchmark: the whole-survey logit workload of issue 22, serial and parallel.

81 countries x 10 plausible values x 81 weights (the full-sample weight and
80 Fay replicates): 65,610 two-level logit fits of 304k students, as one
``mix(..., by="country", plausible_values=..., replicates=...)`` call.

Usage::

    python benchmarks/bench_survey_workload.py                 # n_quad 1 and 13, everything
    python benchmarks/bench_survey_workload.py --nquad 1       # one n_quad
    python benchmarks/bench_survey_workload.py --countries 8   # the first 8 countries
    python benchmarks/bench_survey_workload.py --parts per-country,parallel

Data (made once, in ``benchmarks/out/workload/``, not committed):
``/work/shared/tools/make_data.py pisa --schools 150 --size 25 --seed 101
--replicates 80 --parts 81``, 81 "countries" of about 3,750 students in 150
schools, with the total student weight ``w_fstuwt``, the school weight
``w_fschwt`` and Fay's BRR weights ``w_fsturwt1..80`` (k = 0.5). The tool
draws five plausible values; five more, ``pv6math..pv10math``, are the mean
of the five plus N(0, 20^2) noise (numpy PCG64, seed ``PV_SEED``). The logit
responses are ``highK = pvKmath > 520``. Model, per country, with
unconditional weights ``[w_fstuwt, w_fschwt]``::

    high ~ st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)

Parts (``--parts``, comma-separated; default all):

* ``per-country``: per country, one full-sample fit of ``high1`` (the
  baseline, median of three) and the country's workload (10 full-sample
  fits + 800 replicate refits) in one ``mix`` call; their ratio, and the
  refits' cost against one full-sample fit. The replicate refits of the
  first ``--old-countries`` countries are also timed refit by refit (the
  code before issue 22: one quadrature fit per replicate, from the
  full-sample estimates), in the same run, for the speed-up;
* ``parallel``: the whole workload as one ``mix(by="country")`` call,
  serially, on a ``ProcessPoolExecutor(--workers)`` and on a Dask
  ``distributed.Client`` with as many single-threaded worker processes
  (``get_executor()`` of the same client for comparison, on the first
  ``--countries-dask-executor`` countries), each timed once, in one run.

Wall and CPU seconds and the load average (``os.getloadavg``) go with every
figure: the machine is shared. Results: ``benchmarks/out/survey_workload.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import pywemix
from pywemix.objective.batched import TwoLevelBatch

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "workload"
MAKE_DATA = HERE.parent.parent / "shared" / "tools" / "make_data.py"
COUNTRIES, SCHOOLS, SIZE, SEED, REPLICATES = 81, 150, 25, 101, 80
PV_SEED = 22
N_PV = 10
FORMULA = "high ~ st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)"
WEIGHTS = ["w_fstuwt", "w_fschwt"]


def make_data() -> None:
    """The 81 country files (made once)."""
    if not (DATA / f"part-{COUNTRIES - 1:03d}.parquet").exists():
        OUT.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                str(MAKE_DATA),
                "pisa",
                "--schools",
                str(SCHOOLS),
                "--size",
                str(SIZE),
                "--seed",
                str(SEED),
                "--replicates",
                str(REPLICATES),
                "--parts",
                str(COUNTRIES),
                str(DATA),
            ],
            check=True,
        )


def load(countries: int) -> pd.DataFrame:
    """The first ``countries`` countries with ``country``, ten plausible values
    and their binary versions ``high1..10``."""
    parts = []
    for k in range(countries):
        df = pd.read_parquet(DATA / f"part-{k:03d}.parquet")
        df.insert(0, "country", f"C{k + 1:02d}")
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(PV_SEED)
    mean = df[[f"pv{k}math" for k in range(1, 6)]].mean(axis=1).to_numpy()
    for k in range(6, N_PV + 1):
        df[f"pv{k}math"] = np.round(mean + rng.normal(0, 20, len(df)), 3)
    for k in range(1, N_PV + 1):
        df[f"high{k}"] = (df[f"pv{k}math"] > 520).astype(int)
    return df


def keywords(n_quad: int) -> dict:
    return dict(
        family="binomial",
        n_quad=n_quad,
        plausible_values={"high": [f"high{k}" for k in range(1, N_PV + 1)]},
        replicates=pywemix.Replicates(
            f"w_fsturwt1-{REPLICATES}", method="fay", fay=0.5, full_weight="w_fstuwt"
        ),
    )


def timed(fn):
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    value = fn()
    return dict(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0, load=load), value


class _OldRefits:
    """The refits as before issue 22 (one quadrature fit per replicate, from
    the full-sample estimates), for the same-run comparison."""

    def __enter__(self):
        self.fits = TwoLevelBatch.fits
        TwoLevelBatch.fits = staticmethod(lambda design: False)

    def __exit__(self, *exc):
        TwoLevelBatch.fits = self.fits


def per_country(df, n_quad, old_countries):
    """Per country: one full-sample fit, the workload, and (first countries)
    the workload with the former refits."""
    rows = []
    for i, (country, data) in enumerate(df.groupby("country", sort=True)):
        one = [
            timed(
                lambda: (
                    pywemix.mix(
                        FORMULA.replace("high", "high1", 1),
                        data,  # noqa: B023 (called within this iteration)
                        WEIGHTS,
                        family="binomial",
                        n_quad=n_quad,
                    ).params
                )
            )[0]
            for _ in range(3)
        ]
        one_s = statistics.median(t["wall_s"] for t in one)
        one_cpu = statistics.median(t["cpu_s"] for t in one)
        t, res = timed(lambda: pywemix.mix(FORMULA, data, WEIGHTS, **keywords(n_quad)))  # noqa: B023 (called within this iteration)
        row = dict(
            country=country,
            rows=len(data),
            one_fit_s=one_s,
            one_fit_cpu_s=one_cpu,
            workload=t,
            ratio=t["wall_s"] / one_s,
            cpu_ratio=t["cpu_s"] / one_cpu,
            converged=bool(res.converged),
            bse=res.bse.tolist(),
        )
        if i < old_countries:
            with _OldRefits():
                told, old = timed(
                    lambda: pywemix.mix(
                        FORMULA,
                        data,  # noqa: B023 (called within this iteration)
                        WEIGHTS,
                        **keywords(n_quad),
                    )
                )
            row["workload_old"] = told
            row["speedup_cpu"] = told["cpu_s"] / t["cpu_s"]
            row["max_rel_diff_old"] = float(
                np.max(
                    np.abs(old.replicate_params.to_numpy() - res.replicate_params.to_numpy())
                    / np.abs(old.replicate_params.to_numpy())
                )
            )
        rows.append(row)
        print(
            f"  {country}: one fit {1e3 * one_s:6.1f} ms (cpu {1e3 * one_cpu:.1f}), workload "
            f"{t['wall_s']:6.2f} s (cpu {t['cpu_s']:.2f}), ratio {row['ratio']:5.0f} "
            f"(cpu {row['cpu_ratio']:.0f})"
            + (
                f", former refits cpu {row['workload_old']['cpu_s']:.1f} s "
                f"({row['speedup_cpu']:.1f}x), max rel diff {row['max_rel_diff_old']:.1e}"
                if "workload_old" in row
                else ""
            )
            + f", load {t['load']:.1f}",
            flush=True,
        )
    cpu = [r["workload"]["cpu_s"] for r in rows]
    return dict(
        per_country=rows,
        total_wall_s=sum(r["workload"]["wall_s"] for r in rows),
        total_cpu_s=sum(cpu),
        median_ratio=statistics.median(r["ratio"] for r in rows),
        median_cpu_ratio=statistics.median(r["cpu_ratio"] for r in rows),
        median_one_fit_cpu_s=statistics.median(r["one_fit_cpu_s"] for r in rows),
    )


def one_call(df, n_quad, executor=None):
    t, res = timed(
        lambda: pywemix.mix(
            FORMULA, df, WEIGHTS, by="country", executor=executor, **keywords(n_quad)
        )
    )
    t["countries"] = len(res)
    t["errors"] = len(res.errors)
    return t


def parallel(df, n_quad, workers, dask_executor_countries):
    out = {"serial": one_call(df, n_quad)}
    print(f"  serial: {out['serial']['wall_s']:.1f} s", flush=True)
    with ProcessPoolExecutor(workers) as pool:
        out["process_pool"] = one_call(df, n_quad, pool)
    print(
        f"  ProcessPoolExecutor({workers}): {out['process_pool']['wall_s']:.1f} s "
        f"({out['serial']['wall_s'] / out['process_pool']['wall_s']:.2f}x)",
        flush=True,
    )
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return out
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        out["dask_client"] = one_call(df, n_quad, client)
        print(
            f"  Dask Client ({workers} workers): {out['dask_client']['wall_s']:.1f} s "
            f"({out['serial']['wall_s'] / out['dask_client']['wall_s']:.2f}x)",
            flush=True,
        )
        print(
            f"  RATIOS n_quad={n_quad}: serial / ProcessPoolExecutor({workers}) "
            f"{out['serial']['wall_s'] / out['process_pool']['wall_s']:.2f}x (target >= 1.7); "
            f"ProcessPoolExecutor / Dask Client "
            f"{out['process_pool']['wall_s'] / out['dask_client']['wall_s']:.2f}x "
            f"(target >= 1); load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if dask_executor_countries:
            sub = df[df["country"].isin(sorted(df["country"].unique())[:dask_executor_countries])]
            out["dask_get_executor_subset"] = one_call(sub, n_quad, client.get_executor())
            out["serial_subset"] = one_call(sub, n_quad)
    return out


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--countries", type=int, default=COUNTRIES)
    p.add_argument("--nquad", type=int, nargs="*", default=[1, 13])
    p.add_argument("--parts", default="per-country,parallel")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--old-countries",
        type=int,
        default=2,
        help="countries whose refits are also timed the former way",
    )
    p.add_argument(
        "--countries-dask-executor",
        type=int,
        default=0,
        help="also time client.get_executor() on this many countries",
    )
    a = p.parse_args()
    warnings.simplefilter("ignore")
    make_data()
    df = load(a.countries)
    parts = a.parts.split(",")
    out = dict(
        countries=a.countries,
        students=len(df),
        n_pv=N_PV,
        replicates=REPLICATES,
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        load_start=os.getloadavg(),
        cpus=os.cpu_count(),
        results={},
    )
    print(f"{a.countries} countries, {len(df)} students; load {os.getloadavg()}", flush=True)
    for n_quad in a.nquad:
        res = out["results"][f"n_quad={n_quad}"] = {}
        if "per-country" in parts:
            print(f"logit n_quad={n_quad}, per country:", flush=True)
            res["per_country"] = per_country(df, n_quad, a.old_countries)
            r = res["per_country"]
            print(
                f"  total {r['total_wall_s']:.1f} s (cpu {r['total_cpu_s']:.1f} s); median "
                f"ratio workload / one fit {r['median_ratio']:.0f} (cpu "
                f"{r['median_cpu_ratio']:.0f}) for {N_PV * (REPLICATES + 1)} fits",
                flush=True,
            )
        if "parallel" in parts:
            print(f"logit n_quad={n_quad}, one mix(by='country') call:", flush=True)
            res["parallel"] = parallel(df, n_quad, a.workers, a.countries_dask_executor)
        OUT.mkdir(exist_ok=True)
        (OUT / "survey_workload.json").write_text(json.dumps(out, indent=1))
    out["load_end"] = os.getloadavg()
    (OUT / "survey_workload.json").write_text(json.dumps(out, indent=1))
    print(f"load average: start {out['load_start']}, end {out['load_end']}")


if __name__ == "__main__":
    main()
