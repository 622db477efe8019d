"""``npthreads advise``: size parsing, the choice rule, refusals, a tiny
measured grid, and advice read from a fixture of asv results."""

import importlib.metadata
import itertools
import json

import pytest

from npthreads import UsageError, advise, choice

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
    return advise.Cell(kind, python_label or str(python), blas_label or str(blas),
                       python_threads=python, blas_threads=blas, median=median,
                       q25=median * (1 - spread), q75=median * (1 + spread))


def test_recommend_prefers_fewer_threads_among_ties_and_rates_oversubscription():
    cells = [_cell("grid", p, b, t) for p, b, t in [
        (1, 1, 4.0), (1, 2, 2.0), (2, 1, 1.98), (2, 2, 3.1), (4, 1, 1.95), (4, 2, 3.3)]]
    cells += [_cell("serial", 1, 2, 2.1), _cell("naive", 2, 2, 3.0)]
    advice = advise.recommend(cells, cores=2)
    # (4 x 1) is fastest, but (1 x 2) and (2 x 1) are within 5% with half the threads.
    assert advice.fastest == "ThreadPool(4), BLAS 1 thread"
    assert (advice.python_threads, advice.blas_threads) in {(1, 2), (2, 1)}
    assert advice.speedup_over_naive == pytest.approx(3.0 / advice.seconds)
    assert advice.speedup_over_serial == pytest.approx(2.1 / advice.seconds)
    assert advice.risk == "high"  # 4 x 2 took 3.3 / 1.98 = 1.67x the best that fits
    assert advice.naive_threads == 4
    over = {o.config for o in advice.oversubscribed}
    assert "ThreadPool(4), BLAS 1 thread" in over and "ThreadPool(1), BLAS 2 threads" not in over


def test_recommend_low_risk_when_oversubscription_costs_nothing():
    cells = [_cell("grid", p, b, 1.0) for p, b in itertools.product((1, 2, 4), (1, 2))]
    advice = advise.recommend(cells, cores=2)
    assert advice.risk == "low"
    assert (advice.python_threads, advice.blas_threads) == (1, 1)
    assert advice.speedup_over_naive is None


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
    cell = advise.Cell(**dict(chosen[0], blas_irrelevant=not advice["uses_blas"]))
    assert advise.label(cell) == advice["best"]
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


def test_from_results_reads_the_newest_numpy_without_a_pinned_one(tmp_path):
    # Index 10, in the 384 block (6..11): python "2xcores" (4 threads), blas "1".
    _write_fixture(tmp_path, "9.9.9", best_index=10)
    out = run_cli("advise", "--from-results", str(tmp_path), "--size", "384", "--json")
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    assert block["facts"]["env_name"] == "env-numpy9.9.9"
    advice = block["recommendation"]
    assert (advice["python_threads"], advice["blas_threads"]) == (4, 1)
    assert advice["decided"] and advice["margin"] == pytest.approx(1.0)
    assert advice["evidence"] == "6 rounds"      # one run: its rounds are the evidence
    assert advice["speedup_over_naive"] == pytest.approx(2.0 / 0.25)
    assert advice["speedup_over_serial"] == pytest.approx(0.8 / 0.25)
    # Without --size: one block of advice per size in the results.
    out = run_cli("advise", "--from-results", str(tmp_path))
    assert out.returncode == 0 and out.stdout.count("recommendation:") == 2


def test_from_results_defaults_to_the_pin_following_environment_not_the_openblas_axis(
        tmp_path):
    """The environment a user runs (issue 16): the pin-following one, even
    where an OpenBLAS-axis environment (a build swapped into a numpy) has
    newer results; --env names another, as compare's --from does."""
    _write_fixture(tmp_path, "9.9.9", best_index=10)
    for name, numpy, env_vars, best, date in [
            ("env-pinned", None, {}, 7, 2),
            ("env-numpy9.9.9-openblas", "9.9.9", {"NPTHREADS_OPENBLAS": "0.3.27.44.6"}, 8, 3)]:
        split = [1.0] * 12
        split[best] = 0.25
        tutorial = [0.8, 5.0, 2.0, 1.9] * 2
        asv_files.write(tmp_path / "fixture-box", dict(asv_files.result_file(
            "abc", name, {SPLIT: _row(split, PARAMS[SPLIT]),
                          TUTORIAL: _row(tutorial, PARAMS[TUTORIAL])},
            requirements={"numpy": numpy} if numpy else {}, date=date), env_vars=env_vars))

    def advised(*args):
        out = run_cli("advise", "--from-results", str(tmp_path), "--size", "384", "--json",
                      *args)
        assert out.returncode == 0, out.stderr
        (block,) = json.loads(out.stdout)["advice"]
        return block["facts"], block["recommendation"]

    facts, advice = advised()
    assert facts["env_name"] == "env-pinned" and facts["openblas_build"] == ""
    assert (advice["python"], advice["blas"]) == ("1", "cores")         # index 7
    facts, _ = advised("--env", "numpy==9.9.9")
    assert facts["env_name"] == "env-numpy9.9.9"
    facts, advice = advised("--env", "openblas==0.3.27.44.6")
    assert facts["openblas_build"] == "0.3.27.44.6"
    assert (advice["python"], advice["blas"]) == ("cores", "1")         # index 8
    out = run_cli("advise", "--from-results", str(tmp_path), "--env", "numpy==0.1")
    assert out.returncode == 2 and "no environment matches numpy==0.1" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = run_cli("advise", "--env", "numpy==9.9.9")
    assert out.returncode == 2 and "--env applies to --from-results" in out.stderr


def test_from_results_of_the_committed_runs_is_pooled_and_not_the_openblas_axis(repo_root):
    """On the committed results: the default environment is never one of
    the OpenBLAS axis, the cells are judged on the full runs pooled, and the
    advice keeps to the rule's promises."""
    from npthreads import results
    measurements = results.load(repo_root / "results")
    env = advise.default_env(results.latest_per_environment(measurements))
    assert env and not any(m.openblas_build for m in measurements if m.env_name == env)
    out = run_cli("advise", "--from-results", str(repo_root / "results"), "--json")
    assert out.returncode == 0, out.stderr
    for block in json.loads(out.stdout)["advice"]:
        assert block["facts"]["openblas_build"] == ""
        assert block["facts"]["env_name"] == env
        advice = block["recommendation"]
        assert advice["evidence"].startswith("pooled over ")
        times = {(t["python"], t["blas"]): t["seconds"] for t in advice["times"]}
        fastest = min(t["seconds"] for t in advice["times"] if t["kind"] in ("grid", "serial"))
        if advice["decided"]:
            assert 1.0 <= advice["margin"] <= choice.MARGIN
            assert times[(advice["python"], advice["blas"])] <= fastest * advice["margin"] * 1.0001
        else:
            assert advice["margin"] is None and advice["contenders"] and "more runs" in \
                advice["settle"]


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
    assert (advice.python, advice.blas) == ("1", "default")


def test_a_workload_without_blas_pools_the_blas_columns():
    cells = []
    for python, count, times in [("1", 1, [2.0, 2.1, 1.9]), ("cores", 2, [1.0, 1.4, 1.02])]:
        for blas, t in zip(("1", "cores", "default"), times):
            cell = _cell("grid", count, 1 if blas == "1" else 2, t,
                         python_label=python, blas_label=blas)
            cell.runs = [t, t * 1.01]
            cells.append(cell)
    advice = advise.recommend(cells, cores=2, uses_blas=False)
    assert advice.best == "ThreadPool(2), any BLAS setting"
    assert advice.risk == "low" and advice.oversubscribed == []


def test_time_budget_stops_adding_runs_after_three():
    out = run_cli("advise", "--size", "48", "--reps", "20", "--budget", "0.000001", "--json")
    assert out.returncode == 0, out.stderr
    (block,) = json.loads(out.stdout)["advice"]
    assert block["facts"]["rounds"] == 3
    assert all(len(c["runs"]) == 3 for c in block["cells"] if not c["reason"])
    assert "time budget" in block["title"]


# -- the decision rule (npthreads.choice, issue 16) ----------------------------

def _synthetic(rng, n):
    """Random cells: (options, interval of each against each) from true
    levels, each cell's interval around its ratio as wide as its noise."""
    level = {k: rng.uniform(1.0, 2.0) for k in range(n)}
    width = {k: rng.choice([1.02, 1.08, 1.2, 1.6, 2.5]) for k in range(n)}
    options = [choice.Option(k, level[k], threads=rng.choice([1, 2, 4, 8]),
                             blas_default=rng.random() < 0.5, order=(k,)) for k in range(n)]

    def interval(a, b):
        ratio = level[b] / level[a]
        w = max(width[a], width[b])
        return choice.Interval(ratio, ratio / w, ratio * w)

    return options, level, interval


def test_the_rule_never_recommends_beyond_its_margin():
    import random
    rng = random.Random(16)
    decided = undecided = 0
    for _ in range(3000):
        options, level, interval = _synthetic(rng, rng.randint(1, 9))
        c = choice.choose(options, interval)
        best = min(level, key=level.get)
        assert c.best == best and c.intervals[best].ratio == 1.0
        # star == table: the one cell the advice names
        assert c.named == (c.recommended if c.decided else c.best)
        if not c.decided:
            undecided += 1
            assert c.margin is None and c.margin_text() == "—" and c.contenders
            # no cell still open could be bounded within 25% of every other
            open_ = [o for o in options if o.key in (best, *c.contenders)]
            assert all((choice.margin_of(o.key, open_, c.intervals, best, interval) or 9)
                       > choice.MARGIN for o in open_)
            continue
        decided += 1
        assert 1.0 <= c.margin <= choice.MARGIN
        # no measured alternative is faster than the recommendation beyond the margin
        assert all(level[c.named] <= level[k] * c.margin * (1 + 1e-9) for k in level)
        # the recommendation is not clearly slower, and has the fewest threads of the
        # cells still open whose margin fits
        assert not choice.clearly_slower(c.intervals[c.named])
        open_ = [o for o in options
                 if o.key == best or not choice.clearly_slower(c.intervals[o.key])]
        fewest = min(o.threads for o in open_
                     if choice.margin_of(o.key, open_, c.intervals, best, interval) is not None
                     and choice.margin_of(o.key, open_, c.intervals, best, interval)
                     <= choice.MARGIN)
        assert next(o for o in options if o.key == c.named).threads == fewest
        # and no open cell is faster than it beyond the margin, by its interval
        assert all(interval(o.key, c.named).high <= c.margin * (1 + 1e-9)
                   for o in open_ if o.key != c.named)
    assert decided > 300 and undecided > 300


def test_the_rule_cannot_tell_when_the_intervals_are_wide():
    options = [choice.Option("one", 1.0, threads=1), choice.Option("four", 0.9, threads=4)]

    def wide(a, b):
        return choice.Interval(1.11, 0.6, 2.0)

    c = choice.choose(options, wide)
    assert not c.decided and c.named == c.best == "four" and c.contenders == ["one"]

    def narrow(a, b):
        return choice.Interval(1.11, 1.0, 1.2)

    c = choice.choose(options, narrow)
    assert c.decided and c.named == "one" and c.margin == pytest.approx(1.2)
    assert c.margin_text() == "+20%"

    def clearly(a, b):
        return choice.Interval(1.11, 1.06, 1.16)

    c = choice.choose(options, clearly)
    assert c.decided and c.named == "four" and c.margin == 1.0 and c.contenders == []
    # within one run the rounds must also separate before a cell is dropped
    c = choice.choose(options, lambda a, b: choice.Interval(1.6, 1.3, 2.0, separated=False))
    assert not c.decided and c.contenders == ["one"]


def test_the_best_is_the_lowest_estimate_even_when_pooled_ratios_disagree():
    """Pooled contrasts need not be transitive: a cell whose ratio to the
    first pick comes out below 1 becomes the fastest measured."""
    options = [choice.Option("a", 1.0, threads=1), choice.Option("b", 1.01, threads=2)]
    ratio = {("a", "b"): 0.97, ("b", "a"): 1 / 0.97}
    c = choice.choose(options, lambda x, y: choice.Interval(ratio[(x, y)], ratio[(x, y)] / 1.1,
                                                            ratio[(x, y)] * 1.1))
    assert c.best == "b" and c.ratio("a") == pytest.approx(1 / 0.97)
    assert c.decided and c.named == "a" and c.margin == pytest.approx(1.1 / 0.97)


def test_the_race_drops_clearly_slower_cells_and_stops_once_decided():
    cells = advise.grid_configs()
    for i, c in enumerate(cells):
        c.python_threads = {"1": 1, "cores": 2, "2xcores": 4, "ThreadPool()": 2}[c.python]
        c.blas_threads = 1 if c.blas == "1" else 2
        if (c.python, c.blas) in {("cores", "1"), ("1", "cores")}:
            c.runs = [1.0, 1.5, 0.8, 1.3, 0.9]     # two contenders, their rounds scattered
        else:
            c.runs = [3.0 * (1 + 0.01 * (j % 3)) for j in range(5)]
        c.reason = None
    active, decided = advise._contenders(cells, uses_blas=True)
    assert not decided
    assert {(c.python, c.blas) for c in active} == {("cores", "1"), ("1", "cores")}
    # the two contenders agree within 1%: the rule decides, the race stops
    for c in active:
        c.runs = [1.0 * (1 + 0.005 * (j % 3)) for j in range(8)]
    _, decided = advise._contenders(cells, uses_blas=True)
    assert decided
    # a cell the race dropped is no candidate: never recommended
    cells[0].dropped_after = 4
    cells[0].runs = [0.5] * 5
    advice = advise.recommend(cells, cores=2)
    assert advice.best != advise.label(cells[0])
