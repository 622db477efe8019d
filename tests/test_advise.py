"""``npthreads advise``: size parsing, the choice rule, refusals, a tiny
measured grid, and advice read from a fixture of asv results."""

import importlib.metadata
import itertools
import json

import pytest

from npthreads import UsageError, advise

from . import asv_files
from .conftest import run_cli


def test_parse_size():
    assert advise.parse_size("512") == 512
    assert advise.parse_size("1e7") == 10_000_000
    assert advise.parse_size("20_000_000") == 20_000_000
    for bad in ("abc", "0", "-5", "1.5", "inf", "nan", ""):
        with pytest.raises(UsageError):
            advise.parse_size(bad)


def _cell(kind, python, blas, median, spread=0.0, python_label=None, blas_label=None):
    return {"kind": kind, "python": python_label or str(python), "blas": blas_label or str(blas),
            "python_threads": python, "blas_threads": blas, "median": median,
            "q25": median * (1 - spread), "q75": median * (1 + spread)}


def test_recommend_prefers_fewer_threads_among_ties_and_rates_oversubscription():
    cells = [_cell("grid", p, b, t) for p, b, t in [
        (1, 1, 4.0), (1, 2, 2.0), (2, 1, 1.98), (2, 2, 3.1), (4, 1, 1.95), (4, 2, 3.3)]]
    cells += [_cell("serial", 1, 2, 2.1), _cell("naive", 2, 2, 3.0)]
    advice = advise.recommend(cells, cores=2)
    # (4 x 1) is fastest, but (1 x 2) and (2 x 1) are within 5% with half the threads.
    assert advice["fastest"] == "ThreadPool(4), BLAS 1 thread"
    assert (advice["python_threads"], advice["blas_threads"]) in {(1, 2), (2, 1)}
    assert advice["speedup_over_naive"] == pytest.approx(3.0 / advice["seconds"])
    assert advice["speedup_over_serial"] == pytest.approx(2.1 / advice["seconds"])
    assert advice["risk"] == "high"  # 4 x 2 took 3.3 / 1.98 = 1.67x the best that fits
    assert advice["naive_threads"] == 4
    over = {o["config"] for o in advice["oversubscribed"]}
    assert "ThreadPool(4), BLAS 1 thread" in over and "ThreadPool(1), BLAS 2 threads" not in over


def test_recommend_low_risk_when_oversubscription_costs_nothing():
    cells = [_cell("grid", p, b, 1.0) for p, b in itertools.product((1, 2, 4), (1, 2))]
    advice = advise.recommend(cells, cores=2)
    assert advice["risk"] == "low"
    assert (advice["python_threads"], advice["blas_threads"]) == (1, 1)
    assert advice["speedup_over_naive"] is None


@pytest.mark.parametrize("args,needle", [
    (["--workload", "svd"], "unknown workload 'svd'"),
    (["--size", "huge"], "is not a number"),
    (["--size", "0"], "must be a whole number of at least 1"),
    (["--reps", "0"], "--reps 0 must be at least 1"),
    (["--workload", "dot", "--tasks", "4"], "--tasks applies to matmul and fill"),
    (["--tasks", "0"], "--tasks 0 must be at least 1"),
    (["--budget", "-1"], "--budget -1 must be a number of seconds"),
    (["--workload", "matmul", "--size", "1e6"], "GiB of memory is available"),
    (["--workload", "exp", "--size", "1e13"], "GiB of memory is available"),
])
def test_bad_input_is_one_line(args, needle):
    out = run_cli("advise", *args, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("workload,size", [("matmul", "48"), ("dot", "1e5"), ("exp", "1e5")])
def test_tiny_grid_recommends_one_of_its_cells(workload, size):
    out = run_cli("advise", "--workload", workload, "--size", size, "--reps", "2", "--json",
                  timeout=120)
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    cells, advice = block["cells"], block["recommendation"]
    grid = [c for c in cells if c["kind"] == "grid"]
    assert len(grid) == 9 and {c["kind"] for c in cells} == {"grid", "naive"}
    (serial,) = [c for c in cells if c.get("serial_reference")]
    assert serial["executor"] == "serial loop" and serial["blas"] == "default"
    assert all(len(c["runs"]) == 2 for c in cells if not c["reason"])
    chosen = [c for c in grid if (c["python"], c["blas"]) == (advice["python"], advice["blas"])]
    assert len(chosen) == 1
    # A workload that never calls the BLAS is advised on Python threads alone.
    assert advice["uses_blas"] == (workload in ("matmul", "dot"))
    assert advise.label(dict(chosen[0], blas_irrelevant=not advice["uses_blas"])) == advice["best"]
    assert (chosen[0]["python_threads"], chosen[0]["blas_threads"]) == (
        advice["python_threads"], advice["blas_threads"])
    assert advice["speedup_over_naive"] > 0 and advice["speedup_over_serial"] > 0
    assert advice["risk"] in {"low", "moderate", "high"}


# -- advice from a fixture of asv results ------------------------------------

SPLIT = "bench_matmul.MatmulThreadSplit.time_matmul_batch"
TUTORIAL = "bench_matmul.MatmulTutorial.time_matmul_batch"
SIZES = ["'64x64 x128 (cache)'", "'384x384 x8 (compute)'"]
PARAMS = {
    SPLIT: [SIZES, ["'1'", "'cores'", "'2xcores'"], ["'1'", "'cores'"]],
    TUTORIAL: [SIZES, ["'serial loop'", "'ThreadPool()'"], ["'default'", "'tasks/4'"]],
}


def _row(values, params, samples=True):
    # six samples, one per round (no fixed repeat in this benchmarks.json):
    # the rounds the advice weighs, as compare does (issue 8)
    return asv_files.row(values, params, version="v", q25=values, q75=values,
                         samples=[[v] * 6 for v in values] if samples else None)


def _write_fixture(root, numpy_version, best_index, samples=True):
    (root / "fixture-box").mkdir(parents=True)
    (root / "benchmarks.json").write_text(json.dumps({"version": 2, **{
        name: {"param_names": (["size", "python_threads", "blas_threads"] if name == SPLIT
                               else ["size", "executor", "chunksize"]),
               "params": params, "unit": "seconds"} for name, params in PARAMS.items()}}))
    (root / "fixture-box" / "machine.json").write_text(json.dumps(
        {"machine": "fixture-box", "num_cpu": "2", "ram": "1", "version": 1}))
    for version, best in ((numpy_version, best_index), ("1.0.0", 0)):
        split = [1.0] * 12  # 2 sizes x 3 python x 2 blas, product order
        split[best] = 0.25
        # serial/default, serial/tasks/4 (unused), ThreadPool()/default, ThreadPool()/tasks/4
        tutorial = [0.8, 5.0, 2.0, 1.9] * 2
        asv_files.write(root / "fixture-box", asv_files.result_file(
            "abc", f"env-numpy{version}", {SPLIT: _row(split, PARAMS[SPLIT], samples),
                                           TUTORIAL: _row(tutorial, PARAMS[TUTORIAL], samples)},
            requirements={"numpy": version}, date=1))


def test_from_results_reads_the_installed_numpys_environment(tmp_path):
    installed = importlib.metadata.version("numpy")
    # Index 10, in the 384 block (6..11): python "2xcores" (4 threads), blas "1".
    _write_fixture(tmp_path, installed, best_index=10)
    out = run_cli("advise", "--from-results", str(tmp_path), "--size", "384", "--json")
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    assert block["facts"]["env_name"] == f"env-numpy{installed}"
    advice = block["recommendation"]
    assert (advice["python_threads"], advice["blas_threads"]) == (4, 1)
    assert advice["speedup_over_naive"] == pytest.approx(2.0 / 0.25)
    assert advice["speedup_over_serial"] == pytest.approx(0.8 / 0.25)
    # Without --size: one block of advice per size in the results.
    out = run_cli("advise", "--from-results", str(tmp_path))
    assert out.returncode == 0 and out.stdout.count("recommendation:") == 2


def test_from_results_without_samples_uses_asvs_medians(tmp_path):
    """Results of `asv run` without --record-samples have no rounds: the
    cells keep asv's medians instead of counting as unmeasured."""
    _write_fixture(tmp_path, importlib.metadata.version("numpy"), best_index=10,
                   samples=False)
    out = run_cli("advise", "--from-results", str(tmp_path), "--size", "384", "--json")
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    advice = block["recommendation"]
    assert (advice["python_threads"], advice["blas_threads"]) == (4, 1)
    assert advice["speedup_over_naive"] == pytest.approx(2.0 / 0.25)


def test_from_results_refusals_are_one_line(tmp_path):
    _write_fixture(tmp_path, importlib.metadata.version("numpy"), best_index=0)
    for args, needle in [
        (["--size", "999"], "no matmul results at size 999"),
        (["--workload", "exp"], "no exp results"),
    ]:
        out = run_cli("advise", "--from-results", str(tmp_path), *args)
        assert out.returncode == 2 and needle in out.stderr, out.stderr
    (tmp_path / "benchmarks.json").write_text("{not json")
    out = run_cli("advise", "--from-results", str(tmp_path))
    assert out.returncode == 2 and "not a readable asv result file" in out.stderr
    out = run_cli("advise", "--from-results", str(tmp_path / "missing"))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_recommend_leaves_the_blas_at_its_default_when_that_is_no_slower():
    cells = [_cell("grid", 1, 2, 1.00, blas_label="cores"),
             _cell("grid", 1, 2, 1.01, blas_label="default"),
             _cell("grid", 2, 2, 1.30, blas_label="default")]
    advice = advise.recommend(cells, cores=2)
    assert (advice["python"], advice["blas"]) == ("1", "default")


def test_a_workload_without_blas_pools_the_blas_columns():
    cells = []
    for python, count, times in [("1", 1, [2.0, 2.1, 1.9]), ("cores", 2, [1.0, 1.4, 1.02])]:
        for blas, t in zip(("1", "cores", "default"), times):
            cell = _cell("grid", count, 1 if blas == "1" else 2, t,
                         python_label=python, blas_label=blas)
            cell["runs"] = [t, t * 1.01]
            cells.append(cell)
    advice = advise.recommend(cells, cores=2, uses_blas=False)
    assert advice["best"] == "ThreadPool(2), any BLAS setting"
    assert advice["risk"] == "low" and advice["oversubscribed"] == []


def test_time_budget_stops_adding_runs_after_three():
    out = run_cli("advise", "--size", "48", "--reps", "20", "--budget", "0.000001", "--json")
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    assert block["facts"]["rounds"] == 3
    assert all(len(c["runs"]) == 3 for c in block["cells"] if not c["reason"])
    assert "time budget" in block["title"]
