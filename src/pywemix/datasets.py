"""Example data sets shipped with pywemix, as pandas DataFrames.

``load_pisa()`` is the PISA-like example of ``pywemix demo`` and of the
README; ``load_sleepstudy()`` is lme4's ``sleepstudy`` (Belenky et al. 2003),
the unweighted example of R's lme4 documentation.

Examples
--------
>>> import pywemix
>>> data = pywemix.datasets.load_pisa()
>>> sleep = pywemix.datasets.load_sleepstudy()
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_pisa", "load_sleepstudy"]


def _read(name: str, **kwargs) -> pd.DataFrame:
    with resources.as_file(resources.files("pywemix") / "data" / name) as path:
        return pd.read_csv(path, **kwargs)


def load_pisa() -> pd.DataFrame:
    """The bundled PISA-like example: students in schools, with weights.

    Returns
    -------
    DataFrame
        One row per student: ``schoolid``; ``escs`` (socio-economic index,
        a few missing); ``st04q01`` (gender), ``st29q03`` (an attitude item),
        ``sc14q02`` (a school item), as strings; ``pwt1`` (student weight,
        conditional on the school) and ``pwt2`` (school weight);
        ``pv1math`` .. ``pv5math`` (five plausible values of the mathematics
        score); ``highmath`` (0/1).

    Notes
    -----
    Simulated data shaped like a PISA country sample, not real PISA data;
    the weights are *conditional* (use ``cond_weights=True``).

    Examples
    --------
    >>> data = load_pisa()
    >>> pywemix.mix("pv1math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"],
    ...             cond_weights=True)  # doctest: +SKIP
    """
    return _read("pisa_example.csv")


def load_sleepstudy() -> pd.DataFrame:
    """lme4's ``sleepstudy``: reaction times under sleep deprivation.

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
    """
    return _read("sleepstudy.csv", dtype={"Subject": str})
