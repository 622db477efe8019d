"""The history site's regressions: only the steps the sessions support.

``asv publish`` writes ``regressions.json`` (the site's Regressions tab) and
the Atom feed ``regressions.xml`` from its own step detection: every upward
step of at least 5% in a graph's medians. On this project's committed
history that listed 487 entries (526 steps) although no benchmarked code
changed, for two reasons:

- asv reads every value as lower-is-better. A ``track_`` rate (GB/s,
  GFLOP/s) that went up is listed as a regression, and a rate that went
  down is never listed at all;
- each commit in ``results/`` is one benchmarking session (a full ``make
  bench``) on a shared VM, and a step between commits is a comparison
  between sessions. The host moves between sessions (memory bandwidth, a
  busy second vCPU, a CPU with AVX-512 or without), and no control inside
  one session sees that: the A/A pair of ``evidence`` only shows noise
  within a session.

So after ``asv publish`` this module keeps, of asv's entries, only the
steps the sessions themselves support, and rewrites both files in asv's
own schema (nothing is invented: a step asv did not find is not added).

The rule, for one graph (benchmark, parameter combination, environment):

1. Direction. ``time_``/``timeraw_`` (seconds): a rise is worse. A
   ``track_`` in a unit per second is a rate: a fall is worse, a rise is
   never a regression. Any other ``track_`` (versions, counts, cache sizes,
   architecture codes) is a fact about the environment, never a regression.
2. Levels. Each session's level is the median of its round summaries
   (``evidence.rounds_of``; a track's one value): the round, not the
   sample, is the unit of noise. Its standard error within the session
   comes from the spread of those rounds (``level_of``).
   The session's common movement is taken out first: a two-way median
   polish of every timed row's log level over the machine's sessions
   (``stats.session_effects``), each benchmark one vote, gives each session
   the factor by which the host of the moment made everything slower or
   faster; times are divided by it, rates multiplied. The eleventh run, a
   slower stretch of the host, moved every scenario 1.14-1.64x at once and
   the next two runs stayed near it: PythonBetweenCalls, with only five
   sessions, then showed 27 "regressions". A change in fewer than half the
   benchmarks barely moves the median, so it stays a step; a change in
   every benchmark at once cannot be told from the host this way (``compare
   --commits A B --confirm`` re-measures both commits in one session).
3. Hosts. The suite records, in every environment of every session, facts
   about the host (``HOST_FACTS``: the CPU family OpenBLAS detects, the
   usable cores, the cache sizes). Sessions are only compared with
   sessions that recorded the same facts: on the committed history OpenBLAS
   reported SkylakeX/Cooperlake up to 5fe957f0 and Haswell/Zen from
   3de03471 on (the host lost AVX-512), and numpy's exp took 6x as long in
   every environment from that session on. A step whose two sides share no
   host is a host change as far as the evidence goes, and is dropped.
4. Noise. The between-session SD of the graph is the robust SD (1.4826 x
   the median absolute value, over sqrt 2) of the differences of log levels
   between successive sessions on the host(s) the step is judged on:
   another host's noise says nothing about this one's (the committed
   history has one pair of sessions on its second host, and their only
   difference is the step being judged, so those steps have no noise
   estimate and are dropped). A graph has few sessions (8 commits here), so
   its row's differences in every environment of the machine are pooled in
   (and the benchmark's other rows if the row still has fewer than
   ``MIN_DIFFERENCES``); the graph's own estimate is used when it is larger
   (a robust SD of seven differences is itself uncertain by about half, and
   a too-small one is what would let a host change through). The
   differences across the step being judged are left out of every pool: a
   real step in every environment would otherwise count as its own noise.
   The pool must span ``MIN_SESSION_PAIRS`` pairs of successive sessions:
   eight environments' differences between the same two sessions are one
   sample of the host's movement, not eight.
   Between sessions the noise is heavier-tailed than a normal (a host
   change now and then), so, as ``evidence`` does with its negative
   control, the SD is widened by the factor by which the pool's 90th
   percentile of |difference| exceeds the normal's (never narrowed; not
   from fewer than ``MIN_TAIL`` differences, whose 90th percentile is their
   largest).
5. The test. A step at revision c compares the sessions from c up to the
   next supported step (or the end) with those from the previous supported
   step (or the start) up to c, within each shared host, as the difference
   of mean log levels over its standard error (sigma^2 x (1/n_before +
   1/n_after), plus each session's own error squared over n^2 on its side:
   a session whose rounds scatter 10-21 ms says less than one whose rounds
   agree; the hosts combined with inverse-variance weights). It is
   supported when it is worse by at least ``evidence.Z`` standard errors
   and at least ``evidence.FACTOR`` in ratio. When a graph has several
   steps, the weakest unsupported one is dropped and the others judged
   again over the wider sides, until every remaining step is supported.

A step with one session on a side is therefore rarely supported: its
standard error is at least the whole between-session SD, and one session
cannot tell a host from a commit. That is the honest answer; ``npthreads
compare --commits A B --confirm`` measures both commits again in one
session, where the host is the same for both.

asv lists a falling rate nowhere (to asv it is an improvement), and this
module adds nothing asv did not find, so the site cannot show one.

On the committed history (13 full runs on amd-epyc-2cpu-24gib, at
cdb7e571) asv listed 363 steps in 349 entries; none is kept: 185 did not
rise beyond their session's common movement, 75 lack sessions enough on one
host, 55 are within their row's noise, 37 cross a change of host, 10 are
facts and 1 a rate that went up. Without the session's common movement,
27 PythonBetweenCalls steps at the slower stretch were kept.

Plain functions and dataclasses, standard library only.
"""

import datetime
import io
import itertools
import json
import math
import os
import re
import statistics
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError, evidence, results, stats

# Tracks the suite records in every environment of every session that say
# which host it ran on (bench_environment.py): OpenBLAS's CPU family (the
# instruction sets it uses), the cores the process may use, the caches.
HOST_FACTS = ("track_blas_architecture", "track_usable_cores", "track_cache_bytes")
# Differences a pool needs before a robust SD of it means anything; below
# it the row is pooled with its benchmark's other rows.
MIN_DIFFERENCES = 6
# Differences the tail factor needs (see ``tail_factor``).
MIN_TAIL = 20
# Distinct pairs of successive sessions the noise needs: differences of one
# pair of sessions, however many environments and rows give them, sample the
# host's movement between those two sessions once. The eleventh run (a slower
# stretch of the host, nothing benchmarked changed) moved PythonBetweenCalls
# 1.2-1.6x in every environment; its noise rested on the one pair of sessions
# before, and 69 steps were listed. Three pairs, as ``pooled.MIN_RUNS`` asks
# three runs.
MIN_SESSION_PAIRS = 3
# Benchmarks a session's common movement is estimated from
# (``stats.session_effects``): each votes with the median of its rows, so
# fewer than half of them changing does not move it. With fewer, no
# movement is removed.
MIN_SESSION_BENCHMARKS = 5
# A level or tracked value that never moved: one part in a thousand is the
# least a session is trusted to (as ``evidence`` floors its round noise).
MIN_SD = 1e-3
# The normal's 90th percentile of |z|, and the SD of a difference of two
# sessions relative to one session's.
_Z90 = 1.6449
_DIFF = math.sqrt(2)

ATOM = "http://www.w3.org/2005/Atom"

# Why a step asv found was not kept, as the summary line says it.
WHY = {
    "noise": "within their row's between-session noise",
    "host": "across a change of host (the sessions recorded different CPU facts)",
    "better": "a rate that went up (higher is better)",
    "common": "no rise beyond the session's common movement (the host's, in every benchmark)",
    "fact": "a tracked fact, not performance",
    "few": "without sessions enough on one host to estimate their noise",
    "unmatched": "not found in the results",
}


@dataclass(frozen=True)
class Session:
    """One session's level of one graph."""
    revision: int          # asv's revision number of the session's commit
    level: float           # median of round summaries (or the tracked value), > 0
    host: tuple = ()       # the host facts it recorded; () when none were
    se: float = 0.0        # the level's standard error within the session, log scale


@dataclass
class Step:
    """The verdict on one step asv found."""
    revision: int                # first revision after the step (asv's second)
    kept: bool
    reason: str                  # "supported" or a key of ``WHY``
    ratio: float | None = None   # after / before, geometric means within hosts
    z: float | None = None       # worse-direction difference in standard errors
    before: int = 0              # sessions on each side that were compared
    after: int = 0
    sd: float | None = None      # between-session SD used (log scale, widened)


# -- the rule ----------------------------------------------------------------

def sense_of(benchmark, unit):
    """+1 if a rise is worse (times, sizes), -1 if a fall is (rates), 0 if
    the value is a fact that is never a regression."""
    method = benchmark.rsplit(".", 1)[-1]
    if not method.startswith("track_"):
        return 1
    # every rate of the suite is per second: GB/s, GFLOP/s
    return -1 if str(unit or "").replace(" ", "").endswith("/s") else 0


def level_of(measurement):
    """(the session's level, its standard error on the log scale), or None.

    The level is the median of its round summaries, or the tracked value of
    a ``track_`` (one value a session). The error comes from the spread of
    the rounds: a threaded row whose rounds scatter 10-21 ms in one session
    says less of that session than one whose rounds agree; 0 for a track or
    a single round."""
    rounds = evidence.rounds_of(measurement)
    if len(rounds) > 1:
        return (statistics.median(rounds), evidence.MEDIAN_SE
                * statistics.stdev(math.log(r) for r in rounds) / math.sqrt(len(rounds)))
    if rounds:
        return rounds[0], 0.0
    value = measurement.value
    return (value, 0.0) if isinstance(value, (int, float)) and value > 0 else None


def differences(sessions, boundary=None, revisions=None, pairs=None):
    """Log differences between successive sessions on the same host, in
    revision order, of the sessions at ``revisions`` (default: all), leaving
    out those across ``boundary`` (the step being judged). ``pairs``, a set,
    gathers the (revision, revision) pair of each difference."""
    last = {}
    out = []
    for s in sorted(sessions, key=lambda s: s.revision):
        if revisions is not None and s.revision not in revisions:
            continue
        prev = last.get(s.host)
        if prev is not None and not (boundary is not None
                                     and prev.revision < boundary <= s.revision):
            out.append(math.log(s.level) - math.log(prev.level))
            if pairs is not None:
                pairs.add((prev.revision, s.revision))
        last[s.host] = s
    return out


def robust_sd(diffs):
    """SD of one session from successive differences, robustly: a step or a
    host change is one large difference, which the median ignores."""
    if not diffs:
        return None
    return max(MIN_SD, 1.4826 * statistics.median(abs(d) for d in diffs) / _DIFF)


def tail_factor(diffs, sd):
    """How much wider than a normal's the pool's tail is: its 90th
    percentile of |difference| in SDs over the normal's, at least 1. Of
    fewer than ``MIN_TAIL`` differences the 90th percentile is the largest
    one, and one other step would set the factor alone: no widening then."""
    if len(diffs) < MIN_TAIL or not sd:
        return 1.0
    scaled = sorted(abs(d) / (_DIFF * sd) for d in diffs)
    q90 = scaled[min(len(scaled) - 1, int(0.9 * len(scaled)))]
    return max(1.0, q90 / _Z90)


def between_session_sd(series, boundary, hosts=None, row=(), benchmark=()):
    """The widened between-session SD for judging a step at ``boundary`` in
    ``series`` within ``hosts`` (default: every host of the series).

    Only sessions at revisions where ``series`` ran on one of ``hosts`` count,
    in every pool: another host's noise says nothing about this one's (the
    committed history has one pair of sessions on its second host, and its
    only difference is the step being judged). Pooled with the row's other
    environments (``row``, lists of sessions) and, if the row is short of
    ``MIN_DIFFERENCES``, with the benchmark's other rows (``benchmark``); the
    graph's own estimate when it is larger. None when no difference is left
    to estimate it from, or the differences come from fewer than
    ``MIN_SESSION_PAIRS`` pairs of sessions."""
    revisions = {s.revision for s in series if hosts is None or s.host in hosts}
    pairs = set()
    own = differences(series, boundary, revisions, pairs)
    pool = own + [d for other in row for d in differences(other, boundary, revisions, pairs)]
    if len(pool) < MIN_DIFFERENCES:
        pool += [d for other in benchmark
                 for d in differences(other, boundary, revisions, pairs)]
    if len(pairs) < MIN_SESSION_PAIRS:
        return None
    sd = robust_sd(pool)
    if sd is None:
        return None
    if len(own) >= MIN_DIFFERENCES:
        sd = max(sd, robust_sd(own))
    return sd * tail_factor(pool, sd)


def judge_step(before, after, sense, noise, revision=0):
    """One step: ``before`` and ``after`` sessions compared within each host
    they share; ``sense`` as ``sense_of`` gives it; ``noise(hosts)`` the
    between-session SD within those hosts (None: unknown)."""
    if sense == 0:
        return Step(revision, False, "fact")
    hosts = {s.host for s in before} & {s.host for s in after}
    if not hosts:
        return Step(revision, False, "host", before=len(before), after=len(after))
    sides = [([s for s in before if s.host == h], [s for s in after if s.host == h])
             for h in hosts]
    diff, _ = _difference(sides, 1.0, within=False)
    step = Step(revision, False, "noise", ratio=math.exp(diff),
                before=sum(len(b) for b, _ in sides), after=sum(len(a) for _, a in sides))
    if sense * diff <= 0:
        # asv lists a rate that rose; a time asv saw rise that did not rise
        # beyond its sessions' common movement moved with the host
        step.reason = "better" if sense < 0 else "common"
        return step
    step.sd = noise(hosts)
    if step.sd is None:
        step.reason = "few"
        return step
    diff, se = _difference(sides, step.sd)
    worse = sense * diff
    step.ratio, step.z = math.exp(diff), worse / se
    step.kept = step.z >= evidence.Z and math.exp(worse) >= evidence.FACTOR
    step.reason = "supported" if step.kept else "noise"
    return step


def _difference(sides, sd, within=True):
    """(after - before in mean log level, its standard error), each host's
    sides weighted by the inverse of their variance: ``sd`` between sessions,
    and (``within``) each session's own standard error."""
    diff = weight = 0.0
    for b, a in sides:
        var = sd ** 2 * (1 / len(a) + 1 / len(b))
        if within:
            var += (sum(s.se ** 2 for s in a) / len(a) ** 2
                    + sum(s.se ** 2 for s in b) / len(b) ** 2)
        w = 1 / var
        diff += w * (statistics.fmean(math.log(s.level) for s in a)
                     - statistics.fmean(math.log(s.level) for s in b))
        weight += w
    return diff / weight, 1 / math.sqrt(weight)


def judge_series(sessions, boundaries, sense, noise=None):
    """Verdicts ({revision: Step}) on the steps at ``boundaries`` (each the
    first revision after a step) of one graph's ``sessions``.

    Each side reaches to the neighbouring supported step; the weakest
    unsupported step is dropped and the rest judged again until every one
    left is supported. ``noise(boundary, hosts)`` gives the SD to judge
    with (default: the graph's own ``between_session_sd``)."""
    if noise is None:
        def noise(boundary, hosts):
            return between_session_sd(sessions, boundary, hosts)
    remaining = sorted(set(boundaries))
    final = {}
    while remaining:
        verdicts = {}
        for i, b in enumerate(remaining):
            lo = remaining[i - 1] if i else -math.inf
            hi = remaining[i + 1] if i + 1 < len(remaining) else math.inf
            before = [s for s in sessions if lo <= s.revision < b]
            after = [s for s in sessions if b <= s.revision < hi]
            if not before or not after:
                verdicts[b] = Step(b, False, "few", before=len(before), after=len(after))
            else:
                verdicts[b] = judge_step(before, after, sense,
                                         lambda hosts, b=b: noise(b, hosts), b)
        failed = [b for b in remaining if not verdicts[b].kept]
        if not failed:
            final.update(verdicts)
            break
        weakest = min(failed, key=lambda b: -math.inf if verdicts[b].z is None
                      else verdicts[b].z)
        final[weakest] = verdicts[weakest]
        remaining.remove(weakest)
    return final


# -- asv's files ---------------------------------------------------------------

def _read_json(path, what):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file ({what})") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: not {what} ({err})") from None


def _replace(path, data):
    """Write ``path`` whole or not at all: the site must never be left with
    half a file."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_regressions(path):
    """asv's regressions.json: {"regressions": [[name, graph path, graph
    params, param index, last value, best value, [[rev1|null, rev2, value1,
    value2], ...]], ...]} (asv.plugins.regressions); one line if it is not."""
    data = _read_json(path, "asv's regressions.json")
    entries = data.get("regressions") if isinstance(data, dict) else None
    ok = isinstance(entries, list) and all(
        isinstance(e, list) and len(e) == 7 and isinstance(e[0], str)
        and isinstance(e[1], str) and isinstance(e[2], dict) and isinstance(e[6], list)
        and all(isinstance(j, list) and len(j) == 4 and isinstance(j[1], int) for j in e[6])
        for e in entries)
    if not ok:
        raise UsageError(f"{path}: not asv's regressions.json (expected "
                         '{"regressions": [[name, graph, params, index, last, best, jumps]]})')
    return data


def _sanitize(part):
    """asv.util.sanitize_filename: its character class and reserved names."""
    part = re.sub('[<>:"/\\^|?*\x00-\x1f]', "_", part)
    reserved = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{i}" for d in ("COM", "LPT")
                                                for i in range(1, 10)}
    return part + "_" if part.upper() in reserved else part


def graph_path(params, benchmark):
    """The path asv gives a graph (asv.graph.Graph.get_file_path), with ".json"."""
    parts = sorted(_sanitize(f"{k}-null" if v is None else f"{k}-{v}" if v else k)
                   for k, v in params.items())
    return "/".join(["graphs", *parts, _sanitize(benchmark)]) + ".json"


def _env_fields(m):
    """The graph parameters an environment's results give asv, beside the
    machine fields: python, each requirement and each matrix variable
    (asv turns a null into "")."""
    fields = {"machine": m.machine, "python": m.python}
    fields.update({k: "" if v is None else str(v) for k, v in m.requirements.items()})
    fields.update({f"env-{k}": "" if v is None else str(v) for k, v in m.env_vars.items()})
    return fields


def _environment_of(params, environments):
    """The (machine, env_name) whose results asv drew the graph with these
    ``params`` from, or None. Machine fields other than the name are the
    machine's, not the environment's; a key the environment lacks is null."""
    skip = set(results.MACHINE_FIELDS) - {"machine"} | {"branch"}
    found = [env for env, fields in environments.items()
             if all(fields.get(k) == v for k, v in params.items() if k not in skip)]
    return found[0] if len(found) == 1 else None


def _points(data, index):
    """The revisions of one series of a graph file that have a value."""
    out = []
    for point in data if isinstance(data, list) else []:
        if not isinstance(point, list) or len(point) != 2:
            continue
        value = point[1]
        if index is not None:
            value = value[index] if isinstance(value, list) and index < len(value) else None
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append(point[0])
    return out


class History:
    """The sessions behind asv's graphs: asv's own graph files say which
    revisions each graph drew (so results asv hid, of another benchmark
    version, stay out), the measurements give each session's level."""

    def __init__(self, html_dir, results_dir, index, measurements=None):
        self.html_dir = Path(html_dir)
        self.index = index
        self.benchmarks = index.get("benchmarks") or {}
        self.rev_hash = {int(r): h for r, h in (index.get("revision_to_hash") or {}).items()}
        hash_rev = {h: r for r, h in self.rev_hash.items()}
        measurements = results.load(results_dir) if measurements is None else measurements
        self.at = {}            # (machine, env, revision, key) -> (level, se): level_of
        self.facts = {}         # (machine, env, revision) -> {fact key: value}
        environments = {}
        timed = {}              # machine -> {(env, key): (benchmark, {revision: log level})}
        for m in measurements:
            environments.setdefault((m.machine, m.env_name), _env_fields(m))
            rev = hash_rev.get(m.commit)
            if rev is None or m.status != "ok":
                continue
            if m.benchmark.rsplit(".", 1)[-1] in HOST_FACTS:
                self.facts.setdefault((m.machine, m.env_name, rev), {})[m.key] = m.value
            found = level_of(m)
            if found:
                self.at[(m.machine, m.env_name, rev, m.key)] = found
                if sense_of(m.benchmark, m.unit) == 1:
                    row = timed.setdefault(m.machine, {}).setdefault(
                        (m.env_name, m.key), (m.benchmark, {}))
                    row[1][rev] = math.log(found[0])
        # (machine, revision) -> the session's common movement, log scale
        self.effect = {(machine, rev): e for machine, rows in timed.items()
                       for rev, e in stats.session_effects(rows, MIN_SESSION_BENCHMARKS).items()}
        # every graph asv drew: path -> (its params, benchmark, environment)
        self.graphs = {}
        for params in index.get("graph_param_list") or []:
            env = _environment_of(params, environments)
            for name in self.benchmarks:
                self.graphs[graph_path(params, name)] = (params, name, env)
        self._files = {}
        self._sessions = {}

    def key_of(self, benchmark, index):
        """The results' row key of parameter combination ``index``."""
        info = self.benchmarks[benchmark]
        if index is None or not info.get("params"):
            return results.row_key(benchmark, {})
        combo = next(itertools.islice(itertools.product(*info["params"]), index, None))
        # the reader's own labels (asv stores reprs), so the keys agree
        return results.row_key(benchmark, {n: results.param_label(v)
                                           for n, v in zip(info["param_names"], combo)})

    def sessions(self, path, index):
        """The sessions of one graph series: [Session] in revision order."""
        if (path, index) not in self._sessions:
            self._sessions[(path, index)] = self._read_sessions(path, index)
        return self._sessions[(path, index)]

    def _read_sessions(self, path, index):
        _params, name, env = self.graphs.get(path, (None, None, None))
        if env is None:
            return []
        if path not in self._files:
            try:
                self._files[path] = json.loads((self.html_dir / path).read_text())
            except (OSError, ValueError):
                self._files[path] = []
        key = self.key_of(name, index)
        revs = [r for r in _points(self._files[path], index)
                if (*env, r, key) in self.at]
        facts = [self.facts.get((*env, r), {}) for r in revs]
        # the facts every session of the graph recorded name its host
        common = sorted(set.intersection(*(set(f) for f in facts)), key=str) if facts else []
        # a time less, a rate more, by the session's common movement
        sense = sense_of(name, self.benchmarks[name].get("unit"))
        machine = env[0]
        sessions = []
        for r, f in zip(revs, facts):
            level, se = self.at[(*env, r, key)]
            level *= math.exp(-sense * self.effect.get((machine, r), 0.0))
            sessions.append(Session(r, level, tuple(f[k] for k in common), se))
        return sessions

    def neighbours(self, path, index):
        """([sessions] of the same row in the machine's other environments,
        [sessions] of the benchmark's other rows in every environment)."""
        params, name, _env = self.graphs[path]
        n = max(1, math.prod(len(p) for p in self.benchmarks[name].get("params") or []))
        indexes = range(n) if self.benchmarks[name].get("params") else [None]
        row, others = [], []
        for other, (p, b, env) in self.graphs.items():
            if b != name or env is None or p.get("machine") != params.get("machine") \
                    or p.get("branch") != params.get("branch"):
                continue
            for i in indexes:
                if other == path and i == index:
                    continue
                (row if i == index else others).append(self.sessions(other, i))
        return row, others


@dataclass
class Summary:
    """What the rewrite kept, for the line ``publish`` prints."""
    entries: int = 0
    steps: int = 0
    kept_entries: int = 0
    kept: list = field(default_factory=list)     # [(entry name, graph path, Step)]
    dropped: Counter = field(default_factory=Counter)

    def line(self):
        if not self.steps:
            return "[npthreads] regressions: asv's 5% rule found no step, nothing to judge"
        why = ", ".join(f"{n} {WHY[r]}" for r, n in self.dropped.most_common())
        return (f"[npthreads] regressions: kept {len(self.kept)} of the {self.steps} steps "
                f"asv's 5% rule found ({self.kept_entries} of its {self.entries} entries)"
                + (f"; the others are {why}" if why else ""))


def judge_entries(entries, history):
    """{(entry number, revision): Step} for every step of asv's ``entries``."""
    verdicts = {}
    for n, (name, path, _params, index, _last, _best, jumps) in enumerate(entries):
        graph = history.graphs.get(path)
        boundaries = [j[1] for j in jumps]
        if graph is None or graph[2] is None or graph[1] not in history.benchmarks:
            for b in boundaries:
                verdicts[(n, b)] = Step(b, False, "unmatched")
            continue
        benchmark = graph[1]
        sense = sense_of(benchmark, history.benchmarks[benchmark].get("unit"))
        series = history.sessions(path, index)
        if sense == 0 or not series:
            for b in boundaries:
                verdicts[(n, b)] = Step(b, False, "fact" if sense == 0 else "unmatched")
            continue
        row, others = history.neighbours(path, index)

        def noise(boundary, hosts, series=series, row=row, others=others):
            return between_session_sd(series, boundary, hosts, row, others)
        for b, step in judge_series(series, boundaries, sense, noise).items():
            verdicts[(n, b)] = step
    return verdicts


def _feed_key(benchmark, query):
    return benchmark, frozenset(query)


def _asv_feed_key(entry, jump, history):
    """The link asv's feed gives one step (asv.plugins.regressions._save_feed),
    as (benchmark, its query's pairs)."""
    name, _path, params, index, *_ = entry
    benchmark = name[:name.index("(")] if "(" in name else name
    query = {k: str(v) for k, v in params.items()}
    info = history.benchmarks.get(benchmark) or {}
    if index is not None and info.get("params"):
        combo = next(itertools.islice(itertools.product(*info["params"]), index, None))
        query.update({f"p-{k}": str(v) for k, v in zip(info["param_names"], combo)})
    rev1, rev2 = jump[0], jump[1]
    query["commits"] = (history.rev_hash.get(rev2, "") if rev1 is None
                        else f"{history.rev_hash.get(rev1, '')}-{history.rev_hash.get(rev2, '')}")
    return _feed_key(benchmark, query.items())


def _link_key(href):
    """(benchmark, query pairs) of a feed entry's link, or None."""
    benchmark, _, query = href.partition("#")[2].partition("?")
    return _feed_key(urllib.parse.unquote(benchmark),
                     urllib.parse.parse_qsl(query, keep_blank_values=True))


def filter_feed(path, keep):
    """Rewrite asv's Atom feed with only the entries whose link is in
    ``keep``; the feed's own fields as asv writes them (asv.feed.write_atom:
    the feed is as new as its newest entry, or now when it has none).
    Returns how many entries were kept."""
    try:
        tree = ET.parse(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (asv's regressions feed)") from None
    except (OSError, ET.ParseError) as err:
        raise UsageError(f"{path}: not asv's regressions feed ({err})") from None
    root = tree.getroot()
    if root.tag != f"{{{ATOM}}}feed":
        raise UsageError(f"{path}: not asv's regressions feed (no Atom <feed>)")
    kept = 0
    for entry in root.findall(f"{{{ATOM}}}entry"):
        link = entry.find(f"{{{ATOM}}}link")
        # asv sets the Atom-qualified href, which serialises as a plain one
        href = (link.get("href") or link.get(f"{{{ATOM}}}href") or "") if link is not None else ""
        if _link_key(href) in keep:
            kept += 1
        else:
            root.remove(entry)
    updated = root.find(f"{{{ATOM}}}updated")
    if updated is not None:
        stamps = [e.findtext(f"{{{ATOM}}}updated") or ""
                  for e in root.findall(f"{{{ATOM}}}entry")]
        updated.text = max(stamps) if stamps else datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Parsed back, asv's attributes (href, type) are unqualified; asv sets
    # them Atom-qualified, and ElementTree writes a default namespace only
    # when every name is.
    for el in root.iter():
        for name in [n for n in el.attrib if not n.startswith("{")]:
            el.set(f"{{{ATOM}}}{name}", el.attrib.pop(name))
    out = io.BytesIO()
    tree.write(out, xml_declaration=True, default_namespace=ATOM, encoding="utf-8")
    _replace(path, out.getvalue())
    return kept


def rewrite(html_dir, results_dir, measurements=None):
    """Keep in ``html_dir``'s regressions.json and regressions.xml only the
    steps the sessions support; returns a ``Summary``."""
    html_dir = Path(html_dir)
    reg_path = html_dir / "regressions.json"
    data = read_regressions(reg_path)
    index = _read_json(html_dir / "index.json", "asv's index.json")
    if not isinstance(index, dict):
        raise UsageError(f"{html_dir / 'index.json'}: not asv's index.json")
    entries = data["regressions"]
    summary = Summary(entries=len(entries), steps=sum(len(e[6]) for e in entries))
    history = History(html_dir, results_dir, index, measurements)
    verdicts = judge_entries(entries, history) if entries else {}
    kept_entries, keep = [], set()
    for n, entry in enumerate(entries):
        jumps = []
        for jump in entry[6]:
            step = verdicts[(n, jump[1])]
            if step.kept:
                jumps.append(jump)
                summary.kept.append((entry[0], entry[1], step))
                keep.add(_asv_feed_key(entry, jump, history))
            else:
                summary.dropped[step.reason] += 1
        if jumps:
            # asv's last and best values stay: they describe the graph
            kept_entries.append(entry[:6] + [jumps])
    summary.kept_entries = len(kept_entries)
    # the feed first: a corrupt one then leaves both files as asv wrote them
    feed = html_dir / "regressions.xml"
    if filter_feed(feed, keep) != len(keep):
        print(f"npthreads: warning: {feed}: not every kept step has its entry there",
              file=sys.stderr)
    data["regressions"] = kept_entries
    # as asv writes it (asv.util.write_json, compact)
    _replace(reg_path, json.dumps(data).encode("utf-8"))
    return summary
