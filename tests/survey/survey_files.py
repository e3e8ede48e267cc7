"""Small synthetic files in each survey's layout, written by the test suite.

Each ``<survey>_frames`` returns (student, school) DataFrames with the
survey's column names, value labels, user-missing codes and a thousand
unused columns (``Q0001..Q1000``); ``write`` writes one with pyreadstat,
pandas or pyarrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat

N_UNUSED = 1000


def _unused(n, rng) -> dict:
    codes = rng.integers(1, 5, size=(n, N_UNUSED)).astype(float)
    return {f"Q{j + 1:04d}": codes[:, j] for j in range(N_UNUSED)}


def _schools(rng, n_countries=2, per_country=6, size=(6, 12)):
    rows = []
    for c in range(n_countries):
        for s in range(per_country):
            rows += [(c, 1000 * (c + 1) + s)] * int(rng.integers(*size))
    return np.array(rows)


def pisa_frames(seed=1, n_pv=10):
    rng = np.random.default_rng(seed)
    cs = _schools(rng)
    n = len(cs)
    cnt = np.array(["AAA", "BBB"])[cs[:, 0]]
    school_weight = {k: rng.uniform(10, 90) for k in np.unique(cs[:, 1])}
    w2 = np.array([school_weight[k] for k in cs[:, 1]]).round(3)
    stu = {
        "CNT": cnt,
        "CNTSCHID": cs[:, 1].astype(float),
        "CNTSTUID": np.arange(1.0, n + 1),
        "ST004D01T": rng.integers(1, 3, n).astype(float),
        "ESCS": rng.normal(size=n).round(3),
        "W_FSTUWT": w2 * rng.uniform(1, 3, n),
    }  # total weight = school x within
    stu["ST004D01T"][:3] = 7  # user-missing code: "Valid skip" ... "No response"
    stu["ESCS"][3:5] = [95, 99]  # labelled missing codes of a numeric score
    for scale in ("MATH", "READ", "MCCR", "FLIT"):
        for k in range(1, n_pv + 1):
            stu[f"PV{k}{scale}"] = rng.normal(480, 90, n).round(2)
    for r in range(1, 81):
        stu[f"W_FSTURWT{r}"] = stu["W_FSTUWT"] * rng.choice([0.5, 1.5], n)
    stu.update(_unused(n, rng))
    keys = pd.DataFrame({"CNT": cnt, "CNTSCHID": cs[:, 1].astype(float)}).drop_duplicates()
    sch = keys.assign(
        W_SCHGRNRABWT=[round(school_weight[k], 3) for k in keys["CNTSCHID"]],
        SC013Q01TA=rng.integers(1, 3, len(keys)).astype(float),
    ).reset_index(drop=True)
    labels = {
        "ST004D01T": {1.0: "Female", 2.0: "Male", 7.0: "Valid Skip", 9.0: "No Response"},
        "ESCS": {95.0: "Valid Skip", 99.0: "No Response"},
        "SC013Q01TA": {1.0: "Public", 2.0: "Private", 9.0: "No Response"},
    }
    missing = {
        "ST004D01T": [{"lo": 5.0, "hi": 9.0}],
        "ESCS": [{"lo": 95.0, "hi": 99.0}],
        "SC013Q01TA": [9.0],
    }
    return pd.DataFrame(stu), sch, labels, missing


def iea_frames(seed=2, grade="B", subjects=("MMAT", "SSCI", "MALG"), with_schwgt=True):
    """TIMSS (grade B, subjects MMAT...) or PIRLS (grade A, RREA...)."""
    rng = np.random.default_rng(seed)
    cs = _schools(rng)
    n = len(cs)
    idc = np.array([36.0, 40.0])[cs[:, 0]]
    ids = (cs[:, 1] % 1000 + 1).astype(float)  # school ids repeat across countries
    fac1 = {k: rng.uniform(5, 20) for k in set(zip(idc, ids))}
    adj1 = {k: rng.uniform(1, 1.2) for k in fac1}
    schwgt = np.array([fac1[k] * adj1[k] for k in zip(idc, ids)])
    stu = {
        "IDCNTRY": idc,
        "IDSCHOOL": ids,
        "IDSTUD": np.arange(1.0, n + 1),
        "ITSEX": rng.integers(1, 3, n).astype(float),
        "WGTFAC1": np.array([fac1[k] for k in zip(idc, ids)]),
        "WGTADJ1": np.array([adj1[k] for k in zip(idc, ids)]),
        "JKZONE": (cs[:, 1] % 1000 // 2 + 1).astype(float),
        "JKREP": (cs[:, 1] % 2).astype(float),
    }
    stu["TOTWGT"] = schwgt * rng.uniform(1, 3, n)
    stu["ITSEX"][0] = 9
    for subject in subjects:
        for k in range(1, 6):
            stu[f"{grade}S{subject}{k:02d}"] = rng.normal(500, 100, n).round(2)
    bench = subjects[0][0] + "IBM"
    for k in range(1, 6):
        stu[f"{grade}S{bench}{k:02d}"] = rng.integers(1, 6, n).astype(float)
    stu.update(_unused(n, rng))
    keys = pd.DataFrame({"IDCNTRY": idc, "IDSCHOOL": ids}).drop_duplicates()
    sch = keys.assign(SCHWGT=[fac1[k] * adj1[k] for k in zip(keys.IDCNTRY, keys.IDSCHOOL)])
    labels = {"ITSEX": {1.0: "Girl", 2.0: "Boy", 9.0: "Omitted or invalid"}}
    missing = {"ITSEX": [9.0]}
    return pd.DataFrame(stu), sch.reset_index(drop=True), labels, missing


def talis_frames(seed=3):
    rng = np.random.default_rng(seed)
    cs = _schools(rng)
    n = len(cs)
    school_weight = {k: rng.uniform(10, 90) for k in np.unique(cs[:, 1])}
    w2 = np.array([school_weight[k] for k in cs[:, 1]])
    t = {
        "IDCNTRY": np.array([36.0, 40.0])[cs[:, 0]],
        "IDSCHOOL": cs[:, 1].astype(float),
        "IDTEACH": np.arange(1.0, n + 1),
        "TT3G01": rng.integers(1, 3, n).astype(float),
        "T3JOBSA": rng.normal(12, 2, n).round(2),
        "TCHWGT": w2 * rng.uniform(1, 3, n),
    }
    for r in range(1, 101):
        t[f"TRWGT{r}"] = t["TCHWGT"] * rng.choice([0.5, 1.5], n)
    t.update(_unused(n, rng))
    keys = pd.DataFrame({"IDCNTRY": t["IDCNTRY"], "IDSCHOOL": t["IDSCHOOL"]}).drop_duplicates()
    sch = keys.assign(SCHWGT=[school_weight[k] for k in keys["IDSCHOOL"]])
    return pd.DataFrame(t), sch.reset_index(drop=True), {}, {}


def naep_frames(seed=4, n_pv=5):
    rng = np.random.default_rng(seed)
    cs = _schools(rng, n_countries=1, per_country=10)
    n = len(cs)
    school_weight = {k: rng.uniform(10, 90) for k in np.unique(cs[:, 1])}
    w2 = np.array([school_weight[k] for k in cs[:, 1]])
    stu = {
        "SCRPSU": cs[:, 1].astype(float),
        "DSEX": rng.integers(1, 3, n).astype(float),
        "ORIGWT": w2 * rng.uniform(1, 3, n),
    }
    for k in range(1, n_pv + 1):
        stu[f"MRPCM{k}"] = rng.normal(280, 35, n).round(2)
        stu[f"MRPSCA{k}"] = rng.normal(280, 35, n).round(2)
    for r in range(1, 63):
        stu[f"SRWT{r:02d}"] = stu["ORIGWT"] * rng.choice([0.0, 1.0, 2.0], n)
    stu.update(_unused(n, rng))
    sch = pd.DataFrame({"SSCRPSU": np.unique(cs[:, 1]).astype(float)})
    sch["SMSRSWT"] = [school_weight[k] for k in np.unique(cs[:, 1])]
    labels = {"DSEX": {1.0: "Male", 2.0: "Female"}}
    return pd.DataFrame(stu), sch, labels, {}


NAEP_LABELS = {
    **{f"MRPCM{k}": f"Plausible NAEP math value #{k} (composite)" for k in range(1, 6)},
    **{f"MRPSCA{k}": f"Plausible NAEP math value #{k} (num & oper)" for k in range(1, 6)},
}


def write(df, path, labels=None, missing=None, column_labels=None):
    """Write ``df`` by the extension of ``path`` (labels and user-missing
    codes where the format has them); returns ``path``."""
    path = str(path)
    if path.endswith(".sav"):
        pyreadstat.write_sav(
            df,
            path,
            variable_value_labels=labels or None,
            missing_ranges=missing or None,
            column_labels=column_labels,
            row_compress=True,
        )
    elif path.endswith(".dta"):
        pyreadstat.write_dta(df, path, variable_value_labels=labels or None)
    elif path.endswith(".xpt"):
        pyreadstat.write_xport(df, path, file_format_version=8)
    elif path.endswith(".csv"):
        df.to_csv(path, index=False)
    elif path.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        raise ValueError(path)
    return path
