"""The site: results turned into one static site that works offline
(``npthreads publish``, and the last step of ``npthreads bench``).

Six steps, each because of something the previous one lacks:
1. ``asv publish`` writes the history data (index.json, graphs/), but its page
   loads jQuery, flot and bootstrap from public CDNs and shows only an error
   without network;
2. ``asv-tachyon install`` (pinned in requirements/tools.txt) replaces that
   page with a self-contained one; ``asv publish`` wipes the folder, so this
   runs after every publish;
3. the tachyon page asks for files asv 0.6 never writes (commits.json,
   profiles.json, regressions-ignore.json, samples/...): each would be a 404
   and a console error, so empty ones are written;
4. the report pages asv has no view for (threads x BLAS heat maps, numpy
   versions, BLAS facts, advice) go under reports/, one per machine, linked
   from a fixed corner link on the history page;
5. asv's regressions.json and regressions.xml (the Regressions tab and its
   feed) list every 5% step asv's step detection finds, rates read as
   lower-is-better and host changes between sessions included: they are
   rewritten to keep only the steps the sessions support (``regressions``);
6. asv puts each machine's facts (cpu, num_cpu, ram, ...) in every graph's
   path, and tachyon's machine selector keeps the other selectors as they
   were: choosing a second machine asked for its graphs under the first
   one's num_cpu, a 404 per card. The facts come out of the paths (they
   are one value per machine), every environment gets a file for every
   benchmark (empty where it never ran one), and the page opens on an
   environment whose graphs are all there.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from . import UsageError, asvrun, pages, regressions, results
from .openblas_build import numbers

# Files the tachyon UI fetches that asv 0.6 does not write, with the empty
# value the UI accepts (checked against asv-tachyon 0.5.8's index.js).
STUBS = {"commits.json": {}, "profiles.json": {"paths": {}}, "regressions-ignore.json": []}
LINK_ID = "npthreads-reports"
LINK = (f'<a id="{LINK_ID}" href="reports/index.html" style="position:fixed;right:18px;'
        'bottom:18px;z-index:9999;padding:9px 16px;border-radius:20px;background:#0f766e;'
        'color:#fff;font:600 14px system-ui,sans-serif;text-decoration:none;'
        'box-shadow:0 2px 8px rgba(0,0,0,.25)">Threads x BLAS reports &rarr;</a>')


def install_ui(html_dir):
    """Put tachyon's page over asv's and write the files it asks for."""
    out = subprocess.run([sys.executable, "-m", "asv_tachyon", "install", str(html_dir),
                          "--no-backup"], capture_output=True, text=True)
    if out.returncode:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named asv_tachyon" in out.stderr:
            raise UsageError("asv-tachyon is not installed: run `make publish` (it installs "
                             "requirements/tools.txt)")
        raise UsageError(f"asv-tachyon install failed: {last}")
    for name, value in STUBS.items():
        (html_dir / name).write_text(json.dumps(value))


def mirror_samples(html_dir):
    """The explore and grid views fetch samples/<the graph's path> for a
    distribution panel; an empty object makes it say "no samples"."""
    graphs = html_dir / "graphs"
    for graph in graphs.rglob("*.json"):
        target = html_dir / "samples" / graph.relative_to(graphs)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}")


# The machine.json fields asv writes into each graph's path beside the name.
MACHINE_FACTS = tuple(f for f in results.MACHINE_FIELDS if f != "machine")


def _per_machine(entries):
    """The machine facts that have one value per machine in ``entries``
    (asv's graph_param_list): those select nothing the name does not."""
    values = {}
    for entry in entries:
        for fact in MACHINE_FACTS:
            if fact in entry:
                values.setdefault((fact, entry.get("machine")), set()).add(entry[fact])
    return [f for f in MACHINE_FACTS
            if any(k[0] == f for k in values)
            and all(len(v) == 1 for k, v in values.items() if k[0] == f)]


def one_series_per_machine(html_dir):
    """Take the machine facts out of the graphs' paths and index.json, and
    give every machine at every environment a graph file for every
    benchmark (``[]``, no points, where it never ran one): tachyon's machine
    selector and its overview then ask only for files that exist. Moves
    the graphs; rewrites index.json and the graph paths in regressions.json.
    Returns how many empty graphs it wrote."""
    index_path = html_dir / "index.json"
    data = json.loads(index_path.read_text())
    entries = data.get("graph_param_list") or []
    facts = _per_machine(entries)
    stripped = [{k: v for k, v in e.items() if k not in facts} for e in entries]
    if len({json.dumps(e, sort_keys=True) for e in stripped}) < len(entries):
        facts, stripped = [], [dict(e) for e in entries]   # they would share a path
    moved, empty = {}, 0
    # every machine at every environment: the selector keeps the others
    machines = sorted({str(e.get("machine")) for e in stripped})
    environments = {_environment(e): e for e in stripped}
    pairs = list(zip(entries, stripped)) + [
        (None, dict(e, machine=m)) for e in environments.values() for m in machines
        if not any(_environment(x) == _environment(e) and x.get("machine") == m
                   for x in stripped)]
    for old, new in pairs:
        for benchmark in data.get("benchmarks") or {}:
            source = html_dir / regressions.graph_path(old, benchmark) if old else None
            target = html_dir / regressions.graph_path(new, benchmark)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source is not None and source.is_file():
                os.replace(source, target)
                moved[regressions.graph_path(old, benchmark)] = \
                    regressions.graph_path(new, benchmark)
            elif not target.is_file():
                target.write_text("[]")
                empty += 1
    for folder in sorted((p for p in (html_dir / "graphs").rglob("*") if p.is_dir()),
                         key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    data["graph_param_list"] = stripped
    for fact in facts:
        data.get("params", {}).pop(fact, None)
    index_path.write_text(json.dumps(data))
    reg_path = html_dir / "regressions.json"
    if reg_path.is_file() and moved:
        reg = regressions.read_regressions(reg_path)
        for entry in reg["regressions"]:
            entry[1] = moved.get(entry[1], entry[1])
            entry[2] = {k: v for k, v in entry[2].items() if k not in facts}
        reg_path.write_text(json.dumps(reg))
    return empty


def open_on_a_full_series(index):
    """Put a numpy-axis environment with every field set first in
    index.json's ``graph_param_list``, the newest numpy first. tachyon's
    overview opens on the first entry with its null fields dropped (the
    pin-following environment has numpy: null), then fills them from other
    environments and asks for graphs nobody wrote: a 404 per card. asv's
    order is the order the file system lists result files in, so renaming
    them (issue 10) had put the pinned environment first. A swapped OpenBLAS
    build runs only some benchmarks: not the one to open on either."""
    data = json.loads(index.read_text())
    entries = data.get("graph_param_list")
    if not entries:
        return

    html_dir = Path(index).parent
    benchmarks = data.get("benchmarks") or {}

    def points(entry):
        """How much history the environment's graphs hold: with several
        machines, the one with the most runs first."""
        return sum(_points(html_dir / regressions.graph_path(entry, b)) for b in benchmarks)

    machines = {e.get("machine") for e in entries}
    ran = {}
    for e in entries:
        ran.setdefault(_environment(e), set()).add(e.get("machine"))

    def rank(entry):
        complete = all(v is not None for v in entry.values())
        swapped = bool(entry.get(f"env-{results.OPENBLAS_VAR}"))
        free_threaded = results.is_free_threaded(entry.get("python"))
        # one every machine ran: the machine selector then finds graphs
        everywhere = ran[_environment(entry)] == machines
        newest = [-x for x in numbers(entry.get("numpy") or "")]
        return (not complete, swapped, free_threaded, not everywhere, -points(entry), newest)
    entries.sort(key=rank)
    index.write_text(json.dumps(data))


def _environment(entry):
    """An index.json entry without its machine: what the other selectors say."""
    return json.dumps({k: v for k, v in entry.items() if k != "machine"}, sort_keys=True)


def _points(graph):
    try:
        data = json.loads(graph.read_text())
    except (OSError, ValueError):
        return 0
    return len(data) if isinstance(data, list) else 0


def link_reports(index):
    """Add the link to the reports to the history page, once."""
    text = index.read_text()
    if LINK_ID not in text:
        if "</body>" not in text:
            raise UsageError(f"{index}: no </body> to add the reports link to")
        index.write_text(text.replace("</body>", LINK + "\n</body>", 1))


def publish(root, config, env):
    """asv publish, the offline UI, and the reports; returns an exit code."""
    results_dir, html_dir = asvrun.config_dirs(root, config)
    if not (results_dir / "benchmarks.json").is_file():
        raise UsageError(f"{results_dir}: no benchmarks.json, nothing to publish "
                         "(run `npthreads bench` first)")
    # Read everything once before asv does: a corrupt file is then one line,
    # not an error after a page of asv's progress.
    measurements = results.load(results_dir)
    code = asvrun.asv(["publish", "--config", str(config)], env, root)
    if code:
        return code
    install_ui(html_dir)
    written = pages.write_reports(results_dir, html_dir / "reports")
    link_reports(html_dir / "index.html")
    print(regressions.rewrite(html_dir, results_dir, measurements).line())
    # after the regressions: they match asv's feed by asv's own paths
    one_series_per_machine(html_dir)
    mirror_samples(html_dir)
    open_on_a_full_series(html_dir / "index.json")
    print(f"[npthreads] site: {html_dir}/index.html (serve the folder over HTTP, e.g. "
          f"`python -m http.server -d {html_dir}`; the page does not work from file://)")
    for machine, page in written:
        print(f"[npthreads] report for {machine!r}: {page}")
    return 0
