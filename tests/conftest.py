"""Shared fixtures: the reference files in tests/reference (WeMix and lme4
output, see tests/reference/README.md) and helpers to fit their cases."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pywemix

ROOT = Path(__file__).resolve().parents[1]
# The reference values the tests read: committed with the tests, so that a
# clean clone runs every test.
REFERENCE = ROOT / "tests" / "reference"
# A second copy, checked against the committed one when it is there
# (tests/test_reference_files.py): the project's specification keeps the
# originals in ../shared/reference; $PYWEMIX_REFERENCE names another place.
SECOND_REFERENCE = Path(os.environ.get("PYWEMIX_REFERENCE", ROOT.parent / "shared" / "reference"))


def pytest_sessionfinish(session, exitstatus):
    """With PYWEMIX_NO_SKIPS=1 (as CI sets it), a skipped test fails the run:
    on a machine with the test extras every test runs (Dask, Jupyter kernel,
    file formats, the reference files)."""
    if os.environ.get("PYWEMIX_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(
            f"PYWEMIX_NO_SKIPS=1: {len(skipped)} tests were skipped "
            "(pytest -rs lists them and why)",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def reference_available() -> bool:
    """Whether the committed reference files are there (always, in a clone)."""
    return (REFERENCE / "expected").is_dir()


# Marks a test that reads the reference files; ``pytest -m reference`` runs
# just those. (It skipped tests when the files lived outside the repository;
# now that they are committed it skips nothing.)
needs_reference = pytest.mark.reference


def expected(name: str) -> dict:
    with open(REFERENCE / "expected" / f"{name}.json") as fh:
        return json.load(fh)


def reference_data(file: str, references: dict | None = None) -> pd.DataFrame:
    """A reference data set with the given categorical reference levels first."""
    df = pd.read_csv(REFERENCE / "data" / file)
    for col, ref in (references or {}).items():
        others = sorted(set(df[col].dropna().unique()) - {ref})
        df[col] = pd.Categorical(df[col], categories=[ref] + others)
    return df


def case(name: str):
    """(expected dict, data frame) of a reference case."""
    exp = expected(name)
    return exp, reference_data(exp["data"], exp.get("references"))


@pytest.fixture(scope="session")
def reference_fit():
    """``name -> (expected dict, result)``: a reference case's pywemix fit,
    made once per test session however many tests (and modules) use it.

    The fit is :func:`mix_call`'s call of :func:`pywemix.mix` on the case's
    data, with pywemix's own warnings silenced.
    """
    fits = {}

    def fit(name: str):
        if name not in fits:
            exp, df = case(name)
            fits[name] = (exp, quiet_mix(exp["call"]["formula"], df, **mix_call(exp)))
        return fits[name]

    return fit


def our_name(ref_name: str, names) -> str:
    """Map a reference coefficient name onto ours.

    The reference files use ``column[T.level]`` except where R's own naming
    (``sexM``) slipped through; match those by column + level.
    """
    if ref_name in names:
        return ref_name
    for n in names:
        m = re.fullmatch(r"(.+)\[T\.(.+)\]", n)
        if m and m.group(1) + m.group(2) == ref_name:
            return n
    raise KeyError(f"no coefficient matches reference name {ref_name!r} in {list(names)}")


def mix_call(exp: dict) -> dict:
    """Keyword arguments of pywemix.mix from a reference file's ``call``."""
    c = exp["call"]
    kw = dict(weights=c["weights"], cond_weights=c["cond_weights"])
    if c.get("family", "gaussian") != "gaussian":
        kw["family"] = c["family"]
        kw["n_quad"] = c.get("n_quad", 13)
        if c.get("link"):
            kw["link"] = c["link"]
    if c.get("center_group"):
        kw["center_group"] = c["center_group"]
    if c.get("center_grand"):
        kw["center_grand"] = c["center_grand"]
    return kw


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def quiet_mix(*args, **kwargs):
    """``pywemix.mix`` with pywemix's own warnings silenced (for fits whose
    warnings are expected or beside the point of a test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return pywemix.mix(*args, **kwargs)


def small_random_intercept(seed, n_groups=15, size=6) -> pd.DataFrame:
    """Random-intercept data: y = 1 + u_g + e, u ~ N(0, 0.5^2), e ~ N(0, 1), and
    an irrelevant covariate x."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * rng.normal(size=n_groups)[g] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.Client`` on a LocalCluster of 2 single-threaded worker
    processes, shared by the Dask tests (tests/dask); skipped without Dask."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(autouse=True, scope="session")
def _column_cache_in_a_temporary_folder(tmp_path_factory):
    """Survey files read with the default column cache (``read_survey``, the
    command line's ``--survey``) keep their columns in a temporary folder, never
    in the user's ``~/.cache``."""
    old = os.environ.get("PYWEMIX_CACHE_DIR")
    os.environ["PYWEMIX_CACHE_DIR"] = str(tmp_path_factory.mktemp("column_cache"))
    yield
    if old is None:
        os.environ.pop("PYWEMIX_CACHE_DIR", None)
    else:
        os.environ["PYWEMIX_CACHE_DIR"] = old


#: The families with auxiliary parameters (and the binomial with trials):
#: (family, link, response) for :func:`family_data`'s columns.
AUX_FAMILIES = [
    ("negative_binomial", "log", "nb"),
    ("gamma", "log", "gam"),
    ("gamma", "inverse", "gami"),
    ("ordinal", "logit", "ord"),
    ("ordinal", "probit", "ord"),
    ("binomial", "logit", "cbind(succ, fail)"),
]


def aux_family_id(case) -> str:
    return f"{case[0]}-{case[1]}"


def family_data(
    seed, n_groups=14, sizes=(6, 12), scale=1.0, slope=False, informative=False
) -> pd.DataFrame:
    """Small two- or three-level data with a response for every family of
    :data:`AUX_FAMILIES`: districts ``d`` of schools ``g``, predictor ``x``,
    conditional weights ``w1`` (rows, about ``scale``), ``w2`` (schools),
    ``w3`` (districts); ``nb`` (NB2, theta 2), ``gam`` (gamma, shape 3, log
    link), ``gami`` (gamma, inverse link), ``ord`` (4 ordered categories,
    logistic latent variable), ``succ``/``fail`` (binomial out of 1-6 trials)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(*sizes, size=n_groups)
    g = np.repeat(np.arange(n_groups), n)
    x = rng.normal(size=g.size)
    u = rng.normal(0, 0.5, n_groups)[g] + rng.normal(0, 0.3, n_groups // 3 + 1)[g // 3]
    eta = 0.4 * x + u + (rng.normal(0, 0.3, n_groups)[g] * x if slope else 0.0)
    mu = np.exp(0.3 + eta)
    trials = rng.integers(1, 7, g.size)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-eta)))
    df = pd.DataFrame(
        {
            "g": g,
            "d": g // 3,
            "x": x,
            "nb": rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float),
            "gam": rng.gamma(3.0, mu / 3.0),
            "gami": rng.gamma(3.0, 1.0 / (1.0 + 0.2 * np.tanh(eta)) / 3.0),
            "ord": 1
            + np.sum((eta + rng.logistic(size=g.size))[:, None] > [-0.8, 0.2, 1.2], axis=1),
            "succ": succ,
            "fail": trials - succ,
        }
    )
    w1 = scale * rng.uniform(0.3, 3.0, g.size)
    if informative:
        w1 = w1 * np.where(df["ord"] > 2, 3.0, 1.0)
    df["w1"] = w1
    df["w2"] = rng.uniform(1, 5, n_groups)[g]
    df["w3"] = rng.uniform(1, 3, n_groups // 3 + 1)[g // 3]
    return df
