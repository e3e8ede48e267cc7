"""Refresh the intersphinx inventories that docs/conf.py reads offline.

    python docs/_intersphinx/update.py download   # on a machine online: the official files
    python docs/_intersphinx/update.py numpy      # offline: numpy's, made from numpy itself

``download`` fetches objects.inv of Python, numpy, scipy, pandas and
statsmodels from their documentation sites (the addresses in docs/conf.py)
into this folder. ``numpy`` writes numpy.inv from the installed numpy, for
machines that cannot download it: every public function, class and ufunc of
numpy, numpy.linalg, numpy.fft and numpy.random, with the addresses numpy's
documentation gives them (reference/generated/<name>.html; numpy.random's
Generator and its methods under reference/random/), the typing aliases and
the glossary's ``array_like``. See README.md here for where the committed
files came from.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import urllib.request
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def download() -> None:
    from conf import _SITES  # the documentation sites of docs/conf.py

    for name, url in _SITES.items():
        with urllib.request.urlopen(url + "objects.inv", timeout=30) as response:
            (HERE / f"{name}.inv").write_bytes(response.read())
        print(f"{name}.inv <- {url}objects.inv")


def _numpy_entries():
    import numpy as np

    def public(module):
        names = getattr(module, "__all__", None) or dir(module)
        return [n for n in names if not n.startswith("_")]

    entries = {}
    for modname in ("numpy", "numpy.linalg", "numpy.fft"):
        module = importlib.import_module(modname)
        entries[modname] = (
            "py:module",
            "index.html"
            if modname == "numpy"
            else f"reference/routines.{modname.split('.')[1]}.html",
        )
        for n in public(module):
            obj = getattr(module, n, None)
            full = f"{modname}.{n}"
            if isinstance(obj, np.ufunc) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                entries[full] = ("py:function", f"reference/generated/{full}.html#$")
            elif inspect.isclass(obj) and modname == "numpy" and issubclass(obj, np.generic):
                entries[full] = ("py:class", "reference/arrays.scalars.html#$")
            elif inspect.isclass(obj):
                entries[full] = ("py:class", f"reference/generated/{full}.html#$")
    for n in public(np.ndarray):
        entries[f"numpy.ndarray.{n}"] = (
            "py:method" if callable(getattr(np.ndarray, n)) else "py:attribute",
            f"reference/generated/numpy.ndarray.{n}.html#$",
        )
    entries["numpy.random"] = ("py:module", "reference/random/index.html")
    entries["numpy.random.default_rng"] = ("py:function", "reference/random/generator.html#$")
    entries["numpy.random.Generator"] = ("py:class", "reference/random/generator.html#$")
    for n in public(np.random.Generator):
        entries[f"numpy.random.Generator.{n}"] = (
            "py:method",
            f"reference/random/generated/numpy.random.Generator.{n}.html#$",
        )
    entries["numpy.random.SeedSequence"] = (
        "py:class",
        "reference/random/bit_generators/generated/numpy.random.SeedSequence.html#$",
    )
    for n in ("ArrayLike", "DTypeLike", "NDArray"):
        entries[f"numpy.typing.{n}"] = ("py:data", "reference/typing.html#$")
    for n in ("nan", "inf", "newaxis", "pi", "e"):
        entries[f"numpy.{n}"] = ("py:data", "reference/constants.html#$")
    return entries, np.__version__


def write_numpy() -> None:
    entries, version = _numpy_entries()
    lines = [f"{name} {role} 1 {uri} -" for name, (role, uri) in sorted(entries.items())]
    lines.append("array_like std:term -1 glossary.html#term-array_like -")
    header = (
        "# Sphinx inventory version 2\n# Project: NumPy\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"), 9)
    (HERE / "numpy.inv").write_bytes(header.encode("utf-8") + body)
    print(f"numpy.inv: {len(lines)} entries from numpy {version}")


if __name__ == "__main__":
    commands = {"download": download, "numpy": write_numpy}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
