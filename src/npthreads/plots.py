"""The report's images, drawn with matplotlib (Agg, no display needed).

Each function takes ``report`` objects and writes one PNG; the page puts the
same numbers in a table under it, so nothing is only in the picture. Names
from result files go through ``_plain`` first: matplotlib reads text between
two ``$`` as mathtext, and a parameter label must not be able to break a plot.
"""

import concurrent.futures
import math
import multiprocessing
from functools import partial

import matplotlib

matplotlib.use("Agg")
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .units import format_duration  # noqa: E402

matplotlib.rcParams.update({"font.size": 9})

DPI = 96
PANELS_PER_ROW = 4
SLOWER, FASTER = "#b2182b", "#2166ac"


def draw_all(jobs, workers):
    """Draw ``jobs`` ([(plot function, args, kwargs)]), in ``workers``
    spawned processes where there are enough of them to pay for starting
    those (each imports matplotlib), else here. A machine page of the
    committed results draws about 70 figures, and drawing is most of
    ``npthreads publish`` (heat maps 57 s of 101 s under cProfile). Spawned,
    not forked: the caller may hold threads (a test's browser driver)."""
    if workers < 2 or len(jobs) < 4 * workers:
        for fn, args, kwargs in jobs:
            fn(*args, **kwargs)
        return
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        for done in [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in jobs]:
            done.result()


def _plain(text):
    """Text from a result file, shown literally (no mathtext)."""
    return str(text).replace("$", r"\$")


def _wrap(text, width=22):
    """Break long tick labels on spaces or commas so panels stay narrow."""
    words, lines, line = str(text).replace(",", ", ").split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return _plain("\n".join(lines))


def star_of(grid):
    """★ marks the recommended cell; ☆ the fastest measured where the
    evidence cannot tell it from others (``choice``): the heat map and the
    tables under it mark the cell the advice names, and say which."""
    return "★" if getattr(grid, "decided", True) else "☆"


def _named(grid):
    """The cell the advice names (``report.Grid.chosen``), the fastest for a
    grid that was never judged."""
    return getattr(grid, "chosen", None) or grid.fastest


def heatmap(grids, path):
    """One panel per environment: colour is log2 of the speed-up over the
    scenario's serial baseline (blue faster, red slower), each cell gives
    time and speed-up; a solid box and a star mark the cell the advice names
    (★ recommended, ☆ the fastest measured of cells it cannot tell apart), a
    dashed one the tutorial's naive configuration."""
    first = grids[0]
    rows, cols = first.row_labels or [""], first.col_labels
    ratios = []
    for g in grids:
        base = g.serial_time or g.fastest_time
        for key in g.cells:
            s = g.speedup(key, base)
            if s:
                ratios.append(abs(math.log2(s)))
    span = max([1.0] + ratios)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)

    n = len(grids)
    per_row = min(n, PANELS_PER_ROW)
    panel_rows = math.ceil(n / per_row)
    width = max(3.2, 0.5 + 1.1 * len(cols) + (1.3 if first.row_name else 0.3))
    height = 0.9 + 0.55 * len(rows)
    # constrained layout keeps a row's axis labels clear of the titles of
    # the row below
    fig = Figure(figsize=(per_row * width + 0.8, panel_rows * height + 0.4), dpi=DPI,
                 layout="constrained")
    cmap = matplotlib.colormaps["RdBu"]
    image = None
    for i, g in enumerate(grids):
        ax = fig.add_subplot(panel_rows, per_row, i + 1)
        base = g.serial_time or g.fastest_time
        values = [[math.nan] * len(cols) for _ in rows]
        for r, row in enumerate(rows):
            for c, col in enumerate(cols):
                s = g.speedup((row if g.row_name else "", col), base)
                if s:
                    values[r][c] = math.log2(s)
        image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
        for r, row in enumerate(rows):
            for c, col in enumerate(cols):
                key = (row if g.row_name else "", col)
                m = g.cells.get(key)
                if m is None or m.status != "ok":
                    text = "not run" if m is None else m.status
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="#eeeeee",
                                           hatch="//", edgecolor="#bbbbbb", lw=0))
                    ax.text(c, r, text, ha="center", va="center", color="#444444")
                    continue
                s = g.speedup(key, base)
                dark = abs(values[r][c]) > 0.6 * span
                star = star_of(g) + " " if key == _named(g) else ""
                ax.text(c, r, f"{star}{format_duration(g.time(key))}\n{s:.2f}x" if s else
                        format_duration(g.time(key)), ha="center", va="center",
                        color="white" if dark else "black")
        if _named(g):
            _box(ax, g, rows, cols, _named(g), "-", 2.5)
        if g.naive_cell:
            _box(ax, g, rows, cols, g.naive_cell, "--", 2.0, inset=0.1)
        ax.set_xticks(range(len(cols)), [_wrap(c, 14) for c in cols])
        first_column = i % per_row == 0
        ax.set_yticks(range(len(rows)), [_wrap(r, 18) for r in rows]
                      if g.row_name and first_column else [])
        ax.set_xlabel(_plain(g.col_name))
        if g.row_name and first_column:
            ax.set_ylabel(_plain(g.row_name))
        blas = f", OpenBLAS {g.env.openblas}" if g.env.openblas else ""
        runs = getattr(g, "runs", 1)
        pooled = f" ({runs} runs pooled)" if runs > 1 else ""
        ax.set_title(_plain(f"{g.env.label}{blas}{pooled}"), fontsize=9)
        ax.tick_params(length=0)
    bar = fig.colorbar(image, ax=fig.axes, shrink=0.9, fraction=0.03)
    ticks = [t for t in range(-int(span), int(span) + 1)]
    bar.set_ticks(ticks, labels=[f"{2.0 ** t:g}x" for t in ticks])
    bar.set_label("speed-up over serial (log scale)")
    fig.savefig(path, format="png", dpi=DPI)


def _minor_tick(ax, y, _pos):
    """Label the 2..9 ticks only when the axis spans less than a decade
    (else the major ticks suffice and the labels would overlap)."""
    low, high = ax.get_ylim()
    return format_duration(y) if low > 0 and high / low < 10 else ""


def _box(ax, g, rows, cols, key, style, width, inset=0.0):
    r = rows.index(key[0]) if g.row_name else 0
    c = cols.index(key[1])
    ax.add_patch(Rectangle((c - 0.5 + inset, r - 0.5 + inset), 1 - 2 * inset, 1 - 2 * inset,
                           fill=False, edgecolor="black", linestyle=style, lw=width))


def numpy_tick(env):
    return f"{env.numpy}\nOpenBLAS\n{env.openblas or '?'}"


def build_tick(env):
    """The OpenBLAS axis: the build, or the wheel's own."""
    return f"{env.openblas_build or 'wheel'}\nOpenBLAS\n{env.openblas or '?'}"


def version_axis(series, path, tick=numpy_tick):
    """The scenario's fastest, naive and serial time per environment, in
    version order (one panel per size); ``tick`` labels each environment
    (default: its numpy, with its OpenBLAS under it).

    ``series``: [(size, [Grid per env in version order])]."""
    n = len(series)
    fig = Figure(figsize=(max(4.5, 1.2 * max(len(gs) for _, gs in series) + 1.5) * min(n, 2),
                          3.4 * math.ceil(n / 2)), dpi=DPI)
    for i, (size, grids) in enumerate(series):
        ax = fig.add_subplot(math.ceil(n / 2), min(n, 2), i + 1)
        xs = list(range(len(grids)))
        # serial first, hollow and larger: where the fastest is the serial
        # configuration both markers stay visible.
        lines = [("serial", [g.serial_time for g in grids], "#555555", "o", ":", 11, "none"),
                 ("naive", [g.naive_time for g in grids], SLOWER, "s", "--", 6, SLOWER),
                 ("fastest", [g.fastest_time for g in grids], FASTER, "o", "-", 6, FASTER)]
        for label, ys, colour, marker, style, marker_size, face in lines:
            points = [(x, y) for x, y in zip(xs, ys) if y]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker,
                        markersize=marker_size, markerfacecolor=face, linestyle=style,
                        color=colour, label=label)
        ax.set_yscale("log")
        ax.set_xticks(xs, [_plain(tick(g.env)) for g in grids])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: format_duration(y)))
        ax.yaxis.set_minor_formatter(FuncFormatter(partial(_minor_tick, ax)))
        ax.set_xlim(-0.5, len(grids) - 0.5)
        ax.set_ylabel("time (log scale)")
        ax.set_title(_wrap(size or "all", 50), fontsize=9)
        ax.grid(True, which="both", axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)


def machine_speedups(labels, series, path):
    """Horizontal bars, one group per scenario and size, one bar per
    machine: the advice's speed-up over serial (log scale, 1x marked);
    hatched where the machine cannot tell, missing where it has no figure.

    ``series``: [(machine, [speed-up or None per label], [decided? per label])]."""
    n = max(1, len(series))
    fig = Figure(figsize=(7.5, 0.9 + 0.16 * n * len(labels) + 0.1 * len(labels)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    height = 0.8 / n
    colours = [FASTER, "#e08214", "#5aae61", "#8073ac"]
    for i, (machine, values, decided) in enumerate(series):
        ys = [k + (i - (n - 1) / 2) * height for k in range(len(labels))]
        points = [(y, v, d) for y, v, d in zip(ys, values, decided) if v]
        ax.barh([p[0] for p in points], [math.log2(p[1]) for p in points], height=height,
                color=colours[i % len(colours)], label=_plain(machine),
                hatch=None, edgecolor="white")
        for y, v, d in points:
            if not d:
                ax.barh(y, math.log2(v), height=height, fill=False, hatch="///",
                        edgecolor="white", lw=0)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_yticks(range(len(labels)), [_wrap(label, 40) for label in labels])
    ax.invert_yaxis()
    low, high = ax.get_xlim()
    ticks = list(range(math.floor(low), math.ceil(high) + 1))
    ax.set_xticks(ticks, [f"{2.0 ** t:g}x" for t in ticks])
    ax.set_xlabel("speed-up of the advice over serial (log scale; hatched: cannot tell)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    fig.savefig(path, format="png", dpi=DPI)
