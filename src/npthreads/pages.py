"""The report pages as static HTML: an index of machines and one page each.

Every name that comes from a result file (machine, environment, benchmark,
parameter label) goes through ``esc`` before it reaches the page, and file
and folder names are derived slugs, never the raw names: result files are
data, and a machine called ``<img onerror=...>`` must stay text. The pages
need nothing from the network: styles are inline, images are local PNGs.
"""

import hashlib
import html
import re
import time
from pathlib import Path
from urllib.parse import quote

from . import plots, report, results
from .units import format_duration

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 18px 40px;
color:#1c2430}
nav{padding:10px 0;border-bottom:1px solid #dde3ea;margin-bottom:10px}
h1{font-size:1.6em;margin:.6em 0 .2em} h2{margin-top:1.8em;border-bottom:1px solid #dde3ea}
h3{margin-bottom:.3em} .q{color:#445;margin-top:0}
table{border-collapse:collapse;margin:.4em 0 1.2em;font-size:.88em}
th,td{border:1px solid #d5dbe3;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f1f4f8} td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fastest td{font-weight:600;background:#eaf2fb} img{max-width:100%;height:auto}
figure{margin:.6em 0} figcaption{color:#445;font-size:.9em}
code{background:#f3f4f6;padding:0 3px} .muted{color:#667}
"""


def esc(value):
    return html.escape(str(value), quote=True)


def slug(name):
    """A file-safe folder name for a machine: readable part plus a hash,
    so two names that clean up the same still get different folders."""
    clean = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:40] or "machine"
    return f"{clean}-{hashlib.sha1(str(name).encode()).hexdigest()[:8]}"


def _page(title, body, up):
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"<nav><a href=\"{up}index.html\">&larr; performance history (asv)</a>"
            f" &middot; <a href=\"{up}reports/index.html\">all machines</a></nav>\n"
            f"{body}\n</body></html>\n")


def _table(head, rows, classes=None):
    """``rows`` are lists of (text, numeric?) or plain text; all escaped here."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>")
        for cell in row:
            text, numeric = cell if isinstance(cell, tuple) else (cell, False)
            out.append(f"<td class=\"n\">{esc(text)}</td>" if numeric else f"<td>{esc(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


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


# -- sections ----------------------------------------------------------------

def _runner_up_text(grid):
    second = grid.runner_up()
    if second is None:
        return "—"
    config, slower, tied = second
    others = len(grid.ties) - 1
    if tied:
        return f"tie: {config} (+{slower:.0%}, within noise; {others} tied in all)"
    return f"{config} (+{slower:.0%}, beyond noise)"


def _advice_section(rep):
    env = rep.advice_env()
    rows = []
    for a in report.advice(rep):
        g = a.grid
        rate = report.achieved(g)
        over_naive = g.speedup(g.fastest, g.naive_time) if g.fastest else None
        over_serial = g.speedup(g.fastest, g.serial_time) if g.fastest else None
        rows.append([g.scenario, g.size or "—",
                     g.config(g.fastest) if g.fastest else "nothing measured",
                     (format_duration(g.fastest_time), True),
                     (report.speedup_text(over_naive), True),
                     (report.speedup_text(over_serial) if not g.serial_disturbed
                      else f"— (serial baseline not used: {g.serial_disturbed})", True),
                     (f"{rate.rate:.3g} {rate.unit}" if rate else "—", True),
                     (rate.share_text if rate else "—", True),
                     _runner_up_text(g), a.winners_text()])
    head = ["scenario", "size", "fastest configuration (ties: fewest threads)", "time",
            "vs naive", "vs serial",
            "achieved", "share of its limit", "runner-up", "same winner on every numpy?"]
    return (f"<h2 id=\"advice\">The advice</h2>\n<p>For {esc(env.label if env else '?')}: "
            "per scenario and size, the fastest configuration measured, its speed-up "
            "over the tutorial's naive configuration and over the serial baseline (both "
            "named in each scenario below), and its rate as a share of this machine's "
            "limit for it: GFLOP/s against the calibrated DGEMM peak for matmul; GB/s "
            "against the bandwidth of the level that holds the data, the smallest cache "
            "whose capacity takes it (L2, L3: a triad measured there) or else memory (the "
            "triad), for dot, fill and exp. "
            "A configuration is named fastest only when it beats the others beyond the noise "
            "measured in this run (its rounds separate and the gap exceeds the row's "
            "resolution, as in npthreads compare); otherwise the cells it cannot tell apart "
            "are a tie, resolved towards the fewest threads, and the runner-up column says "
            "so. \"Same winner on every numpy\" counts a tie as the same. A serial "
            "baseline whose rounds scatter, or that is far off the same cell in the run's "
            "other environments, is not used for a speed-up. "
            "&mdash; means not measured or not applicable.</p>\n" + _table(head, rows))


def _env_section(rep):
    info = rep.info
    machine_rows = [["CPU", info.get("cpu", "?")],
                    ["cores (asv num_cpu)", info.get("num_cpu", "?")],
                    ["memory", _gib(info.get("ram"))], ["architecture", info.get("arch", "?")],
                    ["OS", info.get("os", "?")]]
    env_rows = []
    for e in rep.envs + [e for e in rep.axis_envs if e.openblas_build]:
        f = e.facts
        env_rows.append([e.label, e.python, e.blas_fact("blas_library") or "not measured",
                         e.openblas or "not measured",
                         e.blas_fact("blas_threading_layer") or "not measured",
                         e.kernel_text or "not measured", e.blas_variables_text,
                         (_num(f.get("blas_default_threads"), "{:.0f}"), True),
                         (_num(f.get("usable_cores"), "{:.0f}"), True),
                         (_num(f.get("dgemm_peak_gflops")), True),
                         (_num(f.get("triad_gbytes_per_s")), True),
                         (_cache_text(f), True),
                         e.commit[:8], _date(e.date), e.name])
    head = ["numpy", "Python", "BLAS", "version", "threading layer", "kernel (DYNAMIC_ARCH)",
            "BLAS variables",
            "BLAS default threads", "usable cores",
            "DGEMM peak GFLOP/s", "triad GB/s", "cache GB/s (capacity)", "commit", "date", "asv environment"]
    return ("<h2 id=\"environments\">The machine and its environments</h2>\n"
            + _table(["machine", "value"], machine_rows)
            + "<p>What each environment ran on, as its benchmarks measured it (numpy wheels "
              "vendor OpenBLAS, so each numpy release is also a BLAS release):</p>\n"
            + _table(head, env_rows))


def _heat_table(grids):
    first = grids[0]
    keys = [(r if first.row_name else "", c)
            for r in (first.row_labels or [""]) for c in first.col_labels]
    rows, classes = [], []
    for key in keys:
        row = [first.config(key)]
        fastest_somewhere = False
        for g in grids:
            m = g.cells.get(key)
            if m is None or m.status != "ok":
                row.append(("not run" if m is None else m.status, True))
                continue
            s = g.speedup(key, g.serial_time)
            marks = ((" ★" if key == g.fastest else "")
                     + (" (naive)" if key == g.naive_cell else ""))
            fastest_somewhere |= key == g.fastest
            row.append((f"{format_duration(m.value)} ({report.speedup_text(s)}){marks}", True))
        rows.append(row)
        classes.append("fastest" if fastest_somewhere else "")
    for which in ("serial", "naive"):
        text = getattr(first, f"{which}_text")
        if text and not (which == "naive" and first.naive_cell):
            rows.append([f"{which} baseline: {text}"] + [
                (format_duration(getattr(g, f"{which}_time")), True) for g in grids])
            classes.append("")
    head = ["configuration"] + [f"{g.env.label} (OpenBLAS {g.env.openblas or '?'})"
                                for g in grids]
    return _table(head, rows, classes)


def _heat_alt(grids):
    g0 = grids[0]
    axes = f"{g0.row_name} x {g0.col_name}" if g0.row_name else g0.col_name
    best = "; ".join(f"{g.env.label}: fastest {g.config(g.fastest)} at "
                     f"{format_duration(g.fastest_time)}" for g in grids if g.fastest)
    return (f"Heat map of {g0.scenario}, {g0.size or 'all sizes'}: time and speed-up over "
            f"serial for each {axes}, one panel per numpy version. {best}.")


def _version_table(grids):
    rows = []
    for g in grids:
        over = g.speedup(g.fastest, g.naive_time) if g.fastest else None
        rows.append([g.env.label, g.env.openblas or "?",
                     g.config(g.fastest) if g.fastest else "—",
                     (format_duration(g.fastest_time), True),
                     (format_duration(g.naive_time), True),
                     (format_duration(g.serial_time), True),
                     (report.speedup_text(over), True)])
    return _table(["numpy", "OpenBLAS", "fastest configuration", "fastest", "naive", "serial",
                   "fastest vs naive"], rows)


def _scenario_sections(rep, folder):
    figures = rep.figures()
    by_bench = {}
    for (benchmark, size), grids in figures.items():
        by_bench.setdefault(benchmark, []).append((size, grids))
    out, toc, n = [], [], 0
    for b_index, (benchmark, sizes) in enumerate(by_bench.items()):
        spec = rep.specs.get(benchmark)
        scenario = sizes[0][1][0].scenario
        anchor = f"s{b_index}"
        toc.append(f"<li><a href=\"#{anchor}\">{esc(scenario)}</a></li>")
        history = f"../../index.html#view=explore&bench={quote(benchmark, safe='')}"
        question = spec.question if spec else ("A benchmark without a report layout: "
                                               "its last two parameters, no baselines.")
        part = [f"<h2 id=\"{anchor}\">{esc(scenario)}</h2>",
                f"<p class=\"q\">{esc(question)} "
                f"<span class=\"muted\">(<code>{esc(benchmark)}</code>, "
                f"<a href=\"{esc(history)}\">history</a>)</span></p>"]
        first = sizes[0][1][0]
        if first.serial_text or first.naive_text:
            part.append(f"<p>Serial baseline: {esc(first.serial_text or 'none')}. Naive "
                        f"configuration: {esc(first.naive_text or 'not in this scenario')}.</p>")
        for size, grids in sizes:
            n += 1
            name = f"heat-{n:02d}.png"
            plots.heatmap(grids, folder / name)
            part.append(f"<h3>{esc(size or 'all')}</h3><figure><img src=\"{name}\" "
                        f"alt=\"{esc(_heat_alt(grids))}\"><figcaption>Colour and the second "
                        "line of each cell: speed-up over the serial baseline. ★ and a solid "
                        "box: fastest; dashed box: the tutorial's naive configuration."
                        "</figcaption></figure>")
            part.append(_heat_table(grids))
        name = f"versions-{b_index + 1:02d}.png"
        plots.version_axis(sizes, folder / name)
        alt = (f"Line plot of {scenario}: fastest, naive and serial time per numpy "
               f"version, OpenBLAS version under each; " + "; ".join(
                   f"{s or 'all'}: fastest {format_duration(gs[-1].fastest_time)} on "
                   f"{gs[-1].env.label}" for s, gs in sizes))
        part.append(f"<h3>Across numpy versions</h3><figure><img src=\"{name}\" "
                    f"alt=\"{esc(alt)}\"></figure>")
        for size, grids in sizes:
            part.append(f"<p class=\"muted\">{esc(size or 'all')}</p>" + _version_table(grids))
        part += _openblas_view(rep, benchmark, scenario, folder, b_index)
        out.append("\n".join(part))
    return "\n".join(out), "".join(toc)


def _openblas_view(rep, benchmark, scenario, folder, b_index):
    """The scenario across OpenBLAS builds under one numpy (issue 10), next
    to the numpy view: a step that shows here belongs to OpenBLAS; one that
    shows only across numpy versions, to numpy."""
    sizes = [(size, grids) for (b, size), grids in rep.figures(axis=True).items()
             if b == benchmark and len(grids) > 1]
    if not sizes:
        return []
    host = sizes[0][1][0].env.numpy
    name = f"openblas-{b_index + 1:02d}.png"
    plots.version_axis(sizes, folder / name, tick=plots.build_tick)
    alt = (f"Line plot of {scenario}: fastest, naive and serial time per OpenBLAS build "
           f"under numpy {host}; " + "; ".join(
               f"{s or 'all'}: fastest "
               f"{format_duration(min(filter(None, (g.fastest_time for g in gs)), default=None))}"
               for s, gs in sizes))
    part = [f"<h3>Across OpenBLAS builds (numpy {esc(host)})</h3>"
            f"<p>The same numpy with each scipy-openblas64 build swapped in, and its wheel's "
            f"own build (\"wheel\"): what changes here is OpenBLAS's doing.</p>"
            f"<figure><img src=\"{name}\" alt=\"{esc(alt)}\"></figure>"]
    for size, grids in sizes:
        part.append(f"<p class=\"muted\">{esc(size or 'all')}</p>" + _heat_table(grids))
    return part


def machine_page(rep, folder):
    """Write one machine's page and its images into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    sections, toc = _scenario_sections(rep, folder)
    info = rep.info
    body = (f"<h1>Threads report: {esc(rep.machine)}</h1>\n"
            f"<p>{esc(info.get('cpu', '?'))}, {esc(info.get('num_cpu', '?'))} cores, "
            f"{esc(_gib(info.get('ram')))}; {len(rep.envs)} environment"
            f"{'' if len(rep.envs) == 1 else 's'}, newest results of "
            "each. Times are asv's medians.</p>\n"
            "<ul><li><a href=\"#advice\">The advice</a></li>"
            "<li><a href=\"#environments\">The machine and its environments</a></li>"
            f"{toc}</ul>\n"
            + _advice_section(rep) + "\n" + _env_section(rep) + "\n"
            + (sections or "<p>No timed benchmark results yet.</p>"))
    (folder / "index.html").write_text(_page(f"Threads report: {rep.machine}", body, "../../"))


def write_reports(results_dir, out):
    """Write ``out/index.html`` and one folder per machine; returns
    [(machine, page path)]."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for machine, info in results.machines(results_dir).items():
        rep = report.build(results_dir, machine)
        folder = out / slug(machine)
        machine_page(rep, folder)
        written.append((machine, folder / "index.html"))
        link = f"<a href=\"{slug(machine)}/index.html\">{esc(machine)}</a>"
        rows.append(f"<tr><td>{link}</td><td>{esc(info.get('cpu', '?'))}</td>"
                    f"<td class=\"n\">{esc(info.get('num_cpu', '?'))}</td>"
                    f"<td class=\"n\">{esc(_gib(info.get('ram')))}</td>"
                    f"<td>{esc(', '.join(e.label for e in rep.envs))}</td></tr>")
    body = ("<h1>Python threads x BLAS threads: reports per machine</h1>\n"
            "<p>Heat maps of every scenario over its thread settings, the same across numpy "
            "and OpenBLAS versions, the BLAS each environment ran, and the advice.</p>\n"
            "<table><thead><tr><th>machine</th><th>CPU</th><th>cores</th><th>memory</th>"
            "<th>environments</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    (out / "index.html").write_text(_page("npthreads reports", body, "../"))
    return written
