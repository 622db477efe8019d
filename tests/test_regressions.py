"""The history site's Regressions tab: the rule on synthetic sessions, and
asv's own regressions.json and Atom feed rewritten in asv's schema."""

import datetime
import itertools
import json
import math
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from npthreads import UsageError, regressions
from npthreads.regressions import Session, judge_series
from npthreads.results import Measurement

from .conftest import ROOT
from .test_site import published  # noqa: F401 (session fixture: asv publish, for real)

ATOM = "{http://www.w3.org/2005/Atom}"
# A shared VM's sessions: about 10% apart from one session to the next.
NOISE = [1.00, 1.10, 0.92, 1.05, 0.97, 1.02]


def sessions(levels, hosts=None):
    """Sessions at revisions 1, 2, ... with these levels (and host facts)."""
    return [Session(i + 1, level, hosts[i] if hosts else ()) for i, level in enumerate(levels)]


# -- the rule ----------------------------------------------------------------

def test_a_persistent_step_over_three_sessions_each_side_is_kept():
    levels = NOISE[:3] + [1.45 * v for v in NOISE[3:]]
    step = judge_series(sessions(levels), [4], sense=1)[4]
    assert step.kept and step.reason == "supported"
    assert (step.before, step.after) == (3, 3)
    assert step.ratio == pytest.approx(1.45, rel=0.05)


def test_a_one_session_blip_of_the_same_size_is_not():
    # the same 1.45x and the same noise, but only the last session moved:
    # one session cannot tell a host from a commit
    levels = NOISE[:5] + [1.45]
    step = judge_series(sessions(levels), [6], sense=1)[6]
    assert not step.kept and step.reason == "noise"
    assert (step.before, step.after) == (5, 1)
    assert step.z < 4


def test_a_session_on_another_host_is_not_compared():
    # OpenBLAS detected another CPU family in the last session (the
    # committed history's AVX-512 host gave way to one without)
    quiet = [1.00, 1.01, 0.99, 1.00, 1.02, 6.0]
    hosts = [(9, 2)] * 5 + [(8, 2)]
    step = judge_series(sessions(quiet, hosts), [6], sense=1)[6]
    assert not step.kept and step.reason == "host"
    # and the noise of one host is not borrowed for another: the only pair
    # of sessions on the second host is the step itself
    hosts = [(9, 2)] * 4 + [(8, 2)] * 2
    step = judge_series(sessions([1.00, 1.01, 0.99, 1.00, 1.02, 1.5], hosts), [6], sense=1)[6]
    assert not step.kept and step.reason == "few"


def test_a_rate_that_went_up_is_never_a_regression():
    levels = [10 * v for v in NOISE[:3]] + [30 * v for v in NOISE[3:]]
    step = judge_series(sessions(levels), [4], sense=-1)[4]
    assert not step.kept and step.reason == "better"


def test_a_rate_that_went_down_for_good_is():
    levels = [30 * v for v in NOISE[:3]] + [10 * v for v in NOISE[3:]]
    step = judge_series(sessions(levels), [4], sense=-1)[4]
    assert step.kept and step.ratio == pytest.approx(1 / 3, rel=0.05)


def test_a_fact_is_never_a_regression():
    step = judge_series(sessions([8, 8, 8, 19, 19, 19]), [4], sense=0)[4]
    assert not step.kept and step.reason == "fact"


def test_the_suites_units_give_the_direction():
    benchmarks = json.loads((ROOT / "results" / "benchmarks.json").read_text())
    senses = {name: regressions.sense_of(name, b["unit"])
              for name, b in benchmarks.items() if isinstance(b, dict)}
    rates = {n for n, s in senses.items() if s == -1}
    assert rates == {n for n, b in benchmarks.items() if isinstance(b, dict)
                     and b["unit"] in ("GB/s", "GFLOP/s")}
    assert len(rates) == 6
    assert all(s == 1 for n, s in senses.items() if ".time" in n)
    facts = {n.rsplit(".", 1)[1] for n, s in senses.items() if s == 0}
    assert {"track_numpy_version", "track_blas_architecture", "track_cache_bytes",
            "track_usable_cores"} <= facts


def test_a_step_is_judged_up_to_the_next_supported_one():
    # a real step at 4, then a 1% wobble asv also called a step: the wobble
    # goes, and the real step's after side then reaches the end
    levels = [1.0, 1.04, 0.97, 2.0, 2.06, 1.95, 2.03]
    verdicts = judge_series(sessions(levels), [4, 7], sense=1)
    assert not verdicts[7].kept
    assert verdicts[4].kept and (verdicts[4].before, verdicts[4].after) == (3, 4)


def test_a_step_in_every_environment_is_not_its_own_noise():
    # numpy 1.26 ... 2.5 all 1.3x slower from the same commit on: pooled, the
    # differences across the step would make it look like noise
    envs = [sessions([(1 + 0.02 * ((i + e) % 3 - 1)) * (1.3 if i >= 3 else 1)
                      for i in range(6)]) for e in range(6)]
    sd = regressions.between_session_sd(envs[0], 4, None, envs[1:])
    assert sd < 0.05
    step = judge_series(envs[0], [4], 1, lambda b, hosts: regressions.between_session_sd(
        envs[0], b, hosts, envs[1:]))[4]
    assert step.kept


def test_one_pair_of_sessions_before_says_nothing_of_the_noise():
    """The eleventh run: a scenario measured in three sessions, all its
    environments 1.2-1.6x slower in the third on a slower stretch of the
    host (nothing benchmarked changed). Its eight environments' differences
    before the step all come from the first two sessions: one sample of the
    host's movement, not eight. Not judged: too few sessions."""
    envs = [sessions([1.0 + 0.01 * e, 1.01 + 0.01 * e, 1.5]) for e in range(8)]
    assert regressions.between_session_sd(envs[0], 3, None, envs[1:]) is None
    step = judge_series(envs[0], [3], 1, lambda b, hosts: regressions.between_session_sd(
        envs[0], b, hosts, envs[1:]))[3]
    assert not step.kept and step.reason == "few"


# -- asv's files ---------------------------------------------------------------

BENCH = "bench_x.X.time_x"
RATE = "bench_x.X.track_gbytes_per_s"
PARAMS = {"machine": "m", "arch": "x86_64", "cpu": "CPU", "num_cpu": "2", "os": "Linux",
          "ram": "8GiB", "python": "3.11", "numpy": "2.4.6", "env-NPTHREADS_OPENBLAS": "",
          "branch": "main"}
HASHES = {r: f"{r:040x}" for r in range(1, 7)}


def asv_feed(path, entries, benchmarks):
    """The feed as asv writes it: asv.feed.write_atom, one entry a step, its
    link built as asv.plugins.regressions._save_feed builds it."""
    from asv import feed
    items = []
    for name, _path, graph_params, idx, _last, _best, jumps in entries:
        benchmark = name.split("(")[0]
        params = dict(graph_params)
        if idx is not None:
            combo = next(itertools.islice(itertools.product(*benchmarks[benchmark]["params"]),
                                          idx, None))
            params.update({"p-" + k: v
                           for k, v in zip(benchmarks[benchmark]["param_names"], combo)})
        for rev1, rev2, _v1, _v2 in jumps:
            q = dict(params)
            q["commits"] = HASHES[rev2] if rev1 is None else f"{HASHES[rev1]}-{HASHES[rev2]}"
            link = f"index.html#{benchmark}?{urllib.parse.urlencode(q)}"
            items.append(feed.FeedEntry(f"50% {name}", datetime.datetime(2026, 1, rev2), link,
                                        "<a>regression</a>", [name, HASHES[rev2]]))
    items.sort(key=lambda e: e.updated, reverse=True)
    feed.write_atom(str(path), items, title="x performance regressions",
                    author="Airspeed Velocity", address="x.asv")


def measurement(benchmark, params, commit, level, unit="seconds"):
    rounds = [level * f for f in (0.99, 1.0, 1.01, 1.0, 1.02, 0.98)]
    return Measurement(machine="m", env_name="env-a", commit=commit, benchmark=benchmark,
                       params=params, value=level, status="ok", unit=unit,
                       samples=[r for r in rounds for _ in range(3)], per_round=3,
                       requirements={"numpy": "2.4.6"}, python="3.11",
                       env_vars={"NPTHREADS_OPENBLAS": ""})


@pytest.fixture
def asv_output(tmp_path):
    """A folder as ``asv publish`` leaves it: index.json, the graphs, and a
    regressions.json + feed with three steps: a persistent one (size 1), a
    one-session blip (size 2) and a rate that rose."""
    benchmarks = {
        BENCH: {"name": BENCH, "params": [["'1'", "'2'"]], "param_names": ["size"],
                "type": "time", "unit": "seconds"},
        RATE: {"name": RATE, "params": [], "param_names": [], "type": "track", "unit": "GB/s"}}
    step = [v * (1.45 if r > 3 else 1) for r, v in zip(range(1, 7), NOISE)]
    blip = NOISE[:5] + [1.45]
    rate = [10 * v * (3 if r > 3 else 1) for r, v in zip(range(1, 7), NOISE)]
    index = {"revision_to_hash": {str(r): h for r, h in HASHES.items()},
             "graph_param_list": [PARAMS], "benchmarks": benchmarks}
    (tmp_path / "index.json").write_text(json.dumps(index))
    for name, data in ((BENCH, [[r, [step[r - 1] * 1e-3, blip[r - 1] * 1e-3]]
                                for r in HASHES]),
                       (RATE, [[r, rate[r - 1]] for r in HASHES])):
        graph = tmp_path / regressions.graph_path(PARAMS, name)
        graph.parent.mkdir(parents=True, exist_ok=True)
        graph.write_text(json.dumps(data))
    shown = {"python": "3.11", "numpy": "2.4.6"}
    path = regressions.graph_path(PARAMS, BENCH)
    entries = [
        [f"{BENCH}('1')", path, shown, 0, step[5] * 1e-3, step[0] * 1e-3,
         [[3, 4, step[2] * 1e-3, step[3] * 1e-3]]],
        [f"{BENCH}('2')", path, shown, 1, blip[5] * 1e-3, blip[2] * 1e-3,
         [[None, 6, blip[4] * 1e-3, blip[5] * 1e-3]]],
        [RATE, regressions.graph_path(PARAMS, RATE), shown, None, rate[5], rate[0],
         [[3, 4, rate[2], rate[3]]]]]
    (tmp_path / "regressions.json").write_text(json.dumps({"regressions": entries}))
    asv_feed(tmp_path / "regressions.xml", entries, benchmarks)
    measured = []
    for r, h in HASHES.items():
        measured += [measurement(BENCH, {"size": "1"}, h, step[r - 1] * 1e-3),
                     measurement(BENCH, {"size": "2"}, h, blip[r - 1] * 1e-3),
                     measurement(RATE, {}, h, rate[r - 1], unit="GB/s")]
    return tmp_path, entries, measured


def feed_entries(path):
    root = ET.parse(path).getroot()
    return root, root.findall(f"{ATOM}entry")


def test_only_supported_steps_stay_in_asvs_schema(asv_output):
    html, entries, measured = asv_output
    _, before = feed_entries(html / "regressions.xml")
    assert len(before) == 3
    summary = regressions.rewrite(html, html / "no-results", measured)
    assert (summary.entries, summary.steps, summary.kept_entries) == (3, 3, 1)
    assert summary.dropped == {"noise": 1, "better": 1}
    assert "kept 1 of the 3 steps" in summary.line()
    # the persistent step, exactly as asv wrote it, compact as asv writes it
    text = (html / "regressions.json").read_text()
    assert text == json.dumps({"regressions": [entries[0]]})
    root, after = feed_entries(html / "regressions.xml")
    assert len(after) == 1
    link = after[0].find(f"{ATOM}link").get("href")
    assert link.startswith(f"index.html#{BENCH}?") and "p-size=%271%27" in link
    assert f"commits={HASHES[3]}-{HASHES[4]}" in link
    # the feed is as new as its newest entry (asv.feed.write_atom)
    assert root.find(f"{ATOM}updated").text == after[0].find(f"{ATOM}updated").text
    raw = (html / "regressions.xml").read_text()
    assert raw.startswith("<?xml version='1.0' encoding='utf-8'?>\n<feed xmlns=")
    assert not list(html.glob("*.tmp"))


def _history(tmp_path, levels_of, rounds_of=None):
    """A published site's History over ``levels_of`` ({benchmark: [level at
    revisions 1..6]}), one time row each, as ``asv_output`` builds one."""
    benchmarks = {b: {"name": b, "params": [], "param_names": [], "type": "time",
                      "unit": "seconds"} for b in levels_of}
    index = {"revision_to_hash": {str(r): h for r, h in HASHES.items()},
             "graph_param_list": [PARAMS], "benchmarks": benchmarks}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "index.json").write_text(json.dumps(index))
    measured = []
    for b, levels in levels_of.items():
        graph = tmp_path / regressions.graph_path(PARAMS, b)
        graph.parent.mkdir(parents=True, exist_ok=True)
        graph.write_text(json.dumps([[r, levels[r - 1]] for r in HASHES]))
        for r, h in HASHES.items():
            m = measurement(b, {}, h, levels[r - 1])
            if rounds_of and (b, r) in rounds_of:
                m.samples = [x for x in rounds_of[(b, r)] for _ in range(3)]
            measured.append(m)
    return regressions.History(tmp_path, tmp_path / "no-results", index, measured)


def test_a_step_every_benchmark_takes_is_the_host_not_a_regression(tmp_path):
    """The eleventh run: a slower stretch of the host moved every scenario
    1.14-1.64x at once and stayed; PythonBetweenCalls, with five sessions
    only, then looked like 27 regressions. Each session's common movement
    (the median over benchmarks) is taken out first; a benchmark that moves
    beyond it is still a step."""
    host = [1.0, 1.0, 1.0, 1.5, 1.5, 1.5]
    # each benchmark its own session-to-session noise (NOISE, rotated)
    levels = {f"bench_x.B{i}.time_x": [1e-3 * (1 + i / 10) * h * NOISE[(r + i) % 6]
                                       for r, h in enumerate(host)]
              for i in range(6)}
    # B0 also slows down 1.6x for good at the same session: a real step
    levels["bench_x.B0.time_x"] = [v * (1.6 if r >= 3 else 1)
                                   for r, v in enumerate(levels["bench_x.B0.time_x"])]
    history = _history(tmp_path, levels)
    assert history.effect[("m", 4)] - history.effect[("m", 3)] == pytest.approx(
        math.log(1.5), abs=0.1)
    verdicts = {}
    for b in ("bench_x.B0.time_x", "bench_x.B1.time_x"):
        path = regressions.graph_path(PARAMS, b)
        verdicts[b] = judge_series(history.sessions(path, None), [4], 1)[4]
    real, host_only = verdicts["bench_x.B0.time_x"], verdicts["bench_x.B1.time_x"]
    assert real.kept and real.ratio == pytest.approx(1.6, rel=0.1)
    assert not host_only.kept and host_only.ratio == pytest.approx(1.0, abs=0.1)


def test_fewer_benchmarks_than_a_vote_needs_move_nothing(tmp_path):
    levels = {f"bench_x.B{i}.time_x": [1e-3 * n * (1.5 if r >= 3 else 1)
                                       for r, n in enumerate(NOISE)]
              for i in range(regressions.MIN_SESSION_BENCHMARKS - 1)}
    history = _history(tmp_path, levels)
    assert set(history.effect.values()) == {0.0}


def test_a_session_whose_rounds_scatter_says_less(tmp_path):
    """A threaded row whose rounds scatter 10-21 ms in its newest session
    (the pin-following environment's ThreadPool(2xcores) of
    PythonBetweenCalls, cdb7e571) is not a step on that session alone; the
    same level with rounds that agree is."""
    quiet = [1.00, 1.02, 0.99, 1.01, 1.00]
    levels = {"bench_x.X.time_x": [1e-3 * q for q in quiet] + [1.6e-3]}
    steady = _history(tmp_path / "steady", levels)
    scattered = _history(tmp_path / "scattered", levels,
                         {("bench_x.X.time_x", 6): [1.0e-3, 1.9e-3, 2.1e-3, 1.3e-3]})
    path = regressions.graph_path(PARAMS, "bench_x.X.time_x")
    for history, kept in ((steady, True), (scattered, False)):
        series = history.sessions(path, None)
        assert judge_series(series, [6], 1)[6].kept is kept


def test_a_corrupt_regressions_file_is_one_line(asv_output):
    html, _, measured = asv_output
    # a corrupt feed: one line, and regressions.json left as asv wrote it
    asvs = (html / "regressions.json").read_text()
    (html / "regressions.xml").write_text("<feed")
    with pytest.raises(UsageError, match=r"regressions\.xml: not asv's regressions feed"):
        regressions.rewrite(html, html, measured)
    assert (html / "regressions.json").read_text() == asvs
    (html / "regressions.json").write_text('{"regressions": [["cut short"')
    with pytest.raises(UsageError, match=r"regressions\.json: not asv's") as err:
        regressions.rewrite(html, html, measured)
    assert "\n" not in str(err.value)
    (html / "regressions.json").write_text('{"regressions": {"a": 1}}')
    with pytest.raises(UsageError, match=r"regressions\.json: not asv's"):
        regressions.rewrite(html, html, measured)


@pytest.mark.slow
def test_real_asv_publish_output_keeps_its_schema(published):  # noqa: F811
    """`npthreads publish` ran asv publish and the rewrite: the files are
    still the ones asv writes, in its format (the fixture has one commit,
    so asv found no step)."""
    text = (published / "regressions.json").read_text()
    data = json.loads(text)
    assert list(data) == ["regressions"] and isinstance(data["regressions"], list)
    assert text == json.dumps(data)
    for name, path, params, idx, last, best, jumps in data["regressions"]:
        assert (published / path).is_file() and isinstance(params, dict)
        assert all(len(j) == 4 for j in jumps) and math.isfinite(last / best)
    root, entries = feed_entries(published / "regressions.xml")
    assert root.tag == f"{ATOM}feed"
    assert [c.tag for c in root][:4] == [f"{ATOM}{t}" for t in ("id", "author", "title",
                                                                "updated")]
    assert len(entries) == sum(len(e[6]) for e in data["regressions"])
