"""Stage 3, estimation: optimise an objective, then estimate the variances.

:mod:`.optimize` holds the optimisers and their typed record;
:mod:`.variance` the model-based and cluster-robust (sandwich) estimators;
:mod:`.linear` and :mod:`.glmm` run both steps for one family kind
(lme4's ``optimizeLmer`` / ``optimizeGlmer``).
"""
