"""Data for tests/test_reference_families.py (run from the project root).

``python tests/data/make_families_data.py`` writes tests/data/families.csv
(numpy PCG64, seed 2024): 36 schools ``school`` in 12 districts
``district``, 6 to 14 students each; predictors ``x`` (normal) and ``sex``
(0/1); random school and district intercepts and a school slope in ``x``;
responses

* ``nb``: negative binomial (NB2, theta 2.5) counts with exposure ``expo``
  (offset ``log(expo)``, column ``logexpo``);
* ``gam``: gamma (shape 3, log link) positive values;
* ``ord``: four ordered categories 1..4 from a logistic latent variable
  (thresholds -1, 0.2, 1.4); ``ordp`` from a normal one (probit);
* ``succ``, ``fail``: binomial successes and failures out of 1 to 8 trials.

Then ``Rscript tests/data/make_families_refs.R`` fits glmmTMB, clmm and glmer
to it (tests/data/families_refs.json).
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main():
    rng = np.random.default_rng(2024)
    n_school, per_district = 36, 3
    size = rng.integers(6, 15, n_school)
    school = np.repeat(np.arange(1, n_school + 1), size)
    district = (school - 1) // per_district + 1
    n = school.size
    x = rng.normal(size=n)
    sex = rng.integers(0, 2, n)
    u_s = rng.normal(0, 0.5, n_school + 1)[school]
    s_s = rng.normal(0, 0.3, n_school + 1)[school]
    u_d = rng.normal(0, 0.35, district.max() + 1)[district]
    eta = 0.4 * x - 0.3 * sex + u_s + s_s * x + u_d
    expo = rng.uniform(0.5, 3.0, n)
    mu = np.exp(0.3 + eta) * expo
    nb = rng.negative_binomial(2.5, 2.5 / (2.5 + mu))
    gam = rng.gamma(3.0, np.exp(1.0 + eta) / 3.0)
    cut = np.array([-1.0, 0.2, 1.4])
    ord_ = 1 + np.sum((eta + rng.logistic(size=n))[:, None] > cut, axis=1)
    ordp = 1 + np.sum((0.6 * eta + rng.normal(size=n))[:, None] > 0.6 * cut, axis=1)
    trials = rng.integers(1, 9, n)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-(eta - 0.2))))
    df = pd.DataFrame(
        {
            "district": district,
            "school": school,
            "x": np.round(x, 6),
            "sex": sex,
            "expo": np.round(expo, 6),
            "nb": nb,
            "gam": np.round(gam, 6),
            "ord": ord_,
            "ordp": ordp,
            "succ": succ,
            "fail": trials - succ,
        }
    )
    df["logexpo"] = np.log(df["expo"])
    df.to_csv(HERE / "families.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
