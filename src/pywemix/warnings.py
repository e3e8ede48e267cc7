"""Warning categories, so that users can filter pywemix's warnings by kind."""

__all__ = ["PywemixWarning", "DataWarning", "ConvergenceWarning", "BoundaryWarning",
           "FewGroupsWarning", "PseudoLikelihoodWarning", "WeightWarning"]


class PywemixWarning(UserWarning):
    """Base class of every warning pywemix issues."""


class DataWarning(PywemixWarning):
    """Rows or groups were dropped (missing values, zero weights)."""


class WeightWarning(PywemixWarning):
    """The weights look suspicious (for example already conditional)."""


class ConvergenceWarning(PywemixWarning):
    """The optimiser stopped without meeting its convergence criteria."""


class BoundaryWarning(PywemixWarning):
    """A variance component was estimated on the boundary (zero)."""


class FewGroupsWarning(PywemixWarning):
    """Too few top-level groups for reliable cluster-robust standard errors."""


class PseudoLikelihoodWarning(PywemixWarning):
    """A likelihood-based quantity was asked of a weighted (pseudo-likelihood) fit."""


# -- issuing and recording warnings ------------------------------------------
import os as _os
import sys as _sys
import warnings as _warnings
from contextlib import contextmanager as _contextmanager
from contextvars import ContextVar as _ContextVar

_PACKAGE = _os.path.dirname(_os.path.abspath(__file__))
_collector = _ContextVar("pywemix_warnings", default=None)


def _user_stacklevel() -> int:
    """Stack level of the first frame outside pywemix (the user's call)."""
    frame, level = _sys._getframe(1), 1
    while frame is not None and _os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


class WarningMessage(str):
    """A recorded warning: its text (a ``str``), with its ``category``."""

    def __new__(cls, text, category=PywemixWarning):
        obj = super().__new__(cls, text)
        obj.category = category
        return obj

    def __reduce__(self):
        return (WarningMessage, (str(self), self.category))


def warn(message: str, category=None) -> None:
    """Issue a warning at the user's call site and record it for the result.

    Recording uses a context variable, so fits running in parallel threads
    (for example plausible values with an executor) keep their own warnings.
    ``category`` defaults to the message's own (a :class:`WarningMessage`
    being issued again) or :class:`PywemixWarning`.
    """
    if category is None:
        category = getattr(message, "category", PywemixWarning)
    bucket = _collector.get()
    if bucket is not None:
        bucket.append(WarningMessage(str(message), category))
    _warnings.warn(str(message), category, stacklevel=_user_stacklevel())


@_contextmanager
def collecting():
    """Collect the messages of :func:`warn` issued inside the block (a list)."""
    token = _collector.set([])
    try:
        yield _collector.get()
    finally:
        _collector.reset(token)
