"""The ``validation-report`` directive: pywemix against the committed references.

At build time, fits every case in tests/reference/expected exactly as the
tests do (tests/conftest.py: ``case``, ``mix_call``, ``quiet_mix``) and
tabulates, per case and quantity, the reference value (WeMix 4.0.3 or
lme4 1.1-31), pywemix's value, their relative difference and the tolerance of
tests/reference/README.md. The page holding the directive is re-read at every
build, so the table always shows the code being documented. Usage (MyST)::

    ```{validation-report}
    ```
"""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
LOGGER = logging.getLogger(__name__)

# tests/reference/README.md, "Tolerances": (gaussian, fitted by quadrature)
TOLERANCE = {
    "llf": (1e-7, 2e-6),  # relative, one-sided: a higher maximum is fine
    "params": (1e-4, 1e-3),
    "variance": (1e-3, 5e-3),  # or both below 1e-6 of the largest variance
    "bse": (5e-3, 5e-3),
    "std_error": (2e-2, 2e-2),
    "icc": (1e-3, 1e-3),
    "pv_variance": (5e-3, 5e-3),  # imputation and sampling variances (tests/test_pv.py)
}


def _conftest():
    """tests/conftest.py as a module: the tests' own way to fit a case."""
    spec = importlib.util.spec_from_file_location(
        "pywemix_tests_conftest", ROOT / "tests" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rel(ours, ref):
    return abs(ours - ref) / max(abs(ref), 1e-300)


def _row(quantity, ref, ours, tol, *, one_sided=False, tiny=False):
    """[quantity, reference, pywemix, relative difference, tolerance, ok]."""
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return [quantity, f"{ref:.10g}", "—", "—", f"{tol:g}", "missing"]
    if one_sided:  # signed: positive means a higher log-likelihood than the reference
        diff = (ours - ref) / abs(ref)
        ok = diff >= -tol
        shown = f"{diff:+.2e}"
    else:
        diff = _rel(ours, ref)
        ok = diff < tol or tiny
        shown = f"{diff:.2e}" + (" (both ~0)" if tiny and diff >= tol else "")
    return [
        quantity,
        f"{ref:.10g}",
        f"{ours:.10g}",
        shown,
        f"{'≥ −' if one_sided else '< '}{tol:g}",
        "yes" if ok else "NO",
    ]


def _var_row(vc, ref_row):
    if ref_row["level"] == 1:
        sel = vc[vc["level"] == 1]
    else:
        sel = vc[
            (vc["level"] == ref_row["level"])
            & (vc["var1"] == ref_row["var1"])
            & ((vc["var2"] == ref_row["var2"]) if ref_row["var2"] else vc["var2"].isna())
        ]
    return sel.iloc[0] if len(sel) == 1 else None


def _var_label(row):
    if row["level"] == 1:
        return "variance: Residual"
    term = row["var1"] + (f", {row['var2']}" if row.get("var2") else "")
    return f"variance: {row['group']} ({term})"


def compare_case(ct, name):
    """(expected dict, seconds, rows) of one reference case."""
    exp, df = ct.case(name)
    start = time.perf_counter()
    extra = {}
    if exp["call"].get("plausible_values"):
        extra["plausible_values"] = exp["call"]["plausible_values"]
    res = ct.quiet_mix(exp["call"]["formula"], df, **extra, **ct.mix_call(exp))
    seconds = time.perf_counter() - start
    quad = exp["call"].get("family", "gaussian") != "gaussian"
    tol = {k: v[1 if quad else 0] for k, v in TOLERANCE.items()}
    names = list(res.params.index)
    rows = []
    if exp.get("llf") is not None:
        rows.append(_row("log-likelihood", exp["llf"], float(res.llf), tol["llf"], one_sided=True))
    for k, v in exp["params"].items():
        rows.append(
            _row(f"coefficient: {k}", v, float(res.params[ct.our_name(k, names)]), tol["params"])
        )
    for k, v in (exp.get("bse") or {}).items():
        rows.append(
            _row(f"standard error: {k}", v, float(res.bse[ct.our_name(k, names)]), tol["bse"])
        )
    for label, attr in (
        ("imputation variance", "imputation_variance"),
        ("sampling variance", "sampling_variance"),
    ):
        for k, v in (exp.get(attr) or {}).items():
            rows.append(
                _row(
                    f"{label}: {k}",
                    v,
                    float(getattr(res, attr)[ct.our_name(k, names)]),
                    tol["pv_variance"],
                )
            )
    vc = res.var_components
    largest = max(abs(r["variance"]) for r in exp["var_components"])
    for ref_row in exp["var_components"]:
        ours = _var_row(vc, ref_row)
        value = None if ours is None else float(ours["variance"])
        tiny = value is not None and max(abs(value), abs(ref_row["variance"])) < 1e-6 * largest
        rows.append(
            _row(_var_label(ref_row), ref_row["variance"], value, tol["variance"], tiny=tiny)
        )
        if ref_row.get("std_error") is not None:
            se = None if ours is None else float(ours["std_error"])
            rows.append(
                _row(
                    _var_label(ref_row).replace("variance", "its standard error", 1),
                    ref_row["std_error"],
                    se,
                    tol["std_error"],
                )
            )
    if isinstance(exp.get("icc"), (int, float)):  # WeMix has none for GLMMs ([])
        rows.append(_row("ICC", exp["icc"], float(res.icc), tol["icc"]))
    lme4 = exp.get("lme4_ml")
    if lme4:
        rows.append(
            _row("lme4 ML: log-likelihood", lme4["llf"], float(res.llf), tol["llf"], one_sided=True)
        )
        for k, v in lme4["params"].items():
            rows.append(
                _row(
                    f"lme4 ML: coefficient {k}",
                    v,
                    float(res.params[ct.our_name(k, names)]),
                    tol["params"],
                )
            )
    return exp, seconds, rows


def _table(header, rows, widths):
    table = nodes.table(classes=["validation-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head, body = nodes.thead(), nodes.tbody()
    for cells, parent in [(header, head)] + [(r, body) for r in rows]:
        tr = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=str(cell))
            tr += entry
        parent += tr
    group += head
    group += body
    return table


class ValidationReport(SphinxDirective):
    has_content = False

    def run(self):
        self.env.note_dependency(str(ROOT / "tests" / "conftest.py"))
        self.env.pywemix_validation_docs = getattr(self.env, "pywemix_validation_docs", set())
        self.env.pywemix_validation_docs.add(self.env.docname)
        ct = _conftest()
        cases = sorted(p.stem for p in (ROOT / "tests" / "reference" / "expected").glob("*.json"))
        summary, sections, failed = [], [], []
        for name in cases:
            exp, seconds, rows = compare_case(ct, name)
            bad = [r for r in rows if r[-1] != "yes"]
            if bad:
                failed.append(name)
            diffs = [
                float(r[3].split()[0])
                for r in rows
                if r[3] != "—" and "both" not in r[3] and not r[4].startswith("≥")
            ]
            source = exp["source"].split(" on ")[0].split(" (")[0]  # the full text is below
            summary.append(
                [
                    name,
                    source,
                    exp["call"]["family"],
                    len(rows),
                    f"{max(diffs):.1e}" if diffs else "—",
                    "yes" if not bad else f"NO ({len(bad)})",
                    f"{seconds:.2f}",
                ]
            )
            section = nodes.section(ids=[nodes.make_id(f"case-{name}")])
            section += nodes.title(text=name)
            section += nodes.paragraph(
                text=f"{exp['source']}. Data: {exp['data']}; "
                f"formula: {exp['call']['formula']}; "
                f"weights: {', '.join(exp['call']['weights'])}."
            )
            section += _table(
                ["quantity", "reference", "pywemix", "relative difference", "tolerance", "within"],
                rows,
                [30, 14, 14, 12, 10, 6],
            )
            sections.append(section)
        if failed:
            LOGGER.warning(
                "validation report: cases outside their tolerance: %s",
                ", ".join(failed),
                location=(self.env.docname, self.lineno),
            )
        intro = nodes.paragraph(
            text=f"{len(cases)} reference cases; {len(cases) - len(failed)} within every tolerance."
        )
        return [
            intro,
            _table(
                [
                    "case",
                    "reference",
                    "family",
                    "quantities",
                    "largest relative difference",
                    "all within",
                    "fit (s)",
                ],
                summary,
                [24, 30, 8, 8, 10, 8, 6],
            ),
        ] + sections


def _always_reread(app, env, added, changed, removed):
    return sorted(getattr(env, "pywemix_validation_docs", set()))


def _purge(app, env, docname):
    getattr(env, "pywemix_validation_docs", set()).discard(docname)


def _merge(app, env, docnames, other):
    env.pywemix_validation_docs = getattr(env, "pywemix_validation_docs", set()) | getattr(
        other, "pywemix_validation_docs", set()
    )


def setup(app):
    app.add_directive("validation-report", ValidationReport)
    app.connect("env-get-outdated", _always_reread)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
