"""Every committed run stays in asv's history: ``asv publish`` drops each
result whose version is not the one in benchmarks.json, and asv's default
version is a hash of the benchmark's code. Every benchmark's version is
explicit instead (``benchmarks/versions.py``), so a refactor that changes
no measurement hides nothing."""

import json
import sys

from npthreads import results

from . import asv_files
from .conftest import ROOT


def test_no_committed_result_is_hidden_from_the_site():
    """The same criterion as asv's ``Results.get_result_keys``."""
    current = {name: info["version"]
               for name, info in results.load_benchmarks(ROOT / "results").items()}
    hidden = set()
    for path in (ROOT / "results").glob("*/*.json"):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        at = data["result_columns"].index("version")
        for name, row in data["results"].items():
            if name in current and row[at] is not None and row[at] != current[name]:
                hidden.add((name, data["commit_hash"][:8]))
    assert not hidden, f"asv would not show: {sorted(hidden)[:5]} ({len(hidden)} in all)"


def test_every_benchmark_has_the_version_its_committed_results_carry():
    """asv's own discovery of the suite: each benchmark's version is the
    explicit one, and for every benchmark the committed results know, the
    same as theirs."""
    sys.path.insert(0, str(ROOT))
    from asv_runner.discovery import disc_benchmarks

    from benchmarks.versions import VERSIONS
    committed = results.load_benchmarks(ROOT / "results")
    found = {b.name: b.version for b in disc_benchmarks(str(ROOT / "benchmarks"))}
    assert found and all(found[name] == VERSIONS[name] for name in found)
    changed = {n: (committed[n]["version"][:8], v[:8]) for n, v in found.items()
               if n in committed and committed[n]["version"] != v}
    assert not changed, f"would hide committed history: {changed}"
