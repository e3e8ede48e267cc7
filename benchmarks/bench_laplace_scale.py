"""Benchmark: the Laplace fit (``n_quad=1``) at survey scale against glmer(nAGQ=1).

Usage: python benchmarks/bench_laplace_scale.py [--with-r] [--skip-large]

Cases (three-level data from /work/shared/tools/make_data.py "three"; the
count response ``count`` is simulated with numpy, seed 11, from
``log mu = 0.1 + 0.25 x + 0.15 [sex = M] + u_school + u_district``, standard
deviations 0.4 and 0.3):

* ``small_logit``, ``small_poisson``: --districts 10 --schools 10 --size 27 --seed 7
* ``large_logit``, ``large_poisson``: --districts 81 --schools 260 --size 29
  --seed 7 (612,456 rows)

pywemix fits ``pass ~ x + sex + (1|school) + (1|district)`` (or ``count ~
...``) with weights w1 w2 w3, ``cond_weights=True``, ``n_quad=1`` (standard
errors included); with ``--with-r`` the same run also times lme4's
unweighted ``glmer(nAGQ = 1, control = glmerControl(optimizer = "bobyqa"))``
through Rscript (the script ``GLMER_R`` below). Each fit runs in its own
process; reported per case: wall and CPU seconds (``time.process_time`` in
Python, ``proc.time`` user + system in R) of the fit alone (not reading the
data), peak resident memory of the process (``getrusage``), iterations, and
the load average before and after (the machine is shared, so wall-time ratios
move with the load; CPU-time ratios much less). Writes
benchmarks/out/laplace_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MAKE_DATA = Path("/work/shared/tools/make_data.py")
SIZES = {
    "small": ["--districts", "10", "--schools", "10", "--size", "27", "--seed", "7"],
    "large": ["--districts", "81", "--schools", "260", "--size", "29", "--seed", "7"],
}
RHS = "x + sex + (1|school) + (1|district)"
#: R side: the fit's elapsed and CPU (user + system) seconds and log-likelihood.
GLMER_R = """
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(lme4))
d <- read.csv(args[1])
fam <- if (args[3] == "poisson") poisson() else binomial()
t0 <- proc.time()
m <- glmer(as.formula(args[2]), data = d, family = fam, nAGQ = 1,
           control = glmerControl(optimizer = "bobyqa"))
se <- sqrt(diag(vcov(m)))
t1 <- proc.time() - t0
cat(sprintf("%.4f %.4f %.8f\\n", t1[["elapsed"]], t1[["user.self"]] + t1[["sys.self"]],
            as.numeric(logLik(m))))
"""


def add_counts(df: pd.DataFrame, seed: int = 11) -> pd.DataFrame:
    """Add a Poisson response ``count`` with school and district effects."""
    rng = np.random.default_rng(seed)
    school = rng.normal(0.0, 0.4, df["school"].max() + 1)
    district = rng.normal(0.0, 0.3, df["district"].max() + 1)
    eta = (
        0.1
        + 0.25 * df["x"]
        + 0.15 * (df["sex"] == "M")
        + school[df["school"]]
        + district[df["district"]]
    )
    return df.assign(count=rng.poisson(np.exp(eta)))


def make_csv(size: str, folder: Path) -> Path:
    """The data of one size with the count response (made once, then reused)."""
    out = folder / f"three_{size}_counts.csv"
    if not out.exists():
        raw = folder / f"three_{size}.csv"
        subprocess.run(
            [sys.executable, str(MAKE_DATA), "three", *SIZES[size], str(raw)],
            check=True,
            capture_output=True,
        )
        add_counts(pd.read_csv(raw)).to_csv(out, index=False)
    return out


def fit_one(csv: str, family: str) -> dict:
    """Fit in this process; wall, CPU and peak memory of the fit."""
    import warnings

    import pywemix

    df = pd.read_csv(csv)
    response = "pass" if family == "binomial" else "count"
    warnings.simplefilter("ignore")
    t0, c0 = time.perf_counter(), time.process_time()
    res = pywemix.mix(
        f"{response} ~ {RHS}", df, ["w1", "w2", "w3"], cond_weights=True, family=family, n_quad=1
    )
    se = np.asarray(res.bse, dtype=float)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    opt = res.optimization
    return dict(
        wall_s=wall,
        cpu_s=cpu,
        llf=float(res.llf),
        iterations=int(opt.iterations),
        converged=bool(opt.converged),
        params=np.asarray(res.params, float).tolist(),
        se=se.tolist(),
        nobs=len(df),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def run_child(args: list) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def glmer_one(csv: Path, family: str) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    response = "pass" if family == "binomial" else "count"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    script = csv.parent / "glmer_laplace_scale.R"
    script.write_text(GLMER_R)
    out = subprocess.run(
        ["Rscript", str(script), str(csv), f"{response} ~ {RHS}", family],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return None
    wall, cpu, llf = (float(x) for x in out.stdout.strip().splitlines()[-1].split())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dict(wall_s=wall, cpu_s=cpu, llf=llf, peak_rss_mb=peak / 1024 if peak > before else None)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--with-r", action="store_true", help="also time glmer(nAGQ=1)")
    p.add_argument("--skip-large", action="store_true", help="only the 2,700-row cases")
    p.add_argument("--child", nargs=2, metavar=("CSV", "FAMILY"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(fit_one(*a.child)))
        return
    folder = HERE / "out"
    folder.mkdir(exist_ok=True)
    rows = []
    for size in ["small"] + ([] if a.skip_large else ["large"]):
        csv = make_csv(size, folder)
        for family in ("binomial", "poisson"):
            load0 = os.getloadavg()[0]
            ours = run_child(["--child", str(csv), family])
            theirs = glmer_one(csv, family) if a.with_r else None
            row = dict(
                case=f"{size}_{family}",
                pywemix=ours,
                glmer=theirs,
                load_before=load0,
                load_after=os.getloadavg()[0],
            )
            if theirs:
                row["wall_ratio"] = ours["wall_s"] / theirs["wall_s"]
                row["cpu_ratio"] = ours["cpu_s"] / theirs["cpu_s"]
            rows.append(row)
            print(
                f"{row['case']:15s} n={ours['nobs']:7d} pywemix wall {ours['wall_s']:7.2f} s "
                f"cpu {ours['cpu_s']:7.2f} s peak {ours['peak_rss_mb']:6.0f} MB "
                f"iter {ours['iterations']:3d} | glmer "
                + (
                    "n/a"
                    if not theirs
                    else f"wall {theirs['wall_s']:7.2f} s cpu {theirs['cpu_s']:7.2f} s | ratio "
                    f"wall {row['wall_ratio']:.3f} cpu {row['cpu_ratio']:.3f}"
                )
                + f" | load {load0:.1f}->{row['load_after']:.1f}",
                flush=True,
            )
    (folder / "laplace_scale.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
