"""Every committed run stays in asv's history (issue 11): asv keys a
benchmark's history on the sha256 of its code, and ``asv publish`` drops
each result whose version is not the one in benchmarks.json. A refactor
that changes no measurement carries the older runs over
(``results.CARRIED_VERSIONS``) instead of hiding them."""

import json

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


def test_carrying_rewrites_only_the_version_of_the_named_benchmarks(tmp_path):
    carried = {"bench_a.A.time_a": ("old", "new")}
    rows = {"bench_a.A.time_a": asv_files.row([1.0], [], version="old"),
            "bench_b.B.time_b": asv_files.row([2.0], [], version="old"),    # not named
            "bench_c.C.time_c": asv_files.row([3.0], [], version="other")}
    path = asv_files.write(tmp_path / "box", asv_files.result_file(
        "c" * 40, "env", rows, requirements={"numpy": "2.4.6"}, date=1))
    asv_files.write(tmp_path / "box", asv_files.result_file(   # already carried
        "d" * 40, "env", {"bench_a.A.time_a": asv_files.row([1.0], [], version="new")},
        requirements={"numpy": "2.4.6"}, date=2))
    before = json.loads(path.read_text())

    assert results.carry_versions(tmp_path, carried) == 1
    after = json.loads(path.read_text())
    at = after["result_columns"].index("version")
    assert after["results"]["bench_a.A.time_a"][at] == "new"
    before["results"]["bench_a.A.time_a"][at] = "new"
    assert after == before                       # nothing else moved
    assert results.carry_versions(tmp_path, carried) == 0     # idempotent
