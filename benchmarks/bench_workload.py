"""Benchmark: the whole-survey workload of an agency, 81 countries x 10
plausible values x 81 weights (full sample + 80 Fay replicates).

Usage::

    python benchmarks/bench_workload.py                        # Gaussian and logit, all countries
    python benchmarks/bench_workload.py --family gaussian      # one family
    python benchmarks/bench_workload.py --countries 8          # the first 8 countries only
    python benchmarks/bench_workload.py --one-call  # also the whole workload in one mix(by=)

Data (made once, cached in ``benchmarks/out/workload/``, not committed):
``make_data.py pisa --schools 150 --size 25 --seed 101 --replicates 80
--parts 81``: 81 "countries" (one Parquet file each, seed 101 + k, school ids
never repeated), about 3,750 students in 150 schools each, 304k students in
all, with the total student weight ``w_fstuwt``, the school weight
``w_fschwt`` and Fay's BRR replicate weights ``w_fsturwt1..80`` (k = 0.5).
``make_data.py`` draws five plausible values (the true score plus
N(0, 25^2) noise); the benchmark adds ``pv6math..pv10math`` as the mean of
the five plus N(0, 25^2 * 4/5) noise (numpy PCG64, seed ``PV_SEED``): the
same marginal spread around the true score, drawn afresh for the timing
workload (they are correlated with the first five through their mean, which
matters nothing to the cost of a fit). The logit's responses are
``highK = pvKmath > 520``.

Model, per country, with unconditional weights ``[w_fstuwt, w_fschwt]``::

    PV ~ st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)

* Gaussian (ML) and logit (``n_quad=1``, Laplace; ``--nquad`` changes it);
* the workload of a country: ``mix(..., plausible_values={PV: 10 values},
  replicates=Replicates("w_fsturwt1-80", method="fay", fay=0.5,
  full_weight="w_fstuwt"))``: 10 full-sample fits and 800 replicate refits;
* its baseline: one full-sample fit of the first plausible value (``mix``
  without replicates and plausible values), timed three times (median).

Every country is timed on its own (baseline, then workload), so the table has
per-country figures and their ratio workload / one fit; the total is their
sum. ``--one-call`` also times the whole workload as the single call
``mix(..., by="country", plausible_values=..., replicates=...)``. CPU time and
the load average are recorded with every figure (the machine may be shared).
Results: ``benchmarks/out/workload.json``.
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
from pathlib import Path

import numpy as np
import pandas as pd

import pywemix

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "workload"
MAKE_DATA = Path("/work/shared/tools/make_data.py")
if not MAKE_DATA.exists():
    MAKE_DATA = HERE.parent.parent / "shared" / "tools" / "make_data.py"
COUNTRIES, SCHOOLS, SIZE, SEED, REPLICATES = 81, 150, 25, 101, 80
PV_SEED = 20261207
N_PV = 10
RHS = "st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)"
WEIGHTS = ["w_fstuwt", "w_fschwt"]


def make_data() -> Path:
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
    return DATA


def load(countries: int) -> pd.DataFrame:
    """The first ``countries`` countries, with ``country``, ten plausible values
    and their binary versions."""
    parts = []
    for k in range(countries):
        df = pd.read_parquet(DATA / f"part-{k:03d}.parquet")
        df.insert(0, "country", f"C{k + 1:02d}")
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(PV_SEED)
    mean = df[[f"pv{k}math" for k in range(1, 6)]].mean(axis=1).to_numpy()
    extra = {
        f"pv{k}math": np.round(mean + rng.normal(0, 25 * np.sqrt(0.8), len(df)), 3)
        for k in range(6, N_PV + 1)
    }
    df = pd.concat([df, pd.DataFrame(extra, index=df.index)], axis=1)
    high = {f"high{k}": (df[f"pv{k}math"] > 520).astype(int) for k in range(1, N_PV + 1)}
    return pd.concat([df, pd.DataFrame(high, index=df.index)], axis=1)


def spec(family: str):
    """(formula, plausible values, family keywords) of a family's workload."""
    if family == "gaussian":
        return (
            f"math ~ {RHS}",
            {"math": [f"pv{k}math" for k in range(1, N_PV + 1)]},
            {},
            "pv1math",
        )
    return (
        f"high ~ {RHS}",
        {"high": [f"high{k}" for k in range(1, N_PV + 1)]},
        {"family": "binomial"},
        "high1",
    )


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, time.process_time() - c0, value


def replicates():
    return pywemix.Replicates("w_fsturwt1-80", method="fay", fay=0.5, full_weight="w_fstuwt")


def country_run(df, family, n_quad, repeats):
    """Per country: (one full-sample fit, its whole workload), wall and CPU seconds."""
    formula, pvs, kw, first = spec(family)
    if family != "gaussian":
        kw = dict(kw, n_quad=n_quad)
    rows = []
    for country, data in df.groupby("country", sort=True):
        one_formula = formula.replace(formula.split("~")[0].strip(), first, 1)
        ones = [
            timed(lambda: pywemix.mix(one_formula, data, WEIGHTS, **kw).bse)[:2]  # noqa: B023 (called within this iteration)
            for _ in range(repeats)
        ]
        load = os.getloadavg()[0]
        wall, cpu, res = timed(
            lambda: pywemix.mix(
                formula,
                data,  # noqa: B023 (called within this iteration)
                WEIGHTS,
                replicates=replicates(),  # noqa: B023 (called within this iteration)
                plausible_values=pvs,
                **kw,
            )
        )
        rows.append(
            dict(
                country=country,
                rows=len(data),
                one_fit_s=statistics.median(t for t, _ in ones),
                one_fit_cpu_s=statistics.median(c for _, c in ones),
                workload_s=wall,
                workload_cpu_s=cpu,
                load=load,
                ratio=wall / statistics.median(t for t, _ in ones),
                intercept=float(res.params.iloc[0]),
                se=float(res.bse.iloc[0]),
            )
        )
        r = rows[-1]
        print(
            f"  {country}: one fit {1e3 * r['one_fit_s']:7.1f} ms, workload "
            f"{r['workload_s']:7.2f} s (cpu {r['workload_cpu_s']:.2f} s), ratio "
            f"{r['ratio']:7.0f}, load {load:.1f}",
            flush=True,
        )
    return rows


def one_call(df, family, n_quad):
    formula, pvs, kw, _ = spec(family)
    if family != "gaussian":
        kw = dict(kw, n_quad=n_quad)
    load = os.getloadavg()[0]
    wall, cpu, res = timed(
        lambda: pywemix.mix(
            formula, df, WEIGHTS, by="country", replicates=replicates(), plausible_values=pvs, **kw
        )
    )
    return dict(
        wall_s=wall, cpu_s=cpu, load_before=load, load_after=os.getloadavg()[0], countries=len(res)
    )


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--family", choices=["gaussian", "logit", "both"], default="both")
    p.add_argument("--countries", type=int, default=COUNTRIES)
    p.add_argument("--nquad", type=int, default=1, help="logit quadrature points")
    p.add_argument("--repeats", type=int, default=3, help="one-fit repeats per country")
    p.add_argument(
        "--one-call",
        action="store_true",
        help="also time the workload as one mix(by='country') call",
    )
    a = p.parse_args()
    warnings.simplefilter("ignore")
    make_data()
    df = load(a.countries)
    print(
        f"{a.countries} countries, {len(df)} students, "
        f"{df['schoolid'].nunique()} schools; load {os.getloadavg()}",
        flush=True,
    )
    families = ["gaussian", "logit"] if a.family == "both" else [a.family]
    out = dict(
        countries=a.countries,
        students=len(df),
        n_pv=N_PV,
        replicates=REPLICATES,
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        load_start=os.getloadavg(),
        pywemix_file=pywemix.__file__,
        results={},
    )
    for family in families:
        print(f"{family}{'' if family == 'gaussian' else f' n_quad={a.nquad}'}:", flush=True)
        rows = country_run(df, family, a.nquad, a.repeats)
        total = sum(r["workload_s"] for r in rows)
        res = dict(
            per_country=rows,
            total_s=total,
            total_cpu_s=sum(r["workload_cpu_s"] for r in rows),
            one_fits_s=sum(r["one_fit_s"] for r in rows),
            median_ratio=statistics.median(r["ratio"] for r in rows),
            median_one_fit_s=statistics.median(r["one_fit_s"] for r in rows),
            median_workload_s=statistics.median(r["workload_s"] for r in rows),
        )
        print(
            f"  total {total:.1f} s (cpu {res['total_cpu_s']:.1f} s) for {len(rows)} "
            f"countries x {N_PV} plausible values x {REPLICATES + 1} weights; per country "
            f"median {res['median_workload_s']:.2f} s against one fit "
            f"{1e3 * res['median_one_fit_s']:.1f} ms: ratio {res['median_ratio']:.0f} "
            f"({N_PV * (REPLICATES + 1)} fits)",
            flush=True,
        )
        if a.one_call:
            res["one_call"] = one_call(df, family, a.nquad)
            print(
                f"  one mix(by='country') call: {res['one_call']['wall_s']:.1f} s "
                f"(cpu {res['one_call']['cpu_s']:.1f} s)",
                flush=True,
            )
        out["results"][family] = res
        OUT.mkdir(exist_ok=True)
        (OUT / "workload.json").write_text(json.dumps(out, indent=1))
    out["load_end"] = os.getloadavg()
    (OUT / "workload.json").write_text(json.dumps(out, indent=1))
    print(f"load average: start {out['load_start']}, end {out['load_end']}")


if __name__ == "__main__":
    main()
