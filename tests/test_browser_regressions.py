"""The Regressions tab of the history site of the committed results, in the
real headless chromium with the network cut off (tests/test_browser.py's
fixtures and checks): it loads with no error, and lists exactly the entries
of the rewritten regressions.json, which keeps asv's schema."""

import json
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from .test_browser import Visit, browser, committed_site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

ATOM = "{http://www.w3.org/2005/Atom}"


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_regressions_tab_lists_the_kept_entries(browser, committed_site):  # noqa: F811
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
