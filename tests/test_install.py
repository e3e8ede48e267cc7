"""What a plain ``pip install`` gives a survey analyst, and what it says when a
package is missing anyway."""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path

import pytest

import pywemix

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pywemix"

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    tomllib = None


def _pyproject():
    if tomllib is None:  # pragma: no cover
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements):
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_survey_packages_are_installed_by_default():
    project = _pyproject()["project"]
    deps = _names(project["dependencies"])
    assert {"pyarrow", "pyreadstat", "matplotlib", "tqdm"} <= deps
    extras = project["optional-dependencies"]
    # the old extras' names stay valid, naming the same packages
    assert _names(extras["plot"]) == {"matplotlib"}
    assert _names(extras["files"]) == {"pyarrow", "pyreadstat"}
    assert _names(extras["progress"]) == {"tqdm"}


def test_readme_names_what_is_installed():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for word in ("pyarrow", "pyreadstat", "matplotlib", "tqdm", "[plot]", "[files]", "[progress]"):
        assert word in text, word
    assert "pip install . && pywemix demo" in text
    assert 'pip install -e ".[test]" && pytest' in text


def test_example_data_are_package_data():
    globs = _pyproject()["tool"]["setuptools"]["package-data"]["pywemix"]
    files = sorted(p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "data").iterdir())
    assert "data/sleepstudy.csv" in files and "data/pisa_example.csv" in files
    for f in files:
        assert any(fnmatch.fnmatch(f, g) for g in globs), f


def test_datasets_load():
    pisa = pywemix.datasets.load_pisa()
    assert {"schoolid", "pwt1", "pwt2", "pv1math", "pv5math"} <= set(pisa.columns)
    sleep = pywemix.datasets.load_sleepstudy()
    assert list(sleep.columns) == ["Reaction", "Days", "Subject"]
    assert sleep["Subject"].nunique() == 18 and sleep["Days"].between(0, 9).all()
    assert sleep.groupby("Subject").size().eq(10).all()


def test_no_docstring_cites_lecture_notes():
    """Users do not have the lecture notes: docstrings cite published sources."""
    hits = [
        f"{p.relative_to(ROOT)}:{k}"
        for p in PACKAGE.rglob("*.py")
        for k, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "lecture" in line.lower()
    ]
    assert not hits, hits


@pytest.fixture(scope="module")
def sleep_fits():
    sleep = pywemix.datasets.load_sleepstudy()
    with pytest.warns(pywemix.FewGroupsWarning):
        m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", sleep)
    with pytest.warns(pywemix.FewGroupsWarning):
        m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep)
    return m0, m1


def _without_tqdm(monkeypatch):
    for name in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails


def test_progress_without_tqdm_names_the_package(monkeypatch, sleep_fits):
    """progress=True used to show nothing, silently, when tqdm was missing."""
    _without_tqdm(monkeypatch)
    with pytest.raises(ImportError, match=r"tqdm.*pywemix\[progress\].*progress=False"):
        pywemix.bootstrap_lrt(*sleep_fits, n=2, seed=1, progress=True)


def test_default_progress_without_tqdm_still_runs(monkeypatch, sleep_fits):
    _without_tqdm(monkeypatch)
    res = pywemix.bootstrap_lrt(*sleep_fits, n=2, seed=1)  # no bar by default for n < 200
    assert len(res.replicates) == res.n == 2 and 0 < res.p_value <= 1
