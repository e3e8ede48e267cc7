"""Benchmark: the families with auxiliary parameters and the binomial with
trials against glmmTMB (and ordinal::clmm, lme4::glmer) on the same models.

Usage: python benchmarks/bench_families.py [--repeats N] [--schools S]

Simulates (seed 7) ``S`` schools (default 300) of 8 to 24 students in
districts of 3 schools: predictors ``x`` and ``sex``, random school and
district intercepts, and a response per family (as tests/data/families.csv:
NB2 counts with exposure, gamma with log and inverse links, ordinal logit
and probit, binomial successes out of 1-8 trials). In one run it times
pywemix (unit weights, the same formula; robust standard errors included)
and R's fits in one ``Rscript`` session (``system.time`` over the repeats,
benchmarks/families.R; R's start-up not counted), and reports the ratio of
the best times (pywemix / R: below 1 is faster) with the load average.
Writes benchmarks/out/families.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_glmm import times_of

import pywemix

HERE = Path(__file__).resolve().parent
#: (case as in families.R, formula, family, link, n_quad)
CASES = [
    ("nb_glmmTMB", "nb ~ x + sex + (1|school)", "negative_binomial", "log", 1),
    ("nb_three_glmmTMB", "nb ~ x + (1|school) + (1|district)", "negative_binomial", "log", 1),
    ("gamma_log_glmmTMB", "gam ~ x + sex + (1|school)", "gamma", "log", 1),
    ("gamma_inverse_glmmTMB", "gami ~ x + sex + (1|school)", "gamma", "inverse", 1),
    ("ordinal_logit_clmm", "ord ~ x + sex + (1|school)", "ordinal", "logit", 1),
    ("ordinal_probit_clmm", "ordp ~ x + sex + (1|school)", "ordinal", "probit", 1),
    ("ordinal_logit_agq_clmm", "ord ~ x + sex + (1|school)", "ordinal", "logit", 7),
    ("trials_logit_glmmTMB", "cbind(succ, fail) ~ x + sex + (1|school)", "binomial", "logit", 1),
    ("trials_logit_glmer", "cbind(succ, fail) ~ x + sex + (1|school)", "binomial", "logit", 1),
    ("trials_probit_glmer", "cbind(succ, fail) ~ x + sex + (1|school)", "binomial", "probit", 1),
]


def simulate(n_school: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.integers(8, 25, n_school)
    school = np.repeat(np.arange(1, n_school + 1), size)
    district = (school - 1) // 3 + 1
    n = school.size
    x, sex = rng.normal(size=n), rng.integers(0, 2, n)
    eta = (
        0.4 * x
        - 0.3 * sex
        + rng.normal(0, 0.5, n_school + 1)[school]
        + rng.normal(0, 0.35, district.max() + 1)[district]
    )
    expo = rng.uniform(0.5, 3.0, n)
    mu = np.exp(0.3 + eta) * expo
    cut = np.array([-1.0, 0.2, 1.4])
    trials = rng.integers(1, 9, n)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-(eta - 0.2))))
    return pd.DataFrame(
        {
            "district": district,
            "school": school,
            "x": x,
            "sex": sex,
            "expo": expo,
            "logexpo": np.log(expo),
            "nb": rng.negative_binomial(2.5, 2.5 / (2.5 + mu)),
            "gam": rng.gamma(3.0, np.exp(1.0 + eta) / 3.0),
            "gami": rng.gamma(3.0, 1 / (1.0 + 0.3 * np.tanh(eta)) / 3.0),
            "ord": 1 + np.sum((eta + rng.logistic(size=n))[:, None] > cut, axis=1),
            "ordp": 1 + np.sum((0.6 * eta + rng.normal(size=n))[:, None] > 0.6 * cut, axis=1),
            "succ": succ,
            "fail": trials - succ,
        }
    )


def r_seconds(csv: Path, repeats: int) -> dict:
    """case -> (best, median seconds, llf) of R's fits, {} without Rscript."""
    if shutil.which("Rscript") is None:
        return {}
    out = subprocess.run(
        ["Rscript", str(HERE / "families.R"), str(csv), str(repeats)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stderr)
        return {}
    rows = [line.split() for line in out.stdout.strip().splitlines()]
    return {r[0]: tuple(float(v) for v in r[1:]) for r in rows if len(r) == 4}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--schools", type=int, default=300)
    a = p.parse_args()
    warnings.simplefilter("ignore", pywemix.PywemixWarning)
    df = simulate(a.schools)
    (HERE / "out").mkdir(exist_ok=True)
    csv = HERE / "out" / "families_data.csv"
    df.to_csv(csv, index=False, float_format="%.17g")
    data = df.assign(
        ord=pd.Categorical(df["ord"], ordered=True), ordp=pd.Categorical(df["ordp"], ordered=True)
    )
    load = [os.getloadavg()]
    theirs = r_seconds(csv, a.repeats)
    load.append(os.getloadavg())
    rows = []
    print(f"{len(df)} rows, {a.schools} schools; best of {a.repeats} (median)")
    for case, formula, family, link, n_quad in CASES:
        offset = "logexpo" if case.startswith("nb") and "sex" in formula else None

        def fit(formula=formula, family=family, link=link, n_quad=n_quad, offset=offset):
            r = pywemix.mix(formula, data, family=family, link=link, n_quad=n_quad, offset=offset)
            assert r.converged, (formula, r.optimization.message)
            _ = r.bse  # robust standard errors are part of the fit
            return r

        ours, ours_med = times_of(fit, a.repeats)
        llf = fit().llf
        best, med, r_llf = theirs.get(case, (None, None, None))
        ratio = None if best is None else ours / best
        rows.append(
            dict(
                case=case,
                n_quad=n_quad,
                pywemix_s=ours,
                pywemix_median_s=ours_med,
                r_s=best,
                r_median_s=med,
                ratio=ratio,
                llf=llf,
                r_llf=r_llf,
            )
        )
        print(
            f"{case:24s} n_quad={n_quad}  pywemix {ours:7.3f} s ({ours_med:7.3f})   R "
            + (
                "n/a"
                if best is None
                else f"{best:7.3f} s ({med:7.3f})   ratio {ratio:.2f}"
                f"   llf {llf:.4f} vs {r_llf:.4f}"
            )
        )
    load.append(os.getloadavg())
    print(
        "load average (1, 5, 15 min) before R, after R, after pywemix:",
        "; ".join(", ".join(f"{v:.2f}" for v in la) for la in load),
    )
    (HERE / "out" / "families.json").write_text(
        json.dumps(dict(rows=rows, n_rows=len(df), repeats=a.repeats, load=load), indent=1)
    )


if __name__ == "__main__":
    main()
