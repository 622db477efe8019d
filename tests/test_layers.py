"""The line between the code that runs inside asv's environments and the
tools (issue 11): the in-environment modules and the benchmark suite import
with only numpy, threadpoolctl and the standard library, and pull in no tool
module."""

import ast
import json
import subprocess
import sys

import npthreads

from .conftest import ROOT

# Blocks the tools' own dependencies, as an asv environment lacks them.
PROBE = r"""
import importlib, importlib.abc, json, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("asv", "asv_runner", "matplotlib", "jinja2", "json5"):
            raise ImportError(f"{name} is not installed in an asv environment")
sys.meta_path.insert(0, Absent())
sys.path.insert(0, ".")
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("npthreads."))))
"""


def _probe(*modules):
    proc = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def test_in_environment_modules_need_no_tool():
    allowed = {f"npthreads.{m}" for m in npthreads.IN_ENVIRONMENT}
    assert _probe(*sorted(allowed)) <= allowed


def test_the_benchmark_suite_imports_only_in_environment_modules():
    suite = [f"benchmarks.{p.stem}" for p in (ROOT / "benchmarks").glob("bench_*.py")]
    assert len(suite) >= 6
    loaded = _probe("benchmarks.common", *suite)
    assert loaded <= {f"npthreads.{m}" for m in npthreads.IN_ENVIRONMENT}, loaded


def _imports_of(path):
    """The sibling modules ``path`` imports (``from . import x``,
    ``from .x import y``), at any depth of the file: a function-level
    import counts as much as one at the top."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= ({node.module.split(".")[0]} if node.module
                      else {alias.name for alias in node.names})
    return found


def test_no_import_cycle_among_the_modules():
    """Layers point one way (issue 11): e.g. compare -> compare_report, never back."""
    package = ROOT / "src" / "npthreads"
    modules = {p.stem for p in package.glob("*.py")}
    graph = {m: _imports_of(package / f"{m}.py") & modules - {m} for m in modules}
    assert graph["compare"] >= {"compare_report"}   # the walk sees real edges

    def cycle_from(start, path):
        for nxt in graph[path[-1]]:
            if nxt == start:
                return path + [nxt]
            if nxt not in path:
                found = cycle_from(start, path + [nxt])
                if found:
                    return found
        return None

    cycles = [c for c in (cycle_from(m, [m]) for m in sorted(modules)) if c]
    assert not cycles, " -> ".join(cycles[0])


def test_the_reader_writes_nothing():
    """results.py only reads asv's files; every rewrite lives in migrate.py."""
    tree = ast.parse((ROOT / "src" / "npthreads" / "results.py").read_text())
    writes = {"write_text", "write_bytes", "replace", "unlink", "rename", "rmtree", "remove",
              "mkdir", "dump"}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        mode = [a for a in node.args[1:2] if isinstance(a, ast.Constant)]
        mode += [k.value for k in node.keywords
                 if k.arg == "mode" and isinstance(k.value, ast.Constant)]
        if name in writes or (name == "open"
                               and any(set(str(m.value)) & set("wax+") for m in mode)):
            found.append(f"{name} at line {node.lineno}")
    assert not found, found


def _command_modules():
    """The modules ``cli.COMMANDS`` runs ("npthreads.fleet:name_command" -> fleet)."""
    from npthreads import cli
    return {target.partition(":")[0].rpartition(".")[2] for target, _ in cli.COMMANDS.values()}


# No exception: ``bench`` publishes through ``site`` (the engine), not the
# ``publish`` command.
PIPELINE_EDGES = set()


def test_no_command_imports_another_command():
    """A command's engine lives in a module of its own (``comparison`` for
    ``compare``), so one command never imports another to borrow it."""
    package = ROOT / "src" / "npthreads"
    commands = _command_modules()
    assert {"compare", "bisect", "reproduce", "advise", "bench"} <= commands
    edges = {(m, other) for m in commands
             for other in _imports_of(package / f"{m}.py") & commands - {m}}
    assert edges <= PIPELINE_EDGES, sorted(edges - PIPELINE_EDGES)
