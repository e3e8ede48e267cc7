"""Benchmark: a PISA-size fit, pywemix against lmer, glmer and glmmTMB in one run.

Usage::

    python benchmarks/bench_small_fit.py [--repeats 15] [--slow-repeats 3] [--no-r]

Data: ``make_data.py pisa --schools 150 --size 25 --seed 1`` (3,732 rows,
3,698 complete, 150 schools; made in a temporary folder), three categorical
predictors and ``escs``:

* linear ``pv1math ~ st29q03 + sc14q02 + st04q01 + escs + (1|schoolid)``,
  and with ``(1 + escs|schoolid)``: pywemix (ML) against ``lmer(REML = FALSE)``;
* logit ``highmath ~ ... + (1|schoolid)``: pywemix ``n_quad=1`` against
  ``glmer(nAGQ = 1)`` and ``glmmTMB``; pywemix ``n_quad=13`` against
  ``glmer(nAGQ = 13)`` (``--slow-repeats``, glmer takes seconds there).

pywemix is timed twice per case: unweighted (the model R fits) and with the
weights ``pwt1``, ``pwt2`` (``cond_weights=True``, the survey fit); the whole
``mix(...)`` call and reading ``.bse`` (robust standard errors) count. R's
fits are timed inside one long-lived R session (``r_fit_server.R``; the fit
call only, glmer's default control). Each repeat runs every fit once, pywemix
and R interleaved, so both meet the same machine load; the tables show
medians over repeats and the ratio of the medians. The load average is
recorded before every repeat. ``build_design`` alone (stage 1) is timed in
the same loop. Results: ``benchmarks/out/small_fit.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

import pywemix
from pywemix.design.formula import parse_formula
from pywemix.design.model import build_design

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rserver import RServer, environment, load_average  # noqa: E402

HERE = Path(__file__).resolve().parent
MAKE_DATA = Path("/work/shared/tools/make_data.py")
if not MAKE_DATA.exists():
    MAKE_DATA = HERE.parent.parent / "shared" / "tools" / "make_data.py"
RHS = "st29q03 + sc14q02 + st04q01 + escs"
WEIGHTS = ["pwt1", "pwt2"]
VARS = ["schoolid", "escs", "st04q01", "st29q03", "sc14q02", "pwt1", "pwt2", "pv1math", "highmath"]

#: name, formula, family, n_quad, {R name: R spec}, slow
CASES = [
    (
        "linear",
        f"pv1math ~ {RHS} + (1|schoolid)",
        "gaussian",
        13,
        {"lmer": dict(fun="lmer", REML=False)},
        False,
    ),
    (
        "linear_slope",
        f"pv1math ~ {RHS} + (1 + escs|schoolid)",
        "gaussian",
        13,
        {"lmer": dict(fun="lmer", REML=False)},
        False,
    ),
    (
        "logit_laplace",
        f"highmath ~ {RHS} + (1|schoolid)",
        "binomial",
        1,
        {
            "glmer": dict(fun="glmer", family="binomial", nAGQ=1),
            "glmmTMB": dict(fun="glmmTMB", family="binomial"),
        },
        False,
    ),
    (
        "logit_agq13",
        f"highmath ~ {RHS} + (1|schoolid)",
        "binomial",
        13,
        {"glmer": dict(fun="glmer", family="binomial", nAGQ=13)},
        True,
    ),
]


def make_data(folder: Path) -> Path:
    out = folder / "pisa_150x25_seed1.csv"
    subprocess.run(
        [
            sys.executable,
            str(MAKE_DATA),
            "pisa",
            "--schools",
            "150",
            "--size",
            "25",
            "--seed",
            "1",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


def pywemix_fit(df, formula, family, n_quad, weighted):
    res = pywemix.mix(
        formula, df, WEIGHTS if weighted else None, cond_weights=True, family=family, n_quad=n_quad
    )
    _ = res.bse
    return res


def timed(fn):
    """(wall seconds, CPU seconds, value) of ``fn()``."""
    c0, t0 = time.process_time(), time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, time.process_time() - c0, value


def median(xs):
    return statistics.median(xs) if xs else None


def run(df, csv, repeats, slow_repeats, use_r):
    times = {}
    checks = {}
    loads = []

    def add(key, t, cpu):
        times.setdefault(key, []).append(t)
        times.setdefault(key + ".cpu", []).append(cpu)

    server = RServer() if use_r else None
    try:
        if server is not None:
            server.load(csv, VARS)
            for name, formula, _, _, rspecs, _ in CASES:
                for rname, spec in rspecs.items():
                    server.case(f"{name}.{rname}", dict(spec, formula=formula))
        for r in range(max(repeats, slow_repeats)):
            loads.append(load_average())
            for name, formula, family, n_quad, rspecs, slow in CASES:
                if r >= (slow_repeats if slow else repeats):
                    continue
                for weighted in (False, True):
                    t, cpu, res = timed(lambda: pywemix_fit(df, formula, family, n_quad, weighted))  # noqa: B023 (called within this iteration)
                    add(f"{name}.pywemix{'_weighted' if weighted else ''}", t, cpu)
                    if not weighted:
                        checks[name] = {"pywemix_llf": float(res.llf)}
                if server is not None:
                    for rname in rspecs:
                        wall, cpu = server.time(f"{name}.{rname}", 1)
                        add(f"{name}.{rname}", wall[0], cpu[0])
            parsed = parse_formula(CASES[0][1])
            t, cpu, _ = timed(lambda: build_design(parsed, df, WEIGHTS, True))  # noqa: B023 (called within this iteration)
            add("linear.build_design_weighted", t, cpu)
        if server is not None:
            for name, _, _, _, rspecs, _ in CASES:
                for rname in rspecs:
                    checks[name][f"{rname}_llf"] = server.result(f"{name}.{rname}")["logLik"]
    finally:
        if server is not None:
            server.close()
    return times, checks, loads


def report(times, checks):
    rows = []
    for name, _, _, _, rspecs, _ in CASES:
        for rname in rspecs:
            row = dict(case=name, r_fit=rname, repeats=len(times[f"{name}.pywemix"]))
            for clock, suffix in (("wall", ""), ("cpu", ".cpu")):
                py = median(times[f"{name}.pywemix{suffix}"])
                pyw = median(times[f"{name}.pywemix_weighted{suffix}"])
                rt = median(times.get(f"{name}.{rname}{suffix}", []))
                row.update(
                    {
                        f"pywemix_ms_{clock}": 1e3 * py,
                        f"pywemix_weighted_ms_{clock}": 1e3 * pyw,
                        f"r_ms_{clock}": None if rt is None else 1e3 * rt,
                        f"ratio_{clock}": None if rt is None else py / rt,
                        f"ratio_weighted_{clock}": None if rt is None else pyw / rt,
                    }
                )
            rows.append(row)
    for clock in ("wall", "cpu"):
        print(f"\n{clock} time, medians (ms); ratio = pywemix / R, same run")
        print(
            f"{'case':15s} {'R fit':8s} {'pywemix':>9s} {'weighted':>9s} {'R':>9s} "
            f"{'ratio':>6s} {'ratio w':>7s}"
        )
        for row in rows:
            r_ms = row[f"r_ms_{clock}"]
            print(
                f"{row['case']:15s} {row['r_fit']:8s} {row[f'pywemix_ms_{clock}']:9.2f} "
                f"{row[f'pywemix_weighted_ms_{clock}']:9.2f} "
                f"{'n/a' if r_ms is None else f'{r_ms:.1f}':>9s} "
                f"{'n/a' if r_ms is None else format(row[f'ratio_{clock}'], '.3f'):>6s} "
                f"{'n/a' if r_ms is None else format(row[f'ratio_weighted_{clock}'], '.3f'):>7s}"
            )
    design = median(times["linear.build_design_weighted"])
    fit = median(times["linear.pywemix_weighted"])
    print(
        f"\nbuild_design alone (linear, weighted): {1e3 * design:.2f} ms, "
        f"{100 * design / fit:.0f}% of the weighted fit (wall medians)"
    )
    for name, c in checks.items():
        print(f"llf {name}: " + ", ".join(f"{k} {v:.6f}" for k, v in c.items()))
    return rows


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--slow-repeats", type=int, default=3)
    p.add_argument("--no-r", action="store_true", help="time pywemix only")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        csv = make_data(Path(tmp))
        df = pd.read_csv(csv)
        for _name, formula, family, n_quad, _, _ in CASES:  # warm-up (imports, caches)
            pywemix_fit(df, formula, family, n_quad, True)
        times, checks, loads = run(df, csv, a.repeats, a.slow_repeats, not a.no_r)
    rows = report(times, checks)
    env["load_average_end"] = load_average()
    print(f"load average: start {env['load_average']}, end {env['load_average_end']}")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "small_fit.json").write_text(
        json.dumps(
            dict(environment=env, rows=rows, checks=checks, loads=loads, times=times), indent=1
        )
    )


if __name__ == "__main__":
    main()
