"""The report pages as static HTML: an index of machines and one page each.

This module decides what the pages say, as plain values (text, numbers,
rows of cells, a dataclass per section); the jinja2 templates in
``templates/`` do all the markup, with autoescape on. Names in a result file
(machine, environment, benchmark, parameter label) are data, and a machine
called ``<img onerror=...>`` must stay text: with autoescape it does by
construction, for every value any template prints, where hand-built HTML
kept it text only as long as every f-string remembered to escape. File and
folder names are derived slugs, never the raw names. The pages need nothing
from the network: styles are inline, images are local PNGs.
"""

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2

from . import machines as fleet_model
from . import machine, plots, pooled, report
from .units import format_duration

# Autoescape for every template, whatever its file name; StrictUndefined so a
# misspelt field fails the render instead of leaving a blank on the page.
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("npthreads", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def slug(name):
    """A file-safe folder name for a machine: readable part plus a hash,
    so two names that clean up the same still get different folders."""
    clean = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:40] or "machine"
    return f"{clean}-{hashlib.sha1(str(name).encode()).hexdigest()[:8]}"


# -- what the templates get ----------------------------------------------------

@dataclass
class Cell:
    text: str
    numeric: bool = False        # right-aligned, in tabular figures
    href: str | None = None      # the cell's text links there


@dataclass
class Row:
    cells: list                  # Cell
    fastest: bool = False        # a configuration fastest in some environment


@dataclass
class Table:
    head: list                   # column headings
    rows: list                   # Row


@dataclass
class Figure:
    image: str                   # PNG file name, in the page's folder
    alt: str


@dataclass
class SizedTable:
    size: str                    # the size label, "all" for a scenario without sizes
    table: Table


@dataclass
class HeatMap:
    size: str
    figure: Figure
    table: Table                 # the heat map's numbers


@dataclass
class Baselines:
    serial: str
    naive: str


@dataclass
class OpenblasView:
    """A scenario across OpenBLAS builds under one numpy (issue 10)."""
    numpy: str
    figure: Figure
    heat_tables: list            # SizedTable


@dataclass
class ThreadedView:
    """A scenario on free-threaded CPython: the GIL off against on, per numpy."""
    tables: list                 # SizedTable


@dataclass
class Scenario:
    """One scenario's section of a machine's page."""
    anchor: str
    name: str
    benchmark: str
    question: str
    history_link: str            # the benchmark in asv's history view
    baselines: Baselines | None  # None: the scenario names neither
    heat_maps: list              # HeatMap, one per size
    versions: Figure             # across numpy versions
    version_tables: list         # SizedTable
    openblas: OpenblasView | None
    threaded: ThreadedView | None = None


def _numeric(text):
    return Cell(text, numeric=True)


def _row(*values, fastest=False):
    """A Row from Cells and plain values (plain values become text cells)."""
    return Row([v if isinstance(v, Cell) else Cell(str(v)) for v in values], fastest)


def _render(template, out_path, **values):
    Path(out_path).write_text(TEMPLATES.get_template(template).render(**values))


# -- cell text -------------------------------------------------------------------

def _gib(ram):
    try:
        return f"{int(ram) / 2**30:.1f} GiB"
    except (TypeError, ValueError):
        return str(ram or "?")


def _num(value, fmt="{:.1f}"):
    return "not measured" if value is None else fmt.format(value)


def _cache_text(facts):
    """ "L2 66.1 (1 MiB), L3 80.2 (32 MiB)": each measured cache level's
    bandwidth and the capacity the report places rows by."""
    speeds, sizes = facts.get("cache_gbytes_per_s") or {}, facts.get("cache_bytes") or {}
    if not speeds:
        return "not measured"
    return ", ".join(f"{level} {speed:.1f} ({sizes.get(level, 0) / 2**20:g} MiB)"
                     for level, speed in sorted(speeds.items()))


def _date(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000)) if ms else "?"


def _size_label(size):
    return size or "all"


# -- sections ----------------------------------------------------------------

def _advice_cell(grid):
    """The advice table's recommendation cell: the configuration, or which
    cells the evidence cannot tell apart."""
    if not grid.chosen:
        return "nothing measured"
    if grid.decided:
        return grid.config(grid.chosen)
    others = grid.contenders()
    named = ", ".join(f"{grid.config(k)} ({report.speedup_text(grid.ratio(k))})"
                      for k in others[:2])
    more = f" and {len(others) - 2} more" if len(others) > 2 else ""
    return f"cannot tell: {grid.config(grid.fastest)} (fastest measured) or {named}{more}"


def _rate_text(rate):
    if rate is None:
        return "—"
    text = f"{rate.rate:.3g} {rate.unit}"
    return f"{text}, {rate.share_text}" if rate.share is not None else text


def _serial_text(grid, speedup):
    if grid.serial_time is None and grid.serial_disturbed:
        return f"— (serial baseline not used: {grid.serial_disturbed})"
    return report.speedup_text(speedup)


def _advice_table(rep):
    rows, sentences = [], []
    for a in report.advice(rep):
        g = a.grid
        sentences.append(a.sentence())
        rate = report.achieved(g, g.chosen)
        over_naive = g.speedup(g.chosen, g.naive_time) if g.chosen else None
        over_serial = g.speedup(g.chosen, g.serial_time) if g.chosen else None
        rows.append(_row(
            g.scenario, g.size or "—", _advice_cell(g),
            _numeric(format_duration(g.chosen_time)),
            _numeric(report.speedup_text(over_naive)),
            _numeric(_serial_text(g, over_serial)),
            _numeric(g.decision.margin_text() if g.decision else "—"),
            g.basis,
            _numeric(_rate_text(rate)),
            a.winners_text()))
    head = ["scenario", "size", "recommendation", "time", "vs naive", "vs serial",
            "margin", "evidence", "achieved, share of its limit", "same on every numpy?"]
    return Table(head, rows), sentences


def _machine_table(info):
    return Table(["machine", "value"], [
        _row("CPU", info.get("cpu", "?")),
        _row("cores (asv num_cpu)", info.get("num_cpu", "?")),
        _row("memory", _gib(info.get("ram"))),
        _row("architecture", info.get("arch", "?")),
        _row("OS", info.get("os", "?"))])


def _python_text(env):
    """The CPython, and on a free-threaded one whether the GIL was on as
    the benchmarks found it (BlasRuntime.track_gil_enabled)."""
    gil = env.facts.get("gil_enabled")
    if not env.gil:
        return env.python
    measured = "not measured" if gil is None else ("on" if gil else "off")
    return f"{env.python} (GIL {measured})"


def _environments_table(rep):
    rows = []
    for e in rep.envs + [e for e in rep.axis_envs if e.openblas_build] + rep.threaded_envs:
        f = e.facts
        rows.append(_row(
            e.label, _python_text(e), e.blas_fact("blas_library") or "not measured",
            e.openblas or "not measured",
            e.blas_fact("blas_threading_layer") or "not measured",
            e.kernel_text or "not measured", e.blas_variables_text,
            _numeric(_num(f.get("blas_default_threads"), "{:.0f}")),
            _numeric(_num(f.get("usable_cores"), "{:.0f}")),
            _numeric(_num(f.get("dgemm_peak_gflops"))),
            _numeric(_num(f.get("triad_gbytes_per_s"))),
            _numeric(_cache_text(f)),
            e.commit[:8], _date(e.date), e.name))
    head = ["numpy", "Python", "BLAS", "version", "threading layer", "kernel (DYNAMIC_ARCH)",
            "BLAS variables",
            "BLAS default threads", "usable cores",
            "DGEMM peak GFLOP/s", "triad GB/s", "cache GB/s (capacity)", "commit", "date", "asv environment"]
    return Table(head, rows)


def _heat_table(grids):
    first = grids[0]
    # Without a row parameter every cell's row label is "" (report._grid),
    # so row_labels is [""]: the same (row, col) keys as the cells, either way.
    keys = [(r, c) for r in first.row_labels for c in first.col_labels]
    rows = []
    for key in keys:
        cells = [first.config(key)]
        fastest_somewhere = False
        for g in grids:
            m = g.cells.get(key)
            if m is None or m.status != "ok":
                cells.append(_numeric("not run" if m is None else m.status))
                continue
            s = g.speedup(key, g.serial_time)
            marks = ((" " + plots.star_of(g) if key == g.chosen else "")
                     + (" (naive)" if key == g.naive_cell else ""))
            fastest_somewhere |= key == g.chosen
            cells.append(_numeric(
                f"{format_duration(g.time(key))} ({report.speedup_text(s)}){marks}"))
        rows.append(_row(*cells, fastest=fastest_somewhere))
    baselines = (("serial", first.serial_text, lambda g: g.serial_time, False),
                 ("naive", first.naive_text, lambda g: g.naive_time, bool(first.naive_cell)))
    for which, text, time_of, in_grid in baselines:
        if text and not in_grid:     # a naive cell in the grid is marked there instead
            rows.append(_row(f"{which} baseline: {text}",
                             *(_numeric(format_duration(time_of(g))) for g in grids)))
    head = ["configuration"] + [f"{g.env.label} (OpenBLAS {g.env.openblas or '?'}"
                                + (f"; {g.basis})" if g.pooled else ")") for g in grids]
    return Table(head, rows)


def _heat_alt(grids):
    g0 = grids[0]
    axes = f"{g0.row_name} x {g0.col_name}" if g0.row_name else g0.col_name
    best = "; ".join(f"{g.env.label}: " + (
        f"recommended {g.config(g.chosen)} at {format_duration(g.chosen_time)}" if g.decided
        else f"cannot tell, fastest measured {g.config(g.fastest)} at "
             f"{format_duration(g.fastest_time)}") for g in grids if g.chosen)
    return (f"Heat map of {g0.scenario}, {g0.size or 'all sizes'}: time and speed-up over "
            f"serial for each {axes}, one panel per numpy version. {best}.")


def _version_table(grids):
    rows = []
    for g in grids:
        over = g.speedup(g.fastest, g.naive_time) if g.fastest else None
        rows.append(_row(g.env.label, g.env.openblas or "?",
                         g.config(g.fastest) if g.fastest else "—",
                         _numeric(format_duration(g.fastest_time)),
                         _numeric(format_duration(g.naive_time)),
                         _numeric(format_duration(g.serial_time)),
                         _numeric(report.speedup_text(over))))
    return Table(["numpy", "OpenBLAS", "fastest measured", "fastest", "naive", "serial",
                  "fastest vs naive"], rows)


def _scenarios(rep, folder, drawings):
    """The scenario sections, in the report's order; adds their plots, into
    ``folder`` (heat-NN, versions-NN, openblas-NN), to ``drawings``."""
    by_bench = {}
    for (benchmark, size), grids in rep.figures().items():
        by_bench.setdefault(benchmark, []).append((size, grids))
    scenarios, n = [], 0
    for b_index, (benchmark, sizes) in enumerate(by_bench.items()):
        spec = rep.specs.get(benchmark)
        first = sizes[0][1][0]
        heat_maps = []
        for size, grids in sizes:
            n += 1
            name = f"heat-{n:02d}.png"
            drawings.append((plots.heatmap, (grids, folder / name), {}))
            heat_maps.append(HeatMap(_size_label(size), Figure(name, _heat_alt(grids)),
                                     _heat_table(grids)))
        name = f"versions-{b_index + 1:02d}.png"
        drawings.append((plots.version_axis, (sizes, folder / name), {}))
        alt = (f"Line plot of {first.scenario}: fastest, naive and serial time per numpy "
               f"version, OpenBLAS version under each; " + "; ".join(
                   f"{_size_label(s)}: fastest {format_duration(gs[-1].fastest_time)} on "
                   f"{gs[-1].env.label}" for s, gs in sizes))
        scenarios.append(Scenario(
            anchor=f"s{b_index}", name=first.scenario, benchmark=benchmark,
            question=spec.question if spec else ("A benchmark without a report layout: "
                                                 "its last two parameters, no baselines."),
            history_link=f"../../index.html#view=explore&bench={quote(benchmark, safe='')}",
            baselines=(Baselines(first.serial_text or "none",
                                 first.naive_text or "not in this scenario")
                       if first.serial_text or first.naive_text else None),
            heat_maps=heat_maps,
            versions=Figure(name, alt),
            version_tables=[SizedTable(_size_label(size), _version_table(grids))
                            for size, grids in sizes],
            openblas=_openblas_view(rep, benchmark, first.scenario, folder, b_index,
                                    drawings),
            threaded=_threaded_view([(size, pairs) for (b, size), pairs
                                     in report.gil_pairs(rep).items() if b == benchmark])))
    return scenarios


def _pick_text(g):
    """A grid's pick in a table cell: the recommendation (or, undecided,
    the fastest measured, marked so), its time and its speed-up over serial."""
    if g is None or not g.chosen:
        return "not measured"
    over = g.speedup(g.chosen, g.serial_time)
    mark = "" if g.decided else " (cannot tell; fastest measured)"
    return (f"{g.config(g.chosen)}{mark}: {format_duration(g.chosen_time)}, "
            f"{report.speedup_text(over)} vs serial")


def _threaded_view(pairs):
    """The free-threaded section of one scenario: per size, each numpy's
    pick with the GIL off and on, what the GIL costs the GIL-off pick, and
    the serial loop on the three builds."""
    if not pairs:
        return None
    tables = []
    for size, rows in pairs:
        table_rows = []
        for p in rows:
            serial = [format_duration(g.serial_time) if g and g.serial_time else "—"
                      for g in (p.off, p.on, p.gil_build)]
            table_rows.append(_row(
                f"numpy {p.numpy}", _pick_text(p.off), _pick_text(p.on),
                _numeric(report.speedup_text(p.on_over_off())), _numeric(" / ".join(serial))))
        tables.append(SizedTable(_size_label(size), Table(
            ["numpy", "GIL off: pick", "GIL on: pick", "GIL on / off, GIL-off pick",
             "serial: GIL off / on / GIL build"], table_rows)))
    return ThreadedView(tables)


def _threaded_sentences(rep):
    """At a glance, the newest numpy of the free-threaded axis: where a pool
    of Python threads wins without the GIL, and what the GIL costs there."""
    sentences = []
    for (benchmark, size), pairs in report.gil_pairs(rep).items():
        p = next((p for p in reversed(pairs) if p.off and p.on and p.off.chosen), None)
        if p is None:
            continue
        g = p.off
        what = f"{g.scenario} {g.size}".strip()
        pick = g.words(g.chosen) if g.decided else (
            f"cannot tell (fastest measured: {g.words(g.chosen)})")
        over = report.speedup_text(g.speedup(g.chosen, g.serial_time))
        on = p.on
        on_pick = (on.words(on.chosen) if on.decided else "cannot tell") if on.chosen else "—"
        cost = p.on_over_off()
        sentences.append(
            f"{what}, numpy {p.numpy}: GIL off, {pick} ({over} over serial); GIL on, "
            f"{on_pick}; the GIL-off pick takes {report.speedup_text(cost)} as long with "
            f"the GIL on.")
    return sentences


def _openblas_view(rep, benchmark, scenario, folder, b_index, drawings):
    """The scenario across OpenBLAS builds under one numpy (issue 10), next
    to the numpy view: a step that shows here belongs to OpenBLAS; one that
    shows only across numpy versions, to numpy. None without such builds."""
    sizes = [(size, grids) for (b, size), grids in rep.figures(axis=True).items()
             if b == benchmark and len(grids) > 1]
    if not sizes:
        return None
    host = sizes[0][1][0].env.numpy
    name = f"openblas-{b_index + 1:02d}.png"
    drawings.append((plots.version_axis, (sizes, folder / name), {"tick": plots.build_tick}))
    alt = (f"Line plot of {scenario}: fastest, naive and serial time per OpenBLAS build "
           f"under numpy {host}; " + "; ".join(
               f"{_size_label(s)}: fastest "
               f"{format_duration(min(filter(None, (g.fastest_time for g in gs)), default=None))}"
               for s, gs in sizes))
    return OpenblasView(host, Figure(name, alt),
                        [SizedTable(_size_label(size), _heat_table(grids))
                         for size, grids in sizes])


def machine_page(rep, folder, several=False, drawings=None):
    """Write one machine's page and its images into ``folder``; ``several``:
    link the page of the same scenarios across machines. The images are
    drawn here, or added to ``drawings`` for the caller to draw
    (``plots.draw_all``)."""
    folder.mkdir(parents=True, exist_ok=True)
    mine = [] if drawings is None else drawings
    info = rep.info
    env = rep.advice_env()
    advice, sentences = _advice_table(rep)
    _render("machine.html", folder / "index.html",
            title=f"Threads report: {rep.machine}", site_root="../../",
            machine=rep.machine, cpu=info.get("cpu", "?"), cores=info.get("num_cpu", "?"),
            memory=_gib(info.get("ram")),
            environments=f"{len(rep.envs)} environment{'' if len(rep.envs) == 1 else 's'}",
            advice_env=env.label if env else "?", advice=advice, sentences=sentences,
            pooled_runs=max((g.runs for g in rep.grids), default=1), min_runs=pooled.MIN_RUNS,
            threaded=_threaded_sentences(rep),
            machine_facts=_machine_table(info), environment_facts=_environments_table(rep),
            scenarios=_scenarios(rep, folder, mine), several=several)
    if drawings is None:
        plots.draw_all(mine, 1)


@dataclass
class FleetScenario:
    """One scenario and size on machines.html."""
    anchor: str
    title: str
    line: str
    differs: bool
    table: Table


def _fleet_table(s):
    head = ["environment"]
    for p in s.rows[0].picks if s.rows else []:
        head += [f"{p.machine} ({p.cores} core{'' if p.cores == 1 else 's'}): advice",
                 "time", "vs serial", "vs naive"]
    rows = []
    for r in s.rows:
        cells = [r.env]
        for p in r.picks:
            cells += [p.text(), _numeric(format_duration(p.time)),
                      _numeric(report.speedup_text(p.over_serial)),
                      _numeric(report.speedup_text(p.over_naive))]
        rows.append(_row(*cells, fastest=r.verdict == "differs"))
    return Table(head, rows)


def _fleet_plot(fleet, folder):
    """One bar chart: each machine's advice speed-up over serial, in the
    first common environment; None when there is nothing to draw."""
    if not fleet.common or not fleet.scenarios:
        return None
    env = fleet.common[0]
    labels = [f"{s.scenario} {s.size}".strip() for s in fleet.scenarios]
    series = []
    for i, machine_name in enumerate(fleet.machines):
        picks = [next((r.picks[i] for r in s.rows if r.env == env), None)
                 for s in fleet.scenarios]
        series.append((machine_name, [p.over_serial if p else None for p in picks],
                       [bool(p and p.decided) for p in picks]))
    name = "machines.png"
    plots.machine_speedups(labels, series, folder / name)
    shown = "; ".join(f"{m}: " + ", ".join(f"{label} {report.speedup_text(v)}"
                                           for label, v in zip(labels, values) if v)
                      for m, values, _ in series)
    return Figure(name, f"Bar chart of each machine's advice as speed-up over serial per "
                        f"scenario and size, {env}; hatched where it cannot tell. {shown}")


def machines_page(fleet, out, slugs):
    """Write ``out/machines.html``: each scenario and size across machines."""
    scenarios = []
    for n, s in enumerate(fleet.scenarios):
        scenarios.append(FleetScenario(f"m{n}", f"{s.scenario} {s.size}".strip(), s.line(),
                                       s.differs, _fleet_table(s)))
    counts = {}
    for s in fleet.scenarios:
        verdicts = {r.verdict for r in s.rows}
        key = ("differs" if "differs" in verdicts else "missing" if verdicts == {"missing"}
               else "unsettled" if "unsettled" in verdicts or "missing" in verdicts
               else "same")
        counts[key] = counts.get(key, 0) + 1
    machines_table = Table(["machine", "cores", "CPU", "full runs"], [
        _row(Cell(str(m), href=f"{slugs[m]}/index.html"),
             _numeric(str(fleet_model.cores_of(fleet.reports[m]))),
             fleet.reports[m].info.get("cpu", "?"),
             _numeric(str(fleet.summaries[m].full_runs) if m in fleet.summaries else "?"))
        for m in fleet.machines])
    _render("machines.html", Path(out) / "machines.html",
            title="npthreads: the same scenarios across machines", site_root="../",
            machines=machines_table, common=fleet.common, counts=counts,
            figure=_fleet_plot(fleet, Path(out)), scenarios=scenarios)


def _summary_row(s, href):
    return _row(Cell(str(s.machine), href=href), _numeric(s.cores), s.cpu, _gib(s.memory),
                s.blas, s.kernel, ", ".join(s.axes) or "none", _numeric(str(s.environments)),
                _numeric(str(s.full_runs)), s.newest_commit, s.newest_date)


def write_reports(results_dir, out):
    """Write ``out/index.html``, ``out/machines.html`` and one folder per
    machine; returns [(machine, page path)]."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fleet = fleet_model.build(results_dir)
    several = len(fleet.reports) > 1
    written, rows, drawings = [], [], []
    for name, rep in fleet.reports.items():
        folder = out / slug(name)
        machine_page(rep, folder, several=several, drawings=drawings)
        written.append((name, folder / "index.html"))
        rows.append(_summary_row(fleet.summaries[name], f"{slug(name)}/index.html"))
    plots.draw_all(drawings, machine.usable_cores())
    if several:
        machines_page(fleet, out, {m: slug(m) for m in fleet.reports})
    machines = Table(["machine", "cores", "CPU", "memory", "BLAS (newest numpy)",
                      "kernel", "axes that ran", "environments", "full runs",
                      "newest commit", "date"], rows)
    _render("index.html", out / "index.html", title="npthreads reports", site_root="../",
            machines=machines, several=several)
    return written
