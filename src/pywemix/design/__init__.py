"""Stage 1, design: formula, model frame, levels, per-level weights, centering.

:func:`build_design` (lme4's ``lFormula``) turns a formula, a data frame and
weight columns into a :class:`ModelDesign`: numeric fixed and random blocks
on rows sorted by group at every level, with conditional weights per level.
"""

from .model import ModelDesign, build_design

__all__ = ["ModelDesign", "build_design"]
