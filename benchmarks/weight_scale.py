"""The weight-scale identity: top-level weights times 1e-3 or 1e3 leave the estimates.

Fits ``--designs`` random weighted two- and three-level designs (conditional
weights at every level) with the top-level weights as drawn, times 1e-3 and
times 1e3, for the Gaussian model, Laplace (``n_quad=1``) and adaptive
quadrature (``n_quad=7``), and reports the largest relative difference of the
fixed effects and of the covariance elements (relative to the largest
variance of the model) from the unscaled fit.

    python benchmarks/weight_scale.py [--designs 20]

Use ``PYTHONPATH=<other checkout>/src`` to measure another version.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from scipy.special import expit

import pywemix


def simulate(seed):
    """Binary and continuous responses on a random weighted design; every
    other design has a random slope, every third a third level."""
    rng = np.random.default_rng([404, seed])
    n_groups = int(rng.integers(15, 40))
    g = np.repeat(np.arange(n_groups), rng.integers(5, 20, n_groups))
    d = g // 3
    x = rng.normal(size=g.size)
    u = rng.normal(0, rng.choice([0.1, 0.5, 0.9]), n_groups)[g]
    u = u + (rng.normal(0, 0.4, n_groups)[g] * x if seed % 2 else 0.0)
    u = u + (rng.normal(0, 0.5, d.max() + 1)[d] if seed % 3 == 0 else 0.0)
    eta = -0.2 + 0.5 * x + u
    return pd.DataFrame(
        dict(
            yb=(rng.random(g.size) < expit(eta)).astype(float),
            yc=eta + rng.normal(size=g.size),
            x=x,
            g=g,
            d=d,
            w1=rng.uniform(0.5, 2, g.size),
            w2=rng.uniform(1, 4, n_groups)[g],
            w3=rng.uniform(1, 3, d.max() + 1)[d],
        )
    )


def difference(a, b):
    """Largest relative difference of fixed effects and covariances of two fits."""
    out = float(
        np.max(
            np.abs(a.params.values - b.params.values) / np.maximum(np.abs(b.params.values), 1e-8)
        )
    )
    top = max(float(np.max(np.diag(B))) for B in b.optimization.covariances)
    for A, B in zip(a.optimization.covariances, b.optimization.covariances):
        out = max(out, float(np.max(np.abs(A - B))) / max(top, 1e-300))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=20)
    args = ap.parse_args(argv)
    worst = {}
    for seed in range(args.designs):
        df = simulate(seed)
        three = seed % 3 == 0
        re = "(1 + x|g)" if seed % 2 else "(1|g)"
        weights = ["w1", "w2", "w3"] if three else ["w1", "w2"]
        for kind, family, n_quad, y in [
            ("gaussian", "gaussian", None, "yc"),
            ("laplace", "binomial", 1, "yb"),
            ("quadrature", "binomial", 7, "yb"),
        ]:
            if kind == "quadrature" and three:
                continue  # three-level quadrature is slow; covered by the suite
            formula = f"{y} ~ x + {re}" + (" + (1|d)" if three else "")
            kw = {} if n_quad is None else dict(family=family, n_quad=n_quad)
            fits = []
            for c in (1.0, 1e-3, 1e3):
                e = df.assign(**{weights[-1]: df[weights[-1]] * c})
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fits.append(pywemix.mix(formula, e, weights, cond_weights=True, **kw))
            diff = max(difference(f, fits[0]) for f in fits[1:])
            ok = all(f.converged for f in fits)
            worst[kind] = max(worst.get(kind, 0.0), diff)
            print(
                f"design {seed:2d} {kind:10s} {formula:32s} max rel diff {diff:.2e}"
                f"{'' if ok else '  (not converged)'}"
            )
    for kind, v in worst.items():
        print(f"worst {kind}: {v:.2e}")


if __name__ == "__main__":
    main()
