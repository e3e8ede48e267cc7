"""Fits on Dask DataFrames (data larger than memory, on a cluster).

``pywemix.mix(formula, ddf, ...)`` with a :class:`dask.dataframe.DataFrame`
comes here through the survey layer: :func:`mix_dask` fits one model on the
workers (:mod:`pywemix.dask.fit`). Gaussian models are fitted from per-group
sufficient statistics computed on the workers (:mod:`pywemix.dask.design`);
binomial and Poisson models by adaptive quadrature in one actor per partition
of whole top-level groups (:mod:`pywemix.dask.glmm`, needs a
``distributed.Client``). The optimisers and variance estimators are those of
in-memory fits. Dask is imported only when a Dask object is passed (``pip
install "pywemix[dask]"``).
"""

from __future__ import annotations

from .client import has_client, is_dask_dataframe
from .fit import mix_dask

__all__ = ["is_dask_dataframe", "has_client", "mix_dask"]
