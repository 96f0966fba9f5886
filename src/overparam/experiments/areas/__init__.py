"""Registry entries of the research areas beyond sparse recovery, one module per area.

Each module registers its generators, methods and metrics with
:func:`~overparam.experiments.generators.register_generator`,
:func:`~overparam.experiments.methods.register` and
:func:`~overparam.experiments.measures.register_metric`; solver modules are still imported
only on first use (entries name ``"module:function"`` targets).

* ``edge_of_stability``: weight normalization, sharpness, learning-rate sweeps
* ``lrrs``: simultaneously row-sparse and low-rank recovery (IRLS-LRRS, SPF, RiemAdaIHT)
* ``mamstar``: one-pass sketches and sparse top eigenvectors
* ``quantize``: vertex pre-processing and memoryless scalar quantization
"""
from . import edge_of_stability, lrrs, mamstar, quantize  # noqa: F401
