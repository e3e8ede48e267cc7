"""The examples of the README and of the documentation's pages run as written.

Every ```python block of README.md, and of each Markdown page under docs/,
is run, in order, in one namespace per file, in a temporary working
directory; every line of a ```sh block that starts with ``pywemix``
(continuation lines joined) is run through the command line's ``main``. So
neither the README nor the user guide can drift from the package. (Pages
with executable ``{code-cell}`` blocks are run by the documentation build
instead: their fences are not ```python.)
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

import pywemix
from pywemix.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(lang: str, path: Path = README) -> list[str]:
    """The fenced code blocks of ``path`` in language ``lang``, in order."""
    return [code for kind, code in _BLOCK.findall(path.read_text(encoding="utf-8")) if kind == lang]


def shell_commands(path: Path = README) -> list[str]:
    """The ``pywemix ...`` lines of the sh blocks, backslash continuations joined."""
    commands = []
    for code in blocks("sh", path):
        for line in code.replace("\\\n", " ").splitlines():
            if line.strip().startswith("pywemix"):
                commands.append(line.strip())
    return commands


def doc_pages() -> list[Path]:
    """The Markdown pages of docs/ (the build folder left out)."""
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


PAGES = [README] + doc_pages()
PYTHON_PAGES = [p for p in PAGES if blocks("python", p)]
SHELL_PAGES = [p for p in PAGES if shell_commands(p)]


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture
def agg():
    """matplotlib's non-interactive backend, for this test only."""
    matplotlib = pytest.importorskip("matplotlib")
    backend = matplotlib.get_backend()
    matplotlib.use("Agg")
    yield
    matplotlib.use(backend)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_readme_has_examples():
    assert len(blocks("python")) >= 1
    assert any(c.startswith("pywemix demo") for c in shell_commands())
    assert any(c.startswith("pywemix fit") for c in shell_commands())


def test_user_guide_has_examples():
    """The guide's pages hold the README's former examples: every concept
    page runs Python, and the command line's subcommands appear."""
    guide = DOCS / "user-guide"
    for name in (
        "formulas",
        "weights",
        "glmm",
        "survey",
        "inference",
        "dask",
        "cli",
        "convergence",
    ):
        page = guide / f"{name}.md"
        assert blocks("python", page) or "```{code-cell}" in page.read_text(), name
    commands = [c for p in SHELL_PAGES for c in shell_commands(p)]
    for sub in ("fit", "plot", "demo"):
        assert any(c.startswith(f"pywemix {sub}") for c in commands), sub


@pytest.mark.parametrize("path", PYTHON_PAGES, ids=_id)
def test_python_blocks_run(path, tmp_path, monkeypatch, agg):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_example"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the examples' notes (few groups, ...)
        for k, code in enumerate(blocks("python", path)):
            where = f"{_id(path)} python block {k + 1}"
            try:
                exec(compile(code, where, "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the message says which block
                pytest.fail(f"{where} fails: {type(exc).__name__}: {exc}\n{code}")


def test_headline_example_does_not_warn(tmp_path, monkeypatch):
    """The README's example is what a new user runs first: no warnings but the
    note that rows with a missing ``escs`` were dropped."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings(
            "ignore", r"dropped \d+ of \d+ rows with missing", pywemix.DataWarning
        )
        exec(compile(blocks("python")[0], "README.md python block 1", "exec"), {})


@pytest.mark.parametrize("path", SHELL_PAGES, ids=_id)
def test_shell_lines_run(path, tmp_path, monkeypatch, capsys, agg):
    monkeypatch.chdir(tmp_path)
    for line in shell_commands(path):
        argv = shlex.split(line, comments=True)
        rc = main(argv[1:])
        out, err = capsys.readouterr()
        assert rc == 0, f"{_id(path)} shell line fails: {line}\n{err}"
        assert "error" not in err, line
        for k, arg in enumerate(argv[:-1]):
            if arg == "-o":  # a plot was written
                assert (tmp_path / argv[k + 1]).stat().st_size > 0, line
