"""Client of ``benchmarks/r_fit_server.R``: one long-lived R session that
times lme4 / glmmTMB fits on request, so that R's fits can be interleaved
with pywemix's in one run (same machine load for both), without R's start-up
or data reading in the figures.

Also the load average and the environment records the benchmarks share.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class RServer:
    """A running ``r_fit_server.R``; use as a context manager."""

    def __init__(self):
        if shutil.which("Rscript") is None:
            raise RuntimeError("Rscript is not installed")
        self.proc = subprocess.Popen(
            ["Rscript", str(HERE / "r_fit_server.R")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"R: {answer or 'no answer'} (to {line[:80]!r})")
        return answer[2:].strip()

    def load(self, csv, variables) -> int:
        return int(self.ask(f"load {csv} {','.join(variables)}"))

    def case(self, name: str, spec: dict) -> None:
        self.ask(f"case {name} {json.dumps(spec)}")

    def time(self, name: str, n: int = 1) -> tuple:
        """(wall seconds, CPU seconds) of each of ``n`` fits."""
        values = [float(t) for t in self.ask(f"time {name} {n}").split()]
        return values[:n], values[n:]

    def result(self, name: str) -> dict:
        return json.loads(self.ask(f"result {name}"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_average() -> list:
    """1-, 5- and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def environment() -> dict:
    """What a benchmark record says about where it ran."""
    info = dict(
        python=platform.python_version(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        load_average=load_average(),
        omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
    )
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        info["commit"] = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "src"], capture_output=True, text=True
        ).stdout.strip()
        info["sources_modified"] = bool(dirty)
    except OSError:  # pragma: no cover - git missing
        pass
    return info
