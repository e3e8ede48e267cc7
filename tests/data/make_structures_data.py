"""Write tests/data/structures.csv: a simulated four-level nested sample.

6 regions x 4 districts x 5 schools x 8 students = 960 rows. Ids are unique at
every level (``region``, ``district``, ``school``); ``school_in_district``
numbers the schools 1..5 within each district, for ``(1|region/district/
school_in_district)``-style nesting. Predictors: numeric ``x`` and ``z``
(students), ``ses_school`` (a school-level value), ``grp`` (strings "a", "b",
"c"), ``flag`` (bool), ``pos`` (positive, for ``np.log(pos)``). The outcome
``y`` has random intercepts at every level and a random slope of ``x`` at the
school and the district level (correlated with the intercepts).

Deterministic (numpy PCG64, fixed seed). Run from the project root:
    python tests/data/make_structures_data.py
The lme4 reference values on this file are made by make_lme4_structures.R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
N_REGION, N_DISTRICT, N_SCHOOL, N_STUDENT = 6, 4, 5, 8


def simulate(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.Generator(np.random.PCG64(seed))
    n_d = N_REGION * N_DISTRICT
    n_s = n_d * N_SCHOOL
    n = n_s * N_STUDENT

    region_of_district = np.repeat(np.arange(N_REGION), N_DISTRICT)
    district_of_school = np.repeat(np.arange(n_d), N_SCHOOL)
    school = np.repeat(np.arange(n_s), N_STUDENT)
    district = district_of_school[school]
    region = region_of_district[district]
    school_in_district = np.tile(np.arange(N_SCHOOL), n_d)[school] + 1

    # random effects: region intercept; district (intercept, x slope) and
    # school (intercept, x slope), each pair correlated
    u_region = rng.normal(0.0, 1.0, N_REGION)
    L_d = np.linalg.cholesky(np.array([[0.8, 0.2], [0.2, 0.25]]))
    u_district = rng.standard_normal((n_d, 2)) @ L_d.T
    L_s = np.linalg.cholesky(np.array([[1.5, -0.3], [-0.3, 0.4]]))
    u_school = rng.standard_normal((n_s, 2)) @ L_s.T

    ses_school = np.round(rng.normal(0.0, 1.0, n_s), 3)
    x = np.round(rng.normal(0.0, 1.0, n) + 0.3 * ses_school[school], 3)
    z = np.round(rng.normal(0.5, 1.0, n), 3)
    grp = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.4, 0.35, 0.25])
    flag = rng.random(n) < 0.45
    pos = np.round(np.exp(rng.normal(1.0, 0.6, n)), 3)

    eta = (
        2.0
        + 0.5 * x
        - 0.3 * z
        + 0.15 * x * z
        - 0.1 * x**2
        + 0.6 * ses_school[school]
        + np.select([grp == "b", grp == "c"], [0.4, -0.5], 0.0)
        + 0.3 * flag
        + 0.5 * np.log(pos)
        + u_region[region]
        + u_district[district, 0]
        + u_district[district, 1] * x
        + u_school[school, 0]
        + u_school[school, 1] * x
    )
    y = np.round(eta + rng.normal(0.0, 1.0, n), 4)

    return pd.DataFrame(
        {
            "region": [f"R{r + 1}" for r in region],
            "district": district + 101,
            "school": school + 1001,
            "school_in_district": school_in_district,
            "student": np.arange(n) + 1,
            "x": x,
            "z": z,
            "ses_school": ses_school[school],
            "grp": grp,
            "flag": flag,
            "pos": pos,
            "y": y,
        }
    )


def main() -> None:
    out = Path(__file__).resolve().parent / "structures.csv"
    simulate().to_csv(out, index=False)


if __name__ == "__main__":
    main()
