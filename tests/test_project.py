"""The project's own files agree: one version, the lowest versions CI tests,
the documentation's build command and its API reference."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.version import Version

import pywemix

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DOCS_BUILD = "python -m sphinx -W --keep-going -b html docs docs/_build/html"


def _lower_bounds(requirements) -> dict[str, str]:
    bounds = {}
    for req in requirements:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([0-9][^,; ]*)", req.replace(" ", ""))
        if m:
            bounds[m.group(1).lower()] = m.group(3)
    return bounds


def test_version_is_written_once():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "pywemix.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d*)?", pywemix.__version__)
    # an installed pywemix (editable or not) reports the same version; if this
    # fails after a version change, reinstall: pip install -e .
    assert importlib.metadata.version("pywemix") == pywemix.__version__


def test_lowest_versions_ci_installs_are_the_lower_bounds():
    """.ci/constraints-lowest.txt pins each dependency (and test extra) at its
    lower bound in pyproject.toml, so CI tests what pyproject.toml promises."""
    project = PYPROJECT["project"]
    bounds = _lower_bounds(project["dependencies"] + project["optional-dependencies"]["test"])
    pins = {}
    for line in (ROOT / ".ci" / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    for name, version in bounds.items():
        assert name in pins and Version(pins[name]) == Version(version), (name, version)
    args = [
        a
        for a in (ROOT / ".ci" / "lowest-tests.txt").read_text().splitlines()
        if a.strip() and not a.startswith("#")
    ]
    paths = [a.split("=", 1)[-1].split("::")[0] for a in args]
    assert paths and all((ROOT / p).exists() for p in paths), paths


def test_docs_build_command_is_documented_and_run_by_ci():
    assert DOCS_BUILD in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "sphinx -W --keep-going" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    docs = " ".join(PYPROJECT["project"]["optional-dependencies"]["docs"])
    for package in ("sphinx", "pydata-sphinx-theme", "numpydoc", "myst-nb", "ipykernel"):
        assert package in docs, package


def test_api_reference_lists_every_public_name():
    """docs/_ext/pywemix_api.py gives every public name an autosummary entry
    (so a page), or a link to where it is documented."""
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import pywemix_api
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    text = pywemix_api.render()
    entries = set(re.findall(r"^   (\w+)$", text, re.M))
    for name in pywemix.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(pywemix, name)
        if hasattr(obj, "__all__"):  # a module: its section lists its names
            assert obj.__name__ in text, name
            assert set(obj.__all__) <= entries, (name, set(obj.__all__) - entries)
        else:
            assert name in entries, name
    for module in pywemix_api.public_subpackages():
        for name in module.__all__:
            assert name in entries or f"pywemix.{name}`" in text, (module.__name__, name)
