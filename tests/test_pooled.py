"""Evidence pooled over a machine's runs (``npthreads.pooled``): the random-
effects meta-analysis, and what ``compare`` and ``reproducibility`` make of it
on result files whose environments move against each other between sessions."""

import random

import pytest

from npthreads import evidence, pooled, results, stats

from .test_compare import BASE, compare_json, write_run

COMMITS = [c * 40 for c in "abcdef"]


def test_runs_that_agree_have_no_between_run_variance():
    found = stats.random_effects([0.1, 0.1, 0.1], [0.01, 0.01, 0.01])
    assert found.tau2 == 0 and found.k == 3
    assert found.estimate == pytest.approx(0.1)
    assert found.se == pytest.approx((0.01 / 3) ** 0.5)


def test_runs_that_scatter_widen_the_pooled_error():
    agree = stats.random_effects([0.1, 0.1, 0.1, 0.1], [0.001] * 4)
    scatter = stats.random_effects([0.0, 0.2, -0.1, 0.3], [0.001] * 4)
    assert scatter.tau2 > 0.01
    assert scatter.se > 3 * agree.se


def test_one_run_is_not_pooled():
    assert stats.random_effects([0.1], [0.01]) is None
    assert stats.random_effects([0.1, float("nan")], [0.01, 0.01]) is None


def write_history(root, slowdown, runs=5, seed=0):
    """``runs`` full runs of 2.3.5, 2.4.6 and the pin (the same numpy as
    2.4.6). In every session each environment's level moves by up to +-8%
    against the others, as on the shared VM; 2.4.6 and the pin are
    ``slowdown`` slower than 2.3.5 on the serial exp in every run."""
    rng = random.Random(seed)
    for i, commit in enumerate(COMMITS[:runs]):
        for numpy in ("2.3.5", "2.4.6", "pinned"):
            level = 1 + rng.uniform(-0.08, 0.08)
            change = {(name, k): level for name, centers in BASE.items()
                      for k in range(len(centers))}
            if numpy != "2.3.5":
                change[("bench_ufunc.ExpInParts.time_exp", 0)] = level * slowdown
            write_run(root, numpy, commit, 1000 * (i + 1), seed=rng.randrange(10**6),
                      change=change)


def serial_exp(data):
    return next(r for r in data["rows"] if r["scenario"] == "ExpInParts"
                and r["params"]["executor"] == "serial loop")


def test_pooling_calls_a_change_one_session_cannot_resolve(tmp_path, capsys):
    write_history(tmp_path, slowdown=1.25)
    code, data = compare_json(capsys, "--results", tmp_path,
                              "--from", "numpy==2.3.5", "--to", "numpy==2.4.6")
    row = serial_exp(data)
    # one session: its environments move +-8% against each other, so its
    # resolution is wider than the 1.25x change
    assert row["resolution"] > row["ratio"] and row["verdict"] == "unchanged"
    assert row["pooled"] == "slower" and row["pooled_runs"] == 5
    assert 1.15 < row["pooled_ratio"] < 1.35 and row["pooled_resolution"] < 1.2
    assert code == 1 and data["pooled_counts"]["slower"] == 1
    # the rows that did not change stay unchanged pooled too
    others = [r for r in data["rows"] if r["pooled"] and r is not row]
    assert others and all(r["pooled"] == "unchanged" for r in others if r != row)


def test_the_negative_control_stays_quiet_pooled(tmp_path, capsys):
    write_history(tmp_path, slowdown=1.25)
    for a, b in (("2.4.6", "pinned"), ("pinned", "2.4.6")):
        code, data = compare_json(capsys, "--results", tmp_path,
                                  "--from", f"numpy=={a}", "--to", f"numpy=={b}")
        assert code == 0
        assert data["pooled_counts"]["slower"] == data["pooled_counts"]["faster"] == 0
        assert data["pooled_runs"] == 5


def test_no_pooled_opts_out_and_two_runs_are_not_pooled(tmp_path, capsys):
    write_history(tmp_path, slowdown=1.25, runs=2)
    code, data = compare_json(capsys, "--results", tmp_path,
                              "--from", "numpy==2.3.5", "--to", "numpy==2.4.6")
    assert data["pooled_runs"] == 0 and serial_exp(data)["pooled"] is None
    write_history(tmp_path, slowdown=1.25)
    code, data = compare_json(capsys, "--results", tmp_path, "--from", "numpy==2.3.5",
                              "--to", "numpy==2.4.6", "--no-pooled")
    assert data["pooled_runs"] == 0 and serial_exp(data)["pooled"] is None


def test_runs_of_another_benchmark_version_are_not_pooled(tmp_path):
    write_history(tmp_path, slowdown=1.25)
    measurements = results.load(tmp_path)
    for m in measurements:
        if m.commit in COMMITS[3:5]:    # the two newest runs measured a new version
            m.version = "v2"
    history = pooled.history_of(measurements)
    env = {m.numpy: m.env_name for m in measurements}
    key = next(m.key for m in measurements if m.scenario == "ExpInParts")
    newest = history.pair(env["2.3.5"], env["2.4.6"], key)
    assert newest.per_run and {e.commit for e in newest.per_run} == set(COMMITS[3:5])
    assert newest.pooled is None                           # two runs: not pooled
    older = history.pair(env["2.3.5"], env["2.4.6"], key, reference=COMMITS[0])
    assert {e.commit for e in older.per_run} == set(COMMITS[:3]) and older.pooled


def test_reproducibility_reports_pooled_verdicts(tmp_path, capsys):
    from npthreads import cli
    write_history(tmp_path, slowdown=1.25)
    code = cli.main(["reproducibility", "--results", str(tmp_path), "--runs", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "pooled over the runs" in out
    pooled_table = out[out.index("pooled over the runs"):]
    line = next(x for x in pooled_table.splitlines() if x.strip().startswith("2.3.5 -> 2.4.6"))
    assert line.split()[3] == "1"          # pooled slower
    aa = [x for x in pooled_table.splitlines() if "(A/A)" in x and "->" in x][:2]
    assert all(x.split()[4:6] == ["0", "0"] for x in aa)


def test_a_quiet_run_does_not_outweigh_the_others(tmp_path):
    """Issue 16, the ninth run: one run's rounds of a row agreed to 3% where
    the other runs' scattered by 20%, and that run's own spread made it weigh
    25x the others; its 0.90x A/A difference was then called pooled over the
    newest runs although no run called it and the runs disagreed in sign.
    Each run's estimate is weighed with the row's spread over every run."""
    rng = random.Random(3)
    exp = ("bench_ufunc.ExpInParts.time_exp", 0)
    aa_level = {COMMITS[0]: 1.05, COMMITS[1]: 0.95, COMMITS[2]: 0.90}   # newest: 0.90x
    for i, commit in enumerate(COMMITS[:3]):
        for numpy in ("2.3.5", "2.4.6", "pinned"):
            factor = aa_level[commit] if numpy == "pinned" else 1.0
            if commit == COMMITS[2]:
                samples = [factor] * 18                 # quiet: only the 2% of draw()
            else:                                       # rounds 20% apart
                samples = [factor * (1 + rng.uniform(-0.2, 0.2))
                           for _ in range(6) for _ in range(3)]
            write_run(tmp_path, numpy, commit, 1000 * (i + 1), seed=rng.randrange(10**6),
                      change={exp: samples})
    measurements = results.load(tmp_path)
    history = pooled.history_of(measurements)
    key = next(m.key for m in measurements if m.scenario == "ExpInParts"
               and dict(m.params)["executor"] == "serial loop")
    found = history.control(key)
    assert found.pooled.k == 3
    weights = [1 / e.variance for e in found.per_run]
    assert max(weights) / min(weights) < 1.01          # one spread: equal rounds, equal weight
    # uncalibrated: in the test's four rows this row's own z would set the
    # calibration (102 control rows set it in the committed history)
    assert abs(found.pooled.estimate) / found.pooled.se < evidence.Z
    assert found.direction() == 0
