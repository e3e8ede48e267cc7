"""Benchmark: a PISA-2022-sized SPSS file, from the file to by-country results.

Usage: python benchmarks/bench_survey_files.py [--rows 613744] [--keep]
       [--fit-pvs K] [--no-fit] [--scratch DIR]

Writes, in a scratch folder under /tmp (deleted afterwards unless --keep), a
bytecode-compressed SPSS student file of 613,744 rows x 1,280 columns laid
out as PISA 2022's (CNT, ids, 925 labelled questionnaire items with the
missing codes 95-99 declared user-missing, 120 indices, 15 scales x 10
plausible values, W_FSTUWT and W_FSTURWT1..80) and a school file, then
measures, each in a fresh process:

* baseline: one pass of pyreadstat over the whole file, every column
  (``read_file_in_chunks``, 100,000 rows a chunk), and one pass reading a
  single column (the pure decoding cost);
* the first ``read_survey(..., school=..., columns=30 columns)``: target no
  longer than the full pass, peak memory under 2 GB;
* the same read again, from the column cache: target at most 5 s;
* the by-country model of issue 21 from the file to results,
  ``mix("math ~ escs + (1|cntschid)", sdf, by="CNT")`` on
  ``read_survey(student, "PISA", school=...)``: 81 countries, 10 plausible
  values x 80 Fay replicates (``--fit-pvs K`` fits the first K plausible
  values only, a stated subset; the cost is linear in K), with its phases:
  opening the file (metadata), reading the model's 95 columns (the 80
  replicate weights for the first time, the others from the cache of the
  30-column reads), and the fits, with the peak memory of the process.

The file is written in chunks: pyreadstat writes the header and dictionary
(a 0-row frame with all variables, labels and missing codes); the rows are
appended in SPSS's bytecode compression, encoded with numpy; the case count
in the header is then set. Writes benchmarks/out/survey_files.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

HERE = Path(__file__).resolve().parent
ROWS = 613_744
COUNTRIES = 81
SCHOOLS = 21_629
SCALES = [
    "MATH",
    "READ",
    "SCIE",
    "MCCR",
    "MCQN",
    "MCSS",
    "MCUD",
    "MPEM",
    "MPFS",
    "MPIN",
    "MPRE",
    "FLIT",
    "CRTH",
    "GLCM",
    "ECOM",
]
N_ITEMS, N_INDICES = 925, 120
ITEM_LABELS = {
    1.0: "Strongly disagree",
    2.0: "Disagree",
    3.0: "Agree",
    4.0: "Strongly agree",
    95.0: "Valid Skip",
    97.0: "Not Applicable",
    98.0: "Invalid",
    99.0: "No Response",
}
MODEL = (
    ["CNT", "CNTSCHID", "ESCS", "ST004D01T", "W_FSTUWT", "W_SCHGRNRABWT"]
    + [f"PV{k}MATH" for k in range(1, 11)]
    + [f"ST{i:04d}" for i in range(1, 8)]
    + [f"IDX{i:03d}" for i in range(1, 8)]
)  # 30 columns


def numeric_columns() -> list:
    return (
        ["CNTRYID", "CNTSCHID", "CNTSTUID", "ST004D01T"]
        + [f"ST{i:04d}" for i in range(1, N_ITEMS)]
        + ["ESCS"]
        + [f"IDX{i:03d}" for i in range(1, N_INDICES)]
        + [f"PV{k}{s}" for s in SCALES for k in range(1, 11)]
        + ["W_FSTUWT"]
        + [f"W_FSTURWT{r}" for r in range(1, 81)]
    )


def chunk_values(start: int, n: int, seed: int = 0) -> np.ndarray:
    """Rows start..start+n of the numeric columns (deterministic)."""
    rng = np.random.default_rng([seed, start])
    rows = np.arange(start, start + n)
    school = rows * SCHOOLS // ROWS
    country = school * COUNTRIES // SCHOOLS
    cols = [
        country + 1.0,
        100000.0 * (country + 1) + school,
        rows + 1.0,
        rng.integers(1, 3, n).astype(float),
    ]
    items = rng.integers(1, 5, size=(n, N_ITEMS - 1)).astype(float)
    items[rng.random(items.shape) < 0.05] = 99.0
    indices = rng.normal(size=(n, N_INDICES)).round(4)
    pvs = rng.normal(470, 95, size=(n, 10 * len(SCALES))).round(3)
    w = rng.uniform(5, 300, n)
    reps = w[:, None] * rng.choice([0.5, 1.5], size=(n, 80))
    return np.column_stack(cols + [items, indices, pvs, w, reps])


def country_codes(start: int, n: int) -> np.ndarray:
    rows = np.arange(start, start + n)
    country = (rows * SCHOOLS // ROWS) * COUNTRIES // SCHOOLS
    names = np.array([f"C{c:02d}" for c in range(COUNTRIES)])
    return names[country]


def encode_rows(cnt: np.ndarray, values: np.ndarray) -> bytes:
    """SPSS bytecode compression of rows (one 8-byte string + the numbers).

    Each value takes a command byte: 1..251 = the integer code - 100, 255 =
    system-missing, 253 = its 8 raw bytes follow the block of 8 commands.
    With 1,280 segments a row is exactly 160 blocks.
    """
    n, m = values.shape
    seg = m + 1
    assert seg % 8 == 0
    codes = np.full((n, seg), 253, dtype=np.uint8)
    v = values
    small = (v == np.round(v)) & (v >= -99) & (v <= 151)
    codes[:, 1:][small] = (v[small] + 100).astype(np.uint8)
    codes[:, 1:][np.isnan(v)] = 255
    raw = np.empty((n, seg, 8), dtype=np.uint8)
    raw[:, 1:, :] = v.astype("<f8").view(np.uint8).reshape(n, m, 8)
    raw[:, 0, :] = np.frombuffer(
        b"".join(s.encode().ljust(8) for s in cnt), dtype=np.uint8
    ).reshape(n, 8)
    is_raw = codes == 253
    blocks = seg // 8
    per_block = is_raw.reshape(n * blocks, 8)
    sizes = 8 + 8 * per_block.sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    out[starts[:, None] + np.arange(8)] = codes.reshape(n * blocks, 8)
    rank = np.cumsum(per_block, axis=1) - 1
    pos = (starts[:, None] + 8 + 8 * rank)[per_block]
    out[pos[:, None] + np.arange(8)] = raw.reshape(n * blocks, 8, 8)[per_block]
    return out.tobytes()


CHUNK = 8192


def write_student_file(path: Path, rows: int, chunk: int = CHUNK) -> None:
    names = numeric_columns()
    # one template row (CNT "C00" sets the string width; numbers system-missing):
    # its data, after the dictionary's termination record (999), is cut off
    template = pd.DataFrame({"CNT": ["C00"], **{c: [np.nan] for c in names}})
    items = [c for c in names if c.startswith("ST") and c != "ST004D01T"]
    labels = {c: ITEM_LABELS for c in items}
    labels["ST004D01T"] = {1.0: "Female", 2.0: "Male", 99.0: "No Response"}
    missing = {c: [{"lo": 95.0, "hi": 99.0}] for c in items + ["ESCS"]}
    pyreadstat.write_sav(
        template, str(path), variable_value_labels=labels, missing_ranges=missing, row_compress=True
    )
    with open(path, "r+b") as fh:
        fh.seek(72)
        assert struct.unpack("<i", fh.read(4))[0] == 1, "expected bytecode compression"
        head = fh.read()
        end = head.rfind(struct.pack("<ii", 999, 0)) + 8 + 76
        fh.truncate(end)
        fh.seek(0, os.SEEK_END)
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            fh.write(encode_rows(country_codes(start, n), chunk_values(start, n)))
        fh.seek(80)
        fh.write(struct.pack("<i", rows))


def write_school_file(path: Path, rows: int) -> None:
    n = rows * SCHOOLS // ROWS + 1
    school = np.arange(n)
    country = school * COUNTRIES // SCHOOLS
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "CNT": [f"C{c:02d}" for c in country],
            "CNTSCHID": 100000.0 * (country + 1) + school,
            "W_SCHGRNRABWT": rng.uniform(1, 50, n),
        }
    )
    extra = rng.integers(1, 5, size=(n, 200)).astype(float)
    df = pd.concat([df, pd.DataFrame(extra, columns=[f"SC{i:03d}" for i in range(200)])], axis=1)
    pyreadstat.write_sav(df, str(path), row_compress=True)


def check_file(path: Path, rows: int) -> None:
    """The file reads back as generated (a few columns, two chunks)."""
    got, meta = pyreadstat.read_sav(
        str(path), usecols=["CNT", "CNTSCHID", "PV3MATH", "W_FSTURWT80", "ST0005"], row_limit=1000
    )
    want = pd.DataFrame(chunk_values(0, min(CHUNK, rows))[:1000], columns=numeric_columns())
    assert pyreadstat.read_sav(str(path), metadataonly=True)[1].number_rows == rows
    np.testing.assert_array_equal(got["CNT"], country_codes(0, 1000))
    for c in ("CNTSCHID", "PV3MATH", "W_FSTURWT80"):
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy())
    item = want["ST0005"].to_numpy().copy()
    item[item == 99] = np.nan
    np.testing.assert_array_equal(got["ST0005"].to_numpy(), item)


CHILD = {
    "full_pass": (
        "import pyreadstat",
        """
n = 0
for df, meta in pyreadstat.read_file_in_chunks(pyreadstat.read_sav, {path!r}, chunksize=100000):
    n += len(df)
assert n == {rows}
""",
    ),
    "one_column": (
        "import pyreadstat",
        """
df, meta = pyreadstat.read_sav({path!r}, usecols=["ESCS"])
assert len(df) == {rows}
""",
    ),
    "open": (
        "import pywemix",
        """
sdf = pywemix.read_survey({path!r}, survey="PISA", school={school!r}, cache={cache!r})
assert len(sdf.plausible_values) == 15
""",
    ),
    "read_survey": (
        "import pywemix",
        """
sdf = pywemix.read_survey({path!r}, survey="PISA", school={school!r}, cache={cache!r},
                          columns={columns!r})
d = sdf.get_data({columns!r})
assert d.shape == ({rows}, {ncol}), d.shape
assert d["ST0001"].dtype.name == "category" and d["W_SCHGRNRABWT"].notna().all()
""",
    ),
    "fit_by_country": (
        "import json, warnings\nimport pywemix",
        """
warnings.simplefilter("ignore")            # the countries' notes are on the results
sdf = pywemix.read_survey({path!r}, survey="PISA", school={school!r}, cache={cache!r})
t_open = time.perf_counter() - t0
names = ["math", "escs", "cntschid"]
cols = sdf.columns_for(names)              # what mix reads: PVs, weights, replicates, keys
sdf.get_data(cols)
t_read = time.perf_counter() - t0 - t_open
pvs = sdf.plausible_values["math"]
kw = {{}} if {fit_pvs} >= len(pvs) else {{"plausible_values": {{"math": pvs[:{fit_pvs}]}}}}
res = pywemix.mix("math ~ escs + (1|cntschid)", sdf, by="CNT", **kw)
t_fit = time.perf_counter() - t0 - t_open - t_read
first = res[next(iter(res))]
print(json.dumps({{"open_seconds": round(t_open, 2), "read_seconds": round(t_read, 2),
                  "fit_seconds": round(t_fit, 2), "columns_read": len(cols),
                  "countries": len(res), "failed": len(res.errors),
                  "plausible_values": len(first.fits), "replicates": first.n_replicates,
                  "method": first.method, "kind": first.default_kind}}))
""",
    ),
}


def run_child(kind: str, **fmt) -> dict:
    """Run a measurement in a fresh process (imports not timed): wall time,
    the process's CPU seconds (imports included; comparable on a loaded
    machine) and its peak resident memory (VmHWM)."""
    imports, body = CHILD[kind]
    code = (
        imports
        + "\nimport time\nt0 = time.perf_counter()\n"
        + body.format(**fmt)
        + "\nt = time.perf_counter() - t0\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(t, int(hwm.split()[1]))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    out = lines[-1].split()
    res = {
        "seconds": round(float(out[-2]), 2),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mb": round(int(out[-1]) / 1024),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    for line in lines[:-1]:  # a phase record printed by the body
        if line.startswith("{"):
            res.update(json.loads(line))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--fit-pvs",
        type=int,
        default=10,
        help="plausible values of the by-country fit (2..10; 10: the full model)",
    )
    ap.add_argument("--no-fit", action="store_true", help="measure the reads only")
    ap.add_argument(
        "--scratch",
        help="folder of the files (student.sav, school.sav): "
        "written there unless they are, and kept",
    )
    args = ap.parse_args()
    if args.fit_pvs < 2:  # plausible values are combined: one alone is a plain column
        ap.error("--fit-pvs needs 2 or more plausible values")
    given = args.scratch is not None
    scratch = (
        Path(args.scratch)
        if given
        else Path(tempfile.mkdtemp(prefix="pywemix_bench_files_", dir="/tmp"))
    )
    shutil.rmtree(scratch / "cache", ignore_errors=True)  # the first read is a first read
    try:
        result = measure(scratch, args.rows, None if args.no_fit else args.fit_pvs)
    finally:
        if not args.keep and not given:
            shutil.rmtree(scratch, ignore_errors=True)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "survey_files.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def measure(scratch: Path, rows: int, fit_pvs: int | None = 10) -> dict:
    path, school, cache = scratch / "student.sav", scratch / "school.sav", scratch / "cache"
    t0 = time.perf_counter()
    if not (path.exists() and school.exists()):  # --scratch: reuse the files written before
        write_student_file(path, rows)
        write_school_file(school, rows)
    written = time.perf_counter() - t0
    check_file(path, rows)
    fmt = dict(
        path=str(path),
        school=str(school),
        cache=str(cache),
        rows=rows,
        columns=MODEL,
        ncol=len(MODEL),
        fit_pvs=fit_pvs,
    )
    res = {
        "rows": rows,
        "columns": 1 + len(numeric_columns()),
        "file_gb": round(path.stat().st_size / 1e9, 3),
        "write_seconds": round(written, 1),
        "load_before": os.getloadavg(),
    }
    res["baseline_full_pass"] = run_child("full_pass", **fmt)
    res["baseline_one_column_pass"] = run_child("one_column", **fmt)
    res["open_metadata"] = run_child("open", **fmt)
    res["first_read_30_columns"] = run_child("read_survey", **fmt)
    res["cached_read_30_columns"] = run_child("read_survey", **fmt)
    if fit_pvs:
        fit = res["fit_by_country"] = run_child("fit_by_country", **fmt)
        # the fits grow linearly in the plausible values (each: a full fit and 80 refits)
        fit["fit_seconds_10_pvs_extrapolated"] = round(fit["fit_seconds"] * 10 / fit_pvs, 1)
    res["load_after"] = os.getloadavg()
    first, full = res["first_read_30_columns"], res["baseline_full_pass"]
    res["first_read_over_full_pass"] = round(first["seconds"] / full["seconds"], 3)
    res["targets_met"] = {
        "first_read <= full pass": first["seconds"] <= full["seconds"],
        "first_read peak < 2 GB": first["peak_rss_mb"] < 2048,
        "cached read <= 5 s": res["cached_read_30_columns"]["seconds"] <= 5,
    }
    return res


if __name__ == "__main__":
    main()
