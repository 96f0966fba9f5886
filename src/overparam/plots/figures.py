"""The figure functions behind ``overparam plot`` (see the package docstring)."""
from __future__ import annotations

import numbers
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["phase", "curve", "trace", "plot", "transitions", "filter_rows", "parse_where"]

RATES = ("recovered", "success", "support_recovered")

# Line styles beyond the 10 colours of the palette: line i gets colour i % 10 and the
# (line style, marker) pair of its round i // 10, so every line differs from every other
# in at least one of the three (for up to 10 * 4 * 7 = 280 lines).
_PALETTE = "tab10"
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_LEGEND_INSIDE = 5  # more entries than this go right of the axes, off the data
_LEGEND_COLUMNS = 4  # columns of such a legend at most (then the figure grows taller)


def _figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.8)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)  # an Agg canvas: a renderer to measure text with (_fit_ticks)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def _style(i: int) -> dict[str, Any]:
    """Colour, line style and marker of the i-th line: distinct triples for every i < 280
    (the default colour cycle repeats after 10 lines, so line 11 looked like line 1)."""
    from matplotlib import colormaps

    colours = colormaps[_PALETTE].colors
    rnd = i // len(colours)
    return dict(color=colours[i % len(colours)], ls=_LINESTYLES[rnd % len(_LINESTYLES)],
                marker=_MARKERS[rnd % len(_MARKERS)])  # 4 and 7 coprime: 28 rounds


def _legend(fig, ax) -> None:
    """A legend inside the axes for a few entries; right of the axes (the figure widened
    to keep the plot's size) when there are more, where it would cover the data."""
    handles, labels = ax.get_legend_handles_labels()
    if len(handles) <= _LEGEND_INSIDE:
        ax.legend(fontsize="small")
        return
    legend = fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    # one column taller than the figure ran off its bottom (300 entries: 20 shown, the
    # rest cut away): as many columns as the measured height needs, up to
    # _LEGEND_COLUMNS, then a taller figure
    height = legend.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi
    ncols = min(int(np.ceil(height / (0.95 * fig.get_figheight()))), _LEGEND_COLUMNS)
    if ncols > 1:
        legend.remove()
        fig.legend(handles, labels, loc="outside right upper", fontsize="small",
                   ncols=ncols)
    rows = int(np.ceil(len(handles) / ncols))
    fig.set_figheight(max(fig.get_figheight(), height * rows / len(handles) / 0.95 + 0.1))
    # about 0.075 in per character at "small" (8.3 pt) plus the handle and padding
    fig.set_figwidth(fig.get_figwidth()
                     + ncols * (0.9 + 0.075 * max(len(t) for t in labels)))


def _frame(source: Any):
    """A DataFrame from a results folder or a DataFrame."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    from ..experiments.store import load

    return load(source)


def _matches(series, value) -> Any:
    import pandas as pd

    values = value if isinstance(value, (list, tuple)) else [value]
    mask = series.isna().to_numpy().copy()  # a method without this parameter is kept
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    text = pd.api.types.is_string_dtype(series)
    for v in values:
        if isinstance(v, float) and numeric:
            mask |= np.isclose(series.to_numpy(dtype=float), v, rtol=1e-9, atol=0.0)
        elif text and not isinstance(v, str):
            # a parameter swept over text and numbers is stored as text (step = ["auto",
            # 0.05]): compare the value's text (np.issubdtype raised on pandas' string
            # dtype, and a number never equals a string)
            mask |= (series.astype(object) == str(v)).to_numpy(dtype=bool, na_value=False)
        else:
            mask |= (series == v).to_numpy(dtype=bool, na_value=False)
    return mask


def filter_rows(df: pd.DataFrame, where: dict[str, Any] | None) -> pd.DataFrame:
    """Rows where every column in ``where`` equals the value (or one of a list of values);
    floats compare with a relative tolerance of 1e-9. Rows with no value in the column are
    kept: ``{"init_scale": 1e-4}`` keeps basis pursuit, which has no init scale.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows (e.g. of a results folder).
    where : dict, optional
        Column name to a value or a list of values; None or empty: no filter.

    Returns
    -------
    pandas.DataFrame
        The matching rows.

    Raises
    ------
    KeyError
        A column of ``where`` is not in ``df``.
    ValueError
        No row matches, or a value is neither a scalar nor a list of scalars.
    """
    if not where:
        return df
    from ..experiments.spec import is_where_value

    for col, value in where.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        bad = next((v for v in values if not is_where_value(v)), None)
        if bad is not None:  # (a nested list failed with "Lengths must match to compare")
            raise ValueError(f"where: {col}: expected a value (str, int, float or bool) or "
                             f"a list of values, got {type(bad).__name__} {bad!r}")
        if col not in df.columns:
            raise KeyError(f"where: no column {col!r} (columns: {', '.join(df.columns)})")
        df = df[_matches(df[col], value)]
    if df.empty:
        raise ValueError(f"no rows match where={where}")
    return df


def _check_columns(df, *cols: str) -> None:
    for c in cols:
        if c is not None and c not in df.columns:
            raise KeyError(f"no column {c!r} in the results (columns: {', '.join(df.columns)})")


def _numeric(df, col: str, role: str):
    """``df`` with ``col`` as numbers: a plotted value must be a number or a boolean
    (pandas' "could not convert string to float" did not say which column was the text;
    an object column of numbers failed in quantile)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
        return df
    text = [v for v in df[col].dropna() if not isinstance(v, (numbers.Number, np.number))]
    if text:  # (an object column holding only numbers still plots)
        example = f", e.g. {text[0]!r}"
        raise ValueError(f"{role} {col!r} is not a numeric column (dtype {df[col].dtype}"
                         f"{example}): plot a metric such as 'rel_error' or 'recovered'")
    return df.assign(**{col: pd.to_numeric(df[col]).astype(float)})


def _auto_log(values: np.ndarray) -> bool:
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):  # a column of strings (e.g. x = "method"): linear
        return False
    v = v[np.isfinite(v)]
    # in logarithms: max / min overflows (with a warning) for e.g. 1e-320 ... 1e10
    return bool(v.size and np.all(v > 0) and np.log10(v.max()) - np.log10(v.min()) >= 2)


def _single(df, col: str) -> Any:
    if col in df.columns and df[col].nunique() == 1:
        return df[col].iloc[0]
    return None


def _theory_m(df) -> float | None:
    """delta(s, n) when the rows have one n and one s."""
    n, s = _single(df, "n"), _single(df, "s")
    if n is None or s is None:
        return None
    # delta(s, n) exists for 0 <= s <= n only: s = 50 > n = 40 (rows of failed problem
    # draws) failed the whole figure with "need 0 <= s <= n and n > 0, got s=50.0, ..."
    if not 0 <= float(s) <= float(n):
        return None
    from ..theory import l1_statistical_dimension

    return l1_statistical_dimension(float(s), float(n))


def _isnan(key: Any) -> bool:
    return isinstance(key, (float, np.floating)) and bool(np.isnan(key))


def _hue_order(df, hue: str) -> list:
    """Distinct values of ``hue`` in order of appearance, all missing values as one NaN
    (``dict.fromkeys`` alone keeps every NaN: they are not equal to each other)."""
    keys = list(dict.fromkeys(v for v in df[hue].tolist() if not _isnan(v) and v is not None))
    if df[hue].isna().any():
        keys.append(float("nan"))
    return keys


def _select(df, col: str, key: Any):
    """Rows whose ``col`` is ``key``; a NaN key selects the rows without a value (a method
    without that parameter, e.g. basis pursuit for ``init_scale``)."""
    if key is None or _isnan(key):
        return df[df[col].isna()]
    return df[df[col] == key]


def _with_errors(df, value: str):
    """Rows whose ``value`` is a rate, with failed runs (``status == "error"``, metrics
    NaN) counted as 0: a solver that raised did not recover; dropping those rows would
    compute the rate over the successful runs only."""
    if value not in RATES or "status" not in df.columns or value not in df.columns:
        return df
    failed = (df["status"] == "error").to_numpy() & df[value].isna().to_numpy()
    if not failed.any():
        return df
    df = df.copy()
    df.loc[failed, value] = 0.0
    return df


def _hue_label(hue: str, key: Any) -> str:
    """Legend entry: labels as they are, other columns as ``col=value``."""
    if hue == "label":
        return str(key)
    if key is None or _isnan(key):
        key = "none"  # rows without this parameter
    elif isinstance(key, (float, np.floating)) and float(key).is_integer() \
            and abs(key) < 1e15:
        # (not beyond: init_scale = 1e300 was a legend entry of 301 digits, which
        # widened the figure by 23 in)
        key = int(key)
    elif isinstance(key, (float, np.floating)):
        key = f"{key:g}"
    return f"{hue}={key}"


def _summary(df, x: str, y: str, hue: str | None, stat: str):
    """Per (hue, x): centre, low, high, count."""
    groups = [hue, x] if hue else [x]
    if df[y].dtype == bool:  # e.g. `success`: quantile refuses booleans (stat="median")
        df = df.assign(**{y: df[y].astype(float)})
    g = df.groupby(groups, sort=True, dropna=False)[y]
    if stat == "mean":
        centre = g.mean()
        se = g.std(ddof=1).fillna(0.0) / np.sqrt(g.count().clip(lower=1))
        low, high = centre - se, centre + se
    else:
        centre, low, high = g.median(), g.quantile(0.25), g.quantile(0.75)
    import pandas as pd

    return pd.DataFrame(dict(centre=centre, low=low, high=high, count=g.count())).reset_index()


def transitions(source: Any, x: str = "m", value: str = "recovered", hue: str = "label",
                where: dict[str, Any] | None = None, level: float = 0.5) -> dict[str, float]:
    """Where the mean of ``value`` first crosses ``level`` along ``x``, per ``hue`` (linear
    interpolation between grid points; NaN when it never crosses).

    Parameters
    ----------
    source : path or DataFrame
        A results folder (or rows already loaded from one).
    x : str, optional
        Column of the axis (default ``"m"``).
    value : str, optional
        Column averaged over trials at each ``x`` (default ``"recovered"``; for rates,
        failed runs count as 0).
    hue : str, optional
        Column that splits the curves (default ``"label"``).
    where : dict, optional
        Column filters, as in :func:`filter_rows`.
    level : float, optional
        The crossing level (default 0.5).

    Returns
    -------
    dict
        ``hue`` value to the crossing point on ``x`` (NaN when it never crosses).

    Raises
    ------
    KeyError
        A column of ``x``, ``value``, ``hue`` or ``where`` is not in the results.
    """
    df = filter_rows(_frame(source), where)
    _check_columns(df, x, value, hue)
    df = _with_errors(df, value)
    out = {}
    for key, grp in df.groupby(hue, sort=False, dropna=False):
        rate = grp.groupby(x)[value].mean().sort_index()
        xs, ys = rate.index.to_numpy(dtype=float), rate.to_numpy(dtype=float)
        out[key] = float("nan")
        for i in range(len(xs) - 1):
            if (ys[i] - level) * (ys[i + 1] - level) <= 0 and ys[i] != ys[i + 1]:
                out[key] = float(xs[i] + (level - ys[i]) * (xs[i + 1] - xs[i])
                                 / (ys[i + 1] - ys[i]))
                break
        else:
            if len(ys) and ys[0] == level:
                out[key] = float(xs[0])
    return out


def curve(source: Any, x: str, y: str = "recovered", *, hue: str | None = "label",
          where: dict[str, Any] | None = None, stat: str | None = None,
          theory: bool = True, logx: bool | None = None, logy: bool | None = None,
          title: str | None = None):
    """A metric against one axis, one line per ``hue`` value, with a band over trials.

    Parameters
    ----------
    source : path or DataFrame
        A results folder (or rows already loaded from one).
    x, y : str
        Columns: the axis (e.g. ``"m"``, ``"init_scale"``) and the metric.
    hue : str or None
        Column that splits lines (default the method configuration ``label``).
    where : dict, optional
        Column filters, e.g. ``{"m": 60, "depth": [2, 3]}``.
    stat : {"mean", "median"}, optional
        Line and band: mean +- one standard error (default for rates such as
        ``recovered``), or median with the interquartile band (default otherwise).
    theory : bool
        With ``x == "m"`` and one (n, s): a vertical line at ``delta(s, n)``.
    logx, logy : bool, optional
        Log axes (default: when the values are positive and span two decades). Points
        <= 0 on a log axis asked for are not drawn; the title says how many.
    title : str, optional
        Axes title (default: ``y`` vs ``x``, the fixed n, m, s and filters, and what
        the points pool over: problem parameters, several method configurations).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        A column of ``x``, ``y``, ``hue`` or ``where`` is not in the results.
    ValueError
        ``stat`` is not ``"mean"`` or ``"median"``, ``hue`` equals ``x``, no row is
        left to draw, or every point is <= 0 on a log axis asked for.
    """
    from ..experiments.spec import PLOT_STATS  # one list, also checked by specs

    if stat is not None and stat not in PLOT_STATS:  # (any other value drew the median)
        raise ValueError(f"stat must be one of {', '.join(PLOT_STATS)}, got {stat!r}")
    if hue is not None and hue == x:  # (pandas: "cannot insert m, already exists")
        raise ValueError(f"hue and x are both {x!r}: give another hue (or hue=None)")
    df = filter_rows(_frame(source), where)
    _check_columns(df, x, y, hue)
    df = _numeric(df, y, "y")
    df = _with_errors(df[df[x].notna()], y)
    if df.empty:
        raise ValueError(f"no rows with a value of {x!r}")
    stat = stat or ("mean" if y in RATES else "median")
    table = _summary(df, x, y, hue, stat)
    fig, (ax,) = _figure()
    for i, key in enumerate(_hue_order(df, hue) if hue else [None]):
        t = _select(table, hue, key) if hue else table
        line, = ax.plot(t[x], t["centre"], ms=3, label=_hue_label(hue, key) if hue else y,
                        **_style(i))
        ax.fill_between(t[x], t["low"], t["high"], color=line.get_color(), alpha=0.2, lw=0)
    if theory and x == "m":
        dm = _theory_m(df)
        if dm is not None:
            ax.axvline(dm, color="k", ls="--", lw=1,
                       label=f"theory $\\delta(s,n)$ = {dm:.1f}")
    drawn = _any_point(table[x], table["centre"])
    logx = drawn and (logx if logx is not None else _auto_log(df[x].to_numpy()))
    # rates keep a linear 0..1 axis unless asked (their y limits are set below)
    logy = drawn and (logy if logy is not None
                      else (y not in RATES and _auto_log(table["centre"])))
    hidden = _log_hidden(table, x, hue, y, logx, logy)  # (before matplotlib's warning)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if y in RATES:
        # (a log axis, asked for, has no room below 0: -0.03 was ignored with a warning)
        ax.set_ylim(*((-0.03, 1.03) if ax.get_yscale() == "linear" else (None, 1.03)))
    numeric = _numbers(df[x].unique())
    if ax.get_xscale() == "linear" and numeric is not None and \
            np.all(np.mod(numeric, 1) == 0):
        from matplotlib.ticker import MaxNLocator

        # integers at round steps (no tick at m = 8.5, and 20, 30, ... rather than 24, 32)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} ({stat}, band {'+-1 s.e.' if stat == 'mean' else 'quartiles'})")
    ax.set_title(_with_note(title or _title(df, y, x, where, (hue,), _problem_axes(source),
                                            _configs_per_point(df, [hue, x])), hidden),
                 fontsize="medium")
    _legend(fig, ax)
    ax.grid(alpha=0.3)
    if numeric is None:  # category names (x = "method") can be long: rotate if they collide
        _fit_ticks(fig, [ax])
    return fig


def phase(source: Any, x: str = "s", y: str = "m", value: str = "recovered", *,
          facet: str | None = "label", where: dict[str, Any] | None = None,
          theory: bool = True, title: str | None = None):
    """Heat map of the mean of ``value`` over two axes (one panel per ``facet`` value).

    With ``(x, y) == ("s", "m")`` (or swapped) and one ``n``, the theoretical transition
    ``m = delta(s, n)`` is drawn over each panel.

    Parameters
    ----------
    source : path or DataFrame
        A results folder (or rows already loaded from one).
    x, y : str, optional
        Columns of the two axes (default ``"s"`` and ``"m"``); must differ.
    value : str, optional
        Column averaged over trials in each cell (default ``"recovered"``; rates use a
        0..1 colour scale and count failed runs as 0).
    facet : str or None, optional
        Column that splits panels (default ``"label"``; None: one panel).
    where : dict, optional
        Column filters, e.g. ``{"depth": [2, 3]}`` (see :func:`filter_rows`).
    theory : bool, optional
        Draw ``m = delta(s, n)`` where it applies (default True).
    title : str, optional
        Figure title (default: ``value`` vs the axes and the fixed n, m, s and filters).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        A column of ``x``, ``y``, ``value``, ``facet`` or ``where`` is not in the results.
    ValueError
        ``x == y``, or no row is left to draw.
    """
    if x == y:  # (pandas: "Grouper for 's' not 1-dimensional")
        raise ValueError(f"x and y are both {x!r}: a phase diagram needs two axes")
    df = filter_rows(_frame(source), where)
    _check_columns(df, x, y, value, facet)
    df = _numeric(df, value, "value")
    df = _with_errors(df[df[x].notna() & df[y].notna()], value)
    if df.empty:
        raise ValueError(f"no rows with values of both {x!r} and {y!r}")
    keys = _hue_order(df, facet) if facet else [None]
    grids = []
    for key in keys:
        d = _select(df, facet, key) if facet else df
        grid = d.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
        # every axis value of the panel, even where all its cells are NaN (pivot_table
        # drops such rows/columns, which would shift the neighbours onto the wrong ticks)
        grids.append(grid.reindex(index=_sorted(d[y]), columns=_sorted(d[x])))
    # one colour scale for all panels: the single colorbar must be right for every panel
    if value in RATES:
        vmin, vmax = 0.0, 1.0
    else:
        vals = np.concatenate([g.to_numpy(dtype=float).ravel() for g in grids])
        vals = vals[np.isfinite(vals)]
        vmin = min(0.0, float(vals.min())) if vals.size else 0.0
        vmax = float(vals.max()) if vals.size else 1.0
    ncols = min(len(keys), 3)
    nrows = int(np.ceil(len(keys) / ncols))
    fig, axes = _figure(ncols, nrows, size=(4.6, 3.8))
    n = _single(df, "n")
    image = None
    for ax, key, grid in zip(axes, keys, grids):
        xs, ys = grid.columns.to_numpy(), grid.index.to_numpy()
        # grid cells of equal size, ticks at the values (works for log-spaced grids)
        image = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5,
                              grid.to_numpy(dtype=float), cmap="viridis", vmin=vmin,
                              vmax=vmax, shading="flat")
        _ticks(ax.set_xticks, xs)
        _ticks(ax.set_yticks, ys)
        if theory and n is not None and {x, y} == {"s", "m"}:
            from ..theory import l1_transition_curve

            s_vals, m_vals = (xs, ys) if x == "s" else (ys, xs)
            s_vals, m_vals = s_vals.astype(float), m_vals.astype(float)
            s_fine = np.linspace(s_vals.min(), s_vals.max(), 200)
            # delta(s, n) exists for 0 <= s <= n only: an s grid past n (s = [2, 50] at
            # n = 40) failed the figure with "need 0 <= s <= n and n > 0, got s=40.1..."
            real = (s_fine >= 0) & (s_fine <= float(n))
            m_fine = np.full_like(s_fine, np.nan)
            if float(n) > 0 and real.any():
                m_fine[real] = l1_transition_curve(int(n), s_fine[real])
            inside = (m_fine >= m_vals.min()) & (m_fine <= m_vals.max())
            si = np.interp(s_fine, s_vals, np.arange(len(s_vals)))
            mi = np.interp(m_fine, m_vals, np.arange(len(m_vals)))
            if len(s_vals) == 1:  # one column: the level m = delta(s, n) across it
                si = np.linspace(-0.5, 0.5, s_fine.size)
            si, mi = np.where(inside, si, np.nan), np.where(inside, mi, np.nan)
            px, py = (si, mi) if x == "s" else (mi, si)
            if np.isfinite(px).any():  # (a curve outside the grid, all NaN, was still
                # drawn: nothing to see, yet a legend entry "theory")
                ax.plot(px, py, color="w", ls="--", lw=1.5, label="theory $\\delta(s,n)$")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(_hue_label(facet, key) if facet else value, fontsize="medium")
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[: len(keys)]), label=f"mean {value}")
    # (the first panel's: the theory may cross another panel's grid only)
    handles, labels = next((h for h in (a.get_legend_handles_labels() for a in axes)
                            if h[0]), ([], []))
    if handles:  # one legend below the panels: inside a panel it hid a corner of cells
        fig.legend(handles, labels, loc="outside lower center", fontsize="small",
                   facecolor="0.5", labelcolor="w")
    fig.suptitle(title or _title(df, value, f"{x}, {y}", where, (facet,),
                                 _problem_axes(source), _configs_per_point(df, [facet, x, y])))
    _fit_ticks(fig, axes[: len(keys)])
    return fig


def _any_point(xs, ys) -> bool:
    """Whether any point ``(x, y)`` drawn is finite. A log axis of a figure with none (a
    metric that is NaN in every row) failed only when the figure was saved, with
    matplotlib's "Data cannot be log-scaled because all values are <= 0": such a figure
    keeps linear axes (and shows its empty panel)."""
    ok = np.isfinite(np.asarray(ys, dtype=float))
    x = _numbers(np.asarray(xs))
    if x is not None:  # (category names, x = "method", are all drawn)
        ok &= np.isfinite(x)
    return bool(ok.any())


def _sorted(values) -> list:
    """Distinct non-missing values, sorted (strings as they are)."""
    return sorted(values.dropna().unique().tolist())


def _numbers(values) -> np.ndarray | None:
    """The values as floats, or None when some are not numbers (e.g. method names)."""
    if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in values):
        return None
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None


def _compact(text: str) -> str:
    """``1e-08`` -> ``1e-8``, ``1e+06`` -> ``1e6``."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], text)


def _tick_labels(values) -> list[str]:
    """Short labels for grid values: ``%g`` with a compact exponent; on a log-spaced axis
    (positive, two decades or more) that reaches below 1e-3 or to 1e4 and above, all in
    powers-of-ten notation (``1e-16 ... 1e-1``: ``0.0001`` beside ``1e-05`` is longer
    and harder to read). Strings as they are."""
    v = _numbers(values)
    if v is None:
        return [str(x) for x in values]
    sci = _auto_log(v) and bool(np.any((np.abs(v) < 1e-3) | (np.abs(v) >= 1e4)))
    out = []
    for x in v:
        if sci and x != 0 and np.isfinite(x):
            mant, exp = f"{x:.5e}".split("e")
            out.append(f"{mant.rstrip('0').rstrip('.')}e{int(exp)}")
        else:
            out.append(_compact(f"{x:g}"))
    return out


def _ticks(setter, values: np.ndarray, most: int = 12) -> None:
    step = max(1, int(np.ceil(len(values) / most)))
    idx = np.arange(0, len(values), step)
    setter(idx, _tick_labels(values[idx]))


def _collide(labels, axis: str, pad: float = 2.0) -> bool:
    """Whether neighbouring tick labels (drawn) overlap along ``axis`` ("x" or "y")."""
    boxes = [t.get_window_extent() for t in labels if t.get_visible() and t.get_text()]
    lo, hi = ("x0", "x1") if axis == "x" else ("y0", "y1")
    boxes.sort(key=lambda b: getattr(b, lo))
    return any(getattr(b, lo) < getattr(a, hi) + pad for a, b in zip(boxes, boxes[1:]))


def _fit_ticks(fig, axes, most_rounds: int = 8) -> None:
    """Make the tick labels of ``axes`` readable on the laid-out figure: x labels that
    overlap their neighbours are turned upright, and labels that still overlap are thinned
    to every second one. Measured on the drawn figure (label widths depend on the font and
    on the panel size left by the layout, e.g. nine labels ``1e-16 ... 1e-1`` in a panel of
    a 3-column phase figure)."""
    for _ in range(most_rounds):
        fig.draw_without_rendering()
        changed = False
        for ax in axes:
            for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                labels = axis.get_ticklabels()
                if not _collide(labels, name):
                    continue
                changed = True
                if name == "x" and labels and labels[0].get_rotation() == 0:
                    ax.tick_params(axis="x", labelrotation=90)
                    continue
                locs, texts = axis.get_ticklocs(), [t.get_text() for t in labels]
                axis.set_ticks(locs[::2], texts[::2])
        if not changed:
            return


def trace(source: Any, field: str = "residual", *, hue: str = "label",
          where: dict[str, Any] | None = None, logx: bool | None = None,
          logy: bool | None = None, title: str | None = None):
    """A trace field against iterations from stored traces (``experiment.traces = true``),
    median and interquartile band over trials, one line per ``hue`` value. Iterations are
    on a log axis unless ``logx=False`` (a linear axis also shows iteration 0, the
    initial value); ``logy`` defaults to log when the values span decades.

    Parameters
    ----------
    source : path or DataFrame
        A results folder (its stored traces are loaded) or trace rows already loaded
        (columns ``iter``, the field and ``hue``).
    field : str, optional
        The trace field (default ``"residual"``).
    hue : str, optional
        Column that splits lines (default ``"label"``).
    where : dict, optional
        Column filters (see :func:`filter_rows`).
    logx : bool, optional
        Log iteration axis (default: when some iteration is > 0).
    logy : bool, optional
        Log value axis (default: when the values are positive and span two decades).
    title : str, optional
        Axes title (default: ``field`` vs iteration and the fixed n, m, s and filters).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        No traces are stored, no row matches ``where``, or every point is <= 0 on a
        log axis asked for.
    KeyError
        A column is not in the traces.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        df = source
    else:
        from ..experiments.store import load_traces

        df = load_traces(source)
    if df.empty:
        raise ValueError("no traces stored: run the spec with experiment.traces = true")
    df = filter_rows(df, where)
    _check_columns(df, "iter", field, hue)
    # (by default, a trace of iteration 0 alone, which a log axis cannot show, is drawn on
    # a linear one: it was an empty figure whose saving failed)
    logx = bool((df["iter"] > 0).any()) if logx is None else logx
    # iteration 0 has no place on a log axis only: a linear one keeps the initial value
    table = _summary(df[df["iter"] > 0] if logx else df, "iter", field, hue, "median")
    drawn = _any_point(table["iter"], table["centre"])
    fig, (ax,) = _figure()
    for i, key in enumerate(_hue_order(df, hue)):
        t = _select(table, hue, key)
        style = _style(i)
        if i < 10:  # traces have many points: markers only where colours repeat
            style.pop("marker")
        line, = ax.plot(t["iter"], t["centre"], label=_hue_label(hue, key), ms=4,
                        markevery=0.1, **style)
        ax.fill_between(t["iter"], t["low"], t["high"], color=line.get_color(), alpha=0.2,
                        lw=0)
    logy = drawn and (logy if logy is not None else _auto_log(table["centre"].to_numpy()))
    hidden = _log_hidden(table, "iter", hue, field, logx and drawn, logy)
    if logx and drawn:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{field} (median, quartile band)")
    ax.set_title(_with_note(title or _title(df, field, "iteration", where, (hue,),
                                            _problem_axes(source),
                                            _configs_per_point(df, [hue, "iter"])), hidden),
                 fontsize="medium")
    _legend(fig, ax)
    ax.grid(alpha=0.3)
    return fig


def _title(df, y: str, x: str, where: dict | None, keep: tuple = (),
           axes: Sequence[str] = ("n", "m", "s"), configs: int = 1) -> str:
    """``y vs x``, then the fixed n, m, s and filters, and what the summary pools over:
    the problem parameters ``axes`` that are neither an axis nor ``keep`` (the hue or
    facet) nor fixed (a curve over m of cells with ten values of s averages them, which
    the figure should say), and ``configs`` > 1 method configurations in one point."""
    fixed, pooled = [], []
    drawn = x.split(", ")  # phase passes "x, y"; a substring test would drop n for "init_scale"
    for col in dict.fromkeys(("n", "m", "s", *axes)):
        if col in drawn or col in keep or col not in df.columns:
            continue
        v, count = _single(df, col), df[col].nunique(dropna=False)
        if v is not None and col in ("n", "m", "s"):
            fixed.append(f"{col}={v}")
        elif count > 1:
            pooled.append(f"{col} ({count} values)")
    if configs > 1:
        # (hue = "method" over hadamard_limit at depths 2 and 3 averaged both rates into
        # one line without a word)
        pooled.append(f"label (up to {configs} per point)")
    if where:
        fixed += [f"{k}={v}" for k, v in where.items() if k not in ("n", "m", "s")]
    if pooled:
        fixed.append(f"pooled over {', '.join(pooled)}")
    return f"{y} vs {x}" + (f"\n{', '.join(fixed)}" if fixed else "")


def _problem_axes(source: Any) -> tuple[str, ...]:
    """The problem parameters of a results folder's spec (``quantize_graph``'s ``kind``,
    ``r``, ...), for the title's "pooled over"; n, m and s for rows given as a DataFrame."""
    import pandas as pd

    axes = ("n", "m", "s")
    if isinstance(source, pd.DataFrame):
        return axes
    from ..experiments.store import read_manifest

    try:
        problem = read_manifest(source)["spec"].get("problem", {})
    except Exception:  # noqa: BLE001 - the rows loaded; the title is no reason to fail
        return axes
    return tuple(dict.fromkeys([*axes, *(k for k in problem if k != "generator")]))


def _configs_per_point(df, groups: Sequence[str | None]) -> int:
    """The most method configurations (``label`` values) that one drawn point averages
    over (1 when the label is a hue/facet or there is no label column)."""
    groups = [g for g in groups if g is not None]
    if "label" not in df.columns or "label" in groups or df.empty:
        return 1
    if not groups:
        return int(df["label"].nunique())
    return int(df.groupby(groups, dropna=False)["label"].nunique().max())


def _log_hidden(table, x: str, hue: str | None, name: str, logx: bool,
                logy: bool) -> str | None:
    """Points of ``table`` (columns ``x``, ``centre``) that the log axes cannot show, as a
    note for the title (matplotlib drops values <= 0 without a word: a line of basis
    pursuit's l1 gap, all 0, vanished from ``logy`` while its legend entry stayed).

    Raises
    ------
    ValueError
        No drawn point is left (a log axis asked for values that are all <= 0: an
        empty figure).
    """
    xs = _numbers(table[x].to_numpy())
    ys = table["centre"].to_numpy(dtype=float)
    finite = np.isfinite(ys) & (np.isfinite(xs) if xs is not None else True)
    bad = np.zeros(len(table), dtype=bool)
    which = []
    if logx and xs is not None:
        bad |= finite & (xs <= 0)
        which += ["x"] * bool((finite & (xs <= 0)).any())
    if logy:
        bad |= finite & (ys <= 0)
        which += ["y"] * bool((finite & (ys <= 0)).any())
    if not bad.any():
        return None
    if not (finite & ~bad).any():
        raise ValueError(f"log{'/log'.join(which)}: every point of {name!r} drawn has "
                         f"{' or '.join(which)} <= 0, which a log axis cannot show (an "
                         f"empty figure): drop log{'/log'.join(which)} or filter with where")
    who = ""
    if hue is not None:
        keys = _hue_order(table[bad], hue)
        who = f" ({', '.join(str(k) if hue == 'label' else _hue_label(hue, k) for k in keys)})"
    return f"not shown on the log {' and '.join(which)} axis: {int(bad.sum())} point(s) " \
           f"<= 0{who}"


def _with_note(title: str, note: str | None) -> str:
    return title if not note else f"{title}\n{note}"


def plot(folder: str | Path, kind: str, *, out: str | Path | None = None,
         name: str | None = None, formats: Sequence[str] | str = ("png",),
         **options: Any) -> list[Path]:
    """Draw one figure from a results folder and write it (PNG and/or PDF).

    Parameters
    ----------
    folder : path
        The results folder.
    kind : {"phase", "curve", "trace"}
    out : path, optional
        Output folder (default ``FOLDER/plots``).
    name : str, optional
        File stem (default from the kind and axes).
    formats : str or sequence of str
        ``"png"`` and/or ``"pdf"``.
    **options
        Passed to :func:`phase`, :func:`curve` or :func:`trace` (``x``, ``y``, ``value``,
        ``hue``, ``where``, ``theory``, ``logx``, ``logy``, ``title``, ``field``, ``stat``).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        A bad kind, format, name or option, or ``out`` that is no folder but reads as a
        file name (``fig.png``); and the errors of the figure functions.
    """
    options = {k: v for k, v in options.items() if v is not None}
    from ..experiments.spec import PLOT_FORMATS, PLOT_OPTIONS, is_plot_stem, plot_stem

    # once each: a repeated format was drawn and listed twice
    formats = [formats] if isinstance(formats, str) else list(dict.fromkeys(formats))
    if not formats:
        raise ValueError(f"formats is empty: give one or more of {', '.join(PLOT_FORMATS)}")
    for fmt in formats:  # before drawing: a bad format must not leave some files written
        if fmt not in PLOT_FORMATS:
            raise ValueError(f"format must be {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    if out is not None and not Path(out).is_dir() and \
            Path(out).suffix.lower().lstrip(".") in PLOT_FORMATS:
        # (out = "fig.png" made a folder fig.png holding fig.png/curve_recovered_vs_m.png)
        raise ValueError(f"out is the folder the files go to, got {str(out)!r}, a file "
                         f"name: give the folder as out and the stem as name (out="
                         f"{str(Path(out).parent)!r}, name={Path(out).stem!r})")
    if name is not None and not is_plot_stem(name):
        raise ValueError(f"name must be a file stem without a folder, got {name!r}")
    unknown = sorted(set(options) - PLOT_OPTIONS.get(kind, set(options)))
    if unknown:
        raise ValueError(f"a {kind} plot does not take {', '.join(unknown)} (it takes "
                         f"{', '.join(sorted(PLOT_OPTIONS[kind]))})")
    if kind == "phase":
        options.setdefault("x", "s")
        options.setdefault("y", "m")
        if "hue" in options:
            options["facet"] = options.pop("hue")
        stem = plot_stem(kind, name, **options)
        fig = phase(folder, **options)
    elif kind == "curve":
        if "x" not in options:
            raise ValueError("a curve plot needs x (the axis), e.g. x = 'm'")
        if "value" in options:
            if "y" in options:  # (the value was dropped without a word)
                raise ValueError(f"value={options['value']!r} and y={options['y']!r} both "
                                 "give a curve's metric: give one (y)")
            options["y"] = options.pop("value")
        fig = curve(folder, **options)
        stem = plot_stem(kind, name, **options)
    elif kind == "trace":
        if "y" in options:
            options.setdefault("field", options.pop("y"))
        options.pop("x", None)
        fig = trace(folder, **options)
        stem = plot_stem(kind, name, **options)
    else:
        raise ValueError(f"kind must be phase, curve or trace, got {kind!r}")
    outdir = Path(out) if out else Path(folder) / "plots"
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = outdir / f"{stem}.{fmt}"
        fig.savefig(path, dpi=150)
        written.append(path)
    return written


def parse_where(items: Iterable[str]) -> dict[str, Any]:
    """``["m=80", "depth=[2,3]"]`` -> ``{"m": 80, "depth": [2, 3]}`` (values read as TOML).

    Parameters
    ----------
    items : iterable of str
        ``COL=VALUE`` strings (the ``--where`` options of the command line); a value that
        is not valid TOML is kept as the stripped string (a bare name), unless it starts
        like a list, table or quoted string.

    Returns
    -------
    dict
        Column name to value, for ``where=`` of the figure functions.

    Raises
    ------
    ValueError
        An item without ``=`` or without a column name, a column given twice, or a
        broken list, table or quoted string.
    """
    import tomllib

    where: dict[str, Any] = {}
    raws: dict[str, str] = {}  # the text of each value, for the message on a repeat
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--where {item!r}: expected COL=VALUE, e.g. m=80")
        if key.strip() in where:
            # the later one replaced the earlier without a word (m=6 and m=10: only 10)
            raise ValueError(f"--where {item!r}: column {key.strip()!r} given twice; give "
                             f"its values as one list, e.g. {key.strip()}="
                             f"[{raws[key.strip()]}, {raw.strip()}]")
        raws[key.strip()] = raw.strip()
        try:
            where[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError as exc:
            if raw.strip()[:1] in ("[", "{", '"', "'"):
                # a broken list or string, not a bare name: as a string it matched no row
                raise ValueError(f"--where {item!r}: the value is not valid TOML ({exc}); "
                                 "e.g. m=[50,100] or method=\"lasso\"") from exc
            where[key.strip()] = raw.strip()
    return where
