"""``npthreads publish``: turn results into one static site that works offline.

Five steps, each because of something the previous one lacks:
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
   rewritten to keep only the steps the sessions support (``regressions``).
"""

import json
import re
import subprocess
import sys

from . import UsageError, asvrun, pages, regressions, results
from .profiles import PROFILES, active_profile

# Files the tachyon UI fetches that asv 0.6 does not write, with the empty
# value the UI accepts (checked against asv-tachyon 0.5.8's index.js).
STUBS = {"commits.json": {}, "profiles.json": {"paths": {}}, "regressions-ignore.json": []}
LINK_ID = "npthreads-reports"
LINK = (f'<a id="{LINK_ID}" href="reports/index.html" style="position:fixed;right:18px;'
        'bottom:18px;z-index:9999;padding:9px 16px;border-radius:20px;background:#0f766e;'
        'color:#fff;font:600 14px system-ui,sans-serif;text-decoration:none;'
        'box-shadow:0 2px 8px rgba(0,0,0,.25)">Threads x BLAS reports &rarr;</a>')


def add_arguments(parser):
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="publish this profile's results (default: 'default')")


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
    # The explore and grid views fetch samples/<the graph's path> for a
    # distribution panel; an empty object makes it say "no samples".
    graphs = html_dir / "graphs"
    for graph in graphs.rglob("*.json"):
        target = html_dir / "samples" / graph.relative_to(graphs)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}")


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

    def rank(entry):
        complete = all(v is not None for v in entry.values())
        swapped = bool(entry.get(f"env-{results.OPENBLAS_VAR}"))
        newest = [-int(x) for x in re.findall(r"\d+", str(entry.get("numpy") or ""))]
        return (not complete, swapped, newest)
    entries.sort(key=rank)
    index.write_text(json.dumps(data))


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
    results.load(results_dir)
    code = asvrun.asv(["publish", "--config", str(config)], env, root)
    if code:
        return code
    install_ui(html_dir)
    open_on_a_full_series(html_dir / "index.json")
    written = pages.write_reports(results_dir, html_dir / "reports")
    link_reports(html_dir / "index.html")
    print(regressions.rewrite(html_dir, results_dir).line())
    print(f"[npthreads] site: {html_dir}/index.html (serve the folder over HTTP, e.g. "
          f"`python -m http.server -d {html_dir}`; the page does not work from file://)")
    for machine, page in written:
        print(f"[npthreads] report for {machine!r}: {page}")
    return 0


def run(args):
    profile = args.profile or active_profile()
    root = asvrun.repo_root()
    conf = asvrun.load_config(root)
    config = asvrun.profile_config(root, profile)
    return publish(root, config, asvrun.asv_environ(conf, profile))
