"""Seeded random models for the optimum tests and the differential sweep.

``generate(case)`` draws one model (a formula, a family and a data set) from
the seed ``[2031, case]``: Gaussian models with 2x2 and 3x3 covariance
blocks, double bars with a factor or a logical, correlated factor terms,
three levels and near-singular covariances (a variance or a correlation at
its boundary in the simulation), and binomial/Poisson GLMMs of the same
kinds (by Laplace, and one kind by adaptive quadrature with 9 nodes). Unit
weights, so that lmer/glmer fit the same objective.

Run from the project root::

    python tests/data/make_optimum_cases.py

writes ``tests/data/optimum_cases.csv`` (the cases the test suite uses, in
one long table with a ``case`` column) and ``optimum_cases.json`` (their
formulas and families); ``Rscript tests/data/make_lme4_optimum.R`` then
fits them with lmer/glmer and writes ``lme4_optimum.json``.
``benchmarks/optimum_sweep.py`` uses the same generator for many more cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent

#: Model kinds: (name, formula, family); GLMM kinds are fitted by Laplace.
KINDS = [
    ("slope", "y ~ x + (1 + x|g)", "gaussian"),
    ("block3", "y ~ x + z + (1 + x + z|g)", "gaussian"),
    ("factor_double_bar", "y ~ x + f + (f||g)", "gaussian"),
    ("logical_double_bar", "y ~ x + lg + (lg||g)", "gaussian"),
    ("factor_block", "y ~ x + (f|g)", "gaussian"),
    ("three_levels", "y ~ x + (1 + x|g) + (1|d)", "gaussian"),
    ("near_singular", "y ~ x + z + (1 + x + z|g)", "gaussian"),
    ("glmm_slope", "y ~ x + (1 + x|g)", "binomial"),
    ("glmm_double_bar", "y ~ x + lg + (lg||g)", "binomial"),
    ("glmm_three", "y ~ x + (1|g) + (1|d)", "poisson"),
    ("glmm_block3", "y ~ x + z + (1 + x + z|g)", "poisson"),
    ("glmm_quadrature", "y ~ x + lg + (1|g)", "binomial"),
]

#: Kinds fitted by adaptive quadrature (glmer's nAGQ, pywemix's n_quad) with
#: this many nodes; the others by Laplace.
N_QUAD = {"glmm_quadrature": 9}

#: The cases the test suite fits (one of each kind, two of the failure-prone).
TEST_CASES = list(range(12)) + [14, 15, 18, 26]


def _covariance(rng, q, singular):
    """A random q x q covariance; ``singular``: one variance 0 or rank q - 1."""
    A = rng.normal(size=(q, q)) * rng.uniform(0.2, 1.0, q)[None, :]
    S = A @ A.T
    if singular and q > 1:
        w, V = np.linalg.eigh(S)
        w[0] = 0.0
        S = (V * w) @ V.T
    elif singular:
        S = S * 0.0
    return S


def generate(case: int):
    """(spec, data) of random model ``case``; spec has ``kind``, ``formula``,
    ``family``."""
    kind, formula, family = KINDS[case % len(KINDS)]
    rng = np.random.default_rng([2031, case])
    n_groups = int(rng.integers(12, 40))
    sizes = rng.integers(4, 16, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = len(g)
    d = g // int(rng.integers(2, 5))
    x = rng.normal(size=n) + rng.normal(0, 0.5, n_groups)[g]
    z = rng.normal(size=n)
    f = rng.choice(np.array(["a", "b", "c"])[: int(rng.integers(2, 4))], size=n)
    lg = rng.random(n) < rng.uniform(0.3, 0.7)
    singular = kind == "near_singular" or rng.random() < 0.3
    if "f" in formula.split("~")[1] and "(f" in formula:
        Zcols = np.column_stack([f == lev for lev in np.unique(f)]).astype(float)
    elif "(lg" in formula:
        Zcols = np.column_stack([np.ones(n), lg.astype(float)])
    elif "z|g" in formula.replace(" ", ""):
        Zcols = np.column_stack([np.ones(n), x, z])
    elif "x|g" in formula.replace(" ", ""):
        Zcols = np.column_stack([np.ones(n), x])
    else:
        Zcols = np.ones((n, 1))
    q = Zcols.shape[1]
    S = _covariance(rng, q, singular) * (0.5 if family != "gaussian" else 1.0)
    u = rng.multivariate_normal(np.zeros(q), S, size=n_groups, method="eigh")
    eta = 0.3 + 0.5 * x - 0.4 * z + 0.3 * lg + (Zcols * u[g]).sum(axis=1)
    if "(1|d)" in formula:
        eta = eta + rng.normal(0, rng.choice([0.0, 0.5]), d.max() + 1)[d]
    if family == "gaussian":
        y = eta + rng.normal(0, rng.uniform(0.5, 2.0), n)
    elif family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(np.clip(eta - 0.5, -5, 3))).astype(float)
    data = pd.DataFrame(
        {
            "y": y,
            "x": x,
            "z": z,
            "f": f,
            "lg": lg,
            "g": [f"g{i}" for i in g],
            "d": [f"d{i}" for i in d],
        }
    )
    return dict(
        case=case, kind=kind, formula=formula, family=family, n_quad=N_QUAD.get(kind, 1)
    ), data


def write(cases, csv_path, json_path):
    """The long table of ``cases`` and their specs."""
    specs, frames = [], []
    for c in cases:
        spec, data = generate(c)
        specs.append(spec)
        frames.append(data.assign(case=c))
    pd.concat(frames).to_csv(csv_path, index=False, float_format="%.17g")
    Path(json_path).write_text(json.dumps(specs, indent=1))


if __name__ == "__main__":
    write(TEST_CASES, HERE / "optimum_cases.csv", HERE / "optimum_cases.json")
