"""Compare reference files written by a generator script with the committed ones.

    python tests/reference/compare.py OUTDIR [--tol 1e-6]

For every ``OUTDIR/*.json`` that has a namesake in ``tests/reference/expected``,
prints each number whose relative difference exceeds ``--tol`` (and the
largest relative difference of the file), and exits 1 when any does or when
the two files hold different keys.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

EXPECTED = Path(__file__).resolve().parent / "expected"


def leaves(obj, path=""):
    """``(path, value)`` for every scalar in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def compare(new: Path, old: Path, tol: float) -> bool:
    a, b = dict(leaves(json.loads(new.read_text()))), dict(leaves(json.loads(old.read_text())))
    ok, worst = True, 0.0
    for key in sorted(set(a) | set(b)):
        if key in ("source", "wemix_seconds"):
            continue
        if key not in a or key not in b:
            print(f"  {key}: only in {'the new' if key in a else 'the committed'} file")
            ok = False
            continue
        x, y = a[key], b[key]
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            d = abs(x - y) / max(abs(y), 1e-300) if y != x else 0.0
            worst = max(worst, d)
            if not d <= tol or math.isnan(d):
                print(f"  {key}: {x!r} vs committed {y!r} (relative {d:.2e})")
                ok = False
        elif x != y:
            print(f"  {key}: {x!r} vs committed {y!r}")
            ok = False
    print(f"{new.name}: largest relative difference {worst:.2e}{'' if ok else '  DIFFERS'}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args(argv)
    files = sorted(args.outdir.glob("*.json"))
    results = [
        compare(f, EXPECTED / f.name, args.tol) for f in files if (EXPECTED / f.name).exists()
    ]
    if not results:
        print(f"no file in {args.outdir} has a namesake in {EXPECTED}")
        return 1
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
