"""The README's examples run as written.

Every ```python block of README.md is run, in order, in one namespace, in a
temporary working directory; every line of a ```sh block that starts with
``pywemix`` (continuation lines joined) is run through the command line's
``main``. So the README cannot drift from the package.
"""
from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

import pywemix
from pywemix.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(lang: str) -> list[str]:
    """The fenced code blocks of README.md in language ``lang``, in order."""
    return [code for kind, code in _BLOCK.findall(README.read_text(encoding="utf-8"))
            if kind == lang]


def shell_commands() -> list[str]:
    """The ``pywemix ...`` lines of the sh blocks, backslash continuations joined."""
    commands = []
    for code in blocks("sh"):
        for line in code.replace("\\\n", " ").splitlines():
            if line.strip().startswith("pywemix"):
                commands.append(line.strip())
    return commands


@pytest.fixture
def agg():
    """matplotlib's non-interactive backend, for this test only."""
    matplotlib = pytest.importorskip("matplotlib")
    backend = matplotlib.get_backend()
    matplotlib.use("Agg")
    yield
    matplotlib.use(backend)


def test_readme_has_examples():
    assert len(blocks("python")) >= 4
    assert any(c.startswith("pywemix fit") for c in shell_commands())
    assert any(c.startswith("pywemix plot") for c in shell_commands())


def test_python_blocks_run(tmp_path, monkeypatch, agg):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the examples' notes (few groups, ...)
        for k, code in enumerate(blocks("python")):
            try:
                exec(compile(code, f"README.md python block {k + 1}", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the message says which block
                pytest.fail(f"README python block {k + 1} fails: {type(exc).__name__}: "
                            f"{exc}\n{code}")
    assert "result" in namespace and "m1" in namespace


def test_headline_example_does_not_warn(tmp_path, monkeypatch):
    """The first example is what a new user runs first: no warnings but the
    note that rows with a missing ``escs`` were dropped."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", r"dropped \d+ of \d+ rows with missing",
                                pywemix.DataWarning)
        exec(compile(blocks("python")[0], "README.md python block 1", "exec"), {})


def test_shell_lines_run(tmp_path, monkeypatch, capsys, agg):
    monkeypatch.chdir(tmp_path)
    for line in shell_commands():
        argv = shlex.split(line, comments=True)
        rc = main(argv[1:])
        out, err = capsys.readouterr()
        assert rc == 0, f"README shell line fails: {line}\n{err}"
        assert "error" not in err, line
    assert (tmp_path / "qq.png").stat().st_size > 0
