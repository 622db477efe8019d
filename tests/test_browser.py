"""The published site in Debian's headless chromium, with the network cut off.

Every request that is not to the local test server is aborted (and the
browser's resolver maps every other host to nothing), so a page that needed
a CDN would show errors here. Each page must load with no console error, no
uncaught exception, no failed or 4xx/5xx request; the report's images must
decode and its tables carry the expected rows. playwright drives the system
chromium (tools/install-browser.sh installs it; `make test` runs that);
playwright's own browser download is never used.
"""

import contextlib
import functools
import http.server
import json
import os
import threading
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .test_site import FULL, HOSTILE, QUOTA, published, reports_of  # noqa: F401 (session fixture)

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
                 if os.access(p, os.X_OK)), None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
SHOTS = os.environ.get("NPTHREADS_SCREENSHOTS")   # a folder: keep screenshots there
# The history site's views (asv-tachyon's URL hash routes).
VIEWS = ["overview", "explore", "heatmap", "grid", "multiples", "compare", "regressions",
         "inventory"]
BENCH = "bench_matmul.MatmulThreadSplit.time_matmul_batch"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """A local HTTP server on ``directory`` (tachyon needs HTTP); -> its URL."""
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def server(published):  # noqa: F811
    with serve(published) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # Both are part of the test setup (playwright pinned in tools.txt,
    # chromium installed by `make test`): missing, the tests fail, not skip.
    if CHROMIUM is None:
        pytest.fail("no /usr/bin/chromium: run tools/install-browser.sh (make test does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Visit:
    """A fresh browser context on one page, recording everything that went wrong."""

    def __init__(self, browser, url, ready=None, viewport=None):
        self.context = browser.new_context(viewport=viewport or {"width": 1400, "height": 900},
                                           service_workers="block")
        self.problems = []
        self.context.route("**/*", self._route)
        page = self.page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(
            f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"),
                                     d.dismiss()))
        self.goto(url, ready)

    def _route(self, route):
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            return route.continue_()
        self.problems.append(f"blocked: {url}")
        return route.abort()

    def goto(self, url, ready=None):
        self.page.goto(url, wait_until="networkidle")
        if ready:
            self.page.get_by_text(ready).first.wait_for(timeout=15_000)
        self.page.wait_for_load_state("networkidle")

    def shot(self, name):
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)

    def images(self):
        """[(src, decoded?)] of every <img> on the page, after scrolling them in."""
        return self.page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")

    def close(self):
        self.context.close()


@pytest.mark.parametrize("view", VIEWS)
def test_history_views_render_offline(browser, server, view):
    url = server if view == "overview" else f"{server}#view={view}&bench={BENCH}"
    visit = Visit(browser, url, ready="Threads x BLAS reports")
    try:
        visit.page.wait_for_function("document.querySelector('#root').innerText.length > 200")
        visit.shot(f"history-{view}")
        assert visit.problems == []
        # tachyon found the benchmarks asv published
        assert "MatmulThreadSplit" in visit.page.inner_text("#root") or view in (
            "overview", "regressions", "compare", "heatmap", "inventory")
    finally:
        visit.close()


def test_from_history_to_every_report(browser, server, published):  # noqa: F811
    pages = reports_of(published)
    visit = Visit(browser, server, ready="Threads x BLAS reports")
    try:
        visit.page.click("#npthreads-reports")
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.url.endswith("/reports/index.html")
        visit.shot("reports-index")
        names = visit.page.locator("tbody tr td:first-child a").all_inner_texts()
        assert sorted(names) == sorted(pages)          # the hostile name shown as text
        for machine in sorted(pages):
            visit.goto(server + "reports/index.html")
            visit.page.get_by_role("link", name=machine, exact=True).click()
            visit.page.wait_for_load_state("networkidle")
            visit.page.get_by_text("The advice").first.wait_for()
            images = visit.images()
            assert len(images) == 10 and all(ok for _, ok in images), images
            assert {src.split("-")[0] for src, _ in images} == {"heat", "versions"}
            advice = visit.page.locator("#advice table tbody tr").all_inner_texts()
            assert [row.split("\t")[0] for row in advice] == [
                "MatmulTutorial", "MatmulThreadSplit", "DotBlasThreads", "FillManyArrays",
                "ExpInParts"]
            sentences = visit.page.locator("#advice .sentences li").all_inner_texts()
            assert len(sentences) == len(advice)
            assert all(s.startswith(row.split("\t")[0]) for s, row in zip(sentences, advice))
            heading = visit.page.locator("h1").inner_text()
            assert heading == f"Threads report: {machine}"
            visit.shot("report-" + ("hostile" if machine == HOSTILE else machine))
        assert visit.page.locator("img[src='x']").count() == 0
        assert visit.problems == []
    finally:
        visit.close()


def test_the_fixture_machines_page(browser, server):
    visit = Visit(browser, server + "reports/machines.html",
                  ready="Environments every machine ran")
    try:
        images = visit.images()
        assert len(images) == 1 and all(ok for _, ok in images), images
        assert visit.page.locator("section.across").count() == 5
        assert visit.page.locator("img[src='x']").count() == 0
        assert visit.problems == []
    finally:
        visit.close()


def test_report_rows_per_environment(browser, server, published):  # noqa: F811
    page_path = reports_of(published)["fixture-2cpu"]
    url = server + str(page_path.relative_to(published))
    visit = Visit(browser, url, ready="The machine and its environments")
    try:
        envs = visit.page.locator("#environments ~ table").nth(1).locator("tbody tr")
        rows = [r.split("\t")[:6] for r in envs.all_inner_texts()]
        assert rows == [["numpy 1.26.4", "3.11", "openblas", "0.3.23", "pthreads",
                         "Zen (detected)"],
                        ["numpy 2.4.6", "3.11", "openblas", "0.3.31", "pthreads",
                         "Zen (detected)"]]
        # the report links back into the history view of each scenario
        visit.page.get_by_role("link", name="history", exact=True).first.click()
        visit.page.get_by_text("Threads x BLAS reports").first.wait_for()
        visit.page.wait_for_load_state("networkidle")
        assert "#view=explore&bench=bench_matmul.MatmulTutorial" in visit.page.url
        visit.page.get_by_text("4 param series").wait_for()
        assert visit.problems == []
    finally:
        visit.close()


# -- the site as users get it: the committed results, not a fixture -------------

@pytest.fixture(scope="module")
def committed_site(tmp_path_factory):
    """`npthreads publish` in a fresh clone of this repository: the
    committed results/, published the way a user publishes them."""
    import subprocess

    from .conftest import ROOT, run_cli
    clone = tmp_path_factory.mktemp("committed") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    out = run_cli("publish", cwd=clone, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    with serve(clone / ".asv" / "html") as url:
        yield url


def test_history_of_the_committed_results_shows_values(browser, committed_site):
    """The overview's default selection finds every benchmark's graph (asv
    writes each machine field and matrix variable into the path: a kernel
    string of another session, or "env-NPTHREADS_NUMPY-null", was a 404 per
    card, issue 9), and each card carries a value."""
    visit = Visit(browser, committed_site, ready="Threads x BLAS reports")
    try:
        visit.page.wait_for_function("document.querySelector('#root').innerText.length > 2000")
        visit.page.wait_for_load_state("networkidle")
        visit.shot("committed-overview")
        assert visit.problems == []
        lines = [line.strip() for line in visit.page.inner_text("#root").splitlines()]
        cards = [i for i, line in enumerate(lines) if line.startswith("bench_")]
        assert len(cards) >= 19
        empty = [lines[i] for i in cards if not any(ch.isdigit() for ch in lines[i + 1])]
        # only the benchmarks the opened environment never ran (added since
        # its last run): site.one_series_per_machine gave them an empty graph
        from npthreads import regressions
        index = json.loads(fetch(committed_site + "index.json"))
        opened = index["graph_param_list"][0]
        never = sorted(b for b in index["benchmarks"] if not json.loads(fetch(
            committed_site + urllib.parse.quote(regressions.graph_path(opened, b)))))
        assert sorted(empty) == never and len(never) <= 3, (empty, never)
    finally:
        visit.close()
    # one benchmark's history: its 24 series, and points of the runs
    visit = Visit(browser, f"{committed_site}#view=explore&bench={BENCH}",
                  ready="24 param series")
    try:
        visit.page.wait_for_load_state("networkidle")
        visit.shot("committed-explore")
        text = visit.page.inner_text("#root")
        recent = text.split("RECENT POINTS", 1)[1].split("SOURCE", 1)[0].split()
        assert len(recent) >= 6 and all(any(ch.isdigit() for ch in v) for v in recent[1::2])
        assert visit.problems == []
    finally:
        visit.close()


# A laptop screen: the advice must read without scrolling sideways (issue 16).
LAPTOP = {"width": 1366, "height": 768}


def _advice_fits(visit):
    """(scrollWidth, clientWidth) of the advice section, then of the whole
    page, after layout."""
    return visit.page.eval_on_selector(
        "#advice", "el => [el.scrollWidth, el.clientWidth, "
        "document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def test_the_advice_fits_a_laptop_screen(browser, server, published):  # noqa: F811
    page_path = reports_of(published)["fixture-2cpu"]
    visit = Visit(browser, server + str(page_path.relative_to(published)),
                  ready="The advice", viewport=LAPTOP)
    try:
        section, client, _, _ = _advice_fits(visit)
        assert section <= client, (section, client)
        # the advice comes first: the sentences, then the table
        top = visit.page.eval_on_selector_all(
            "#advice .sentences, #advice table",
            "els => els.map(e => e.getBoundingClientRect().top)")
        assert len(top) == 2 and top[0] < top[1]
        assert visit.problems == []
    finally:
        visit.close()


@pytest.mark.parametrize("machine", [FULL, QUOTA])
def test_the_committed_advice_fits_a_laptop_screen(browser, committed_site, machine):
    """The real pages, with the real sentences and configuration names."""
    from npthreads import pages
    url = f"{committed_site}reports/{pages.slug(machine)}/index.html"
    visit = Visit(browser, url, ready="The advice", viewport=LAPTOP)
    try:
        visit.shot(f"committed-advice-1366-{machine}")
        section, client, _, _ = _advice_fits(visit)
        assert section <= client, (section, client)
        sentences = visit.page.locator("#advice .sentences li").all_inner_texts()
        rows = visit.page.locator("#advice table tbody tr").all_inner_texts()
        assert len(sentences) == len(rows) >= 16
        assert all("tie" not in s and "within noise" not in s for s in sentences)
        assert visit.problems == []
    finally:
        visit.close()


# -- many machines: the index, machines.html, the history's machine selector ----

def test_the_committed_index_and_machines_page(browser, committed_site):
    """The index lists both committed machines with what ran; machines.html,
    reached from it, renders every scenario across them with its image
    decoded, and each machine's page links it."""
    visit = Visit(browser, committed_site + "reports/index.html", ready="reports per machine")
    try:
        rows = [r.split("\t") for r in
                visit.page.locator("tbody tr").all_inner_texts()]
        by_name = {r[0]: r for r in rows}
        assert set(by_name) == {FULL, QUOTA}
        assert by_name[FULL][1] == "2" and by_name[QUOTA][1] == "1"
        assert by_name[FULL][6] == "numpy, openblas, free-threaded"
        assert by_name[QUOTA][6] == "numpy"
        visit.page.click("a#across")
        visit.page.get_by_text("Environments every machine ran").wait_for()
        visit.page.wait_for_load_state("networkidle")
        visit.shot("committed-machines")
        assert visit.page.url.endswith("/reports/machines.html")
        images = visit.images()
        assert images and all(ok for _, ok in images), images
        sections = visit.page.locator("section.across")
        assert sections.count() >= 19
        lines = visit.page.locator("section.across p.line").all_inner_texts()
        assert all(line.endswith(".") for line in lines)
        heads = visit.page.locator("section.across").first.locator("th").all_inner_texts()
        assert heads[1] == f"{FULL} (2 cores): advice" and heads[5] == f"{QUOTA} (1 core): advice"
        for machine in (FULL, QUOTA):
            visit.page.get_by_role("link", name=machine, exact=True).first.click()
            visit.page.wait_for_load_state("networkidle")
            visit.page.locator("a.across").click()
            visit.page.wait_for_load_state("networkidle")
            assert visit.page.url.endswith("/reports/machines.html")
        assert visit.problems == []
    finally:
        visit.close()


@pytest.mark.parametrize("view", ["overview", "explore"])
def test_the_history_machine_selector(browser, committed_site, view):
    """tachyon offers both machines; choosing the other one shows its
    graphs, each fetched (no 404: the machine facts are out of the paths)."""
    url = committed_site if view == "overview" else f"{committed_site}#view=explore&bench={BENCH}"
    visit = Visit(browser, url, ready="Threads x BLAS reports")
    try:
        visit.page.wait_for_function("document.querySelector('#root').innerText.length > 1000")
        visit.page.wait_for_load_state("networkidle")
        select = visit.page.locator("label.filter", has_text="machine").locator("select").first
        options = select.locator("option").all_inner_texts()
        assert sorted(options) == sorted([FULL, QUOTA])
        other = next(o for o in options if o != select.input_value())
        requested = []
        visit.page.on("request", lambda r: "/graphs/" in r.url and requested.append(r.url))
        select.select_option(other)
        visit.page.wait_for_load_state("networkidle")
        visit.page.wait_for_timeout(500)
        visit.page.wait_for_load_state("networkidle")
        visit.shot(f"committed-{view}-{other}")
        assert select.input_value() == other
        assert requested and all(f"machine-{other}/" in urllib.parse.unquote(u)
                                 for u in requested), requested[:3]
        if view == "explore":
            visit.page.get_by_text("24 param series").wait_for()
            text = visit.page.inner_text("#root")
            recent = text.split("RECENT POINTS", 1)[1].split("SOURCE", 1)[0].split()
            assert len(recent) >= 2 and any(ch.isdigit() for ch in recent[1])
        assert visit.problems == []
    finally:
        visit.close()


# -- the Regressions tab: only the steps the sessions support (npthreads.regressions) --

ATOM = "{http://www.w3.org/2005/Atom}"


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_regressions_tab_lists_the_kept_entries(browser, committed_site):
    entries = json.loads(fetch(committed_site + "regressions.json"))["regressions"]
    # asv's schema: [name, graph, params, index, last, best, [[rev1, rev2, v1, v2]]]
    for name, graph, params, idx, last, best, jumps in entries:
        assert name.startswith("bench_") and graph.startswith("graphs/")
        assert isinstance(params, dict) and (idx is None or isinstance(idx, int))
        assert last >= best > 0 and jumps and all(len(j) == 4 for j in jumps)
        json.loads(fetch(committed_site + urllib.parse.quote(graph)))  # its graph exists
    # asv's 5% rule lists hundreds here (host changes, rates read as times)
    assert len(entries) < 50, [e[0] for e in entries]
    feed = ET.fromstring(fetch(committed_site + "regressions.xml"))
    assert len(feed.findall(f"{ATOM}entry")) == sum(len(e[6]) for e in entries)

    # factor 1: every entry shown, not only those 5% worse than their best
    visit = Visit(browser, f"{committed_site}#view=regressions&factor=1",
                  ready="Threads x BLAS reports")
    try:
        visit.page.get_by_text(f"{len(entries)} total", exact=True).wait_for(timeout=15_000)
        visit.page.wait_for_load_state("networkidle")
        visit.shot("committed-regressions")
        rows = visit.page.locator("table.compare-table tbody tr")
        assert rows.count() == len(entries)
        if entries:
            shown = rows.locator("td:first-child .mono").all_inner_texts()
            assert sorted(shown) == sorted(e[0] for e in entries)
        assert visit.problems == []
    finally:
        visit.close()
