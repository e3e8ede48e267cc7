"""Which public docstrings are missing or fail numpydoc's validation.

    python docs/_ext/docstring_report.py            # counts by check
    python docs/_ext/docstring_report.py --list     # and every failing name

"Public" is what the API reference documents: every name in ``__all__`` of
pywemix and of its public subpackages (docs/_ext/pywemix_api.py), and the
public methods and properties of those classes. Each is checked with
``numpydoc.validate.validate`` (the checks of ``numpydoc lint``); the checks
in IGNORED are not counted (they are style choices of this project, or need
sections the docs step has not decided on). Once a check has no failures,
add it to ``numpydoc_validation_checks`` in docs/conf.py so that the build
keeps it at zero.

Also counts every function and method of the package whose name has no
leading underscore (issue 23's "public functions") that has no docstring.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

from numpydoc.docscrape import get_doc_object
from numpydoc.validate import Validator, validate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pywemix_api import public_subpackages  # noqa: E402

import pywemix  # noqa: E402

IGNORED = {
    "ES01",  # no extended summary
    "SA01",  # no See Also section
    "EX01",  # no Examples section
}


def api_names() -> list[str]:
    """Full names of the API reference's objects and their public members."""
    modules = [pywemix] + public_subpackages()
    names = []
    for module in modules:
        for n in getattr(module, "__all__", []):
            obj = getattr(module, n)
            if n.startswith("__"):
                continue
            if inspect.ismodule(obj):  # a module in __all__ (pywemix.families): its names
                for m in getattr(obj, "__all__", []):
                    names += _object_names(getattr(obj, m))
                continue
            names += _object_names(obj)
    return sorted(set(names))


def _object_names(obj) -> list[str]:
    """The full name of ``obj`` and, for a class, of its public members."""
    names = [f"{obj.__module__}.{obj.__qualname__}"]
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        for m, _member in inspect.getmembers(obj):
            if m.startswith("_") or m not in _own_members(obj):
                continue
            if not _is_routine_or_property(obj, m):
                continue  # a data attribute (dataclass field): see the class's docstring
            names.append(f"{obj.__module__}.{obj.__qualname__}.{m}")
    return names


def _is_routine_or_property(cls, name: str) -> bool:
    """Whether member ``name`` of ``cls`` is a method or property (not a data attribute).

    Data attributes (dataclass fields, class constants) have no docstring of
    their own: the class's Parameters or Attributes section documents them,
    and autodoc leaves them off the page.
    """
    member = inspect.getattr_static(cls, name)
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    return inspect.isroutine(member) or inspect.isdatadescriptor(member)


class _Validator(Validator):
    """numpydoc's Validator, for properties made by ``property(lambda ...)`` too.

    numpydoc 1.11 looks for a ``def`` line in the source of a property's getter
    to read ``# numpydoc ignore`` comments and fails (StopIteration) on a
    lambda; such a property has no such comment, so its line is None.
    """

    def __init__(self, obj_name: str):
        super().__init__(get_doc_object(Validator._load_obj(obj_name)))

    @property
    def source_file_def_line(self):
        try:
            return super().source_file_def_line
        except StopIteration:
            return None


def lambda_property_patterns() -> set[str]:
    """Patterns for ``numpydoc_validation_exclude``: the ``property(lambda ...)`` members.

    numpydoc 1.11's check in the Sphinx build stops with StopIteration on them
    (see :class:`_Validator`); this report validates them instead. A pattern
    matches the member under any module path (``pywemix.MixResult.llf`` and
    ``pywemix.dask.result.DaskMixResult.llf``).
    """
    out = set()
    for name in api_names():
        module_class, _, member = name.rpartition(".")
        owner = Validator._load_obj(module_class)
        prop = inspect.getattr_static(owner, member, None) if inspect.isclass(owner) else None
        if isinstance(prop, property) and getattr(prop.fget, "__name__", "") == "<lambda>":
            out.add(rf"\.{owner.__name__}\.{member}$")
    return out


def _own_members(cls) -> set[str]:
    """Members defined by the class or its pywemix base classes."""
    return {
        m for klass in cls.__mro__ if klass.__module__.startswith("pywemix") for m in vars(klass)
    }


def all_public_functions() -> list[tuple[str, object]]:
    """Every function and method in the package whose name has no leading underscore."""
    found = []
    for info in pkgutil.walk_packages(pywemix.__path__, "pywemix."):
        module = importlib.import_module(info.name)
        for n, obj in vars(module).items():
            if n.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                found.append((f"{module.__name__}.{n}", obj))
            elif inspect.isclass(obj):
                for m, member in vars(obj).items():
                    if not m.startswith("_") and (
                        inspect.isfunction(member) or isinstance(member, property)
                    ):
                        found.append((f"{module.__name__}.{n}.{m}", member))
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list every failing name")
    args = ap.parse_args(argv)

    names = api_names()
    by_check, failing = collections.Counter(), {}
    for name in names:
        try:
            result = validate(name, validator_cls=_Validator)
        except Exception as err:  # numpydoc cannot read some generated members
            failing[name] = [("??", f"numpydoc could not validate it: {err!r}")]
            by_check["??"] += 1
            continue
        errors = [(code, msg) for code, msg in result["errors"] if code not in IGNORED]
        if errors:
            failing[name] = errors
            by_check.update(code for code, _ in errors)
    print(
        f"API reference: {len(names)} objects and members; {len(failing)} fail "
        f"numpydoc validation (ignoring {', '.join(sorted(IGNORED))})"
    )
    for code, count in by_check.most_common():
        example = next(msg for errs in failing.values() for c, msg in errs if c == code)
        print(f"  {code}  {count:4d}  e.g. {example}")

    functions = all_public_functions()
    missing = [n for n, obj in functions if not inspect.getdoc(obj)]
    print(
        f"package: {len(functions)} functions, methods and properties without a leading "
        f"underscore; {len(missing)} have no docstring"
    )
    if args.list:
        print("\nfailing numpydoc validation:")
        for name, errors in failing.items():
            print(f"  {name}: {' '.join(sorted({c for c, _ in errors}))}")
        print("\nno docstring:")
        for name in missing:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
