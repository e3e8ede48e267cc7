"""Argument checks shared by every entry point (one message per kind of mistake)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_bool", "check_positive_int"]


def check_positive_int(value, name: str, *, allow_none: bool = False):
    """Return ``value`` as an int after checking it is a positive integer.

    Raises ``TypeError`` for a non-integer (``True``/``False`` included) and
    ``ValueError`` for an integer below 1. ``None`` passes when ``allow_none``.
    """
    if value is None and allow_none:
        return None
    what = "a positive integer or None" if allow_none else "a positive integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool after checking it is ``True`` or ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
