"""Example data sets shipped with pywemix, as pandas DataFrames.

``load_pisa()`` is the PISA-like example of ``pywemix demo`` and of the
README; ``load_pisa_replicates()`` is the same with PISA-style Fay and
TIMSS-style jackknife replicate weights; ``load_sleepstudy()`` is lme4's
``sleepstudy`` (Belenky et al. 2003),
the unweighted example of R's lme4 documentation.

Examples
--------
>>> import pywemix
>>> data = pywemix.datasets.load_pisa()
>>> sleep = pywemix.datasets.load_sleepstudy()
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
from scipy.linalg import hadamard

__all__ = ["load_pisa", "load_pisa_replicates", "load_sleepstudy"]


def _read(name: str, **kwargs) -> pd.DataFrame:
    with resources.as_file(resources.files("pywemix") / "data" / name) as path:
        return pd.read_csv(path, **kwargs)


def load_pisa() -> pd.DataFrame:
    """
    Load the bundled PISA-like example: students in schools, with weights.

    Returns
    -------
    DataFrame
        One row per student: ``schoolid``; ``escs`` (socio-economic index,
        a few missing); ``st04q01`` (gender), ``st29q03`` (an attitude item),
        ``sc14q02`` (a school item), as strings; ``pwt1`` (student weight,
        conditional on the school) and ``pwt2`` (school weight);
        ``pv1math`` .. ``pv5math`` (five plausible values of the mathematics
        score); ``highmath`` (0/1).

    See Also
    --------
    load_pisa_replicates : The same with replicate weights.

    Notes
    -----
    Simulated data shaped like a PISA country sample, not real PISA data;
    the weights are *conditional* (use ``cond_weights=True``).

    Examples
    --------
    >>> import pywemix
    >>> data = pywemix.datasets.load_pisa()
    >>> data.shape, data["schoolid"].nunique()
    ((1184, 13), 60)
    >>> fit = pywemix.mix("pv1math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"],
    ...                   cond_weights=True, weight_scaling="size")
    """
    return _read("pisa_example.csv")


def load_pisa_replicates() -> pd.DataFrame:
    """
    Load :func:`load_pisa` with replicate weights, as PISA and TIMSS files carry them.

    Returns
    -------
    DataFrame
        The columns of :func:`load_pisa`, plus ``w_fstuwt`` (the total
        student weight ``pwt1 * pwt2``), 80 Fay replicate weights
        ``w_fsturwt1`` .. ``w_fsturwt80`` of it (k = 0.5), and TIMSS-style
        ``jkzone``, ``jkrep`` and ``totwgt`` (= ``w_fstuwt``). The names are
        those the ``survey="PISA"`` and ``survey="TIMSS"`` presets look for
        (ignoring case).

    Notes
    -----
    The schools, in the order of their ids, are paired into pseudo-strata
    (zones; with an odd number of schools the last zone has three). In
    replicate r the first school of pair h gets the factor
    ``1 + 0.5 s_rh`` and the others ``1 - 0.5 s_rh``, with the signs
    ``s_rh`` from rows 1..80 of a Hadamard matrix of order 128: Fay's
    balanced repeated replication as PISA builds it (Judkins 1990; OECD
    2009, PISA Data Analysis Manual, 2nd ed.). ``jkrep`` is 1 for the first
    school of a zone and 0 for the others, for
    :func:`pywemix.jackknife_weights`. Deterministic: the same data every
    call. Simulated, not real PISA or TIMSS data.

    Examples
    --------
    >>> import pywemix
    >>> reps = pywemix.datasets.load_pisa_replicates()
    >>> fay = pywemix.mix("pv1math ~ escs + (1|schoolid)", reps, ["pwt1", "pwt2"],
    ...                   cond_weights=True, survey="PISA")
    >>> fay.default_kind
    'replicate'
    """
    data = load_pisa()
    codes = pd.factorize(data["schoolid"], sort=True)[0]
    n_pairs = max(int(codes.max() + 1) // 2, 1)
    pair = np.minimum(codes // 2, n_pairs - 1)
    first = codes == 2 * pair
    signs = hadamard(128)[1:81, pair % 128]  # (80, rows)
    factor = 1 + 0.5 * np.where(first, signs, -signs)
    total = data["pwt1"] * data["pwt2"]
    reps = pd.DataFrame(
        (total.to_numpy() * factor).T,
        index=data.index,
        columns=[f"w_fsturwt{r}" for r in range(1, 81)],
    )
    extra = pd.DataFrame(
        {"w_fstuwt": total, "jkzone": pair + 1, "jkrep": first.astype(int), "totwgt": total},
        index=data.index,
    )
    return pd.concat([data, extra, reps], axis=1)


def load_sleepstudy() -> pd.DataFrame:
    """
    Load lme4's ``sleepstudy``: reaction times under sleep deprivation.

    Returns
    -------
    DataFrame
        180 rows: ``Reaction`` (average reaction time, ms), ``Days`` (days
        of sleep deprivation, 0-9) and ``Subject`` (18 subjects, ids as
        strings).

    Notes
    -----
    Belenky, G., Wesensten, N. J., Thorne, D. R., Thomas, M. L., Sing, H.
    C., Redmond, D. P., Russo, M. B. and Balkin, T. J. (2003). Patterns of
    performance degradation and restoration during sleep restriction and
    subsequent recovery: a sleep dose-response study. *Journal of Sleep
    Research* 12, 1-12. Distributed with the R package lme4 (GPL-2 | GPL-3;
    Bates, Maechler, Bolker and Walker, 2015) as ``lme4::sleepstudy``; R:
    ``data(sleepstudy, package = "lme4")``.

    Examples
    --------
    >>> import pywemix
    >>> sleep = pywemix.datasets.load_sleepstudy()
    >>> sleep.shape, sleep["Subject"].nunique()
    ((180, 3), 18)
    >>> fit = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep)  # lme4's REML = FALSE
    """
    return _read("sleepstudy.csv", dtype={"Subject": str})
