"""Figures from a results folder (matplotlib, Agg backend). Plots read the store only and
never recompute.

* :func:`phase`: heat map of a rate (default ``recovered``) over two axes, one panel per
  method configuration, with the l1 phase transition of ``overparam.theory`` drawn when
  the axes are ``s`` and ``m``;
* :func:`curve`: a metric against one axis, one line per method configuration, with a band
  over trials (mean +- standard error for rates, median and quartiles otherwise), and the
  theoretical transition ``m = delta(s, n)`` as a vertical line when ``x = "m"``;
* :func:`trace`: a stored trace field against iterations (median and quartiles over trials).

:func:`plot` dispatches on ``kind`` and writes the files; :func:`transitions` returns the
50% crossings printed by ``overparam run``.
"""
from .figures import curve, phase, plot, trace, transitions

__all__ = ["curve", "phase", "plot", "trace", "transitions"]
