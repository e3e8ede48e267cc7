"""Benchmark: 5 plausible values x 80 Fay replicates (405 fits) in one call.

Usage: python benchmarks/bench_replicates.py [--separate N]

Data: ``make_data.py pisa --schools 157 --seed 11 --replicates 80`` (made
in a temporary folder). Model ``pv1math ~ escs + st04q01 + (1|schoolid)``
with the total student and school weights, Fay's BRR (k = 0.5) and 5
plausible values: 5 full-sample fits + 400 replicate refits. Target: at
most 2 s. For comparison, the same 405 fits as separate ``mix()`` calls
with explicit replicate weights (timed on ``--separate`` of them, default
81, and scaled to 405; ``--separate 405`` runs them all). Writes
benchmarks/out/replicates.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

import pywemix

HERE = Path(__file__).resolve().parent
MAKE_DATA = HERE.parent.parent / "shared" / "tools" / "make_data.py"
FORMULA = "pv1math ~ escs + st04q01 + (1|schoolid)"
WEIGHTS = ["w_fstuwt", "w_fschwt"]
PVS = {"pv1math": [f"pv{k}math" for k in range(1, 6)]}


def load():
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pisa.csv"
        subprocess.run(
            [
                sys.executable,
                str(MAKE_DATA),
                "pisa",
                "--schools",
                "157",
                "--seed",
                "11",
                "--replicates",
                "80",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        return pd.read_csv(out)


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def separate(df, n):
    """``n`` of the 405 fits as separate mix() calls with explicit weights."""
    jobs = [(pv, None) for pv in PVS["pv1math"]] + [
        (pv, r) for pv in PVS["pv1math"] for r in range(1, 81)
    ]
    t0 = time.perf_counter()
    for pv, r in jobs[:n]:
        d = df.assign(pv1math=df[pv])
        if r is not None:  # school-level factors (rounded in the file: averaged)
            f = (d[f"w_fsturwt{r}"] / d["w_fstuwt"]).groupby(d["schoolid"]).transform("mean")
            d = d.assign(w_fstuwt=d["w_fstuwt"] * f, w_fschwt=d["w_fschwt"] * f)
        pywemix.mix(FORMULA, d, WEIGHTS)
    return (time.perf_counter() - t0) * len(jobs) / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--separate", type=int, default=81)
    a = p.parse_args()
    warnings.simplefilter("ignore", pywemix.PywemixWarning)
    df = load()
    rep = pywemix.Replicates("w_fsturwt1-80", method="fay", fay=0.5, full_weight="w_fstuwt")

    def one_call():
        return pywemix.mix(FORMULA, df, WEIGHTS, replicates=rep, plausible_values=PVS)

    res = one_call()
    fast = best_of(one_call)
    slow = separate(df, a.separate)
    print(f"5 PV x 80 Fay replicates (405 fits) in one mix() call: {fast:.2f} s (target 2 s)")
    print(
        f"405 separate mix() calls: {slow:.1f} s "
        f"({'measured' if a.separate >= 405 else f'{a.separate} timed, scaled'}); "
        f"speed-up {slow / fast:.0f}x"
    )
    print(res.tidy()[["term", "estimate", "std_error"]].to_string(index=False))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "replicates.json").write_text(
        json.dumps(
            dict(
                one_call_405_fits_s=fast,
                separate_405_fits_s=slow,
                separate_timed=min(a.separate, 405),
                speedup=slow / fast,
            ),
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
