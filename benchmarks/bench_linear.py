"""Wall-clock benchmark of pywemix's linear fits against lme4 and statsmodels.

Usage::

    python benchmarks/bench_linear.py            # PISA example (3,053 rows)
    python benchmarks/bench_linear.py --large    # + 1,000,000 rows in 10,000 schools
    python benchmarks/bench_linear.py --large --profile   # + stage timings / cProfile
    python benchmarks/bench_linear.py --profile-only      # only the 1M stage timings
    python benchmarks/bench_linear.py --rev HEAD ...      # a committed revision
    python benchmarks/bench_linear.py --wait-quiet 120 .. # wait for a low load average

pywemix is imported from a frozen copy (benchmarks/out/_snapshot) of the
working tree, or of ``--rev``, so that a run and its memory subprocesses all
time one version even if the sources change meanwhile; the JSON records the
commit, the modified files and a hash of the sources. The 1-min load average
is recorded before every case: on a shared machine other jobs inflate the
figures (the best of the repeats is the least affected).

What is timed (same process, same machine; data reading never included):

* pywemix: the whole ``pywemix.mix(...)`` call (model frame, formulaic design,
  sufficient statistics, optimisation, cluster-robust variances, result), plus
  reading ``.bse`` -- weighted (``pwt1``/``pwt2``, ``cond_weights=True``) and
  unweighted (``weights=None``, the same model lme4 fits).
* lme4: only the ``lmer(..., REML = FALSE)`` call, timed inside R by
  ``benchmarks/lme4_linear.R`` (unweighted; skipped if ``Rscript`` is missing).
* statsmodels: ``smf.mixedlm(fixed, data, groups=...).fit(reml=False)``
  (formula building included, as for pywemix), random intercept only,
  PISA example only.

Every figure is kept as all repeats; the tables show the best (minimum) and
the median. Results go to ``benchmarks/out/linear.json``.

Memory (``--large``): each model is fitted once more in a fresh subprocess.
After the CSV is loaded, the process's RSS high-water mark is reset by
writing ``5`` to ``/proc/self/clear_refs`` (Linux); the peak is then
``VmHWM after the fit - VmRSS before the fit``, i.e. resident memory the fit
needed beyond the loaded data frame (and the interpreter). If the reset is
not allowed, ``ru_maxrss`` (from ``resource.getrusage``) is used instead,
which can under-report because the CSV parser's own peak is included in the
baseline. A second subprocess reports tracemalloc's peak of Python + numpy
allocations during the fit (numpy reports its buffers to tracemalloc).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SMALL_CSV = Path("/work/shared/reference/data/pisa_s1.csv")
MAKE_DATA = Path("/work/shared/tools/make_data.py")
LARGE_ARGS = ["pisa", "--schools", "10000", "--size", "100", "--seed", "2"]
LARGE_CSV = OUT / "pisa_s10000_n100_seed2.csv"
REPO = HERE.parent
SNAP = OUT / "_snapshot"

FIXED = "pv1math ~ st29q03 + sc14q02 + st04q01 + escs"
RANDOM = {"intercept": "(1|schoolid)", "slope": "(1 + escs|schoolid)"}
WEIGHTS = ["pwt1", "pwt2"]
MODEL_VARS = ["pv1math", "st29q03", "sc14q02", "st04q01", "escs", "schoolid"]


def formula(kind: str) -> str:
    return f"{FIXED} + {RANDOM[kind]}"


# --------------------------------------------------------------------------- timing
def timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; return (list of wall seconds, last value)."""
    times, value = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return times, value


def summary(times):
    if not times:
        return None
    return {
        "best": min(times),
        "median": statistics.median(times),
        "times": list(times),
        "repeats": len(times),
    }


def pywemix_fit(df, kind: str, weighted: bool):
    import pywemix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pywemix.mix(
            formula(kind), df, weights=WEIGHTS if weighted else None, cond_weights=True
        )
        _ = res.bse  # robust SEs are computed in mix(); reading them is part of use
    return res


def pywemix_estimates(res):
    vc = res.var_components
    return {
        "params": {k: float(v) for k, v in res.params.items()},
        "bse_robust": {k: float(v) for k, v in res.bse.items()},
        "bse_model": {k: float(v) for k, v in res.std_errors("model").items()},
        "llf": float(res.llf),
        "converged": bool(res.converged),
        "theta": [float(t) for t in res.theta],
        "var_components": [
            {
                "var1": r.var1,
                "var2": (None if pd.isna(r.var2) else r.var2),
                "group": r.group,
                "variance": float(r.variance),
            }
            for r in vc.itertuples()
        ],
        "evaluations": int(getattr(res.optimization, "evaluations", -1)),
        "iterations": int(getattr(res.optimization, "iterations", -1)),
        "warnings": list(res.warnings),
    }


def statsmodels_fit(df, kind: str):
    import statsmodels.formula.api as smf

    assert kind == "intercept"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.mixedlm(FIXED, df, groups=df["schoolid"])
        res = model.fit(reml=False)
    res._bench_warnings = [str(w.message)[:200] for w in caught]
    return res


def run_lme4(csv: Path, kinds, repeats: int, tag: str):
    """Time lmer in R; return {kind: lme4 fit record} or None if R is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("  Rscript not found: lme4 skipped", flush=True)
        return None
    out = OUT / f"lme4_{tag}.json"
    cmd = [rscript, str(HERE / "lme4_linear.R"), str(csv), str(repeats), str(out)]
    cmd += [formula(k) for k in kinds]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  lme4 failed (skipped):\n{proc.stderr[-2000:]}", flush=True)
        return None
    data = json.loads(out.read_text())
    fits = {k: f for k, f in zip(kinds, data["fits"])}
    for f in fits.values():
        f["times"] = f["times"] if isinstance(f["times"], list) else [f["times"]]
    return {"meta": data["meta"], "fits": fits}


# --------------------------------------------------------------------------- source
def _git(*args) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def snapshot_source(rev: str | None) -> dict:
    """Copy the pywemix package to benchmarks/out/_snapshot and import it from there.

    The working tree may change while a long benchmark runs (and the memory
    subprocesses import pywemix anew), so every process of one run imports the
    same frozen copy: of the working tree (``rev`` None) or of a git revision.
    """
    import hashlib

    if SNAP.exists():
        shutil.rmtree(SNAP)
    SNAP.mkdir(parents=True)
    if rev is None:
        shutil.copytree(
            REPO / "src" / "pywemix", SNAP / "pywemix", ignore=shutil.ignore_patterns("__pycache__")
        )
    else:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "src/pywemix"], capture_output=True, check=True
        ).stdout
        subprocess.run(
            ["tar", "-x", "-C", str(SNAP), "--strip-components=1"], input=archive, check=True
        )
    digest = hashlib.sha256()
    for f in sorted((SNAP / "pywemix").rglob("*.py")):
        digest.update(f.read_bytes())
    sys.path.insert(0, str(SNAP))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(SNAP)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    info = {
        "source": "working tree" if rev is None else f"git {rev}",
        "commit": _git("rev-parse", rev or "HEAD"),
        "dirty_files": (_git("status", "--porcelain", "src").splitlines() if rev is None else []),
        "sha256_py": digest.hexdigest()[:16],
        "snapshot": str(SNAP),
    }
    return info


# --------------------------------------------------------------------------- memory
def _proc_status():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) * 1024  # kB -> bytes
    return out


def memory_child(csv: str, kind: str, weighted: bool, mode: str) -> None:
    """Run in a subprocess: load the data, fit once, print memory figures as JSON."""
    df = pd.read_csv(csv)
    import formulaic  # noqa: F401

    import pywemix  # noqa: F401  - import cost outside the measurement

    pywemix_fit(df.head(2000), kind, weighted)  # warm imports/caches on small data
    gc.collect()
    rep = {
        "frame_bytes": int(df.memory_usage(deep=True).sum()),
        "pywemix_file": sys.modules["pywemix"].__file__,
    }
    if mode == "rss":
        ru_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        st = _proc_status()
        rep["rss_before"] = st["VmRSS"]
        rep["ru_maxrss_before"] = ru_before
        reset = False
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            reset = _proc_status()["VmHWM"] <= st["VmRSS"] * 1.05 + 4e6
        except OSError:
            pass
        rep["hwm_reset"] = reset
        t0 = time.perf_counter()
        pywemix_fit(df, kind, weighted)
        rep["seconds"] = time.perf_counter() - t0
        st2 = _proc_status()
        ru_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rep["vmhwm_after"] = st2["VmHWM"]
        rep["ru_maxrss_after"] = ru_after
        if reset:
            rep["peak_beyond_data"] = st2["VmHWM"] - st["VmRSS"]
            rep["method"] = "VmHWM (reset via /proc/self/clear_refs) - VmRSS before fit"
        else:
            rep["peak_beyond_data"] = max(0, ru_after - max(ru_before, st["VmRSS"]))
            rep["method"] = "ru_maxrss after - max(ru_maxrss, VmRSS) before (lower bound)"
    else:
        tracemalloc.start()
        t0 = time.perf_counter()
        pywemix_fit(df, kind, weighted)
        rep["seconds_under_tracemalloc"] = time.perf_counter() - t0
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rep["tracemalloc_peak"] = peak
        rep["tracemalloc_retained"] = cur
        rep["method"] = "tracemalloc peak of Python+numpy allocations during mix()"
    print(json.dumps(rep))


def measure_memory(csv: Path, kind: str, weighted: bool = True) -> dict:
    rep = {}
    for mode in ("rss", "tracemalloc"):
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_memory-child",
            str(csv),
            kind,
            "1" if weighted else "0",
            mode,
        ]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            rep[mode] = {"error": proc.stderr[-1500:]}
            continue
        rep[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rep


# --------------------------------------------------------------------------- profile
class StageTimer:
    """Wrap named functions of pywemix's modules with wall-clock accumulators."""

    def __init__(self):
        self.totals, self.calls, self._undo = {}, {}, []

    def wrap(self, owner, attr, label):
        orig = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - t0
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, attr, wrapper)
        self._undo.append((owner, attr, orig))

    def restore(self):
        for owner, attr, orig in reversed(self._undo):
            setattr(owner, attr, orig)
        self._undo.clear()


STAGES = [
    # (module path, attribute, label, depth)
    # the one-response pipeline is pywemix.pipeline (pywemix.fit before issue 19)
    ("pywemix.pipeline|pywemix.fit", "build_design", "design (build_design)", 0),
    ("pywemix.design.model", "_frame", "model frame: columns, NA drop, categoricals", 1),
    ("pywemix.design.model", "_weights", "weights: validation, levels", 1),
    ("pywemix.design.model", "sorted_levels", "sort rows by group", 1),
    ("pywemix.design.model", "model_matrix", "formulaic model_matrix (X and Z)", 1),
    ("pywemix.design.model", "check_rank", "rank check of X", 1),
    ("pywemix.design.model", "conditional_weights", "conditional weights", 1),
    ("pywemix.objective.make", "GaussianObjective", "sufficient statistics (objective setup)", 0),
    ("pywemix.objective.gaussian", "group_crossprod", "group_crossprod (G'WG per school)", 1),
    ("pywemix.estimation.linear", "_optimize", "optimisation", 0),
    ("pywemix.estimation.linear", "newton_batch", "Newton with exact gradients", 1),
    ("pywemix.estimation.linear", "minimize_bounded", "L-BFGS-B (+ Newton polish)", 1),
    ("pywemix.objective.gaussian.GaussianObjective", "profiled", "objective evaluations (all)", 1),
    (
        "pywemix.objective.gaussian.GaussianObjective",
        "profiled_grad",
        "objective + gradient evaluations (all)",
        1,
    ),
    ("pywemix.pipeline|pywemix.fit", "estimate_variance", "robust variance (sandwich)", 0),
    ("pywemix.objective.gaussian.GaussianObjective", "conditional_modes", "conditional modes", 0),
    ("pywemix.results.result", "variance_table", "variance table", 0),
]


def _resolve(path):
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(path)


def profile_fit(df, kind: str, tag: str) -> dict:
    import pywemix  # noqa: F401

    timer = StageTimer()
    for mods, attr, label, _ in STAGES:
        for mod in mods.split("|"):  # alternatives: where the code is now, or was
            try:
                owner = _resolve(mod)
            except (ImportError, AttributeError):
                continue
            if hasattr(owner, attr):  # the code may have moved on: skip what is gone
                timer.wrap(owner, attr, label)
                break
    import pywemix.estimation.linear as _lin

    depth = {label: d for _, _, label, d in STAGES}
    if not hasattr(_lin, "_optimize"):  # older code: the optimiser is called directly
        depth["L-BFGS-B (+ Newton polish)"] = 0
    # snap-to-boundary / final profiled call happen outside minimize_bounded but
    # call `profiled`; those are counted under "objective evaluations" too
    try:
        gc.collect()
        t0 = time.perf_counter()
        pywemix_fit(df, kind, True)
        total = time.perf_counter() - t0
    finally:
        timer.restore()
    stages = []
    for _, _, label, _ in STAGES:
        if label in timer.totals:
            stages.append(
                {
                    "stage": label,
                    "depth": depth[label],
                    "seconds": timer.totals[label],
                    "calls": timer.calls[label],
                }
            )
    top = sum(s["seconds"] for s in stages if s["depth"] == 0)
    stages.append(
        {
            "stage": "other (result assembly, fitted values, checks)",
            "depth": 0,
            "seconds": total - top,
            "calls": 1,
        }
    )
    # cProfile of one more fit: the top functions by own time
    prof = cProfile.Profile()
    gc.collect()
    prof.enable()
    pywemix_fit(df, kind, True)
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(40)
    (OUT / f"profile_{tag}_{kind}.txt").write_text(buf.getvalue())
    return {
        "total": total,
        "stages": stages,
        "cprofile_file": str(OUT / f"profile_{tag}_{kind}.txt"),
    }


def print_profile(kind, prof):
    print(
        f"\nStage wall-clock times, pywemix weighted {kind} fit on 1M rows "
        f"(total {prof['total']:.2f} s):"
    )
    for s in prof["stages"]:
        ind = "    " * s["depth"]
        pct = 100 * s["seconds"] / prof["total"]
        print(
            f"  {ind}{s['stage']:<{52 - len(ind)}} {s['seconds']:8.3f} s {pct:5.1f}%"
            f"  ({s['calls']} call{'s' if s['calls'] != 1 else ''})"
        )
    print(f"  cProfile listing: {prof['cprofile_file']}")


# --------------------------------------------------------------------------- comparison
def compare(pw: dict, lme: dict) -> dict:
    """Unweighted pywemix vs lme4: largest differences in estimates."""

    def norm(name):
        return name.replace("[T.", "").replace("]", "").replace("(Intercept)", "Intercept")

    lfix = {norm(k): v for k, v in lme["fixef"].items()}
    lse = {norm(k): v for k, v in lme["se"].items()}
    rel_b, rel_se = {}, {}
    for k, v in pw["params"].items():
        kk = norm(k)
        if kk in lfix:
            rel_b[k] = abs(v - lfix[kk]) / max(abs(lfix[kk]), 1e-12)
            rel_se[k] = pw["bse_model"][k] / lse[kk] - 1.0
    vc_l = [v for v in lme["varcorr"]["vcov"]]
    vc_p = [r["variance"] for r in pw["var_components"]]
    theta_l = lme["theta"] if isinstance(lme["theta"], list) else [lme["theta"]]
    return {
        "llf_pywemix": pw["llf"],
        "llf_lme4": lme["loglik"],
        "llf_diff": pw["llf"] - lme["loglik"],
        "max_rel_diff_beta": max(rel_b.values()),
        "max_rel_diff_model_se": max(abs(x) for x in rel_se.values()),
        "theta_pywemix": pw["theta"],
        "theta_lme4": theta_l,
        "varcomp_pywemix": vc_p,
        "varcomp_lme4": vc_l,
    }


# --------------------------------------------------------------------------- main
def fmt(x, w=9, d=3):
    return f"{x:{w}.{d}f}" if x is not None else f"{'-':>{w}}"


def print_table(rows, stat):
    head = (
        f"{'case (lme4, statsmodels: always unweighted)':<44} {'pywemix':>9} {'lme4':>9} "
        f"{'statsm.':>9} {'pyw/lme4':>9}"
    )
    print(f"\n[{stat} of repeats, seconds]")
    print(head)
    print("-" * len(head))
    for r in rows:
        p = r["pywemix"][stat] if r["pywemix"] else None
        l_ = r["lme4"][stat] if r["lme4"] else None
        s = r["statsmodels"][stat] if r["statsmodels"] else None
        ratio = p / l_ if (p is not None and l_) else None
        print(f"{r['case']:<44} {fmt(p)} {fmt(l_)} {fmt(s)} {fmt(ratio, 9, 2)}")


def other_load() -> float:
    """1-minute load average (includes this benchmark's own process)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until the 1-min load average is below ``limit``."""
    t0 = time.time()
    while other_load() > limit and time.time() - t0 < max_wait:
        time.sleep(5)
    return other_load()


def bench_dataset(label, csv, df, repeats_py, repeats_r, statsmodels_on, tag):
    rows, extra = [], {}
    kinds = ["intercept", "slope"]
    print(f"\n== {label}: {len(df):,} rows in the file; timing ...", flush=True)
    load_r = other_load()
    lme = run_lme4(csv, kinds, repeats_r, tag)
    for kind in kinds:
        load_py = other_load()
        t_w, res_w = timed(lambda k=kind: pywemix_fit(df, k, True), repeats_py)
        print(f"  pywemix weighted {kind}: best {min(t_w):.3f} s", flush=True)
        t_u, res_u = timed(lambda k=kind: pywemix_fit(df, k, False), repeats_py)
        print(f"  pywemix unweighted {kind}: best {min(t_u):.3f} s", flush=True)
        t_s, sm_res = [], None
        if statsmodels_on and kind == "intercept":
            complete = df.dropna(subset=MODEL_VARS)
            t_s, sm_res = timed(lambda d=complete, k=kind: statsmodels_fit(d, k), repeats_py)
            print(f"  statsmodels {kind}: best {min(t_s):.3f} s", flush=True)
        lrec = lme["fits"][kind] if lme else None
        lsum = summary(lrec["times"]) if lrec else None
        rows.append(
            {
                "case": f"{label} {RANDOM[kind]} weighted",
                "pywemix": summary(t_w),
                "lme4": lsum,
                "statsmodels": summary(t_s),
                "loadavg_before": [load_py, load_r],
            }
        )
        rows.append(
            {
                "case": f"{label} {RANDOM[kind]} unweighted",
                "pywemix": summary(t_u),
                "lme4": lsum,
                "statsmodels": summary(t_s),
                "loadavg_before": [load_py, load_r],
            }
        )
        est = {
            "pywemix_weighted": pywemix_estimates(res_w),
            "pywemix_unweighted": pywemix_estimates(res_u),
            "nobs": int(res_w.nobs),
        }
        if lrec:
            est["lme4"] = {
                k: lrec[k]
                for k in ("fixef", "se", "theta", "sigma", "loglik", "varcorr", "nobs", "warnings")
            }
            est["unweighted_vs_lme4"] = compare(est["pywemix_unweighted"], lrec)
        if sm_res is not None:
            est["statsmodels"] = {
                "params": {k: float(v) for k, v in sm_res.fe_params.items()},
                "llf": float(sm_res.llf),
                "group_var": float(sm_res.cov_re.iloc[0, 0]),
                "scale": float(sm_res.scale),
                "converged": bool(sm_res.converged),
                "warnings": sm_res._bench_warnings,
            }
        extra[kind] = est
    return rows, extra, (lme["meta"] if lme else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--large", action="store_true", help="also benchmark 1,000,000 rows in 10,000 schools"
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="with --large: stage timings and cProfile of the 1M fits",
    )
    ap.add_argument("--repeats", type=int, default=20, help="repeats on the PISA example")
    ap.add_argument("--large-repeats", type=int, default=3, help="repeats at 1M rows")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-min load average to "
        "drop below 0.3 (other jobs on the machine distort timings)",
    )
    ap.add_argument(
        "--profile-only",
        action="store_true",
        help="only the stage timings / cProfile of the 1M fits "
        "(writes benchmarks/out/profile_large.json)",
    )
    ap.add_argument(
        "--rev",
        default=None,
        help="benchmark this git revision of src/pywemix (default: a frozen "
        "copy of the working tree)",
    )
    ap.add_argument("--_memory-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory_child:
        csv, kind, weighted, mode = args._memory_child
        memory_child(csv, kind, weighted == "1", mode)
        return
    OUT.mkdir(exist_ok=True)
    source = snapshot_source(args.rev)
    import formulaic
    import scipy

    import pywemix

    env = {
        k: os.environ.get(k)
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
        )
    }
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "formulaic": formulaic.__version__,
        "pywemix": pywemix.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "env": env,
        "pywemix_source": source,
        "pywemix_file": pywemix.__file__,
    }
    assert pywemix.__file__.startswith(str(SNAP)), pywemix.__file__
    try:
        import statsmodels

        meta["statsmodels"] = statsmodels.__version__
        have_sm = True
    except ImportError:
        have_sm = False
    if args.wait_quiet > 0:
        print(f"waiting for a quiet machine (load {other_load():.2f}) ...", flush=True)
        wait_quiet(0.3, args.wait_quiet)
    meta["loadavg_start"] = other_load()
    print("environment:", json.dumps(env), f"load average {meta['loadavg_start']:.2f}")
    print(
        f"pywemix from {source['source']} (commit {source['commit'][:10]}, "
        f"{len(source['dirty_files'])} modified files, sha {source['sha256_py']})"
    )

    if args.profile_only:
        if not LARGE_CSV.exists():
            subprocess.run(
                [sys.executable, str(MAKE_DATA), *LARGE_ARGS, str(LARGE_CSV)], check=True
            )
        big = pd.read_csv(LARGE_CSV)
        pywemix_fit(big.head(5000), "slope", True)  # warm-up
        prof = {k: profile_fit(big, k, "large") for k in ("intercept", "slope")}
        for kind, pr in prof.items():
            print_profile(kind, pr)
        (OUT / "profile_large.json").write_text(
            json.dumps({"meta": meta, "profile_large": prof}, indent=1, default=str)
        )
        return

    small = pd.read_csv(SMALL_CSV)
    rows, estimates = [], {}
    r, e, lmeta = bench_dataset(
        "PISA 3,053", SMALL_CSV, small, args.repeats, args.repeats, have_sm, "small"
    )
    rows += r
    estimates["small"] = e
    meta["lme4"] = lmeta
    report = {"meta": meta, "rows": rows, "estimates": estimates}

    if args.large:
        if not LARGE_CSV.exists():
            print(f"generating {LARGE_CSV} ...", flush=True)
            subprocess.run(
                [sys.executable, str(MAKE_DATA), *LARGE_ARGS, str(LARGE_CSV)], check=True
            )
        t0 = time.perf_counter()
        big = pd.read_csv(LARGE_CSV)
        print(f"read {len(big):,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        r, e, _ = bench_dataset(
            "1M/10k", LARGE_CSV, big, args.large_repeats, args.large_repeats, False, "large"
        )
        rows += r
        estimates["large"] = e
        if not args.no_memory:
            mem = {}
            for kind in ("intercept", "slope"):
                print(f"  memory, pywemix weighted {kind} ...", flush=True)
                mem[kind] = measure_memory(LARGE_CSV, kind)
            report["memory_large"] = mem
        if args.profile:
            report["profile_large"] = {
                k: profile_fit(big, k, "large") for k in ("intercept", "slope")
            }

    meta["loadavg_end"] = other_load()
    if max(meta["loadavg_start"], meta["loadavg_end"]) > 1.2:
        print(
            f"\nWARNING: load average {meta['loadavg_start']:.2f} at start, "
            f"{meta['loadavg_end']:.2f} at end: other jobs shared the CPUs, "
            "timings are inflated",
            flush=True,
        )
    print_table(rows, "best")
    print_table(rows, "median")
    if "memory_large" in report:
        print("\npywemix peak memory beyond the loaded data frame (1M rows, weighted):")
        for kind, m in report["memory_large"].items():
            rss, tm = m.get("rss", {}), m.get("tracemalloc", {})
            frame = rss.get("frame_bytes") or tm.get("frame_bytes") or 0
            beyond = rss.get("peak_beyond_data", float("nan")) / 2**20
            print(
                f"  {kind:<10} RSS peak +{beyond:7.0f} MiB"
                f"  [{rss.get('method', rss.get('error', '?'))}]"
            )
            traced = tm.get("tracemalloc_peak", float("nan")) / 2**20
            print(
                f"  {'':<10} tracemalloc peak {traced:7.0f} MiB"
                f"  (data frame itself {frame / 2**20:.0f} MiB)"
            )
    for tag, est in estimates.items():
        for kind, e in est.items():
            c = e.get("unweighted_vs_lme4")
            if c:
                print(
                    f"\n{tag} {kind}: unweighted pywemix vs lme4: logLik {c['llf_pywemix']:.4f}"
                    f" vs {c['llf_lme4']:.4f} (diff {c['llf_diff']:.2e}); max rel. diff "
                    f"beta {c['max_rel_diff_beta']:.1e}, "
                    f"model SE {c['max_rel_diff_model_se']:.1e}; "
                    f"theta {np.round(c['theta_pywemix'], 6).tolist()} vs "
                    f"{np.round(c['theta_lme4'], 6).tolist()}"
                )
            if "statsmodels" in e:
                s = e["statsmodels"]
                print(
                    f"{tag} {kind}: statsmodels logLik {s['llf']:.4f}, converged "
                    f"{s['converged']}, warnings {len(s['warnings'])}"
                )
    if "profile_large" in report:
        for kind, prof in report["profile_large"].items():
            print_profile(kind, prof)
    (OUT / "linear.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwritten {OUT / 'linear.json'}")


if __name__ == "__main__":
    main()
