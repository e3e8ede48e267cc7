"""Differential sweep: pywemix's optimum against lmer/glmer from many starts.

Draws ``--models`` random models with the seeded generator of
``tests/data/make_optimum_cases.py`` (2x2 and 3x3 blocks, double bars with
factors and logicals, correlated factor terms, three levels, near-singular
covariances; Gaussian and binomial/Poisson GLMMs by Laplace, a random
intercept logit by 9-node quadrature), fits them with
lmer / glmer(nAGQ = 1 or 9, tolPwrss = 1e-13) through
``tests/data/make_lme4_optimum.R``, then with pywemix from the default start
and from ``--starts`` random starts per model (lme4's theta order: random
factors, factors with diagonals at or near 0, perturbed optima). Reports the
worst llf shortfall below R among fits that report convergence (the issue's
criterion: none beyond 1e-6), and how many fits reported not converged.

    python benchmarks/optimum_sweep.py --models 110 --starts 100 [--out out.json]

Needs Rscript with lme4 and jsonlite. Use ``PYTHONPATH=<other checkout>/src``
to sweep another version of pywemix.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import pywemix

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "make_optimum_cases", ROOT / "tests" / "data" / "make_optimum_cases.py"
)
cases_mod = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(cases_mod)


def random_start(rng, theta, beta, lower, kind):
    """A start in lme4's order (``theta``; GLMMs ``(beta, theta)``)."""
    diag = lower == 0
    if kind == "random":
        t = np.where(diag, np.exp(rng.uniform(-4, 1.5, len(theta))), rng.normal(0, 1, len(theta)))
    elif kind == "boundary":
        t = np.where(diag, np.exp(rng.uniform(-2, 1, len(theta))), rng.normal(0, 1, len(theta)))
        hit = diag & (rng.random(len(theta)) < 0.5)
        t[hit] = rng.choice([0.0, 1e-8, 1e-5], size=hit.sum())
    else:  # perturbed optimum
        t = theta + 0.3 * rng.normal(size=len(theta)) * np.maximum(np.abs(theta), 0.3)
        t = np.where(diag, np.abs(t), t)
    if beta is None:
        return t
    b = beta + rng.normal(0, 0.5, len(beta)) if kind != "random" else rng.normal(0, 1, len(beta))
    return np.r_[b, t]


def fit(spec, data, start=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = (
            {}
            if spec["family"] == "gaussian"
            else dict(family=spec["family"], n_quad=spec["n_quad"])
        )
        return pywemix.mix(spec["formula"], data, start=start, **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=110)
    ap.add_argument("--starts", type=int, default=100)
    ap.add_argument("--first", type=int, default=1000, help="first case number")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    cases = list(range(args.first, args.first + args.models))
    with tempfile.TemporaryDirectory() as tmp:
        csv, specs_json, r_json = (Path(tmp) / n for n in ("c.csv", "s.json", "r.json"))
        cases_mod.write(cases, csv, specs_json)
        subprocess.run(
            [
                "Rscript",
                str(ROOT / "tests/data/make_lme4_optimum.R"),
                str(csv),
                str(specs_json),
                str(r_json),
            ],
            check=True,
        )
        ref = {c["case"]: c for c in json.loads(r_json.read_text())["cases"]}
    rows, t0 = [], time.time()
    for c in cases:
        spec, data = cases_mod.generate(c)
        rng = np.random.default_rng([77, c])
        base = fit(spec, data)
        gauss = spec["family"] == "gaussian"
        theta, lower = (
            np.asarray(base.theta),
            np.where(np.asarray(base.objective.structure.theta_lower()) == 0, 0.0, -np.inf),
        )
        beta = None if gauss else np.asarray(base.params)
        kinds = ["random", "boundary", "perturbed"]
        starts = [None] + [
            random_start(rng, theta, beta, lower, kinds[i % 3]) for i in range(args.starts)
        ]
        for i, s in enumerate(starts):
            try:
                r = base if s is None else fit(spec, data, s)
                llf, conv = float(r.llf), bool(r.converged)
                msg = "" if conv else r.optimization.message
            except Exception as exc:  # a failed fit is reported, not converged
                llf, conv, msg = np.nan, False, f"{type(exc).__name__}: {exc}"
            rows.append(
                dict(
                    case=c,
                    kind=spec["kind"],
                    start=i,
                    llf=llf,
                    converged=conv,
                    shortfall=ref[c]["llf"] - llf,
                    message=msg[:200],
                )
            )
        done = [r for r in rows if r["case"] == c]
        worst = max((r["shortfall"] for r in done if r["converged"]), default=np.nan)
        print(
            f"case {c:5d} {spec['kind']:20s} worst converged shortfall {worst: .3g}  "
            f"not converged {sum(not r['converged'] for r in done)}/{len(done)}",
            flush=True,
        )
    summarise(rows, time.time() - t0)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def summarise(rows, seconds):
    conv = [r for r in rows if r["converged"]]
    bad = [r for r in conv if r["shortfall"] > 1e-6]
    default = [r for r in rows if r["start"] == 0]
    print(
        f"\n{len({r['case'] for r in rows})} models, {len(rows)} fits "
        f"({len(default)} from the default start), {seconds:.0f} s"
    )
    print(
        f"reported converged: {len(conv)}; of those below R's maximum by more than 1e-6: {len(bad)}"
    )
    print(
        f"worst shortfall among converged fits: "
        f"{max((r['shortfall'] for r in conv), default=np.nan):.3g}"
    )
    print(
        f"worst shortfall from the default start: "
        f"{max((r['shortfall'] for r in default), default=np.nan):.3g}"
    )
    print(f"reported not converged: {len(rows) - len(conv)}")
    kinds = sorted({r["kind"] for r in rows})
    for k in kinds:
        kr = [r for r in rows if r["kind"] == k]
        kc = [r for r in kr if r["converged"]]
        below = sum(r["shortfall"] > 1e-6 for r in kc)
        print(
            f"  {k:20s} fits {len(kr):5d}  converged below R {below:4d}"
            f"  worst {max((r['shortfall'] for r in kc), default=np.nan): .3g}"
            f"  not converged {len(kr) - len(kc)}"
        )
    for r in bad[:20]:
        print("  BELOW:", r)


if __name__ == "__main__":
    sys.exit(main())
