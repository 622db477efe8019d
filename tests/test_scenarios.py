"""A scenario's question has two homes that must agree: ``scenarios.SPECS``
(what the tools show; they never import the benchmarks, which need numpy and
an asv environment) and the benchmark class's docstring (what asv and a
reader of benchmarks/ see). The docstring is read with ast, not imported."""

import ast

from npthreads.scenarios import SPECS

from .conftest import ROOT


def _docstrings():
    found = {}
    for path in (ROOT / "benchmarks").glob("bench_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found[node.name] = ast.get_docstring(node) or ""
    return found


def test_each_question_opens_its_benchmark_docstring():
    docs = _docstrings()
    for scenario, spec in SPECS.items():
        assert scenario in docs, f"SPECS names {scenario}, which no benchmark module defines"
        first = " ".join(docs[scenario].split("\n\n")[0].replace("``", "").split())
        assert first == spec.question, scenario
