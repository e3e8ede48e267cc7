"""Benchmark (issue 22, point 4): three levels at 612k rows, pywemix ``n_quad=5``
against glmer's Laplace approximation, both tolerances of glmer, one run.

Usage::

    python benchmarks/bench_three_level.py [--repeats 2] [--case large_logit]
                                           [--timeout 2400]

Data: ``make_data.py three --districts 81 --schools 260 --size 29 --seed 7``
(612,456 rows, ~21k schools in 81 districts; built once and cached under
``benchmarks/out/`` by :func:`bench_glmm_scale.dataset`, with its simulated
Poisson ``count``). Model ``pass ~ x + sex + (1|school) + (1|district)``
(binomial; ``--case large_poisson`` for the counts).

Each repeat runs, one after the other so that they meet the same machine load:

* ``glmer(nAGQ = 1)`` with glmer's default control, in one long-lived R
  session (``r_fit_server.R``; the data are read once, the fit call alone is
  timed);
* pywemix ``n_quad=5``, weighted (``w1 w2 w3``, ``cond_weights=True``), in a
  fresh subprocess (:func:`bench_glmm_scale.run_pywemix`: the ``mix`` call and
  the robust standard errors; its peak resident set, data frame included, is
  the memory reported);
* ``glmer(nAGQ = 1, control = glmerControl(tolPwrss = 1e-13))``, the
  tolerance at which glmer's PIRLS solves the modes as exactly as pywemix
  does;
* pywemix ``n_quad=1`` weighted (the Laplace fit, for the scale of things).

Ratios are pywemix / glmer, wall-clock and CPU, per repeat and for the
medians; the 1-minute load average is recorded around every fit. Results:
``benchmarks/out/three_level.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_glmm_scale import CASES, REPO, dataset, run_pywemix  # noqa: E402
from rserver import RServer, environment, load_average  # noqa: E402

VARS = ["pass", "count", "x", "sex", "school", "district"]
GLMER = {"glmer_default": {}, "glmer_tol13": {"tolPwrss": 1e-13}}
PYWEMIX = ["nq5_w", "nq1_w"]


def one_repeat(server, case, timeout, src, log):
    """Every fit of one repeat, in the order of the module's docstring."""
    _, formula, family = CASES[case]
    out = {}
    for name in ["glmer_default", "nq5_w", "glmer_tol13", "nq1_w"]:
        load = load_average()
        if name in GLMER:
            wall, cpu = server.time(name, 1)
            res = dict(
                wall_s=wall[0],
                cpu_s=cpu[0],
                loadavg_before=load,
                loadavg_after=load_average(),
                **server.result(name),
            )
        else:
            res = run_pywemix(case, name, src, timeout)
            res["loadavg_before"] = load
        out[name] = res
        log(
            f"{name}: wall {res.get('wall_s', float('nan')):.1f} s, "
            f"cpu {res.get('cpu_s', float('nan')):.1f} s, load {load}"
            + (f", peak RSS {res['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in res else "")
        )
    return out


def ratios(rep):
    """pywemix / glmer, wall (the fit call; pywemix's own ``fit_s``) and CPU."""
    out = {}
    for py in PYWEMIX:
        for r in GLMER:
            p, g = rep.get(py, {}), rep.get(r, {})
            if p.get("status") != "ok":
                continue
            out[f"{py}/{r}"] = dict(wall=p["fit_s"] / g["wall_s"], cpu=p["cpu_s"] / g["cpu_s"])
    return out


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--case", default="large_logit", choices=["large_logit", "large_poisson"])
    p.add_argument("--timeout", type=float, default=2400.0, help="seconds per pywemix fit")
    p.add_argument(
        "--src",
        type=Path,
        default=REPO / "src",
        help="the pywemix sources to measure (default: this checkout's)",
    )
    a = p.parse_args()
    _, formula, family = CASES[a.case]
    csv = dataset("large")
    env = environment()
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:7.0f} s] {msg}", flush=True)

    reps = []
    with RServer() as server:
        log(f"R read {server.load(csv, VARS)} rows")
        for name, extra in GLMER.items():
            server.case(name, dict(fun="glmer", formula=formula, family=family, nAGQ=1, **extra))
        for r in range(a.repeats):
            reps.append(one_repeat(server, a.case, a.timeout, a.src, log))
            log(f"repeat {r + 1} ratios: {json.dumps(ratios(reps[-1]))}")
    medians = {}
    for key in ratios(reps[0]):
        vals = [ratios(rep).get(key) for rep in reps]
        vals = [v for v in vals if v is not None]
        medians[key] = {c: statistics.median(v[c] for v in vals) for c in ("wall", "cpu")}
    peak = [
        rep[py]["peak_rss_mib"]
        for rep in reps
        for py in PYWEMIX
        if rep.get(py, {}).get("status") == "ok"
    ]
    env["load_average_end"] = load_average()
    summary = dict(
        case=a.case,
        src=str(a.src),
        formula=formula,
        family=family,
        median_ratios=medians,
        peak_rss_mib_max=max(peak) if peak else None,
    )
    print(json.dumps(summary, indent=1))
    print(f"load average: start {env['load_average']}, end {env['load_average_end']}")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "three_level.json").write_text(
        json.dumps(dict(environment=env, summary=summary, repeats=reps), indent=1)
    )


if __name__ == "__main__":
    main()
