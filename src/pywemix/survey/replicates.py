"""Replicate weights: their specification, variance formulas and JK2 weights.

A replicate weight is a full-sample weight re-computed with part of the
sample dropped or down-weighted; refitting the model with each replicate
weight and measuring how far the estimates move gives a design-based
sampling variance (Rust and Rao 1996). R equivalents: ``survey::svrepdesign``
(single-level statistics), ``BIFIEsurvey::BIFIE.twolevelreg`` (two-level
regressions); WeMix and ``EdSurvey::mixed.sdf`` offer only the sandwich.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.frame import to_pandas

__all__ = [
    "Replicates",
    "jackknife_weights",
    "expand_columns",
    "resolve_column",
    "METHODS",
    "FactorRule",
    "factor_rule",
    "FACTOR_TOLERANCE",
    "MAX_FACTOR",
    "jk2_column_names",
    "jk2_values",
    "jk2_summary",
    "jk2_zones",
    "jk2_factors",
    "jk2_names",
]

#: Replicate methods and their names in reports.
METHODS = {
    "fay": "Fay's BRR",
    "brr": "BRR",
    "jk1": "JK1 jackknife",
    "jk2": "JK2 jackknife",
    "bootstrap": "bootstrap",
}

#: Tolerance of the exact factors of :func:`jackknife_weights` frames: a row's
#: factor (replicate weight / full-sample weight) counts as 0, 1 or 2 within
#: ``FACTOR_TOLERANCE * max(1, value)``. Weights stored as float32 (relative
#: error 2**-24 = 6e-8 each, 1.2e-7 on their ratio) or written with six
#: significant digits (5e-6 each) stay far inside it; two students' weights
#: agree that closely only when they are equal (students of one class).
FACTOR_TOLERANCE = 1e-4

#: Largest factor (replicate weight / full-sample weight) of a replicate
#: weight from a frame not built by pywemix: the methods' nominal largest
#: factor is 2 (a doubled half-sample, ``n_h / (n_h - 1)``, Fay's ``2 - k``
#: or ``1 + (1 - k) sqrt(2)`` for a stratum of three), and survey files
#: re-adjust each replicate for nonresponse and trimming (PISA, NAEP), which
#: moves factors by some percent: 25% is allowed on top.
MAX_FACTOR = 2.5

_RANGE = re.compile(r"^(?P<stem>.*?)(?P<a>\d+)\s*-\s*(?P<b>\d+)$")


def expand_columns(spec) -> list:
    """Column names from a list or a range ``"w_fsturwt1-80"`` (-> ``w_fsturwt1``,
    ..., ``w_fsturwt80``)."""
    if isinstance(spec, str):
        m = _RANGE.match(spec.strip())
        if m is None:
            return [spec]
        a, b = int(m["a"]), int(m["b"])
        if b < a:
            raise ValueError(f"replicate column range {spec!r} runs backwards ({a} > {b})")
        return [f"{m['stem']}{i}" for i in range(a, b + 1)]
    try:
        cols = list(spec)
    except TypeError:
        raise TypeError(
            "replicate columns must be a list of column names or a range such "
            f"as 'w_fsturwt1-80', got {spec!r}"
        ) from None
    out: list = []
    for c in cols:
        if not isinstance(c, str):
            raise TypeError(f"replicate columns must be column names, got {c!r}")
        out.extend(expand_columns(c) if _RANGE.match(c) and c.count("-") == 1 else [c])
    return out


def resolve_column(data: pd.DataFrame, name: str, what: str) -> str:
    """The data's column called ``name``, matched exactly or else ignoring case."""
    if name in data.columns:
        return name
    hits = [c for c in data.columns if isinstance(c, str) and c.lower() == name.lower()]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(f"{what} {name!r} matches several columns ignoring case: {hits}")
    raise ValueError(f"{what} {name!r} is not in the data")


class Replicates:
    """
    Replicate weights of a survey, for replication variances of a fit.

    Pass it as ``mix(..., replicates=Replicates(...))``: the model is fitted
    with the full-sample weights, then refitted once per replicate weight,
    and every standard error comes from the spread of the refits.

    Parameters
    ----------
    columns : list of str, str or DataFrame
        Replicate weights as survey files ship them: total (unconditional)
        weights such as PISA's ``W_FSTURWT1..80``. A range ``"w_fsturwt1-80"``
        is expanded; a DataFrame (from :func:`jackknife_weights`) is joined
        to the data by index label, whatever the order of the rows (its
        index must be unique and hold every row of the data). Names are
        matched ignoring case. A frame built before the data were filtered
        and re-indexed joins other rows' weights: the factors of a joined
        frame are checked (exactly 0, 1 or 2 for :func:`jackknife_weights`,
        within bounds for others; see :func:`factor_rule`) and a factor the
        method cannot produce is an error naming that cause.
    method : {"fay", "brr", "jk1", "jk2", "bootstrap"}
        Variance formula (see Notes).
    fay : float, default 0.5
        Fay's factor ``k`` (``method="fay"``), 0 <= k < 1.
    full_weight : str, optional
        The full-sample total weight (PISA ``W_FSTUWT``). Default: the
        model's total row weight (its level-1 weight when the weights are
        unconditional, the product of the levels' weights when conditional).
    scale : float, optional
        Overrides the method's factor in front of the sum of squares.
    plausible_values : {"all", "first"}
        With plausible values: replicate every value (default), or only the
        first, the PISA manual's shortcut (sampling variance from the first
        plausible value, imputation variance from all).

    Raises
    ------
    ValueError
        Fewer than two columns, a column repeated, an unknown method, ``fay``
        outside [0, 1), a scale that is not a positive number, or another
        ``plausible_values``.
    TypeError
        If ``full_weight`` is not a column name.

    See Also
    --------
    jackknife_weights : JK2 replicate weights from zones (TIMSS, PIRLS).
    pywemix.mix : Takes it as ``replicates=``.

    Notes
    -----
    With ``t`` the full-sample estimate and ``t_r`` the estimate with
    replicate weight r (R replicates), the variance is
    ``c * sum_r (t_r - t)(t_r - t)'`` with ``c``:

    - ``"fay"``: ``1 / (R (1 - k)^2)``; Fay's balanced repeated replication
      (Judkins 1990, "Fay's method for variance estimation", J. Official
      Statistics 6: 223-239); PISA uses k = 0.5 and R = 80 (OECD 2009, PISA
      Data Analysis Manual, 2nd ed., on replicate weights);
    - ``"brr"``: ``1 / R``, the same with k = 0 (Wolter 2007, Introduction
      to Variance Estimation, 2nd ed., on BRR);
    - ``"jk1"``: ``(R - 1) / R``, the delete-one-group jackknife (Wolter
      2007, on the jackknife; ``survey::svrepdesign(type = "JK1")``);
    - ``"jk2"``: ``1``, the paired jackknife with one replicate per zone (NAEP,
      62 replicates; Rust and Rao 1996, Stat. Methods Med. Res. 5: 283-310);
      ``1/2`` when both half-samples of every zone are used, as TIMSS and
      PIRLS since 2015 (Foy and LaRoche 2016, Methods and Procedures in TIMSS
      2015, on estimating standard errors). Both halves are recognised when
      consecutive replicates pair up (their factors add to 2 in every row),
      as :func:`jackknife_weights` builds them;
    - ``"bootstrap"``: ``1 / R``, the rescaling bootstrap (Rao, Wu and Yue
      1992, Survey Methodology 18: 209-217).

    Replicate r gives each row the factor ``f_ir = columns[r] / full_weight``.
    Each top-level group's weight is multiplied by ``f_gr``, the mean of its
    rows' factors weighted by their weights within the group (the product
    of the conditional weights below the top level); the rest of a row's
    factor, ``f_ir / f_gr``, multiplies its level-1 conditional weight.
    Middle levels keep their weights; a group with ``f_gr = 0`` is dropped
    from that replicate. R equivalents: ``survey::svrepdesign`` (its
    ``type``, ``rho`` and ``scale``) and EdSurvey's replicate weights (its
    ``jrrIMax`` choice is ``plausible_values``).

    Examples
    --------
    >>> import pywemix
    >>> pywemix.Replicates("w_fsturwt1-80", method="fay", fay=0.5, full_weight="w_fstuwt")
    Replicates(Fay's BRR, 80 replicates, k = 0.5)
    """

    def __init__(
        self,
        columns,
        method: str = "fay",
        fay: float = 0.5,
        full_weight: str | None = None,
        scale: float | None = None,
        plausible_values: str = "all",
    ):
        self.frame = None
        if isinstance(columns, pd.DataFrame):
            _check_unique_index(columns.index, "the replicate-weight DataFrame")
            self.frame = columns
            info = columns.attrs.get("pywemix_replicates", {})
            full_weight = full_weight if full_weight is not None else info.get("full_weight")
            columns = [str(c) for c in columns.columns]
        self.columns = expand_columns(columns)
        if len(self.columns) < 2:
            raise ValueError(f"replicate weights need at least two columns, got {self.columns}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(
                "replicate columns are repeated: "
                f"{sorted({c for c in self.columns if self.columns.count(c) > 1})}"
            )
        if not isinstance(method, str) or method.lower() not in METHODS:
            raise ValueError(
                f"unknown replicate method {method!r}; use one of {', '.join(METHODS)}"
            )
        self.method = method.lower()
        self.fay = _check_fraction(fay, "fay")
        if full_weight is not None and not isinstance(full_weight, str):
            raise TypeError(f"full_weight must be a column name, got {full_weight!r}")
        self.full_weight = full_weight
        if scale is not None:
            if (
                isinstance(scale, bool)
                or not isinstance(scale, (int, float, np.number))
                or not np.isfinite(scale)
                or scale <= 0
            ):
                raise ValueError(f"scale must be a positive number, got {scale!r}")
            scale = float(scale)
        self.scale = scale
        if plausible_values not in ("all", "first"):
            raise ValueError(f"plausible_values must be 'all' or 'first', got {plausible_values!r}")
        self.plausible_values = plausible_values

    @property
    def n_replicates(self) -> int:
        """Number of replicate weights."""
        return len(self.columns)

    def factor(self, paired: bool = False) -> float:
        """
        The factor ``c`` in front of the sum of squared deviations.

        Parameters
        ----------
        paired : bool, default False
            Whether the replicates are both half-samples of every zone
            (matters for ``"jk2"`` only).

        Returns
        -------
        float
            ``scale`` when given, else the method's factor (see Notes of the
            class).
        """
        if self.scale is not None:
            return self.scale
        R = self.n_replicates
        if self.method == "fay":
            return 1.0 / (R * (1.0 - self.fay) ** 2)
        if self.method == "jk1":
            return (R - 1.0) / R
        if self.method == "jk2":
            return 0.5 if paired else 1.0
        return 1.0 / R  # brr, bootstrap

    def describe(self, paired: bool = False) -> str:
        """
        Describe the replication method in words.

        Parameters
        ----------
        paired : bool, default False
            Whether the replicates are both half-samples of every zone (JK2).

        Returns
        -------
        str
            E.g. ``"Fay's BRR, 80 replicates, k = 0.5"``.
        """
        text = f"{METHODS[self.method]}, {self.n_replicates} replicates"
        if self.method == "fay":
            text += f", k = {self.fay:g}"
        if self.method == "jk2":
            text += ", both half-samples of every zone" if paired else ", one per zone"
        if self.scale is not None:
            text += f", scale = {self.scale:g}"
        if self.plausible_values == "first":
            text += " (sampling variance from the first plausible value)"
        return text

    def variance(self, estimates: np.ndarray, full: np.ndarray, paired: bool = False) -> np.ndarray:
        """
        Replication variance of estimates.

        Parameters
        ----------
        estimates : array_like, shape (R, m)
            The estimates :math:`t_r` of every replicate.
        full : array_like, shape (m,)
            The full-sample estimates :math:`t`.
        paired : bool, default False
            Whether the replicates are both half-samples of every zone (JK2).

        Returns
        -------
        ndarray, shape (m, m)
            :math:`c \\sum_r (t_r - t)(t_r - t)^\\top`, with :math:`c` from
            :meth:`factor`.
        """
        dev = np.asarray(estimates, dtype=float) - np.asarray(full, dtype=float)
        return self.factor(paired) * dev.T @ dev

    def __repr__(self):
        return f"Replicates({self.describe()})"


@dataclass(frozen=True)
class FactorRule:
    """The factors (replicate weight / full-sample weight) replicate weights
    joined from a frame can have: ``values`` (exact, up to
    :data:`FACTOR_TOLERANCE`), or else between 0 (excluded when
    ``positive``) and ``high``; ``what`` says so in words, ``cause`` is the
    likely cause of a factor outside the rule."""

    what: str
    cause: str
    values: tuple | None = None
    high: float = np.inf
    positive: bool = False

    def outside(self, F: np.ndarray) -> np.ndarray:
        """Which factors of ``F`` (R, n) break the rule (NaN counts as breaking it)."""
        if self.values is not None:
            ok = np.zeros(F.shape, dtype=bool)
            for v in self.values:
                ok |= np.abs(F - v) <= FACTOR_TOLERANCE * max(v, 1.0)
            return ~ok
        low = (F > 0) if self.positive else (F >= 0)
        return ~(low & (F <= self.high))


_REBUILD = (
    "the replicate-weight frame was built before the data were filtered or "
    "re-indexed (reset_index), so rows were joined by index label to other rows' "
    "weights: build it from the data you fit"
)


def factor_rule(rep) -> FactorRule | None:
    """The :class:`FactorRule` of the replicate weights of ``rep`` (a
    :class:`Replicates`), or None for replicate columns of the data.

    Notes
    -----
    Only weights joined from a frame by row label are checked: a frame
    built before the data were filtered and re-indexed joins other rows'
    weights, and then a row's factor, ``w_j f / w_i``, is one the method
    cannot produce. Replicate columns of the data itself are the survey
    file's, re-adjusted after replication in PISA or NAEP, so they are
    checked only for what no method gives (negative, missing, positive
    where the full-sample weight is 0).

    - A frame of :func:`jackknife_weights` holds exactly 0, 1 or 2 times
      the full weight it was built from (up to :data:`FACTOR_TOLERANCE`);
      with another ``full_weight`` it is checked as other frames.
    - Other frames, with ``"jk1"``, ``"jk2"``, ``"brr"`` and ``"fay"``:
      factors between 0 and :data:`MAX_FACTOR`; with ``"fay"`` and ``k >
      0`` none is 0 (Fay's method keeps every unit). ``"bootstrap"``
      factors (multiplicities) have no upper bound.
    """
    frame = getattr(rep, "frame", None)
    if frame is None:
        return None
    info = frame.attrs.get("pywemix_replicates", {})
    built = info.get("factors")
    same_full = (
        rep.full_weight is None
        or str(rep.full_weight).lower() == str(info.get("full_weight")).lower()
    )
    if built is not None and same_full:
        words = [f"{v:g}" for v in built]
        what = " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
        return FactorRule(
            what=what,
            values=tuple(built),
            cause=_REBUILD + " (jackknife_weights(data) of the filtered data)",
        )
    positive = rep.method == "fay" and rep.fay > 0
    high = np.inf if rep.method == "bootstrap" else MAX_FACTOR
    return FactorRule(
        what=(f"{'above 0' if positive else 'at least 0'} and at most {high:g}"),
        high=high,
        positive=positive,
        cause=(
            _REBUILD + "; if the replicate weights were adjusted after replication "
            "beyond that, add them to the data and name their columns "
            "(Replicates([...], full_weight=...)), which are not checked so"
        ),
    )


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def paired_halves(F: np.ndarray) -> bool:
    """Whether consecutive replicates are the two half-samples of a zone:
    their row factors ``F`` (R, n) add to 2 in every row."""
    R = F.shape[0]
    if R % 2:
        return False
    return bool(np.allclose(F[0::2] + F[1::2], 2.0, rtol=0, atol=1e-9))


def jackknife_weights(
    data, zone: str = "jkzone", rep: str = "jkrep", weight: str = "totwgt", prefix: str = "jk2_"
) -> pd.DataFrame:
    """
    JK2 replicate weights as TIMSS and PIRLS build them: two per zone.

    Parameters
    ----------
    data : DataFrame
        The data, with the zone, replicate and total weight columns.
    zone, rep, weight : str
        Jackknife zone, replicate indicator (0/1 within a zone) and total
        weight columns (matched ignoring case).
    prefix : str
        Names of the new columns: ``jk2_1``, ``jk2_2``, ...

    Returns
    -------
    DataFrame
        Two columns per zone (zones in sorted order), indexed as ``data``
        (whose index must be unique: the columns are joined to the data by
        row label).
        In the first, rows of the zone with ``rep == 1`` get twice their
        weight and their partners 0; in the second the reverse. Rows of other
        zones keep their weight. Pass it to :class:`Replicates` with
        ``method="jk2"`` (the total weight is recorded as ``full_weight``,
        and the factors 0, 1 and 2, which are checked when the frame is
        joined to the data: build it from the data you fit, after
        filtering and re-indexing them).

    Raises
    ------
    ValueError
        A column missing or with missing or non-numeric values, a replicate
        column not 0/1, negative weights, a zone without a pair, or an index
        that is not unique.

    See Also
    --------
    Replicates : Takes the frame, with ``method="jk2"``.

    Notes
    -----
    The variance is :math:`\\frac12 \\sum_r (t_r - t)^2` over the 2H replicates
    (Foy and LaRoche 2016, in Methods and Procedures in TIMSS 2015).
    R equivalent: ``EdSurvey`` builds these weights internally
    (``jkSumMultiplier = 0.5``).

    Examples
    --------
    >>> import pywemix
    >>> data = pywemix.datasets.load_pisa_replicates()  # has jkzone, jkrep, totwgt
    >>> jk = pywemix.jackknife_weights(data)
    >>> jk.shape
    (1184, 60)
    >>> pywemix.Replicates(jk, method="jk2")
    Replicates(JK2 jackknife, 60 replicates, one per zone)
    """
    data = to_pandas(data)
    _check_unique_index(data.index, "the data")
    zone, rep, weight = jk2_column_names(data, zone, rep, weight)
    z, r, w = jk2_values(data, zone, rep, weight)
    zones = jk2_zones([jk2_summary(z, r, w)], zone, rep, weight)
    F = jk2_factors(z, r, zones)
    out = pd.DataFrame((F * w).T, index=data.index, columns=jk2_names(len(zones), prefix))
    # the factors every row has: 0, 1 or 2 times its full weight (checked when joined)
    out.attrs["pywemix_replicates"] = {
        "method": "jk2",
        "full_weight": weight,
        "factors": (0.0, 1.0, 2.0),
    }
    return out


def jk2_column_names(data, zone: str, rep: str, weight: str) -> tuple:
    """The data's zone, replicate indicator and total weight columns (names
    matched ignoring case; ``data`` needs only ``columns``, so a Dask
    DataFrame will do)."""
    return tuple(
        resolve_column(data, c, w)
        for c, w in (
            (zone, "jackknife zone column"),
            (rep, "jackknife replicate column"),
            (weight, "total weight column"),
        )
    )


def jk2_values(data: pd.DataFrame, zone: str, rep: str, weight: str) -> tuple:
    """Zone, indicator and weight of every row as floats (NaN where missing or
    not numeric)."""
    return tuple(
        pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in (zone, rep, weight)
    )


def jk2_summary(z: np.ndarray, r: np.ndarray, w: np.ndarray) -> dict:
    """What :func:`jk2_zones` checks, for some rows: counts of missing values,
    indicator values other than 0 and 1, negative weights, and the distinct
    (zone, indicator) pairs. Summaries of parts of the data (the partitions
    of a Dask DataFrame) are checked together."""
    ok = np.isfinite(z) & np.isfinite(r)
    return {
        "missing": [int((~np.isfinite(v)).sum()) for v in (z, r, w)],
        "bad_rep": sorted(set(np.unique(r[np.isfinite(r)])) - {0.0, 1.0})[:5],
        "negative": int((w < 0).sum()),
        "pairs": np.unique(np.column_stack([z[ok], r[ok]]), axis=0),
    }


def jk2_zones(summaries, zone: str, rep: str, weight: str) -> np.ndarray:
    """The sorted jackknife zones of the rows summarised by ``summaries``
    (:func:`jk2_summary` of the whole data, or of each of its parts).

    Raises
    ------
    ValueError
        Naming the column: missing or non-numeric values, indicators other than
        0 and 1, negative weights, zones without both indicators.
    """
    for k, col in enumerate((zone, rep, weight)):
        bad = sum(s["missing"][k] for s in summaries)
        if bad:
            raise ValueError(f"column {col!r} has {bad} missing or non-numeric values")
    values = sorted({v for s in summaries for v in s["bad_rep"]})
    if values:
        raise ValueError(f"jackknife replicate column {rep!r} must hold 0 and 1, got {values[:5]}")
    if sum(s["negative"] for s in summaries):
        raise ValueError(f"total weight column {weight!r} has negative values")
    pairs = np.unique(np.concatenate([s["pairs"] for s in summaries]), axis=0)
    zones = np.unique(pairs[:, 0])
    has = pd.crosstab(pairs[:, 0], pairs[:, 1]).reindex(columns=[0.0, 1.0], fill_value=0)
    lonely = has.index[(has == 0).any(axis=1)]
    if len(lonely):
        raise ValueError(
            f"jackknife zones without a pair in {zone!r} (only one value of "
            f"{rep!r}): {[_num(v) for v in lonely[:10]]}"
        )
    return zones


def jk2_factors(z: np.ndarray, r: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """The JK2 factors (2H, n) of rows with zones ``z`` and indicators ``r``:
    in replicate ``2h`` the rows of zone ``h`` get ``2 r``, in replicate
    ``2h + 1`` ``2 (1 - r)``; rows of other zones 1."""
    inzone = z[None, :] == zones[:, None]  # (H, n)
    F = np.empty((2 * len(zones), len(z)))
    F[0::2] = np.where(inzone, 2.0 * r, 1.0)
    F[1::2] = np.where(inzone, 2.0 * (1 - r), 1.0)
    return F


def jk2_names(n_zones: int, prefix: str = "jk2_") -> list:
    """Names of the JK2 replicate weights of ``n_zones`` zones: ``jk2_1``, ..."""
    return [f"{prefix}{i + 1}" for i in range(2 * n_zones)]


def _check_unique_index(index, what) -> None:
    """Replicate weights are joined to the data by row label: they need unique labels."""
    if not index.is_unique:
        dup = index[index.duplicated()].unique()
        raise ValueError(
            f"{what} has repeated index labels ({list(dup[:5])}), but replicate "
            "weights are joined to the data by row label: give the data a "
            "unique index first (data.reset_index(drop=True))"
        )


def _num(v):
    return int(v) if float(v).is_integer() else float(v)
