"""Data for tests/test_laplace.py (run from the project root).

``python tests/data/make_laplace_data.py`` writes tests/data/laplace_three.csv:
the issue-12 data (``make_data.py three --districts 30 --schools 6 --size 15
--seed 5``; columns district, school, x, sex, pass, w1, w2, w3) plus

* ``region``: a fourth level, three districts per region;
* ``slope``: a binary outcome with random slopes in x at school and district
  level (logit; numpy PCG64 seed 12);
* ``count``, ``logexp``: a Poisson count with exposure (offset ``logexp``),
  random intercepts at school and district level.

Then ``Rscript tests/data/make_lme4_laplace.R`` fits glmer(nAGQ=1) to it.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TOOL = Path("/work/shared/tools/make_data.py")


def main():
    raw = HERE / "laplace_three_raw.csv"
    subprocess.run(
        [
            sys.executable,
            str(TOOL),
            "three",
            "--districts",
            "30",
            "--schools",
            "6",
            "--size",
            "15",
            "--seed",
            "5",
            str(raw),
        ],
        check=True,
    )
    df = pd.read_csv(raw)
    raw.unlink()
    df = df[["district", "school", "x", "sex", "pass", "w1", "w2", "w3"]].copy()
    df["region"] = (df["district"] - 1) // 3 + 1
    rng = np.random.default_rng(12)
    sch = df["school"].to_numpy()
    dis = df["district"].to_numpy()
    u_s = rng.normal(0, [0.7, 0.4], size=(sch.max() + 1, 2))
    u_d = rng.normal(0, [0.5, 0.3], size=(dis.max() + 1, 2))
    x = df["x"].to_numpy()
    eta = -0.2 + 0.5 * x + u_s[sch, 0] + u_s[sch, 1] * x + u_d[dis, 0] + u_d[dis, 1] * x
    df["slope"] = (rng.random(len(df)) < 1 / (1 + np.exp(-eta))).astype(int)
    expo = rng.uniform(0.5, 3.0, len(df))
    eta = 0.3 + 0.25 * x + (df["sex"] == "M") * 0.1 + u_s[sch, 0] * 0.6 + u_d[dis, 0] * 0.8
    df["count"] = rng.poisson(expo * np.exp(eta))
    df["logexp"] = np.round(np.log(expo), 6)
    df.to_csv(HERE / "laplace_three.csv", index=False)


if __name__ == "__main__":
    main()
