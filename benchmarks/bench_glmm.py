"""Benchmark: weighted GLMM fits by adaptive quadrature against lme4's glmer.

Usage: python benchmarks/bench_glmm.py [--repeats N]

Times, in one run on this machine, pywemix's weighted random-intercept fits
with 13 quadrature points (robust standard errors included) of
  logit   highmath ~ escs + st04q01 + (1|schoolid)   on pisa_s1.csv  (pwt1, pwt2)
  probit  highmath ~ escs + st04q01 + (1|schoolid)   on pisa_s1i.csv (iw1, iw2)
  poisson absences ~ escs + st04q01 + (1|schoolid)   on counts_s1i.csv (iw1, iw2)
and lme4's unweighted glmer(nAGQ=13) of the same formulas (if Rscript and
lme4 are installed). Writes benchmarks/out/glmm.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd

import pywemix

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "reference" / "data"
CASES = [
    (
        "logit",
        "pisa_s1.csv",
        "highmath ~ escs + st04q01 + (1|schoolid)",
        ["pwt1", "pwt2"],
        "binomial",
        "logit",
    ),
    (
        "probit",
        "pisa_s1i.csv",
        "highmath ~ escs + st04q01 + (1|schoolid)",
        ["iw1", "iw2"],
        "binomial",
        "probit",
    ),
    (
        "poisson",
        "counts_s1i.csv",
        "absences ~ escs + st04q01 + (1|schoolid)",
        ["iw1", "iw2"],
        "poisson",
        "log",
    ),
]


def times_of(fn, repeats):
    """(best, median) wall-clock seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def lme4_seconds(csv, formula, family, link, repeats):
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(
        ["Rscript", str(HERE / "lme4_glmm.R"), str(csv), formula, family, link, str(repeats)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stderr)
        return None
    best, median = out.stdout.strip().splitlines()[-1].split()
    return float(best), float(median)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    rows = []
    warnings.simplefilter("ignore", pywemix.PywemixWarning)
    for name, file, formula, weights, family, link in CASES:
        df = pd.read_csv(DATA / file)

        def fit(df=df, formula=formula, weights=weights, family=family, link=link):
            r = pywemix.mix(
                formula, df, weights, cond_weights=True, family=family, link=link, n_quad=13
            )
            return r.bse  # robust standard errors are part of the fit

        ours, ours_med = times_of(fit, a.repeats)
        theirs, theirs_med = lme4_seconds(DATA / file, formula, family, link, a.repeats) or (
            None,
            None,
        )
        rows.append(
            dict(
                case=name,
                pywemix_s=ours,
                pywemix_median_s=ours_med,
                lme4_glmer_s=theirs,
                lme4_glmer_median_s=theirs_med,
                ratio=None if theirs is None else ours / theirs,
            )
        )
        print(
            f"{name:8s} pywemix best {ours:.3f} s (median {ours_med:.3f})   "
            f"glmer(nAGQ=13) "
            f"{'n/a' if theirs is None else f'best {theirs:.3f} s (median {theirs_med:.3f})'}"
            f"   ratio {'n/a' if theirs is None else f'{ours / theirs:.2f}'}"
        )
    logit = rows[0]["pywemix_s"]
    for r in rows[1:]:
        print(f"{r['case']} / logit time: {r['pywemix_s'] / logit:.2f}")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "glmm.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
