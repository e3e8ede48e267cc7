"""Design-based simulation: coverage of 95% intervals from replicate weights
and from the cluster-robust sandwich.

Usage: python benchmarks/sim_replicate_coverage.py [--samples 200] [--seed 1]

A finite population of H strata of schools (stratum effects on the
outcome, school random effects, students within schools) is sampled
repeatedly: two schools per stratum with probability proportional to size
(the paired schools of the PISA and TIMSS designs), then a fixed number of
students per school. Every sample is fitted with
``y ~ x + z + (1|school)`` and the total (unconditional) weights, and
three variance estimates: Fay's BRR (k = 0.5, one Hadamard row per stratum
pair), JK2 with both half-samples (TIMSS since 2015), and the sandwich.
The target of inference is the census fit (the same model fitted to the
whole population with unit weights). The sandwich treats schools as
independent draws and ignores the strata; replication uses the pairs.
Not part of the test suite. Writes benchmarks/out/coverage.json.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.linalg import hadamard

import pywemix

HERE = Path(__file__).resolve().parent
FORMULA = "y ~ x + z + (1|school)"


def population(rng, H=40, per_stratum=20):
    """Schools in strata with stratum means, school effects and sizes."""
    n_schools = H * per_stratum
    stratum = np.repeat(np.arange(H), per_stratum)
    size = rng.integers(30, 120, n_schools)
    z = rng.normal(0, 1, n_schools) + 0.5 * np.linspace(-1, 1, H)[stratum]
    u = rng.normal(0, 0.6, n_schools) + np.linspace(-0.8, 0.8, H)[stratum]
    school = np.repeat(np.arange(n_schools), size)
    x = rng.normal(0, 1, school.size) + 0.3 * u[school]
    y = 1 + 0.5 * x + 0.3 * z[school] + u[school] + rng.normal(0, 1, school.size)
    rows = pd.DataFrame(
        {"school": school, "x": x, "y": y, "z": z[school], "stratum": stratum[school]}
    )
    return rows, pd.DataFrame({"stratum": stratum, "size": size})


def draw(rng, rows, schools, m=15):
    """Two distinct schools per stratum drawn with probability proportional to
    size (weight 1/(2 p), the with-replacement approximation), then
    ``m`` students per school; total weights, Fay and JK2 columns."""
    H = schools["stratum"].max() + 1
    picked, pw = [], []
    for _h, grp in schools.groupby("stratum"):
        p = grp["size"].to_numpy() / grp["size"].sum()
        idx = rng.choice(grp.index.to_numpy(), 2, replace=False, p=p)
        picked.extend(idx)
        pw.extend(1.0 / np.minimum(1.0, 2 * p[np.searchsorted(grp.index.to_numpy(), idx)]))
    parts = []
    for k, (s, w2) in enumerate(zip(picked, pw)):
        stu = rows.index[rows["school"].to_numpy() == s]
        take = rng.choice(stu, min(m, len(stu)), replace=False)
        w1 = len(stu) / len(take)
        parts.append(rows.loc[take].assign(w2=w2, wt=w1 * w2, pair=k // 2, first=k % 2))
    d = pd.concat(parts, ignore_index=True)
    R = int(2 ** np.ceil(np.log2(H + 1)))
    had = hadamard(R)[:, 1 : H + 1]  # (R, H): one column per pair
    sign = np.where(d["first"].to_numpy() == 0, 1.0, -1.0)
    fay = 1 + 0.5 * had[:, d["pair"].to_numpy()] * sign  # (R, n)
    reps = pd.DataFrame((fay * d["wt"].to_numpy()).T, columns=[f"rw{r + 1}" for r in range(R)])
    d = pd.concat([d, reps], axis=1)
    d["jkzone"], d["jkrep"] = d["pair"] + 1, d["first"]
    return d, [f"rw{r + 1}" for r in range(R)]


def estimates(fit):
    vc = fit.var_components
    return np.r_[fit.params.to_numpy(), vc["variance"].to_numpy()], np.r_[
        fit.bse.to_numpy(), vc["std_error"].to_numpy()
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(a.seed)
    rows, schools = population(rng)
    census = pywemix.mix(FORMULA, rows)
    target, _ = estimates(census)
    names = list(census.params.index) + ["var(school)", "var(Residual)"]
    hits = {k: np.zeros(len(names)) for k in ("fay", "jk2", "sandwich")}
    ses = {k: [] for k in hits}
    est_all = []
    t0 = time.perf_counter()
    for _s in range(a.samples):
        d, cols = draw(rng, rows, schools)
        fay = pywemix.mix(
            FORMULA, d, ["wt", "w2"], replicates=pywemix.Replicates(cols, "fay", full_weight="wt")
        )
        jk = pywemix.mix(
            FORMULA,
            d,
            ["wt", "w2"],
            replicates=pywemix.Replicates(
                pywemix.jackknife_weights(d, "jkzone", "jkrep", "wt"), "jk2"
            ),
        )
        est, se_fay = estimates(fay)
        _, se_jk = estimates(jk)
        se_sw = np.r_[
            fay.std_errors("robust").to_numpy(),
            np.sqrt(np.clip(np.diag(fay.var_cov("robust")), 0, None)),
        ]
        est_all.append(est)
        for k, se in (("fay", se_fay), ("jk2", se_jk), ("sandwich", se_sw)):
            hits[k] += np.abs(est - target) <= 1.959964 * se
            ses[k].append(se)
    elapsed = time.perf_counter() - t0
    est_all = np.array(est_all)
    table = pd.DataFrame(
        {
            "census": target,
            "mean estimate": est_all.mean(0),
            "empirical SE": est_all.std(0, ddof=1),
        },
        index=names,
    )
    for k in hits:
        table[f"mean SE {k}"] = np.mean(ses[k], axis=0)
    for k in hits:
        table[f"coverage {k}"] = hits[k] / a.samples
    print(
        f"{a.samples} samples of {len(d)} students in {d['school'].nunique()} schools "
        f"({d['pair'].nunique()} pairs), {len(cols)} Fay replicates; {elapsed:.0f} s"
    )
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "coverage.json").write_text(
        json.dumps(
            dict(samples=a.samples, seed=a.seed, table=table.to_dict(orient="index")), indent=1
        )
    )


if __name__ == "__main__":
    main()
