"""Every ``pywemix.<module>[.<name>]`` path that the package's docstrings, the
README and the documentation's pages mention exists: its module imports and the names after it are
attributes (after the package's reorganisations, stale paths such as
``pywemix.laplace`` or ``pywemix.glmm`` pointed nowhere)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import pywemix

PACKAGE = Path(pywemix.__file__).parent
README = PACKAGE.parents[1] / "README.md"
PATH = re.compile(r"\bpywemix(?:\.[A-Za-z_]\w*)+")


def _docstrings(file: Path):
    tree = ast.parse(file.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield doc


def _mentions() -> dict:
    """Path -> where it is mentioned (first place)."""
    out = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        for doc in _docstrings(file):
            for path in PATH.findall(doc):
                out.setdefault(path, str(file.relative_to(PACKAGE.parent)))
    docs = PACKAGE.parents[1] / "docs"
    pages = [README] + sorted(p for p in docs.rglob("*.md") if "_build" not in p.parts)
    for page in pages:
        if page.exists():
            for path in PATH.findall(page.read_text(encoding="utf-8")):
                out.setdefault(path, str(page.relative_to(PACKAGE.parents[1])))
    return out


MENTIONS = _mentions()


def _resolve(path: str):
    """Import the longest module prefix of ``path``, then get the rest as
    attributes; raises ImportError or AttributeError naming what is missing."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(name)
            break
        except ModuleNotFoundError as err:
            if err.name and not err.name.startswith("pywemix"):
                pytest.skip(f"{name} needs {err.name}, which is not installed")
            continue
    for attr in parts[i:]:
        if not hasattr(obj, attr):
            raise AttributeError(f"{'.'.join(parts[:i])} has no {attr!r}")
        obj = getattr(obj, attr)
        i += 1
    return obj


def test_mentions_found():
    # the scan itself works: the package's own entry point is mentioned
    assert "pywemix.mix" in MENTIONS


@pytest.mark.parametrize("path", sorted(MENTIONS))
def test_mentioned_path_exists(path):
    try:
        _resolve(path)
    except (ImportError, AttributeError) as err:
        pytest.fail(f"{MENTIONS[path]} mentions {path}, which does not exist: {err}")
