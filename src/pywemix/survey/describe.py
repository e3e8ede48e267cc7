"""What a :class:`~pywemix.SurveyData` holds: scales, weights, replicates, sizes.

R equivalents: EdSurvey's ``showPlausibleValues``, ``showWeights`` and the
print method of an ``edsurvey.data.frame``.
"""

from __future__ import annotations

import html
import json
import re

__all__ = ["SurveyDescription", "replicates_text", "other_weight_columns"]


class SurveyDescription:
    """The description of survey data: text (``str``), HTML (Jupyter), dict.

    Attributes
    ----------
    info : dict
        ``survey``, ``files``, ``rows``, ``columns``, ``loaded``, ``cache``,
        ``school`` (file, key, schools), ``default_scale``, ``scales``
        (scale -> columns), ``weights`` (levels, conditional, rule, derived,
        missing, other), ``replicates`` (text or None).
    """

    def __init__(self, info: dict):
        self.info = info

    def to_dict(self) -> dict:
        """The description as plain Python objects (JSON-ready)."""
        return json.loads(json.dumps(self.info, default=str))

    def as_text(self) -> str:
        """
        Render the description as text.

        Returns
        -------
        str
            Scales, weights, replicates and sizes, a few lines each.
        """
        i = self.info
        lines = [_headline(i)]
        if i["school"]:
            s = i["school"]
            lines.append(
                f"School file: {s['file']}, merged on {' + '.join(s['key'])}"
                + (f" ({s['schools']:,} schools)" if s["schools"] else "")
            )
        lines += [
            "",
            _scales_text(i),
            "",
            _weights_text(i["weights"]),
            "",
            f"Replicate weights: {i['replicates'] or 'none found'}",
            "",
            f"Loaded: {i['loaded']:,} of {i['columns']:,} columns"
            + (f"; column cache {i['cache']}" if i["cache"] else ""),
        ]
        return "\n".join(lines)

    def as_html(self) -> str:
        """
        Render the description as HTML (what Jupyter shows).

        Returns
        -------
        str
            An HTML fragment.
        """
        i = self.info
        e = html.escape
        parts = [f"<p><b>{e(_headline(i))}</b></p>"]
        if i["school"]:
            s = i["school"]
            parts.append(f"<p>School file: {e(s['file'])}, merged on {e(' + '.join(s['key']))}</p>")
        rows = "".join(
            f"<tr><td>{e(k)}{' (default)' if k == i['default_scale'] else ''}</td>"
            f"<td>{len(v)}</td><td>{e(_span(v))}</td></tr>"
            for k, v in i["scales"].items()
        )
        parts.append(
            "<p><b>Plausible values</b></p>"
            + (
                f"<table><tr><th>scale</th><th>values</th><th>columns</th></tr>{rows}</table>"
                if rows
                else "<p>none</p>"
            )
        )
        w = i["weights"]
        rows = "".join(
            f"<tr><td>{lvl}</td><td>{e(str(c))}</td></tr>" for lvl, c in enumerate(w["levels"], 1)
        )
        parts.append(
            f"<p><b>Weights</b> ({e(_kind(w))})</p><table><tr><th>level</th>"
            f"<th>column</th></tr>{rows}</table><p>{e(w['rule'])}</p>"
        )
        parts += [f"<p>{e(n)}</p>" for n in _weight_notes(w)]
        parts.append(f"<p><b>Replicate weights</b>: {e(i['replicates'] or 'none found')}</p>")
        parts.append(f"<p>Loaded: {i['loaded']:,} of {i['columns']:,} columns</p>")
        return "<div>" + "".join(parts) + "</div>"

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.as_html()


def _headline(i) -> str:
    what = f"{i['survey']} data" if i["survey"] else "Survey data (no survey preset)"
    rows = f"{i['rows']:,} rows" if i["rows"] is not None else "rows counted on first read"
    return f"{what}: {', '.join(i['files'])} ({rows}, {i['columns']:,} columns)"


def _span(cols) -> str:
    return f"{cols[0]} .. {cols[-1]}" if len(cols) > 2 else ", ".join(cols)


def _scales_text(i) -> str:
    if not i["scales"]:
        return "Plausible values: none"
    width = max(len(k) for k in i["scales"])
    lines = [
        f"Plausible values ({len(i['scales'])} scales"
        + (f", default {i['default_scale']})" if i["default_scale"] else ")")
        + ":"
    ]
    lines += [f"  {k:<{width}}  {len(v):>2} values  {_span(v)}" for k, v in i["scales"].items()]
    return "\n".join(lines)


def _kind(w) -> str:
    return "conditional" if w["conditional"] else "total weights, not conditional"


def _weight_notes(w) -> list:
    notes = [f"{name} = {' x '.join(f)} (not in the data)" for name, f in w["derived"]]
    notes += [
        f"not found: {m} (in the school file? pass school=; or pass weights=)" for m in w["missing"]
    ]
    if w["other"]:
        notes.append(f"other weight columns: {', '.join(w['other'])}")
    return notes


def _weights_text(w) -> str:
    if not w["levels"]:
        return "Weights: none (pass weights=)"
    lines = [f"Weights, level 1 first ({_kind(w)}):"]
    lines += [
        f"  level {lvl}  {c if c is not None else '(none)'}" for lvl, c in enumerate(w["levels"], 1)
    ]
    if w["rule"]:
        lines.append(f"  {w['rule']}")
    lines += [f"  {n}" for n in _weight_notes(w)]
    return "\n".join(lines)


def replicates_text(jk2, rep):
    """How the replicate weights are made: JK2 zones not yet built (``jk2``:
    zone, replicate and total weight columns), a :class:`~pywemix.Replicates`,
    or None."""
    if jk2 is not None and rep is None:
        zone, indicator, weight = jk2
        return (
            f"JK2 jackknife, two per zone of {zone}, built from {indicator} and "
            f"{weight} on first use"
        )
    if rep is None:
        return None
    text = rep.describe()
    text += f": {_span(rep.columns)}" if rep.frame is None else ""
    return text + (f", full-sample weight {rep.full_weight}" if rep.full_weight else "")


def other_weight_columns(preset, columns, used) -> list:
    """Columns the survey's weight rule calls weights, other than the level weights."""
    if preset is None or not preset.weights.other:
        return []
    return [
        c
        for c in columns
        if c not in set(used) and re.fullmatch(preset.weights.other, c, flags=re.IGNORECASE)
    ]
