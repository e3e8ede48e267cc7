"""``mix(formula, sdf)`` on a :class:`~pywemix.SurveyData`: the survey's defaults
made arguments, and the model's columns read.

R equivalent: EdSurvey's ``mixed.sdf(formula, data = sdf)``, which takes the
plausible values of a scale named as the response, the survey's weights and
its replicate scheme from the ``edsurvey.data.frame``.

:func:`bind_survey_data` turns a call on survey data into the call on a data
frame that the user could have written: the argument record
(:class:`~pywemix.arguments.MixArguments`) with ``plausible_values``,
``weights``, ``cond_weights``, ``survey`` and ``replicates`` filled in from
the survey data where the user left them at their defaults, and the frame of
exactly the columns the model needs (read in one pass over the file, or from
its column cache; a Dask DataFrame for a Parquet folder read by Dask). The
fit then goes through the normal dispatch (:func:`~pywemix.survey.fit_survey`),
so its results equal the explicit call.

Names the user writes (in the formula, ``weights=``, ``plausible_values=``,
``replicates=``, ``by=``, ``offset=``, centering) are matched ignoring case
and keep the user's spelling in the frame; the survey's own columns keep the
file's spelling.
"""

from __future__ import annotations

from ..arguments import MixArguments
from ..design.scaling import normalize_scaling
from ..io.columns import NameIndex
from ..presets import survey_preset
from .data import SurveyData
from .detect import find_replicate_columns, find_weights
from .replicates import Replicates

__all__ = ["bind_survey_data"]


def bind_survey_data(args: MixArguments, sdf: SurveyData) -> tuple:
    """``(args, data)``: the arguments of ``mix`` with the survey's defaults,
    and the data frame of the model's columns.

    Defaults taken from ``sdf`` (each only where the user left the argument
    at its default):

    - ``plausible_values``: a response naming a scale (``"math"``) becomes
      ``{"math": sdf.plausible_values["math"]}``;
    - ``weights``: the survey's level weights (an error naming the missing
      ones when some level has none), with ``cond_weights`` their
      conditional flag (``cond_weights=True`` still says they are
      conditional);
    - ``survey``: the survey's preset (``survey=False``: none); when the
      user's ``weight_scaling`` or ``cond_weights=True`` departs from the
      preset's weight rule, the preset is not applied (the user's choice
      wins, and the summary shows no preset);
    - ``replicates``: the survey's replicate weights (``False`` when the data
      were read with ``replicates=False``).

    Raises
    ------
    ValueError
        A formula name that is neither a column nor a scale (listing the
        scales), a scale on the right of ``~`` or used where one column is
        needed, level weights missing from the data.
    """
    frame = _FrameColumns(sdf)
    changes = {}
    pv = _plausible_values(args, sdf, frame)
    if pv is not None:
        changes["plausible_values"] = pv
    changes.update(_weights(args, sdf, frame))
    changes["survey"] = _survey(args, sdf, changes.get("cond_weights", args.cond_weights))
    changes["replicates"] = _replicates(args, sdf, frame, changes["survey"])
    _other_names(args, frame)
    return args.replace(**changes), frame.read()


class _FrameColumns:
    """The model frame's columns: the name in the frame -> the data's column."""

    def __init__(self, sdf: SurveyData):
        self.sdf = sdf
        self.columns: dict = {}

    def add(self, name, what: str = "column") -> None:
        """A column named ``name`` (any case), kept under that name."""
        cols = self.sdf.resolve(name)
        if len(cols) > 1:
            raise ValueError(
                f"{what} {name!r} is a scale of {len(cols)} plausible values "
                f"({cols[0]}..{cols[-1]}): only the response of the formula can be a scale "
                f"(one fit per value); name one of its columns (e.g. {cols[0]!r}) here"
            )
        self.columns.setdefault(name, cols[0])

    def add_all(self, names, what: str) -> None:
        for name in names:
            self.add(name, what)

    def add_own(self, columns) -> None:
        """The survey's columns, spelled as the data spell them."""
        for c in columns:
            self.columns.setdefault(c, c)

    def read(self):
        """The frame: each data column read once, then named as asked."""
        wanted = list(dict.fromkeys(self.columns.values()))
        data = self.sdf.get_data(wanted)
        first: dict = {}
        for name, col in self.columns.items():
            first.setdefault(col, name)
        data = data.rename(columns={c: n for c, n in first.items() if c != n})
        extra = {n: data[first[c]] for n, c in self.columns.items() if first[c] != n}
        return data.assign(**extra) if extra else data


def _response_column(parsed):
    """The one column the response is (or is computed from), else None."""
    if parsed.response_is_column:
        return parsed.response
    cols = parsed.response_columns
    return next(iter(cols)) if len(cols) == 1 else None


def _plausible_values(args, sdf, frame):
    """The formula's columns, and ``plausible_values`` when the response is a scale."""
    parsed = args.parsed
    target = _response_column(parsed)
    given = args.plausible_values
    scale = None
    if given is None and target is not None and target in sdf:
        cols = sdf.resolve(target)
        if len(cols) > 1:
            scale = {target: cols}
            frame.add_own(cols)
    required = set(parsed.required_columns)
    optional = (set(parsed.predictor_names) | set(parsed.response_columns)) - required
    for name in sorted(required) + sorted(n for n in optional if n in sdf):
        if name == target and (scale is not None or given is not None):
            continue
        what = "response" if name in parsed.response_columns else "formula name"
        frame.add(name, what)
    if isinstance(given, dict):
        for cols in given.values():
            frame.add_all([cols] if isinstance(cols, str) else cols, "plausible-value column")
    return scale


def _weights(args, sdf, frame) -> dict:
    """``weights`` and ``cond_weights``: the user's, or the survey's."""
    if args.weights is not None:
        given = [args.weights] if isinstance(args.weights, str) else list(args.weights)
        frame.add_all([w for w in given if w is not None], "weight column")
        return {}
    w = sdf.weights
    if not len(w):
        _preset_weight_columns(args, sdf, frame)
        return {}
    if not w.complete:
        raise ValueError(
            f"the {sdf.survey or 'survey'} data lack a level weight: "
            f"{'; '.join(w.missing)} not found (a school weight is in the "
            "school file: read_survey(..., school=...)); or pass weights="
        )
    frame.add_own(w.columns)
    return {"weights": list(w.columns), "cond_weights": args.cond_weights or w.conditional}


def _preset_weight_columns(args, sdf, frame) -> None:
    """Survey data without level weights fitted with ``survey=``: the columns
    of that preset's weights (or of their factors) are read, and the
    dispatch takes them (:func:`~pywemix.survey.presets.preset_weights`)."""
    if args.preset is None:
        return
    found = find_weights(args.preset, NameIndex(sdf.columns, "the survey data"))
    derived = dict(found.derived)
    for col in found.columns:
        if col is not None:
            frame.add_own(derived.get(col, (col,)))


def _survey(args, sdf, cond_weights):
    """The preset: the user's (``False``: none), else the data's unless the
    user's scaling or conditional weights depart from its weight rule."""
    if args.survey is not None or sdf.preset is None:
        return args.survey
    rule = sdf.preset.weights
    method = normalize_scaling(args.weight_scaling)
    if (method != "none" and method != rule.scaling) or (rule.unconditional and cond_weights):
        return None
    return sdf.survey


def _replicates(args, sdf, frame, survey):
    """The user's replicates (their columns read), or the survey data's.

    Survey data without replicate weights give None, and the preset (if
    any) looks for its columns: those the data have are read (data read
    with ``survey=False`` and fitted with ``survey="PISA"``), and without
    any the preset says so (:func:`~pywemix.survey.presets.find_preset_columns`).
    """
    rep = args.replicates
    if rep is False or (rep is None and sdf.replicates_declined):
        return False
    if isinstance(rep, Replicates):
        if rep.frame is None:
            frame.add_all(
                list(rep.columns) + ([rep.full_weight] if rep.full_weight else []),
                "replicate weight column",
            )
        return rep
    if rep is not None:
        return rep  # not a Replicates: refused by the dispatch's checks
    found = sdf.replicates
    if found is not None:
        if found.frame is None:
            frame.add_own(list(found.columns) + ([found.full_weight] if found.full_weight else []))
        return found
    preset = None if survey in (None, False) else survey_preset(survey)
    if preset is not None:
        columns = find_replicate_columns(preset, NameIndex(sdf.columns, "the survey data"))
        if columns is not None:
            frame.add_own(
                list(columns.columns) + ([columns.full_weight] if columns.full_weight else [])
            )
    return None


def _other_names(args, frame) -> None:
    """Columns named by ``by``, ``offset`` and the centering arguments."""
    if isinstance(args.by, str):
        frame.add(args.by, "by column")
    if isinstance(args.offset, str):
        frame.add(args.offset, "offset column")
    for group, cols in args.groups.items():
        frame.add(group, "center_group factor")
        frame.add_all(cols, "center_group column")
    frame.add_all(args.grand, "center_grand column")
