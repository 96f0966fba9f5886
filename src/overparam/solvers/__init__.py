"""Front ends that pick among dynamics, limits and baselines for a task.

* :func:`nnls`: non-negative least squares by coordinate descent, accelerated projected
  gradient, the reparametrized gradient descent ``x = u^L`` (and its exact limit),
  Lawson-Hanson or scikit-learn, with a KKT certificate in every result.
"""
from .nnls import METHODS as NNLS_METHODS
from .nnls import SubsampledFFT, nnls, nnls_certificate

__all__ = ["NNLS_METHODS", "SubsampledFFT", "nnls", "nnls_certificate"]
from .lrrs import irls_lrrs  # noqa: E402  (IRLS for row-sparse and low-rank matrices)

__all__ += ["irls_lrrs"]
