"""Survey data that know their plausible values, weights and replicate weights.

:func:`read_survey` opens a survey's file (and its school file) and reads
only the columns asked for; :func:`survey_data` wraps data already in
memory. Both return a :class:`SurveyData`. R equivalents: EdSurvey's
``readPISA`` / ``readTIMSS`` / ``readPIRLS`` / ``readTALIS`` / ``readNAEP``
(the ``edsurvey.data.frame``), ``getData``, ``showPlausibleValues`` and
``showWeights``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design.frame import to_pandas
from ..io.columns import NameIndex
from ..presets import survey_preset
from .describe import SurveyDescription, other_weight_columns, replicates_text
from .detect import (
    SurveyWeights,
    check_plausible_values,
    derived_weight,
    detect_survey,
    find_keys,
    find_plausible_values,
    find_replicate_columns,
    find_weights,
)
from .merge import school_rows
from .replicates import Replicates
from .sources import DaskSource, FrameSource, is_dask, open_source

__all__ = ["SurveyData", "read_survey", "survey_data"]


class SurveyData:
    """
    A survey's data with its plausible values, level weights and replicates.

    Made by :func:`read_survey` (a file, read column by column) or
    :func:`survey_data` (data in memory). R equivalent: EdSurvey's
    ``edsurvey.data.frame``.

    Parameters
    ----------
    source : FrameSource, FileSource or DaskSource
        Where the student rows come from (:mod:`pywemix.survey.sources`).
    preset : SurveyPreset, optional
        The survey's record in the registry (:mod:`pywemix.presets`): its
        naming rules, weights and replicate scheme (None: no survey).
    school : FrameSource or FileSource, optional
        The school file, merged on ``school_key``.
    school_key, plausible_values, weights, cond_weights, replicates : optional
        As :func:`read_survey`.

    Attributes
    ----------
    survey : str or None
        ``"PISA"``, ``"TIMSS"``, ``"TIMSS ADVANCED"``, ``"PIRLS"``, ``"TALIS"``,
        ``"NAEP"``, or None.
    preset : SurveyPreset or None
        The survey's record in the registry (:mod:`pywemix.presets`): its
        naming rules, weight rule, scaling and replicate scheme.
    plausible_values : dict
        Scale -> its plausible-value columns (``{"math": ["PV1MATH", ...]}``);
        EdSurvey's ``showPlausibleValues``.
    weights : SurveyWeights
        The level weights, level 1 first (``weights.columns``), and whether
        they are conditional (``weights.conditional``); EdSurvey's
        ``showWeights``.
    replicates : Replicates or None
        The replicate weights (built on first use for JK2 zones).
    school_key : tuple of str or None
        The student file's columns matching the school file.
    country : str or None
        The country column, when the survey names one and the data have it.

    Raises
    ------
    ValueError
        If the school file cannot be merged (no key in both files, a key
        repeated in the school file or missing for some students).
    TypeError
        If ``replicates`` is not a :class:`~pywemix.Replicates`, False or None.

    Notes
    -----
    ``mix(formula, sdf)`` fits survey data with their defaults: a scale named
    as the response gives its plausible values, and the level weights, the
    survey's preset and replicate weights apply
    (:func:`pywemix.survey.bind.bind_survey_data`).

    Column names are kept as the file spells them; every lookup ignores case
    (``sdf.get_data(["escs"])`` finds ``ESCS``), a name written exactly as in
    the file winning over others that differ only in case. A scale name
    (``"math"``) stands for its plausible values. With a school file, a
    column of both files (other than the keys) is the student file's.
    """

    def __init__(
        self,
        source,
        preset=None,
        *,
        school=None,
        school_key=None,
        plausible_values=None,
        weights=None,
        cond_weights=None,
        replicates=None,
    ):
        self._student = source
        self.preset = preset
        self.survey = preset.name if preset is not None else None
        self._loaded: dict = {}
        self._school: Any = None
        self._school_rows: Any = None
        self.school_key: Any = None
        self._school_file_key: Any = None
        if school is not None:
            self._set_school(school, school_key)
        self._names = self._combined_names()
        self.plausible_values = self._plausible_values(plausible_values)
        self.weights = self._weights(weights, cond_weights)
        self._jk2 = None
        self._replicates = self._replicate_spec(replicates)
        #: True when made with ``replicates=False`` (no replicate weights, by choice).
        self.replicates_declined = replicates is False
        self.country = self._names.find(preset.country) if preset and preset.country else None

    # -- construction ---------------------------------------------------------
    def _set_school(self, school, school_key) -> None:
        stu, sch = self._student.names, school.names
        if school_key is not None:
            keys = [school_key] if isinstance(school_key, str) else list(school_key)
            pairs = [k if isinstance(k, tuple) else (k, k) for k in keys]
            self.school_key = tuple(stu.resolve(a, "school key") for a, _ in pairs)
            self._school_file_key = tuple(sch.resolve(b, "school key") for _, b in pairs)
        elif self.preset is not None:
            self.school_key = find_keys(self.preset.school_keys, stu)
            self._school_file_key = find_keys(
                self.preset.school_file_keys or self.preset.school_keys, sch
            )
        if self.school_key is None or self._school_file_key is None:
            expected = " or ".join(
                "+".join(k) for k in (self.preset.school_keys if self.preset else ())
            )
            raise ValueError(
                f"cannot merge the school file {school.where}: no school key "
                f"({expected or 'none known without survey='}) in both "
                f"{stu.where} and {school.where}; pass school_key="
            )
        self._school = school
        if not self._student.lazy:
            self._match_schools(self._student.read(list(self.school_key)))

    def _match_schools(self, student_keys: Any) -> None:  # pandas or Dask
        keys = self._school.read(list(self._school_file_key))
        if is_dask(student_keys):
            sizes = student_keys.groupby(list(student_keys.columns), dropna=False).size().compute()
            school_rows(
                sizes.index.to_frame(index=False),
                keys,
                self._student.where,
                self._school.where,
                counts=sizes.to_numpy(),
            )
            self._school_rows = np.empty(0, dtype=np.intp)  # checked; Dask merges by key
            return
        self._school_rows = school_rows(
            student_keys.reset_index(drop=True), keys, self._student.where, self._school.where
        )

    def _combined_names(self) -> NameIndex:
        names = list(self._student.names)
        if self._school is not None:
            names += [
                n
                for n in self._school.names
                if n not in self._student.names and n not in self._school_file_key
            ]
        return NameIndex(
            names,
            self._student.where
            if self._school is None
            else f"{self._student.where} or {self._school.where}",
        )

    def _plausible_values(self, spec) -> dict:
        if spec is False:
            return {}
        if spec is not None:
            return check_plausible_values(spec, self._student.names)
        if self.preset is None:
            return {}
        labels = getattr(getattr(self._student, "file", None), "variable_labels", {})
        return find_plausible_values(self.preset, self._student.names, labels)

    def _weights(self, spec, cond_weights) -> SurveyWeights:
        if spec is None:
            found = find_weights(self.preset, self._names) if self.preset else SurveyWeights()
        else:
            spec = [spec] if isinstance(spec, str) else list(spec)
            cols = tuple(None if c is None else self._names.resolve(c, "weight") for c in spec)
            found = SurveyWeights(cols, False, "given by the user")
        if cond_weights is not None:
            found = SurveyWeights(
                found.columns, bool(cond_weights), found.rule, found.derived, found.missing
            )
        return found

    def _replicate_spec(self, spec):
        if spec is False:
            return None
        if spec is not None:
            if not isinstance(spec, Replicates):
                raise TypeError(
                    "replicates must be a pywemix.Replicates, False (none) or "
                    f"None (the survey's), got {type(spec).__name__}"
                )
            return spec
        if self.preset is None:
            return None
        found = find_replicate_columns(self.preset, self._names)
        if found is None:
            return None
        if found.from_zones:
            self._jk2 = found
            return None
        return found.replicates()

    # -- metadata -------------------------------------------------------------
    @property
    def replicates(self):
        """The :class:`~pywemix.Replicates` of the data, or None.

        TIMSS and PIRLS: JK2 weights, two per zone, built by
        :func:`~pywemix.jackknife_weights` from the zone, replicate and total
        weight columns (read on first use).
        """
        if self._replicates is None and self._jk2 is not None:
            if isinstance(self._student, DaskSource):
                raise NotImplementedError(
                    "JK2 replicate weights of a Dask-backed survey are not built yet: read "
                    "the Parquet folder with backend='pandas', or pass replicates="
                )
            self._replicates = self._jk2.replicates(self.get_data(list(self._jk2.columns)))
        return self._replicates

    @property
    def replicate_columns(self) -> list:
        """
        The data's columns the replicate weights are made of, without building them.

        JK2: zone, replicate indicator and total weight.
        """
        if self._jk2 is not None:
            return list(self._jk2.columns)
        rep = self._replicates
        if rep is None or rep.frame is not None:
            return []
        return list(rep.columns) + ([rep.full_weight] if rep.full_weight else [])

    @property
    def columns(self) -> list:
        """
        Every column available, in the order of the files.

        The student file's, then the school file's (keys and shared names
        once), then derived weights.
        """
        return list(self._names) + [name for name, _ in self.weights.derived]

    @property
    def loaded(self) -> list:
        """Columns read into memory so far (all, for data given in memory)."""
        if not self._student.lazy:
            return self.columns
        return list(self._loaded)

    @property
    def n_rows(self) -> int:
        """Number of rows (students)."""
        return self._student.n_rows

    def __len__(self) -> int:
        return self.n_rows

    @property
    def data(self):
        """
        The data as a DataFrame.

        The DataFrame given to :func:`survey_data`, the Dask DataFrame of a
        Parquet folder, or (a file) the columns read so far.
        """
        if isinstance(self._student, DaskSource):
            return self._student.ddf
        if not self._student.lazy:
            return self._student.df
        return pd.DataFrame(self._loaded, index=self._student.index)

    def describe(self) -> SurveyDescription:
        """
        Describe the scales, weights, replicates and sizes.

        R equivalent: EdSurvey's ``showPlausibleValues`` and ``showWeights``
        (and printing an ``edsurvey.data.frame``). Reads no data.

        Returns
        -------
        SurveyDescription
            Prints as text; HTML in Jupyter.
        """
        lay, w = self.preset, self.weights
        school = (
            None
            if self._school is None
            else {
                "file": self._school.where.strip("'"),
                "key": list(self.school_key),
                "schools": self._school.known_rows,
            }
        )
        return SurveyDescription(
            {
                "survey": self.survey,
                "files": [self._student.where.strip("'")],
                "rows": self._student.known_rows,
                "columns": len(self.columns),
                "loaded": len(self.loaded),
                "cache": self._student.cache_folder,
                "school": school,
                "default_scale": lay.default_scale
                if lay is not None and lay.default_scale in self.plausible_values
                else None,
                "scales": {k: list(v) for k, v in self.plausible_values.items()},
                "weights": {
                    "levels": list(w.columns),
                    "conditional": w.conditional,
                    "rule": w.rule,
                    "derived": [[n, list(f)] for n, f in w.derived],
                    "missing": list(w.missing),
                    "other": other_weight_columns(lay, self.columns, w.columns),
                },
                "replicates": replicates_text(self._jk2 and self._jk2.columns, self._replicates),
            }
        )

    def _repr_html_(self) -> str:
        return self.describe().as_html()

    def __repr__(self) -> str:
        what = self.survey or "survey"
        return (
            f"<SurveyData {what}: {self._student.where}, {len(self.columns)} columns, "
            f"{len(self.plausible_values)} scales, {len(self.loaded)} columns loaded>"
        )

    # -- data -----------------------------------------------------------------
    def resolve(self, name: str) -> list:
        """
        Find the data's columns for a name.

        Parameters
        ----------
        name : str
            A scale name or a column name, any case.

        Returns
        -------
        list of str
            A scale's plausible values, or the one column spelled ``name``
            ignoring case.

        Raises
        ------
        ValueError
            If no column or scale has that name.
        """
        scale = _find_scale(self.plausible_values, name)
        if scale is not None:
            return list(self.plausible_values[scale])
        derived = dict(self.weights.derived)
        hit = next((d for d in derived if d.lower() == str(name).lower()), None)
        if hit is not None and self._names.find(name) is None:
            return [hit]
        try:
            return [self._names.resolve(name)]
        except ValueError as exc:
            if not self.plausible_values:
                raise
            scales = ", ".join(self.plausible_values)
            raise ValueError(
                f"{exc}; nor is it a scale: the scales (names that stand for "
                f"their plausible values) are {scales}"
            ) from None

    def __contains__(self, name) -> bool:
        """Whether ``name`` is a scale or a column (ignoring case)."""
        try:
            self.resolve(name)
        except ValueError:
            return False
        return True

    def columns_for(self, names: list, weights: bool = True, replicates: bool = True) -> list:
        """
        List the columns a model of ``names`` needs, to read in one pass.

        Scale names expand to their plausible values; the level weights, the
        replicate weights' columns (or JK2's zone, replicate and total weight
        columns), the school key and the country column are added.

        Parameters
        ----------
        names : list of str
            Column or scale names, any case.
        weights : bool, default True
            Add the level weights.
        replicates : bool, default True
            Add the replicate weights' columns.

        Returns
        -------
        list of str
            The columns, each once.
        """
        cols = [c for n in names for c in self.resolve(n)]
        if weights:
            cols += [c for c in self.weights.columns if c is not None]
        if replicates:
            cols += self.replicate_columns
        cols += list(self.school_key or ()) + ([self.country] if self.country else [])
        return list(dict.fromkeys(cols))

    def get_data(self, names: str | list, names_as_given: bool = False):
        """
        Read the columns ``names`` (scale names expand to their plausible values).

        R equivalent: EdSurvey's ``getData``.

        Parameters
        ----------
        names : str or list of str
            Column or scale names, any case.
        names_as_given : bool
            Name single columns as written in ``names`` (``"escs"``), not as
            the file spells them (``"ESCS"``), e.g. to match a formula.

        Returns
        -------
        DataFrame
            A pandas DataFrame (a Dask DataFrame for a Parquet folder read by Dask), one
            row per student, school-file columns matched to the students.
            Columns not read yet are read in one pass over the file (or from
            the column cache).
        """
        names = [names] if isinstance(names, str) else list(names)
        plan = [(n, self.resolve(n)) for n in names]
        wanted = list(dict.fromkeys(c for _, cols in plan for c in cols))
        out = self._fetch(wanted)
        if names_as_given:
            rename = {
                cols[0]: n
                for n, cols in plan
                if len(cols) == 1 and cols[0] != n and _find_scale(self.plausible_values, n) is None
            }
            out = out.rename(columns=rename)
        return out

    def __getitem__(self, names):
        return self.get_data(names)

    def _fetch(self, wanted):
        derived = dict(self.weights.derived)
        base = list(dict.fromkeys(c for w in wanted for c in (derived.get(w) or [w])))
        student = [c for c in base if c in self._student.names]
        school = [c for c in base if c not in self._student.names]
        if isinstance(self._student, DaskSource):
            frame = self._dask_frame(student, school)
        else:
            frame = self._student_frame(student)
            if school:
                frame = frame.assign(**self._school_frame(school, frame.index))
        for name, factors in self.weights.derived:
            if name in wanted:
                frame[name] = derived_weight(frame, factors)
        return frame[wanted]

    def _student_frame(self, cols) -> pd.DataFrame:
        if not self._student.lazy:
            return self._student.read(cols)
        pending = self._school is not None and self._school_rows is None
        extra = list(self.school_key) if pending else []
        todo = [c for c in dict.fromkeys(cols + extra) if c not in self._loaded]
        if todo:
            fresh = self._student.read(todo)
            for c in todo:
                self._loaded[c] = fresh[c]
        if pending:
            self._match_schools(pd.DataFrame({k: self._loaded[k] for k in self.school_key}))
        return pd.DataFrame({c: self._loaded[c] for c in cols}, index=self._student.index)

    def _school_frame(self, cols, index) -> dict:
        if self._school_rows is None:
            self._match_schools(self._student_frame(list(self.school_key)))
        values = self._school.read(cols)
        out = {}
        for c in cols:
            s = values[c].iloc[self._school_rows]
            s.index = index
            out[c] = s
        return out

    def _dask_frame(self, student, school):
        if not school:
            return self._student.read(student)
        if self._school_rows is None:
            self._match_schools(self._student.read(list(self.school_key)))
        keys = list(self.school_key)
        right = self._school.read(list(self._school_file_key) + school)
        right.columns = keys + school
        left = self._student.read(list(dict.fromkeys(student + keys)))
        return left.merge(right, on=keys, how="left")


def _find_scale(scales: dict, name):
    if not isinstance(name, str):
        return None
    if name in scales:
        return name
    return next((s for s in scales if s.lower() == name.lower()), None)


def _preset(survey, names: NameIndex):
    """The registry's record of ``survey`` (None: detected from the column
    names; False: none)."""
    if survey is None:
        return detect_survey(names)
    if survey is False:
        return None
    return survey_preset(survey)


def read_survey(
    path,
    survey: str | None = None,
    school=None,
    columns=None,
    *,
    school_key=None,
    plausible_values=None,
    weights=None,
    cond_weights=None,
    replicates=None,
    cache=True,
    backend: str | None = None,
    encoding: str | None = None,
) -> SurveyData:
    """
    Open a survey's data file, reading only the columns asked for.

    R equivalents: EdSurvey's ``readPISA``, ``readTIMSS``, ``readPIRLS``,
    ``readTALIS``, ``readNAEP`` (then ``getData`` reads columns).

    Parameters
    ----------
    path : str or path-like
        The student (or teacher) file: SPSS ``.sav`` / ``.zsav``, SAS
        ``.sas7bdat`` / ``.xpt``, Stata ``.dta``, CSV, a Parquet file, or a
        folder (or glob) of Parquet files.
    survey : {"PISA", "TIMSS", "TIMSS Advanced", "PIRLS", "TALIS", "NAEP"}, optional
        The survey whose naming rules apply (:mod:`pywemix.presets`).
        None detects it from the column names (``W_FSTUWT`` -> PISA, ...;
        no survey when none or several match); False: none.
    school : str or path-like, optional
        The school file, merged on the survey's school key (PISA ``CNT`` +
        ``CNTSCHID``, TIMSS/PIRLS/TALIS ``IDCNTRY`` + ``IDSCHOOL``, NAEP
        ``SCRPSU`` = ``SSCRPSU``). Every student must find exactly one school.
    columns : list of str, optional
        Columns (or scale names) to read now, in one pass over the file.
        Others are read when asked for (:meth:`SurveyData.get_data`).
    school_key : str or list, optional
        The key columns, when the survey's are not the file's; an entry
        ``(student_name, school_name)`` when the files name a key differently.
    plausible_values : dict or False, optional
        ``{scale: [columns]}`` instead of the detected scales; False for none.
    weights : list of str, optional
        Level weights (level 1 first) instead of the survey's.
    cond_weights : bool, optional
        Whether the weights are conditional (the survey's files: False).
    replicates : Replicates or False, optional
        Replicate weights instead of the survey's; False for none.
    cache : bool, str or path-like, default True
        The column cache (:mod:`pywemix.io.cache`): True the default folder
        (``$PYWEMIX_CACHE_DIR`` or ``~/.cache/pywemix/columns``), ``"beside"``
        a folder beside the file, a folder, or False for none.
    backend : {"pandas", "dask"}, optional
        For a Parquet folder: Dask (default) or pandas.
    encoding : str, optional
        Text encoding of an SPSS/SAS/Stata file whose metadata is wrong.

    Returns
    -------
    SurveyData
        The file's metadata and the columns read so far.

    Raises
    ------
    ValueError
        A school key repeated in the school file or without a match for some
        students (naming the keys and how many), a scale with one plausible
        value, replicate columns partly missing, an unknown column.

    See Also
    --------
    survey_data : The same for data already in memory.
    SurveyData.get_data : Read columns (EdSurvey's ``getData``).

    Examples
    --------
    A small PISA-like file (a CSV here; SPSS, SAS, Stata and Parquet files
    are read alike):

    >>> import os, tempfile
    >>> import pywemix
    >>> path = os.path.join(tempfile.mkdtemp(), "pisa.csv")
    >>> pywemix.datasets.load_pisa_replicates().to_csv(path, index=False)
    >>> sdf = pywemix.read_survey(path, survey="PISA", cache=False)
    >>> sdf.plausible_values["math"]
    ['pv1math', 'pv2math', 'pv3math', 'pv4math', 'pv5math']
    >>> sdf.replicates
    Replicates(Fay's BRR, 80 replicates, k = 0.5)
    >>> sdf.get_data(["math", "ESCS"]).shape
    (1184, 6)
    """
    source = open_source(path, cache=cache, backend=backend, encoding=encoding)
    school_source = (
        open_source(
            school,
            cache=cache,
            backend="pandas" if backend == "dask" else backend,
            encoding=encoding,
        )
        if school is not None
        else None
    )
    preset = _preset(survey, source.names)
    sdf = SurveyData(
        source,
        preset,
        school=school_source,
        school_key=school_key,
        plausible_values=plausible_values,
        weights=weights,
        cond_weights=cond_weights,
        replicates=replicates,
    )
    if columns is not None:
        sdf.get_data([columns] if isinstance(columns, str) else list(columns))
    return sdf


def survey_data(
    data,
    survey: str | None = None,
    school=None,
    *,
    school_key=None,
    plausible_values=None,
    weights=None,
    cond_weights=None,
    replicates=None,
) -> SurveyData:
    """
    Wrap data already in memory as :class:`SurveyData`.

    R equivalent: EdSurvey's ``edsurvey.data.frame`` made from a data frame.

    Parameters
    ----------
    data : DataFrame
        A pandas DataFrame (polars is converted) or a Dask DataFrame.
    survey : {"PISA", "TIMSS", "PIRLS", "TALIS", "NAEP"}, optional
        As :func:`read_survey`.
    school : DataFrame, optional
        The school file's data, merged on the school key.
    school_key : str or list, optional
        As :func:`read_survey`.
    plausible_values : dict or False, optional
        As :func:`read_survey`.
    weights : list of str, optional
        As :func:`read_survey`.
    cond_weights : bool, optional
        As :func:`read_survey`.
    replicates : Replicates or False, optional
        As :func:`read_survey`.

    Returns
    -------
    SurveyData
        The data with the survey's plausible values, weights and replicates.

    Raises
    ------
    ValueError
        As :func:`read_survey`.

    See Also
    --------
    read_survey : The same for a file, read column by column.

    Examples
    --------
    >>> import pywemix
    >>> sdf = pywemix.survey_data(pywemix.datasets.load_pisa_replicates(), survey="PISA")
    >>> sdf.plausible_values["math"]
    ['pv1math', 'pv2math', 'pv3math', 'pv4math', 'pv5math']
    >>> sdf.weights.columns
    ('w_fstuwt', None)
    >>> sdf.resolve("ESCS")
    ['escs']
    """
    source = DaskSource(data) if is_dask(data) else FrameSource(to_pandas(data))
    school_source = None
    if school is not None:
        school_source = FrameSource(to_pandas(school), "the school data")
    preset = _preset(survey, source.names)
    return SurveyData(
        source,
        preset,
        school=school_source,
        school_key=school_key,
        plausible_values=plausible_values,
        weights=weights,
        cond_weights=cond_weights,
        replicates=replicates,
    )
