"""``npthreads seed``: faithful programs, sizes, verdict rule, refusals, a tiny run."""

import json
import os

import pytest

from npthreads import UsageError, seed, seed_programs, stats

from .conftest import run_cli

# Line counts of the tutorial's listings ("1 2 3 ... 20 |").
LISTING_LINES = {"S1": 20, "S2": 25, "S3": 25, "S4": 17, "S5": 15, "S6": 14, "S7": 23}


def test_programs_have_the_tutorials_listing_lengths_and_figures():
    for i, exp in seed.EXPERIMENTS.items():
        assert len(exp.program.splitlines()) == LISTING_LINES[i], i
        assert exp.program.rstrip().endswith("print(f'Took {duration:.3f} seconds')")
    assert "chunksize=25" in seed.EXPERIMENTS["S3"].program
    s4 = seed.EXPERIMENTS["S4"].program
    assert s4.index("environ['OMP_NUM_THREADS'] = '1'") < s4.index("from numpy import ones")
    assert [seed.EXPERIMENTS[i].tutorial_seconds for i in seed.EXPERIMENTS] == [
        10.705, 17.354, None, 5.750, 5.462, 7.615, 7.810]


def test_full_scale_is_the_tutorials_text_unchanged():
    for exp in seed.EXPERIMENTS.values():
        assert seed.tutorial_program(exp, seed.sizes(exp.group, 1.0)) == exp.program


def test_only_sizes_change_when_scaled():
    for exp in seed.EXPERIMENTS.values():
        scaled = seed.tutorial_program(exp, seed.sizes(exp.group, 0.08)).splitlines()
        original = exp.program.splitlines()
        changed = [(a, b) for a, b in zip(original, scaled) if a != b]
        assert len(scaled) == len(original)
        for old, new in changed:
            assert any(k in old for k in ("n = ", "range(100)", "chunksize=25")), (old, new)


def test_seed_program_only_adds_the_part_timer_and_a_report():
    for exp in seed.EXPERIMENTS.values():
        size = seed.sizes(exp.group, 0.08)
        tutorial = seed.tutorial_program(exp, size)
        instrumented = seed.seed_program(exp, size)
        body = instrumented.split(seed_programs._REPORT)[0]
        kept = [line for line in body.splitlines() if "_part" not in line]
        assert "\n".join(kept) == tutorial.rstrip("\n")
        assert body.count("_part_start = time()") == 1
        compile(instrumented, exp.id, "exec")


def test_sizes_keep_task_shapes_and_round_counts_to_quarters():
    assert seed.sizes("matmul", 1.0) == {"n": 2000, "count": 100}
    assert seed.sizes("matmul", 0.08) == {"n": 2000, "count": 8}
    assert seed.sizes("fill", 0.1)["count"] % 4 == 0
    assert seed.sizes("dot", 0.08) == {"n": 80_000_000}
    tiny = seed.sizes("fill", 0.001)  # fewer than 4 tasks: shapes shrink instead
    assert tiny["count"] == 4 and tiny["n"] < 5000
    s3 = seed.tutorial_program(seed.EXPERIMENTS["S3"], seed.sizes("matmul", 0.08))
    assert "chunksize=2)" in s3


def test_verdict_rule():
    base = [1.0, 1.01, 0.99, 1.0, 1.0]
    assert seed.verdict("slower", [1.6, 1.62, 1.58, 1.6, 1.61], base)[0] == "holds"
    assert seed.verdict("slower", [1.0, 1.01, 1.02, 1.0, 0.99], base)[0] == "does not hold"
    assert seed.verdict("same", [1.0, 1.01, 1.02, 1.0, 0.99], base)[0] == "holds"
    assert seed.verdict("same", [0.5, 0.51, 0.49, 0.5, 0.5], base)[0] == "does not hold"
    # A slowdown the noise cannot tell from 5% is no verdict either way.
    assert seed.verdict("slower", [1.0, 1.1, 1.05, 1.08, 1.02], base)[0] == "inconclusive"
    assert seed.verdict("same", [0.8, 1.3, 1.0, 0.9, 1.2], base)[0] == "inconclusive"
    assert seed.verdict("slower", [2.0], [1.0])[0] == "inconclusive (1 run)"
    verdict, ratio, (lo, hi) = seed.verdict("same", [1.0, 1.02, 0.97], [1.0, 1.0, 1.0])
    assert lo < ratio < hi and ratio == 1.0


def test_summary_keeps_the_run_order_and_its_notch_narrows_with_more_runs():
    few = stats.summarise([3.0, 1.0, 2.0, 4.0])
    assert (few.median, few.q25, few.q75, few.min, few.max) == (2.5, 1.75, 3.25, 1.0, 4.0)
    assert list(few.runs) == [3.0, 1.0, 2.0, 4.0]
    # The same spread of single runs, four times the runs: the IQR stays,
    # the interval for the median halves (1 / sqrt(n)).
    many = stats.summarise([3.0, 1.0, 2.0, 4.0] * 4)
    assert (many.median, many.q25, many.q75) == (few.median, few.q25, few.q75)
    (lo, hi), (many_lo, many_hi) = few.notch(), many.notch()
    assert many_hi - many_lo == pytest.approx((hi - lo) / 2)
    assert stats.summarise([2.0]).notch() == (2.0, 2.0)


def test_verdict_pairs_rounds_so_shared_drift_cancels():
    # Load drifts by 30% over the rounds but moves both programs alike: the
    # pairs say "the same", though each side alone spreads widely.
    drift = [1.0, 1.3, 1.0, 1.3, 1.15, 1.0]
    assert seed.verdict("same", [d * 1.01 for d in drift], drift)[0] == "holds"
    assert seed.verdict("slower", [d * 1.6 for d in drift], drift)[0] == "holds"


def test_parse_arguments():
    assert seed.parse_scale("auto") == "auto"
    assert seed.parse_scale("0.5") == 0.5
    for bad in ("0", "-1", "nan", "inf", "big"):
        with pytest.raises(UsageError):
            seed.parse_scale(bad)
    assert seed.parse_only("s2,S1,S2") == ["S1", "S2"]
    with pytest.raises(UsageError):
        seed.parse_only("S1,S9")


@pytest.mark.parametrize("args,needle", [
    (["--scale", "0"], "must be a positive number"),
    (["--scale", "-2"], "must be a positive number"),
    (["--scale", "lots"], "neither a number nor 'auto'"),
    (["--repeat", "0"], "--repeat 0 must be at least 1"),
    (["--only", "S1,S8"], "unknown experiment S8"),
    (["--scale", "1000"], "GiB of memory is available"),
])
def test_bad_input_is_one_line_and_nothing_runs(args, needle):
    out = run_cli("seed", *args, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert lines[0].startswith("npthreads: error: ")
    assert out.stdout == ""


def test_auto_scale_fits_and_says_so_when_it_shrinks(monkeypatch):
    # Pretend 4 GiB are available: every group must shrink, and say so.
    monkeypatch.setattr(seed.machine, "memory_bytes", lambda: (8 * 2**30, 4 * 2**30))
    groups = seed.plan(list(seed.EXPERIMENTS), "auto")
    for name, group in groups.items():
        assert group.scale < 1.0 and group.note and "scaled to" in group.note
        assert group.nbytes <= 0.8 * 4 * 2**30
    with pytest.raises(UsageError, match="use a smaller --scale"):
        seed.plan(["S6"], 1.0)


def test_tiny_run_gives_seven_rows_as_json():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # must not reach the programs
    out = run_cli("seed", "--scale", "0.001", "--repeat", "2", "--json", env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "OPENBLAS_NUM_THREADS" in report["cleared_env"] and report["primed"] is True
    rows = {r["id"]: r for r in report["experiments"]}
    assert list(rows) == ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]
    verdicts = {"holds", "does not hold", "inconclusive"}
    for i, row in rows.items():
        assert row["error"] is None
        assert len(row["whole"]["runs"]) == 2 and len(row["part"]["runs"]) == 2
        assert row["part"]["median"] <= row["whole"]["median"]
        if row["baseline"]:
            assert row["whole_verdict"] in verdicts and row["part_verdict"] in verdicts
            assert row["whole_ratio"] > 0
    # S4 set OMP_NUM_THREADS=1 before numpy was imported, and it took effect;
    # S5 ran at the BLAS default, not at the OPENBLAS_NUM_THREADS=1 above.
    assert rows["S4"]["facts"]["blas_threads"] == 1
    if (os.cpu_count() or 1) > 1:
        assert rows["S5"]["facts"]["blas_threads"] > 1
    assert "[seed] 14/14" in out.stderr and "left" in out.stderr


def test_against_tutorial_runs_both_programs_back_to_back_and_pairs_them():
    """Whether the two programs agree within 15% is a measurement, reported by
    the command (README and the issue note quote it), not asserted here: on a
    shared machine a timed assertion fails on load, not on a defect. What can
    break is the pairing: both programs run in every round, and the paired
    figure is the median of the per-round ratios."""
    out = run_cli("seed", "--scale", "0.001", "--repeat", "2", "--only", "S1,S4",
                  "--against-tutorial", "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["experiments"]
    assert [r["id"] for r in rows] == ["S1", "S4"]
    for row in rows:
        seed_runs, tutorial_runs = row["whole"]["runs"], row["tutorial_program"]["runs"]
        assert len(seed_runs) == len(tutorial_runs) == 2
        ratios = sorted(a / b for a, b in zip(seed_runs, tutorial_runs))
        assert row["seed_vs_tutorial_program_paired"] == pytest.approx(sum(ratios) / 2)
    assert "[seed] 8/8" in out.stderr and "tutorial's program" in out.stderr
