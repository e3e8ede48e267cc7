"""A WeMix-like report of a fit: text, HTML for Jupyter, LaTeX, and a dict/JSON.

R equivalent: ``summary.WeMixResults``; the export methods follow statsmodels'
``Summary.as_text`` / ``as_html`` / ``as_latex``. The dict/JSON layout is
documented in :meth:`Summary.as_dict`.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

from .inference import loglik_value

__all__ = ["Summary", "SCHEMA", "tex_escape"]


#: Identifies the layout of :meth:`Summary.as_dict` (and of the command line's
#: ``--json``, which writes ``summary().to_json()``).
SCHEMA = "pywemix-summary/1"


class Summary:
    """Report of a result (a fit, replicate-weight, plausible-value or pooled result).

    ``str(summary)`` gives the text report; in Jupyter it renders as HTML
    tables. The tables are also available as DataFrames: ``header`` (a list of
    (label, value) pairs), ``variance``, ``groups``, ``fixed`` and ``family``
    (the family's parameters: the dispersion of negative binomial and gamma
    models, the thresholds of ordinal ones as ``ordinal::clmm``'s "Threshold
    coefficients"; empty for the other families; ``family_title`` names it).

    Every standard error shown is of one covariance kind, the result's
    default (``kind``, a :class:`~pywemix.results.covariances.Covariance`):
    the header's ``Standard errors`` line and the sentence under the fixed
    effects (``se_note``) say which, and no note says otherwise.

    Exports: ``as_text()``, ``as_html()``, ``as_latex()`` (LaTeX ``tabular``
    environments, as statsmodels' ``summary().as_latex()``), ``as_dict()``
    (plain Python, the documented schema :data:`SCHEMA`) and ``to_json()``
    (that dict as strict JSON, missing values as ``null``).
    """

    def __init__(
        self, result, *, header=(), se_note=None, fixed=None, icc_std_error=None, icc_se_label=None
    ):
        """Build the report of ``result``.

        Parameters
        ----------
        result : MixResult, PlausibleValuesResult, ReplicateResult or PooledResult
        header : sequence of (label, value), optional
            Lines added to the header after the formula.
        se_note : str, optional
            The sentence saying where the standard errors come from; default
            the description of the result's default covariance kind.
        fixed : DataFrame, optional
            The fixed-effects table; default ``Estimate``, ``Std. Error`` and
            ``t value`` from ``result.params``, ``bse`` and ``tvalues``.
        icc_std_error : float, optional
            A standard error of the ICC, shown beside it when finite; default
            the default kind's (``result.icc_std_error``).
        icc_se_label : str, optional
            What that standard error is called (default e.g.
            ``"replication SE"``, from the kind).
        """
        self.result = r = result
        self.kind = kind = r.covariance()
        self.title = _title(r)
        self.header = _header(r)
        vc = r.var_components
        vc["std_dev"] = np.sqrt(
            np.where((vc["var2"].isna()) & (vc["variance"] >= 0), vc["variance"], np.nan)
        )
        self.variance = vc
        self.groups = r.groups
        table = (
            pd.DataFrame({"Estimate": r.params, "Std. Error": r.bse, "t value": r.tvalues})
            if fixed is None
            else fixed
        )
        self.family_title, names = _family_terms(r)
        is_family = table.index.isin(names)
        # a table without family parameters is kept as given
        self.fixed = table[~is_family] if is_family.any() else table
        self.family = table[is_family]
        self.se_note = _se_note(r, kind) if se_note is None else se_note
        if icc_std_error is None:
            icc_std_error = kind.icc_std_error
        self.icc_std_error = icc_std_error
        self.footer = [
            ("lnl", _lnl_text(r)),
            (
                "Intraclass correlation (ICC)",
                _icc_text(r, icc_std_error, icc_se_label or kind.se_label),
            ),
        ]
        n_pv = getattr(r, "n_plausible", None)
        if n_pv:
            self.header.insert(
                1,
                (
                    "Plausible values",
                    f"{n_pv} ({', '.join(r.columns)}) of "
                    f"{r.response}; estimates averaged, variance = sampling + "
                    "imputation",
                ),
            )
        self.header[1:1] = [(str(k), v) for k, v in header]
        self.header.append(("Standard errors", kind.description))
        self.notes = list(r.warnings)
        self.notes.extend(_pseudo_notes(r, kind))
        if np.isfinite(r.icc) and _has_slope_variance(vc):
            self.notes.append(
                "The ICC adds the random-slope variances to the intercept "
                "variances, as WeMix's ICC does; it depends on the scale of "
                "the slope covariates (see help(result.icc))."
            )

    # -- text ---------------------------------------------------------------
    def as_text(self) -> str:
        """
        Render the report as fixed-width text (what ``print(summary)`` shows).

        Returns
        -------
        str
            The header, the tables and the warnings.
        """
        lines = [self.title, "=" * len(self.title)]
        w = max(len(k) for k, _ in self.header)
        lines += [f"{k:<{w}}  {v}" for k, v in self.header]
        lines += ["", "Variance terms:"]
        lines += _indent(_var_text(self.variance))
        lines += ["", "Groups:"]
        g = self.groups.rename(
            columns={"n_units": "n", "mean_weight": "mean weight", "sum_weight": "sum of weights"}
        )
        lines += _indent(g.to_string(index=False))
        lines += ["", "Fixed effects:"]
        lines += _indent(self.fixed.to_string(float_format=lambda v: f"{v:.6g}"))
        if len(self.family):
            lines += ["", f"{self.family_title}:"]
            lines += _indent(self.family.to_string(float_format=lambda v: f"{v:.6g}"))
        lines += ["", self.se_note, ""]
        lines += [f"{k}: {v}" for k, v in self.footer]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return self.as_text()

    # -- html ---------------------------------------------------------------
    def as_html(self) -> str:
        """The report as an HTML fragment (what Jupyter shows)."""
        return self._repr_html_()

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<div class='pywemix-summary'><h4>{esc(self.title)}</h4>", "<table><tbody>"]
        parts += [
            f"<tr><th style='text-align:left'>{esc(k)}</th>"
            f"<td style='text-align:left'>{esc(str(v))}</td></tr>"
            for k, v in self.header
        ]
        parts.append("</tbody></table>")
        parts.append("<h5>Variance terms</h5>")
        parts.append(
            _blank_labels(self.variance).to_html(
                index=False, na_rep="", float_format="{:.6g}".format
            )
        )
        parts.append("<h5>Groups</h5>")
        parts.append(self.groups.to_html(index=False, float_format="{:.6g}".format))
        parts.append("<h5>Fixed effects</h5>")
        parts.append(self.fixed.to_html(float_format="{:.6g}".format))
        if len(self.family):
            parts.append(f"<h5>{esc(self.family_title)}</h5>")
            parts.append(self.family.to_html(float_format="{:.6g}".format))
        parts.append(f"<p>{esc(self.se_note)}</p><p>")
        parts.append("<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in self.footer))
        parts.append("</p>")
        if self.notes:
            parts.append("<p><b>Notes</b></p><ul>")
            parts += [f"<li>{esc(n)}</li>" for n in self.notes]
            parts.append("</ul>")
        parts.append("</div>")
        return "".join(parts)

    # -- dict / json ----------------------------------------------------------
    def as_dict(self) -> dict:
        """The report as plain Python objects (str, int, float, None, list, dict).

        The layout :data:`SCHEMA` (``"pywemix-summary/1"``), also what
        ``pywemix fit --json`` prints:

        - ``schema``, ``title``, ``formula``, ``family``, ``link``,
          ``criterion``, ``nobs``, ``llf`` (None for a combination of fits),
          ``converged``, ``iterations`` (None for a combination);
        - ``standard_errors``: ``kind`` (the covariance kind of every
          standard error in the report: ``"robust"``, ``"replicate"``, ...),
          ``description`` (e.g. the replicate method), ``available`` (the
          result's kinds), and for totals over plausible values or
          imputations ``sampling`` and ``imputation`` (their descriptions);
        - ``survey``: ``preset`` (e.g. ``"PISA"`` or None), ``weights`` (one
          column or None per level), ``cond_weights``, ``weight_scaling``;
        - ``params`` and ``bse`` (term -> value; the family parameters after
          the fixed effects); ``fixed``, ``family_params`` (the family's
          parameters: dispersion, thresholds; empty for the other families),
          ``var_components`` and ``groups`` (the tables, lists of records; the
          fixed effects and family parameters carry their ``term``); ``icc``
          and ``icc_std_error``;
        - with replicate weights ``replicates`` (``method``,
          ``n_replicates``); for plausible values ``plausible_values``
          (``response``, ``columns``); for totals ``sampling_variance`` and
          ``imputation_variance`` (term -> value; they add up to ``bse``
          squared);
        - ``header`` and ``footer`` (label -> text, as printed), ``se_note``,
          ``notes`` and ``warnings``.

        Missing values (NaN) are ``None``.
        """
        r, kind, s = self.result, self.kind, self.result.settings
        fixed = self.fixed.rename_axis("term").reset_index()
        opt = r.optimization
        out = {
            "schema": SCHEMA,
            "title": self.title,
            "formula": s.formula,
            "family": s.family,
            "link": s.link,
            "criterion": s.criterion,
            "nobs": _plain(r.nobs),
            "llf": _plain(loglik_value(r)),
            "converged": bool(r.converged),
            "iterations": None
            if opt is None or getattr(r, "combines_fits", False)
            else int(opt.iterations),
            "standard_errors": _kind_dict(r, kind),
            "survey": {
                "preset": s.survey,
                "weights": list(s.weight_spec),
                "cond_weights": bool(s.cond_weights),
                "weight_scaling": s.weight_scaling,
            },
            "params": _series(r.params),
            "bse": _series(r.bse),
            "fixed": _records(fixed),
            "family_params": _records(self.family.rename_axis("term").reset_index()),
            "var_components": _records(self.variance),
            "groups": _records(self.groups),
            "icc": _plain(r.icc),
            "icc_std_error": _plain(self.icc_std_error),
        }
        if getattr(r, "replicates", None) is not None:
            out["replicates"] = {"method": r.method, "n_replicates": int(r.n_replicates)}
        if getattr(r, "n_plausible", None):
            out["plausible_values"] = {"response": r.response, "columns": list(r.columns)}
        if kind.is_total:
            out["imputation_variance"] = _series(r.imputation_variance)
            out["sampling_variance"] = _series(r.sampling_variance)
        out.update(
            {
                "header": {k: _plain(v) for k, v in self.header},
                "footer": {k: _plain(v) for k, v in self.footer},
                "se_note": self.se_note,
                "notes": [str(n) for n in self.notes],
                "warnings": [str(w) for w in r.warnings],
            }
        )
        return out

    def to_json(self, indent: int = 1) -> str:
        """``as_dict()`` as a JSON string (strict: no NaN or Infinity)."""
        return json.dumps(self.as_dict(), indent=indent, allow_nan=False)

    # -- latex --------------------------------------------------------------
    def as_latex(self) -> str:
        """The report as LaTeX: a ``tabular`` per table, notes as an itemize.

        Needs only ``booktabs`` (``\\toprule``, ``\\midrule``,
        ``\\bottomrule``) in the preamble.
        """
        parts = [
            f"\\begin{{center}}\\textbf{{{tex_escape(self.title)}}}\\end{{center}}",
            _tex_table(pd.DataFrame(self.header, columns=["", ""]), header=False),
        ]
        tables = [
            ("Variance terms", _blank_labels(self.variance), False),
            ("Groups", self.groups, False),
            ("Fixed effects", self.fixed.rename_axis(""), True),
        ]
        if len(self.family):
            tables.append((self.family_title, self.family.rename_axis(""), True))
        for title, table, index in tables:
            parts.append(f"\\paragraph{{{title}}}")
            parts.append(_tex_table(table, index=index))
        parts.append(tex_escape(self.se_note) + "\n")
        parts.append(
            "\\\\\n".join(f"{tex_escape(k)}: {tex_escape(v)}" for k, v in self.footer) + "\n"
        )
        if self.notes:
            parts.append(
                "\\paragraph{Notes}\n\\begin{itemize}\n"
                + "".join(f"  \\item {tex_escape(n)}\n" for n in self.notes)
                + "\\end{itemize}"
            )
        return "\n".join(parts)


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(value) -> str:
    """``value`` as LaTeX text with the special characters escaped."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        value = "" if not np.isfinite(value) else f"{value:.6g}"
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(value))


def _tex_table(df: pd.DataFrame, index: bool = False, header: bool = True) -> str:
    """A booktabs ``tabular`` of ``df`` (numbers right-aligned)."""
    t = df.reset_index() if index else df
    align = "".join("r" if pd.api.types.is_numeric_dtype(t[c]) else "l" for c in t.columns)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule"]
    if header:
        lines += [" & ".join(tex_escape(c) for c in t.columns) + " \\\\", "\\midrule"]
    for row in t.itertuples(index=False):
        lines.append(" & ".join(tex_escape(v) for v in row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)


def _plain(v):
    """A JSON-ready Python value: NaN and missing -> None, numpy scalars -> Python."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return str(v)


def _series(values: pd.Series) -> dict:
    return {str(k): _plain(v) for k, v in values.items()}


def _kind_dict(r, kind) -> dict:
    """The ``standard_errors`` entry of :meth:`Summary.as_dict`."""
    out = {"kind": kind.name, "description": kind.description, "available": list(r.variance_kinds)}
    if kind.is_total:
        out.update(sampling=kind.sampling.description, imputation=kind.imputation.description)
    return out


def _se_note(r, kind) -> str:
    """The sentence under the fixed effects: the kind shown and the others."""
    others = [repr(k) for k in r.variance_kinds if k != kind.name]
    rest = f" Other kinds: cov_params(kind) with kind {', '.join(others)}." if others else ""
    return f"Standard errors ({kind.name!r}): {kind.description}.{rest}"


def _records(df: pd.DataFrame) -> list:
    return [
        {str(k): _plain(v) for k, v in zip(df.columns, row)} for row in df.itertuples(index=False)
    ]


def _family_terms(r):
    """(title, names) of the family parameters of a result's ``params``."""
    family = getattr(getattr(r, "settings", None), "family_object", None)
    if family is None or not family.n_aux:
        return "", []
    return family.aux_title, list(family.aux_names)


def _lnl_text(r) -> str:
    llf = loglik_value(r)
    if np.isfinite(llf):
        return f"{llf:.2f}"
    return (
        "not defined (plausible values)"
        if getattr(r, "n_plausible", None)
        else "not defined (pooled fits)"
    )


def _icc_text(r, std_error, label) -> str:
    icc = r.icc
    if not np.isfinite(icc):
        return f"not defined for the {r.family} family"
    if std_error is not None and np.isfinite(std_error):
        return f"{icc:.4f} ({label} {std_error:.4f})"
    return f"{icc:.4f}"


def _title(r) -> str:
    s = r.settings
    kind = "linear" if s.family == "gaussian" else f"{s.family} ({s.link})"
    return f"Weighted {kind} mixed model (pywemix)"


def _header(r) -> list:
    """(label, value) lines made from the fit's settings record."""
    s = r.settings
    wt = ", ".join(f"{w if w else '(none)'} (level {i + 1})" for i, w in enumerate(s.weight_spec))
    crit = s.criterion + (" (pseudo-likelihood)" if s.weighted else "")
    rows = [
        ("Formula", s.formula),
        ("Family", s.family),
        ("Link", s.link),
        ("Criterion", crit),
        (
            "Weights",
            (
                f"{wt}; {'conditional' if s.cond_weights else 'unconditional'}"
                + (f"; the {s.survey} preset's level weights" if s.weights_from_preset else "")
                if any(s.weight_spec)
                else "none (unit weights at every level)"
            ),
        ),
        ("Observations", r.nobs),
    ]
    if s.family != "gaussian":
        rows.append(
            (
                "Quadrature points",
                f"{s.n_quad} per random effect"
                + (" (Laplace)" if s.n_quad == 1 else " (adaptive Gauss-Hermite)"),
            )
        )
    rows.extend(s.labels())
    opt = r.optimization
    if opt is not None and not hasattr(r, "fits"):
        rows.append(
            (
                "Converged",
                f"{'yes' if r.converged else 'NO'} ({opt.iterations} "
                f"iterations, gradient norm {opt.grad_norm:.2g})",
            )
        )
    return rows


def _has_slope_variance(vc: pd.DataFrame) -> bool:
    """Whether a random effect other than an intercept has a variance row."""
    var = vc[(vc["group"] != "Residual") & vc["var2"].isna()]
    return bool((var["var1"] != "Intercept").any())


def _pseudo_notes(r, kind) -> list:
    if not r.settings.weighted:
        return []
    notes = [
        "Weighted fit: the log-likelihood is a pseudo-likelihood; likelihood-ratio "
        "tests and AIC/BIC are not valid. Use Wald tests (result.wald_test)."
    ]
    if kind.name != "model":
        notes.append(
            "Model-based standard errors (kind='model') treat the weights as "
            "frequency weights and are too small; the standard errors shown are "
            f"{kind.description}."
        )
    return notes


def _blank_labels(vc: pd.DataFrame) -> pd.DataFrame:
    """The variance table with empty (not ``None``) effect labels where there are none."""
    t = vc.copy()
    for c in ("var1", "var2"):
        t[c] = t[c].astype(object).where(t[c].notna(), "")
    return t


def _var_text(vc: pd.DataFrame) -> str:
    t = _blank_labels(vc)
    t = t.rename(
        columns={"std_error": "Std. Error", "std_dev": "Std. Dev.", "variance": "Variance"}
    )
    return t.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="")


def _indent(text: str) -> list:
    return ["  " + line for line in text.splitlines()]
