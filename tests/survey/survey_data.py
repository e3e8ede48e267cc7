"""Small two-stage samples with replicate weights, and explicit replicate fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import hadamard

from conftest import quiet_mix

FORMULA = "y ~ x + (1|school)"


def survey_sample(seed=1, n_schools=24, size=8, reps=8, fay=0.5, n_pv=0):
    """Schools in pairs with informative weights, Fay replicate weights
    ``rw1..R`` of the total weight ``wt`` (school weight ``w2``), TIMSS-style
    ``jkzone``/``jkrep``, and optionally plausible values ``pv1..``."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(size - 3, size + 4, n_schools)
    school = np.repeat(np.arange(n_schools), sizes)
    u = rng.normal(0, 0.6, n_schools)
    w2 = np.exp(-0.4 * u + rng.normal(0, 0.2, n_schools)) * 10
    x = rng.normal(size=school.size)
    e = rng.normal(size=school.size)
    y = 1 + 0.5 * x + u[school] + e
    w1 = 3 * np.exp(-0.3 * e + rng.normal(0, 0.2, school.size))
    df = pd.DataFrame({"school": school, "x": x, "y": y, "w2": w2[school], "wt": w1 * w2[school]})
    for k in range(n_pv):
        df[f"pv{k + 1}"] = y + rng.normal(0, 0.4, school.size)
    pair = np.arange(n_schools) // 2
    sign = np.where(np.arange(n_schools) % 2 == 0, 1, -1)
    h = hadamard(max(reps, 2))[:reps]
    factor = 1 + (1 - fay) * h[:, pair % h.shape[1]] * sign  # (R, schools)
    for r in range(reps):
        df[f"rw{r + 1}"] = df["wt"] * factor[r, school]
    df["jkzone"] = pair[school] + 1
    df["jkrep"] = (np.arange(n_schools) % 2)[school]
    return df


def explicit_replicates(
    data, columns, full="wt", school_weight="w2", formula=FORMULA, response=None, **kwargs
):
    """Fixed effects, variance components and ICCs of separate ``mix`` fits
    with each replicate's weights built by hand: a row's factor is
    ``column / full``, the school's the weighted mean of its rows' factors."""
    params, var, icc = [], [], []
    w_within = data[full] / data[school_weight]
    for c in columns:
        f = data[c] / data[full]
        fg = (f * w_within).groupby(data["school"]).transform("sum") / w_within.groupby(
            data["school"]
        ).transform("sum")
        d = data.assign(_w1=data[full] * f, _w2=data[school_weight] * fg)
        if response is not None:
            d = d.assign(y=d[response])
        r = quiet_mix(formula, d, ["_w1", "_w2"], **kwargs)
        params.append(r.params.to_numpy())
        var.append(r.var_components["variance"].to_numpy())
        icc.append(r.icc)
    return np.array(params), np.array(var), np.array(icc)
