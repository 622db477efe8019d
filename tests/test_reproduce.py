"""``npthreads reproducibility``: verdicts of several runs set side by side,
on asv result files written in asv 0.6's format."""

from npthreads import cli

from .test_compare import COMMIT_A, COMMIT_B, SLOW_EXP, write_run

COMMIT_C = "c" * 40
POOLED_FILL = ("bench_fill.FillManyArrays.time_fill", 1)


def three_runs(root):
    """Three runs of 2.3.5, 2.4.6 and the pin (= 2.4.6). The serial exp is
    20% slower on 2.4.6 in every run; the pooled fill 30% slower in the
    second run only, in 2.4.6 and the pin alike, as a busy spell over the
    environments measured last would make it (the control cannot see it)."""
    for i, commit in enumerate((COMMIT_A, COMMIT_B, COMMIT_C)):
        date = 1000 * (i + 1)
        write_run(root, "2.3.5", commit, date, seed=10 * i + 1)
        extra = {POOLED_FILL: 1.3} if commit == COMMIT_B else {}
        write_run(root, "2.4.6", commit, date, seed=10 * i + 2, change={**SLOW_EXP, **extra})
        write_run(root, "pinned", commit, date, seed=10 * i + 3, change={**SLOW_EXP, **extra})


def test_counts_verdicts_that_hold_in_every_run(tmp_path, capsys):
    three_runs(tmp_path)
    code = cli.main(["reproducibility", "--results", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "reproducibility over 3 runs: cccccccc, bbbbbbbb, aaaaaaaa" in out
    pair = next(line for line in out.splitlines() if line.startswith("2.3.5 -> 2.4.6 "))
    # flagged per run (newest first), flagged in any, the same in all, share
    assert pair.split()[3:] == ["1", "2", "1", "2", "1", "50%"]
    aa = [line for line in out.splitlines() if line.startswith("A/A ")]
    assert len(aa) == 2 and all("exit [0, 0, 0] (0 of 3 exit 1)" in line for line in aa)
    assert "ExpInParts:" in out.split("smallest change each scenario resolves")[1]
    assert "advice: the same recommendation" in out
    assert "[reproducibility] judging run 3/3" in err


def test_needs_two_full_runs(tmp_path, capsys):
    write_run(tmp_path, "2.4.6", COMMIT_A, 1000, seed=1)
    write_run(tmp_path, "pinned", COMMIT_A, 1000, seed=2)
    code = cli.main(["reproducibility", "--results", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("npthreads: error: ") and "at least two" in err
    assert len(err.strip().splitlines()) == 1


def test_advice_that_grows_from_cannot_tell_is_not_a_change_of_mind():
    from types import SimpleNamespace

    from npthreads import reproduce
    advice = {("ExpInParts", "2e7"): ["ThreadPool(4)", "cannot tell", "cannot tell"],
              ("MatmulTutorial", "384"): ["serial loop", "ThreadPool()", "ThreadPool()"],
              ("FillManyArrays", "128"): ["serial loop"] * 3}
    noise = SimpleNamespace(calibration=1.0, sigma={}, session={})
    out = reproduce.report([{}] * 3, [noise] * 3, ["c" * 40, "b" * 40, "a" * 40], advice)
    assert "the same recommendation (or 'cannot tell') in all runs for 1 of 3 rows" in out
    assert "no two runs name different configurations for 2 of 3 rows (67%)" in out
