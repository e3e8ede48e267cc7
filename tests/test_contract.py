"""The package's modules talk through public names: no module reads another
object's private attributes (``other._x``); ``self._x`` and ``cls._x`` only."""

from __future__ import annotations

import re
from pathlib import Path

import pywemix

SOURCE = Path(pywemix.__file__).parent
#: ``name._attr`` where ``name`` is not self/cls; numpy's and sys's own privates aside.
PRIVATE_READ = re.compile(r"\b(?!self\b|cls\b|np\b|_sys\b|sys\b)([A-Za-z_]\w*)\._[a-z]\w*")


def test_no_module_reads_private_attributes_of_other_objects():
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [
                f"{path.relative_to(SOURCE)}:{number}: {m.group(0)}"
                for m in PRIVATE_READ.finditer(code)
            ]
    assert found == [], "private attributes read from outside their class:\n" + "\n".join(found)


# -- the import layers (issue 19) ---------------------------------------------------------

import ast  # noqa: E402

#: The package's parts, bottom to top: a module may import its own layer and those
#: below, never one above (imports inside functions counted).
LAYERS = [
    {"checks", "warnings", "executors", "presets", "io", "datasets"},
    {"design"},
    {"objective"},
    {"estimation"},
    {"results"},
    {"arguments", "pipeline"},
    {"dask"},
    {"survey"},
    {"fit"},
    {"lrt", "compare"},
    {"cli"},
]

#: Packages a module may import inside a function: optional dependencies only.
OPTIONAL = {
    "dask",
    "distributed",
    "matplotlib",
    "pyreadstat",
    "pyarrow",
    "tqdm",
    "IPython",
    "polars",
}


def _modules() -> dict:
    """Dotted module name -> (path, is package) for every module of pywemix."""
    out = {}
    for path in SOURCE.rglob("*.py"):
        rel = path.relative_to(SOURCE.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        out[name] = (path, is_pkg)
    return out


def _imports(name, path, is_pkg, known):
    """(target module or package name, inside a function) of every import."""
    tree = ast.parse(path.read_text())
    local = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
        if isinstance(n, (ast.Import, ast.ImportFrom))
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            yield t, id(node) in local


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "pywemix" or len(parts) == 1:
        return None
    return next(i for i, layer in enumerate(LAYERS) if parts[1] in layer)


def test_every_module_has_a_layer():
    for name in _modules():
        if name != "pywemix":
            assert _layer(name) is not None, name


def test_no_import_from_a_lower_layer_to_a_higher_one():
    known = _modules()
    upward = []
    for name, (path, is_pkg) in known.items():
        if name == "pywemix":  # the package's __init__ re-exports every part
            continue
        for target, _ in _imports(name, path, is_pkg, known):
            if (
                target.startswith("pywemix")
                and target != "pywemix"
                and _layer(target) > _layer(name)
            ):
                upward.append(f"{name} -> {target}")
    assert upward == [], "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_circle_between_modules():
    known = _modules()
    graph = {
        name: {t for t, _ in _imports(name, path, is_pkg, known) if t in known and t != name}
        for name, (path, is_pkg) in known.items()
    }

    def reaches(start, goal, seen):
        for nxt in graph[start]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, goal, seen):
                    return True
        return False

    circles = sorted(n for n in graph if reaches(n, n, {n}))
    assert circles == [], f"modules on an import circle: {circles}"


def test_imports_inside_functions_are_optional_dependencies_only():
    known = _modules()
    found = []
    for name, (path, is_pkg) in known.items():
        for target, local in _imports(name, path, is_pkg, known):
            if local and target.split(".")[0] not in OPTIONAL:
                found.append(f"{name}: {target}")
    assert found == [], "imports inside functions:\n" + "\n".join(found)
