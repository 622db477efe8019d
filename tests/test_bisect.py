"""``npthreads bisect``: the search, its candidates and its judging, on
synthetic rounds judged by the real verdict machinery, and one real run
over three OpenBLAS builds (slow)."""

import json
import random

import pytest

from npthreads import UsageError, bisect, results
from npthreads.verdicts import SLOWER

from .conftest import run_cli

BUILDS = ["0.3.23.293", "0.3.23.293.1", "0.3.23.293.2", "0.3.24.95.0", "0.3.24.95.1",
          "0.3.26.0", "0.3.26.0.4", "0.3.27.0.0", "0.3.27.0.1", "0.3.27.44.4",
          "0.3.27.44.6", "0.3.27.63.1", "0.3.28.0.2"]
ROW = bisect.RowSpec("bench_dot.DotBlasThreads.time_dot",
                     (("size", "1e5 (cache)"), ("blas_threads", "2xcores")))


def test_candidates_are_the_newest_packaging_of_each_snapshot_in_between():
    assert bisect.between(BUILDS, "0.3.23.293.2", "0.3.27.44.4") == [
        "0.3.24.95.1", "0.3.26.0.4", "0.3.27.0.1"]
    # the same snapshot re-packaged is not a candidate
    assert bisect.between(BUILDS, "0.3.27.44.4", "0.3.27.44.6") == []
    assert bisect.snapshot("0.3.27.44.6") == (0, 3, 27, 44)


@pytest.mark.parametrize("first", range(1, 7))
def test_the_search_finds_the_first_new_build_wherever_it_is(first):
    candidates = [f"b{i}" for i in range(7)]   # b0 old end, b6 new end
    asked = []

    def classify(middle, lo, hi):
        asked.append(middle)
        return (bisect.NEW if candidates.index(middle) >= first else bisect.OLD), "synthetic"

    search = bisect.bisect_builds(candidates, classify)
    assert search.first_new == f"b{first}"
    assert search.candidates[search.old] == f"b{first - 1}"
    assert len(asked) <= 3          # log2 of 6 gaps, rounded up


def test_the_search_stops_at_a_build_it_cannot_place():
    candidates = ["old", "a", "b", "c", "new"]
    search = bisect.bisect_builds(candidates, lambda m, lo, hi: (None, "both ends differ"))
    assert search.first_new is None and search.stopped == "b: both ends differ"
    assert search.steps == [("b", None, "both ends differ")]


class SyntheticBench(bisect.Bench):
    """The real judging (compare's verdicts over rounds) on rounds made up
    here instead of measured: builds from ``first`` on are ``factor`` slower."""

    def __init__(self, first, factor, spread=0.02):
        self.row, self.history, self.measured, self._past = ROW, [], {}, None
        self.first, self.factor, self.spread = first, factor, spread
        self.rng = random.Random(1)

    def measure(self, envs, label):
        for env in envs:
            slow = bisect.snapshot(env.build) >= bisect.snapshot(self.first)
            base = 1e-4 * (self.factor if slow else 1.0)
            samples = [base * (1 + self.rng.gauss(0, self.spread)) for _ in range(18)]
            self.measured[env] = results.Measurement(
                "m", str(env), "c", ROW.benchmark, dict(ROW.params), base, "ok", "seconds",
                samples=samples, per_round=3)
        return {e: self.measured[e] for e in envs}


def test_bisect_names_the_build_where_synthetic_rounds_step_up():
    bench = SyntheticBench("0.3.26.0.4", 3.0)
    ends = [bisect.Env("2.0.2", "0.3.23.293.2"), bisect.Env("2.0.2")]
    bench.measure(ends, "ends")
    step, row = bench.differ(*ends)
    assert step == SLOWER and row.ratio == pytest.approx(3.0, rel=0.05)
    candidates = [ends[0]] + [bisect.Env("2.0.2", b) for b in
                              bisect.between(BUILDS, "0.3.23.293.2", "0.3.27.44.4")] + [ends[1]]
    search = bisect.bisect_builds(candidates, lambda m, lo, hi: bench.place(m, lo, hi, step))
    assert search.first_new == bisect.Env("2.0.2", "0.3.26.0.4")
    assert search.candidates[search.old].build == "0.3.24.95.1"


def test_a_change_within_the_noise_is_not_placed():
    """5% under 30% round noise: the middle build matches neither end."""
    bench = SyntheticBench("0.3.26.0.4", 1.05, spread=0.3)
    lo, mid, hi = (bisect.Env("2.0.2", "0.3.23.293.2"), bisect.Env("2.0.2", "0.3.26.0.4"),
                   bisect.Env("2.0.2"))
    side, why = bench.place(mid, lo, hi, SLOWER)
    assert side is None and "matches neither end" in why


def test_plan_attributes_with_the_newer_numpy_hosting_the_older_build():
    envs, builds, host = bisect.plan(("numpy", "1.26.4"), ("numpy", "2.0.2"), None, BUILDS)
    assert builds == ("0.3.23.293.2", "0.3.27.44.4") and host == "2.0.2"
    # numpy 2.x cannot load 0.3.23.293: the nearest build it can
    assert envs == [bisect.Env("1.26.4"), bisect.Env("2.0.2"),
                    bisect.Env("2.0.2", "0.3.24.95.1")]
    envs, _, _ = bisect.plan(("numpy", "2.2.6"), ("numpy", "2.4.6"), None, BUILDS)
    assert envs[2] == bisect.Env("2.4.6", "0.3.29.0.0")
    # numpys vendoring the same snapshot: numpy alone
    envs, _, _ = bisect.plan(("numpy", "2.0.2"), ("numpy", "2.1.3"), None, BUILDS)
    assert envs == [bisect.Env("2.0.2"), bisect.Env("2.1.3")]
    with pytest.raises(UsageError, match="not known"):
        bisect.plan(("numpy", "1.25.0"), ("numpy", "2.0.2"), None, BUILDS)
    with pytest.raises(UsageError, match="not on the package index"):
        bisect.plan(("openblas", "0.3.99.0.0"), ("openblas", "0.3.27.44.4"), None, BUILDS)


def test_the_bisect_config_has_exactly_the_requested_environments(tmp_path, repo_root):
    envs = [bisect.Env("1.26.4"), bisect.Env("2.0.2", "0.3.23.293.2")]
    path = bisect.bisect_config(repo_root, envs, tmp_path / "results")
    conf = json.loads(path.read_text())
    assert [(i["req"]["numpy"], i["env"][bisect.OPENBLAS_VAR]) for i in conf["include"]] == [
        ("1.26.4", ""), ("2.0.2", "0.3.23.293.2")]
    assert conf["exclude"] == [{"req": {"numpy": conf["matrix"]["req"]["numpy"][0]}}]
    assert conf["results_dir"] == str(tmp_path / "results")


@pytest.mark.parametrize("argv, message", [
    (["DotBlasThreads.time_dot", "--param", "size=1e5 (cache)", "--from", "numpy==1.26.4",
      "--to", "numpy==2.0.2"], "--param blas_threads=... is needed"),
    (["DotBlasThreads.time_dot", "--param", "size=1e5 (cache)", "--param", "blas_threads=0",
      "--from", "numpy==1.26.4", "--to", "numpy==2.0.2"], "blas_threads='0' is not in the grid"),
    (["NoSuchBench.time_x", "--from", "numpy==1.26.4", "--to", "numpy==2.0.2"], "not found"),
    (["DotBlasThreads.time_dot", "--param", "size=1e5 (cache)", "--param", "blas_threads=1",
      "--from", "numpy==1.26.4", "--to", "numpy==2.0.2", "--rounds", "3"],
     "at least 4 rounds a side"),
    (["DotRate.track_gbytes_per_s", "--param", "size=1e5 (cache)", "--param", "blas_threads=1",
      "--from", "numpy==1.26.4", "--to", "numpy==2.0.2"], "tracked value"),
])
def test_bad_rows_are_one_line_errors(argv, message):
    proc = run_cli("bisect", *argv)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_the_whole_command_attributes_then_bisects_synthetic_rounds(capsys):
    """1.26.4 -> 2.0.2 with builds from 0.3.26 on 3x slower: the step
    follows OpenBLAS, numpy plays no part, and 0.3.26.0.4 is named."""
    bench = SyntheticBench("0.3.26.0.4", 3.0)
    envs, (old, new), host = bisect.plan(("numpy", "1.26.4"), ("numpy", "2.0.2"), None, BUILDS)
    code = bisect._run(bench, envs, old, new, host, BUILDS, started=0.0)
    out = capsys.readouterr().out
    assert code == 0
    assert "first OpenBLAS build that shows the change: 0.3.26.0.4" in out
    assert "(the one before, 0.3.24.95.1, does not)" in out
    assert "numpy plays no part" in out


def test_a_step_that_is_numpys_is_not_bisected(capsys):
    """Same OpenBLAS snapshot in both wheels: the step is numpy's."""
    class NumpyStep(SyntheticBench):
        def measure(self, envs, label):
            got = super().measure(envs, label)
            for env, m in got.items():
                if env.numpy == "2.1.3":
                    m.samples = [s * 2 for s in m.samples]
            return got
    bench = NumpyStep("9.9.9", 1.0)
    envs, (old, new), host = bisect.plan(("numpy", "2.0.2"), ("numpy", "2.1.3"), None, BUILDS)
    assert bisect._run(bench, envs, old, new, host, BUILDS, started=0.0) == 0
    assert "numpy plays the part" in capsys.readouterr().out


def test_two_builds_under_one_numpy_go_straight_to_the_search(capsys):
    bench = SyntheticBench("0.3.27.0.1", 4.0)
    envs, (old, new), host = bisect.plan(("openblas", "0.3.24.95.1"),
                                         ("openblas", "0.3.27.44.6"), "2.4.6", BUILDS)
    assert envs == [bisect.Env("2.4.6", "0.3.24.95.1"), bisect.Env("2.4.6", "0.3.27.44.6")]
    assert bisect._run(bench, envs, old, new, host, BUILDS, started=0.0) == 0
    out = capsys.readouterr().out
    assert "first OpenBLAS build that shows the change: 0.3.27.0.1" in out
    assert "numpy plays" not in out


@pytest.mark.slow
def test_a_real_bisect_over_three_openblas_builds():
    """Real asv, real scipy-openblas64 builds swapped into numpy 2.4.6
    (``openblas_build``): the dot at BLAS threads above the core count steps
    up ~200x with OpenBLAS 0.3.27 (README), and the one build in between,
    0.3.27.0.1, is the first that shows it."""
    proc = run_cli("bisect", "DotBlasThreads.time_dot", "--param", "size=1e5 (cache)",
                   "--param", "blas_threads=2xcores", "--from", "openblas==0.3.26.0.4",
                   "--to", "openblas==0.3.27.44.6", "--numpy", "2.4.6", "--rounds", "4",
                   "--timeout", "1200", timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "1 snapshot(s) in between: 0.3.27.0.1" in proc.stdout
    assert "first OpenBLAS build that shows the change: 0.3.27.0.1 " \
           "(the one before, 0.3.26.0.4, does not), under numpy 2.4.6" in proc.stdout


class TwoSteps(SyntheticBench):
    """Builds from ``first`` on are ``factor`` slower, and builds from
    ``second`` on another ``second_factor``."""

    def __init__(self, first, factor, second, second_factor):
        super().__init__(first, factor)
        self.second, self.second_factor = second, second_factor

    def measure(self, envs, label):
        got = super().measure(envs, label)
        for env, m in got.items():
            if bisect.snapshot(env.build) >= bisect.snapshot(self.second):
                m.samples = [s * self.second_factor for s in m.samples]
        return got


@pytest.mark.parametrize("second_factor, side", [(1.2, bisect.NEW), (30.0, None)])
def test_a_middle_build_that_carries_nearly_all_of_the_step_is_placed(second_factor, side):
    """CI measured 0.3.27.0.1 at 330x the old end and 1.21x off the new end:
    it is new. A middle that carries only part of the step is not placed."""
    bench = TwoSteps("0.3.27.0.1", 300.0, "0.3.27.44.6", second_factor)
    lo, mid, hi = (bisect.Env("2.4.6", "0.3.26.0.4"), bisect.Env("2.4.6", "0.3.27.0.1"),
                   bisect.Env("2.4.6", "0.3.27.44.6"))
    bench.measure([lo, hi], "ends")
    step, _ = bench.differ(lo, hi)
    got, why = bench.place(mid, lo, hi, step)
    assert got == side, why
    assert bisect.step_share(330.0, 1.21) == pytest.approx(0.968, abs=0.01)
    assert bisect.step_share(None, 2.0) is None
