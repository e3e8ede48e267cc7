"""Benchmark: plausible values (5 fits vs one) and the parametric bootstrap.

Usage: python benchmarks/bench_survey.py

* the 5-plausible-value PISA-size fit against one fit (target: at most 5x);
* 1000 bootstrap refits of the sleepstudy pair (random intercept vs
  correlated slope, ML) with bootstrap_lrt (target: under 10 s).
Writes benchmarks/out/survey.json.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pandas as pd

import pywemix

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "reference" / "data"
FORMULA = "math ~ st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)"


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    warnings.simplefilter("ignore", pywemix.PywemixWarning)
    df = pd.read_csv(DATA / "pisa_s1.csv")
    pvs = {"math": [f"pv{k}math" for k in range(1, 6)]}
    one = best_of(
        lambda: pywemix.mix(
            FORMULA, df.assign(math=df["pv1math"]), ["pwt1", "pwt2"], cond_weights=True
        )
    )
    five = best_of(
        lambda: pywemix.mix(FORMULA, df, ["pwt1", "pwt2"], cond_weights=True, plausible_values=pvs)
    )
    print(f"one fit {one:.3f} s, 5 plausible values {five:.3f} s, ratio {five / one:.2f}")
    s = pd.read_csv(DATA / "sleepstudy.csv")
    m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", s)
    m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", s)
    t0 = time.perf_counter()
    b = pywemix.bootstrap_lrt(m0, m1, n=1000, seed=1, progress=False)
    boot = time.perf_counter() - t0
    print(f"bootstrap_lrt n=1000 (2000 refits): {boot:.2f} s; {b}")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "survey.json").write_text(
        json.dumps(
            dict(one_fit_s=one, five_pv_s=five, ratio=five / one, bootstrap_1000_s=boot), indent=1
        )
    )


if __name__ == "__main__":
    main()
