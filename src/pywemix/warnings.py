"""Warning categories, so that users can filter pywemix's warnings by kind."""

import os as _os
import sys as _sys
import warnings as _warnings
from contextlib import contextmanager as _contextmanager
from contextvars import ContextVar as _ContextVar
from types import FrameType as _FrameType

__all__ = [
    "PywemixWarning",
    "DataWarning",
    "ConvergenceWarning",
    "BoundaryWarning",
    "FewGroupsWarning",
    "PseudoLikelihoodWarning",
    "WeightWarning",
    "PerformanceWarning",
    "SurveyWarning",
]


class PywemixWarning(UserWarning):
    """Base class of every warning pywemix issues."""


class DataWarning(PywemixWarning):
    """Rows or groups were dropped (missing values, zero weights)."""


class WeightWarning(PywemixWarning):
    """The weights look suspicious (for example already conditional)."""


class ConvergenceWarning(PywemixWarning):
    """The optimiser stopped without meeting its convergence criteria."""


class PerformanceWarning(PywemixWarning):
    """The fit will be slow or need much memory (for example a large quadrature grid)."""


class BoundaryWarning(PywemixWarning):
    """A variance component was estimated on the boundary (zero)."""


class FewGroupsWarning(PywemixWarning):
    """Too few top-level groups for reliable cluster-robust standard errors."""


class PseudoLikelihoodWarning(PywemixWarning):
    """A likelihood-based quantity was asked of a weighted (pseudo-likelihood) fit."""


class SurveyWarning(PywemixWarning):
    """
    A survey preset could not be applied in full.

    For example its replicate weights are not in the data: the warning says
    what was used instead.
    """


# -- issuing and recording warnings ------------------------------------------

_PACKAGE = _os.path.dirname(_os.path.abspath(__file__))
_collector: _ContextVar[list | None] = _ContextVar("pywemix_warnings", default=None)
_silent = _ContextVar("pywemix_silent", default=False)
_carried: _ContextVar[tuple] = _ContextVar("pywemix_carried", default=())


def _user_stacklevel() -> int:
    """Stack level of the first frame outside pywemix (the user's call)."""
    frame: _FrameType | None = _sys._getframe(1)
    level = 1
    while frame is not None and _os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


class WarningMessage(str):
    """A recorded warning: its text (a ``str``), with its ``category``, and
    whether it was already ``issued`` to the user (then :func:`reissue` skips
    it)."""

    category: type[Warning]
    issued: bool

    def __new__(cls, text, category=PywemixWarning, issued=False):
        obj = super().__new__(cls, text)
        obj.category = category
        obj.issued = issued
        return obj

    def __reduce__(self):
        return (WarningMessage, (str(self), self.category, self.issued))


def warn(message: str, category=None) -> None:
    """Issue a warning at the user's call site and record it for the result.

    Recording uses a context variable, so fits running in parallel threads
    (for example plausible values with an executor) keep their own warnings.
    ``category`` defaults to the message's own (a :class:`WarningMessage`
    being issued again) or :class:`PywemixWarning`. Inside :func:`silently`
    the warning is only recorded.
    """
    message = record(message, category)
    if not _silent.get():
        _warnings.warn(str(message), message.category, stacklevel=_user_stacklevel())


def record(message: str, category=None) -> WarningMessage:
    """Record a warning for the result being fitted, without issuing it.

    For a warning already issued once (a design reused by several fits):
    every fit lists it, the user sees it once.
    """
    if category is None:
        category = getattr(message, "category", PywemixWarning)
    message = WarningMessage(str(message), category)
    bucket = _collector.get()
    if bucket is not None:
        bucket.append(message)
    return message


def reissue(messages) -> None:
    """Issue recorded warnings (:class:`WarningMessage`) once each, at the user's
    call site, in the order given; repeated texts are issued once. Inside
    :func:`silently` nothing is issued (the caller issues the result's
    warnings itself)."""
    if _silent.get():
        return
    seen = set()
    for m in messages:
        if str(m) not in seen and not getattr(m, "issued", False):
            seen.add(str(m))
            _warnings.warn(
                str(m), getattr(m, "category", PywemixWarning), stacklevel=_user_stacklevel()
            )


def silently(fn):
    """``fn`` wrapped so that :func:`warn` only records inside its calls.

    Picklable when ``fn`` is, so it can run in a process pool: the fits'
    warnings travel back in their results and are issued in the calling
    process with :func:`reissue`, attributed to the user's line (a warning
    issued in a worker would name the pool's code, or print in another
    process).
    """
    return _Silent(fn)


class _Silent:
    """The callable of :func:`silently` (a class, so that it pickles)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        token = _silent.set(True)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _silent.reset(token)


@_contextmanager
def collecting():
    """Collect the messages of :func:`warn` issued inside the block (a list),
    after the :func:`carried` ones."""
    token = _collector.set(list(_carried.get()))
    try:
        yield _collector.get()
    finally:
        _collector.reset(token)


@_contextmanager
def carrying(messages):
    """Inside the block, every result records ``messages`` first among its
    warnings (:func:`collecting` starts with them): warnings already issued
    before the fit (a survey preset's), which are not issued again."""
    marked = tuple(
        WarningMessage(str(m), getattr(m, "category", PywemixWarning), True) for m in messages
    )
    token = _carried.set(_carried.get() + marked)
    try:
        yield
    finally:
        _carried.reset(token)


def carried() -> tuple:
    """The messages of the enclosing :func:`carrying` blocks."""
    return _carried.get()
