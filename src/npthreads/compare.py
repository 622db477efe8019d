"""``npthreads compare``: did an upgrade or a commit make anything slower?

Two questions asv alone does not answer in one step:
- environment against environment at one commit ("numpy 2.3.5 -> 2.4.6",
  which also swaps the vendored OpenBLAS); ``asv compare`` only compares
  commits (asv issue #370);
- commit against commit in one environment (by default the pin-following
  one, so a commit that bumps the numpy pin shows up), with a verdict CI
  can gate on: ``asv continuous`` exits 1 for "slower" and "newly failing"
  alike, and says nothing when there are too few samples to tell.

Each side is an (environment, commit) pair of one machine's results. Per
benchmark and parameter combination it reports both sides' medians of round
summaries, their ratio, the row's resolution (the smallest change it could
have detected in this run, from its own rounds and the negative control:
``npthreads.evidence``), a rank test over rounds and a verdict. A row is
"slower" only beyond ``max(--factor, resolution)`` with its rounds
separated; beyond it with the rounds overlapping (a bimodal cell whose share
of slow rounds differs) it is "unstable": shown, not gated.

Why rounds: three full runs on this shared VM had the A/A pair (numpy 2.4.6
against the pin-following environment, the same numpy) flag 8-10 of 84 rows
each on pooled samples, up to 6.7x, and none of those again in another run
(issue 8). Samples of one round share a process and a stretch of machine
state; rounds are the independent unit.

Sides measured in different sessions (commit against commit, each from its
own ``make bench``) carry the machine's drift between sessions, which no
control in either run measures: the comparison says so, shows what differs
(BLAS kernel, thread variables, calibrated DGEMM peak and triad bandwidth),
and gates only on rows confirmed by ``--confirm``, which re-measures both
sides interleaved in one session with asv's own ``--append-samples`` and
judges the new rounds alone.

Environment pairs at one commit are also judged in the machine's other
committed runs (``judge_in_other_runs``): each slower or faster row says in
how many of them it came out the same, a history no verdict or exit code
depends on.

Exit codes: 0 no significant slowdown, 1 slowdowns found, 2 bad usage or
unreadable data. Newly failing benchmarks are reported but do not set 1,
so the code means one thing.
"""

import functools
import json
import math
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import (UsageError, asvrun, blasfacts, compare_report, evidence, pooled, profiles,
               racing, results, stats)
from .compare_report import fmt_ratio
from .verdicts import (CHANGED, EXIT_OK, EXIT_SLOWER, FAILED, FASTER, INVALID, MISSING,
                       SKIPPED, SLOWER, TOO_FEW, TRACKED, UNCHANGED, UNSTABLE, counts)
from .units import format_value

DEFAULT_FACTOR = evidence.FACTOR
# Sides whose asv runs lie further apart than this are different sessions.
# asv records when each benchmark's last round started; in one interleaved
# run (a make bench, or asv run HASHFILE:) two sides' last rounds lie within
# a minute or two, while a whole make bench takes about 14 minutes here.
SESSION_GAP_MS = 5 * 60 * 1000


@dataclass
class Side:
    """One side of the comparison: an environment at a commit."""
    env_name: str
    commit: str
    measurements: dict = field(default_factory=dict)  # (benchmark, params) -> Measurement

    @classmethod
    def of(cls, measurements, env_name, commit):
        """The side of ``env_name`` at ``commit``, from a machine's measurements."""
        return cls(env_name, commit, {m.key: m for m in measurements
                                      if m.env_name == env_name and m.commit == commit})

    @property
    def numpy(self):
        first = next(iter(self.measurements.values()), None)
        return first.numpy if first else "?"

    def tracked(self, suffix):
        """The value of this environment's ``track_`` ending in ``suffix``
        (BlasRuntime, MachineLimits), if it ran."""
        for (name, _), m in self.measurements.items():
            if name.endswith(suffix) and m.status == "ok" and m.value is not None:
                return m.value
        return None

    @property
    def openblas(self):
        """The OpenBLAS version this environment ran, from the suite's own
        BlasRuntime track (major*10000+minor*100+patch), if it was run."""
        value = self.tracked("track_openblas_version")
        return blasfacts.version_text(value) if value else None

    @property
    def session(self):
        """(first, last) time asv ran a benchmark of this side, ms since epoch."""
        times = [m.started_at for m in self.measurements.values() if m.started_at]
        return (min(times), max(times)) if times else (0, 0)

    def facts(self):
        """What the numbers depend on besides the code: shown side by side
        when the two sides come from different sessions."""
        kernel = self.tracked("track_blas_architecture")
        peak = self.tracked("track_dgemm_peak_gflops")
        triad = self.tracked("track_triad_gbytes_per_s")
        env_vars = next((m.env_vars for m in self.measurements.values()), {})
        return {
            "OpenBLAS": self.openblas or "-",
            "BLAS kernel": blasfacts.decode(blasfacts.ARCHITECTURES, kernel)
            if kernel is not None else "-",
            "DGEMM peak": f"{peak:.0f} GFLOP/s" if peak else "-",
            "triad": f"{triad:.1f} GB/s" if triad else "-",
            "thread variables": ", ".join(f"{k}={v!r}" for k, v in sorted(env_vars.items()))
            or "-",
        }

    def describe(self, with_commit=True):
        text = f"numpy {self.numpy}"
        if self.openblas:
            text += f" (OpenBLAS {self.openblas})"
        first = next(iter(self.measurements.values()), None)
        if first is not None and first.free_threaded:
            text += f" on CPython {first.python}, GIL {first.gil}"
        if with_commit:
            text += f" @ {self.commit[:8]}"
        return text


@dataclass
class Row:
    """One benchmark at one parameter combination, compared."""
    benchmark: str
    params: dict
    unit: str
    verdict: str
    before: float | None = None       # median of the round summaries
    after: float | None = None
    ratio: float | None = None        # after / before
    fastest: float | None = None      # ratio of the fastest samples, for the reader
    p: float | None = None            # rank test over round summaries
    resolution: float | None = None   # smallest change this row could detect (ratio)
    floor: float = 1.0                # the resolution unlimited rounds of one run would reach
    n_before: int = 0                 # rounds
    n_after: int = 0
    spread_before: str = ""           # the rounds' distribution, in words
    spread_after: str = ""
    note: str = ""
    confirmed: str = ""               # "", "confirmed" or "not confirmed" (--confirm)
    other_runs: int = 0               # other full runs that judged this row (--history)
    same_in_other_runs: int = 0       # of those, how many gave it the same verdict
    # Pooled over the machine's full runs (``npthreads.pooled``): "" where
    # the two sides are not an environment pair measured in enough runs.
    pooled: str = ""                  # slower, faster or unchanged
    pooled_ratio: float | None = None
    pooled_resolution: float | None = None
    pooled_runs: int = 0

    @property
    def scenario(self):
        return results.scenario_of(self.benchmark)

    @property
    def name(self):
        """Benchmark without its module: "MatmulThreadSplit.time_matmul_batch"."""
        return ".".join(self.benchmark.split(".")[-2:])

    @property
    def key(self):
        return results.row_key(self.benchmark, self.params)

    @property
    def size_of_change(self):
        return abs(math.log(self.ratio)) if self.ratio and self.ratio > 0 else 0.0


# -- choosing the two sides ---------------------------------------------------

def choose_machine(results_dir, wanted):
    names = list(results.machines(results_dir))
    if wanted:
        if wanted not in names:
            raise UsageError(f"no results for machine {wanted!r} under {results_dir}; "
                             f"machines: {', '.join(names) or 'none'}")
        return wanted
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError(f"{results_dir}: no machine has results (run the benchmarks first)")
    raise UsageError(f"results of several machines under {results_dir}; "
                     f"choose one with --machine: {', '.join(names)}")


def env_label(m):
    """How ``select_env`` knows an environment: its numpy, the OpenBLAS
    build swapped into it if any, and a free-threaded CPython with its GIL
    ("2.4.6", "2.4.6+openblas0.3.27.44.6", "2.4.6+py3.13t+gil-off")."""
    label = m.numpy + (f"+openblas{m.openblas_build}" if m.openblas_build else "")
    if m.free_threaded:
        label += f"+py{m.python}+gil-{m.gil}"
    return label


def _label_fields(label):
    numpy, *rest = label.split("+")
    fields = {"numpy": numpy, "openblas": "", "python": "", "gil": ""}
    for part in rest:
        for key, prefix in (("openblas", "openblas"), ("python", "py"), ("gil", "gil-")):
            if part.startswith(prefix):
                fields[key] = part[len(prefix):]
                break
    return fields


GIL_WORDS = {"0": "off", "off": "off", "1": "on", "on": "on"}


def _selector_fields(selector):
    """{field: value} of ``numpy==X[,gil==off][,python==3.13t]`` or
    ``openblas==B``; None if ``selector`` is not in that form."""
    terms = [t for t in selector.replace(" ", "").split(",") if t]
    fields = {}
    for term in terms:
        key, sep, value = term.partition("==")
        if not sep or key not in ("numpy", "openblas", "python", "gil") or not value:
            return None
        if key == "gil":
            if value.lower() not in GIL_WORDS:
                raise UsageError(f"gil=={value!r}: say on or off (1 or 0)")
            value = GIL_WORDS[value.lower()]
        fields[key] = value
    return fields or None


def _selector_of(label):
    """The selector that names an environment of ``label``."""
    fields = _label_fields(label)
    terms = [f"numpy=={fields['numpy']}"]
    terms += [f"{k}=={fields[k]}" for k in ("openblas", "gil") if fields[k]]
    return ",".join(terms)


def select_env(envs, selector):
    """The one environment ``selector`` names: ``numpy==X`` (``pinned`` for
    the pin-following one; the wheel's own OpenBLAS, a GIL build),
    ``openblas==B`` (the environment with that scipy-openblas64 build
    swapped in), ``numpy==X,gil==off`` (or ``on``; the free-threaded
    CPython, ``python==3.13t`` where there are several), a full environment
    name, or a unique part of one. ``envs`` maps environment name ->
    ``env_label``."""
    wanted = _selector_fields(selector)
    if wanted is not None:
        if "openblas" not in wanted and "numpy" in wanted:
            wanted.setdefault("openblas", "")
        if "gil" not in wanted and "python" not in wanted:
            wanted["python"] = ""       # a GIL build, unless asked otherwise
        found = [e for e, label in envs.items()
                 if all(_label_fields(label)[k] == v for k, v in wanted.items())]
        what = ",".join(f"{k}=={v}" for k, v in wanted.items() if v)
    elif selector in envs:
        return selector
    else:
        found = [e for e in envs if selector in e]
        what = repr(selector)
    if len(found) == 1:
        return found[0]
    available = "; ".join(f"{_selector_of(label)} ({e})" for e, label in sorted(envs.items()))
    if not found:
        raise UsageError(f"no environment matches {what}; available: {available}")
    raise UsageError(f"{what} matches {len(found)} environments, give a full name: "
                     + ", ".join(sorted(found)))


def default_env(envs):
    """Commit against commit runs in the pin-following environment: the
    one whose numpy moves when a commit bumps the pin."""
    pinned = [e for e, numpy in envs.items() if numpy == "pinned"]
    if len(pinned) == 1:
        return pinned[0]
    if len(envs) == 1:
        return next(iter(envs))
    raise UsageError("no single pin-following environment; choose one with --env "
                     "(e.g. --env numpy==2.4.6)")


def _git_commit(ref, root):
    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                             cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def select_commit(commits, ref, env_name, root):
    """The result commit ``ref`` names: a hash prefix of a commit with
    results, or anything git resolves in the repository (a tag, HEAD~1)."""
    matches = [c for c in commits if c.startswith(ref.lower())] if len(ref) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(f"commit {ref!r} is ambiguous: {', '.join(c[:10] for c in matches)}")
    full = _git_commit(ref, root)
    if full and full in commits:
        return full
    have = ", ".join(c[:8] for c in commits) or "none"
    shown = f"{ref!r}" + (f" ({full[:8]})" if full else "")
    raise UsageError(f"no results for commit {shown} in {env_name}; commits with results: {have}")


def choose_sides(measurements, args, root):
    """Resolve the options to two (environment, commit) sides."""
    by_env = {}
    for m in measurements:
        by_env.setdefault(m.env_name, {}).setdefault(m.commit, m.date)
    if not by_env:
        raise UsageError("the results hold no measurements")
    envs = {e: next(env_label(m) for m in measurements if m.env_name == e) for e in by_env}

    commit_mode = any((args.from_commit, args.to_commit, args.commits))
    if args.commits:
        if args.from_commit or args.to_commit:
            raise UsageError("give --commits A B or --from-commit/--to-commit, not both")
    # Locals, not args: --confirm resolves the sides a second time.
    from_commit, to_commit = args.commits if args.commits else (args.from_commit, args.to_commit)
    if bool(args.from_env) != bool(args.to_env):
        raise UsageError("give both --from and --to (environments), or neither")
    if not args.from_env and not commit_mode:
        raise UsageError("nothing to compare: give --from/--to (environments) "
                         "or --from-commit/--to-commit (commits)")
    if args.env and args.from_env:
        raise UsageError("give --env or --from/--to, not both")

    if args.from_env:
        env_a, env_b = select_env(envs, args.from_env), select_env(envs, args.to_env)
    else:
        env_a = env_b = select_env(envs, args.env) if args.env else default_env(envs)

    commits_a = sorted(by_env[env_a], key=by_env[env_a].get, reverse=True)
    commits_b = sorted(by_env[env_b], key=by_env[env_b].get, reverse=True)
    ref_a = from_commit or args.commit
    ref_b = to_commit or args.commit
    commit_a = select_commit(commits_a, ref_a, env_a, root) if ref_a else None
    commit_b = select_commit(commits_b, ref_b, env_b, root) if ref_b else None
    if commit_a is None and commit_b is None:
        common = [c for c in commits_b if c in by_env[env_a]]
        if not common:
            raise UsageError(f"no commit has results for both {env_a} and {env_b}")
        commit_a = commit_b = common[0]
    elif commit_a is None:
        commit_a = next((c for c in commits_a if env_a != env_b or c != commit_b), None)
    elif commit_b is None:
        commit_b = next((c for c in commits_b if env_a != env_b or c != commit_a), None)
    if commit_a is None or commit_b is None:
        raise UsageError(f"{env_a} has results for one commit only: nothing to compare it with")
    if (env_a, commit_a) == (env_b, commit_b):
        raise UsageError(f"both sides are {env_a} at {commit_a[:8]}: nothing to compare")

    return [Side.of(measurements, env_a, commit_a), Side.of(measurements, env_b, commit_b)]


def same_session(side_a, side_b, gap_ms=SESSION_GAP_MS):
    """Whether the two sides were measured in one session: their asv run
    times overlap or lie within ``gap_ms`` of each other."""
    (a0, a1), (b0, b1) = side_a.session, side_b.session
    if not (a0 and b0):
        return side_a.commit == side_b.commit
    return a0 <= b1 + gap_ms and b0 <= a1 + gap_ms


# -- comparing ------------------------------------------------------------------

def compare_one(a, b, timed, factor, noise, skip=(0, 0), alpha=evidence.ROUND_ALPHA):
    """The row for one benchmark and parameter combination; ``a`` or ``b``
    is None where that side did not run it. ``skip`` drops each side's
    first rounds (``--confirm`` judges the new rounds alone)."""
    some = a or b
    row = Row(some.benchmark, dict(some.params), some.unit, UNCHANGED)
    if a is None or b is None:
        row.verdict, row.note = MISSING, "only in " + ("to" if a is None else "from")
        return row
    row.before, row.after = a.value, b.value
    if FAILED in (a.status, b.status):
        row.verdict = FAILED
        row.note = {("ok", FAILED): "newly failing", (FAILED, FAILED): "fails in both",
                    (FAILED, "ok"): "fixed: failed before"}.get((a.status, b.status),
                                                                 f"{a.status} -> {b.status}")
        return row
    if INVALID in (a.status, b.status):
        row.verdict, row.note = INVALID, "an unusable value in the result file"
        return row
    if SKIPPED in (a.status, b.status):
        row.verdict = SKIPPED
        return row
    if not timed:
        # A tracked value (GB/s, a version number) has no rounds and no
        # known direction: shown, never judged.
        if a.value and b.value:
            row.ratio = b.value / a.value
        row.verdict = TRACKED
        return row
    rounds_a = evidence.rounds_of(a)[skip[0]:]
    rounds_b = evidence.rounds_of(b)[skip[1]:]
    row.n_before, row.n_after = len(rounds_a), len(rounds_b)
    if not rounds_a or not rounds_b:
        row.verdict = TOO_FEW
        row.note = "no samples recorded (asv run --record-samples)"
        return row
    row.before = statistics.median(rounds_a)
    row.after = statistics.median(rounds_b)
    samples_a = [s for s in a.samples if s and s > 0]
    samples_b = [s for s in b.samples if s and s > 0]
    if samples_a and samples_b:
        row.fastest = min(samples_b) / min(samples_a)
    resolution = noise.resolution(row.key, len(rounds_a), len(rounds_b))
    row.floor = noise.floor(row.key)
    j = evidence.judge(rounds_a, rounds_b, resolution, factor, alpha)
    row.ratio, row.p, row.resolution = j.ratio, j.p, j.resolution
    if j.bimodal:
        fmt = functools.partial(format_value, unit=row.unit)
        row.spread_before = evidence.describe_distribution(rounds_a, fmt)
        row.spread_after = evidence.describe_distribution(rounds_b, fmt)
    if j.too_few:
        row.verdict = TOO_FEW
        row.note = (f"{row.n_before} vs {row.n_after} rounds cannot reach "
                    f"p < {alpha:g}")
    elif j.direction and j.separated:
        row.verdict = SLOWER if j.direction > 0 else FASTER
    elif j.direction or j.share_changed:
        row.verdict = UNSTABLE
        if j.bimodal:
            row.note = (f"bimodal, judged on its fast rounds; the share of slow rounds "
                        f"differs: from {row.spread_before}, to {row.spread_after}")
        else:
            row.note = f"beyond {j.threshold:.2f}x but the rounds overlap (p {j.p:.2g})"
    elif resolution is None:
        row.note = "noise unknown: too few rounds in this run"
    elif resolution > evidence.USEFUL:
        row.note = f"cannot resolve a change below {resolution:.2f}x here"
    if j.bimodal and "bimodal" not in row.note:
        row.note = "; ".join(x for x in (row.note, f"bimodal, judged on its fast rounds: "
                                         f"from {row.spread_before}, to {row.spread_after}") if x)
    return row


def compare_sides(side_a, side_b, factor, noise, skip=None, alpha=evidence.ROUND_ALPHA):
    """Every row, largest change first: failures, then by |log ratio|.
    ``skip`` maps a row's key to the rounds of each side to leave out."""
    skip = skip or {}
    keys = list(side_a.measurements) + [k for k in side_b.measurements
                                        if k not in side_a.measurements]
    rows = [compare_one(side_a.measurements.get(k), side_b.measurements.get(k),
                        evidence.is_timed(k[0]), factor, noise,
                        skip.get(k, (0, 0)), alpha)
            for k in keys]
    if not any(r.verdict not in (MISSING,) for r in rows):
        raise UsageError(f"the two sides share no benchmark and parameter combination: "
                         f"{side_a.env_name}@{side_a.commit[:8]} against "
                         f"{side_b.env_name}@{side_b.commit[:8]} (different suites or grids?)")
    order = {v: i for i, v in enumerate((FAILED, SLOWER, FASTER, UNSTABLE, UNCHANGED,
                                         TOO_FEW, TRACKED, INVALID, SKIPPED, MISSING))}
    group = {FAILED: 0, SLOWER: 1, FASTER: 1, UNSTABLE: 1, UNCHANGED: 1, TOO_FEW: 1}
    rows.sort(key=lambda r: (group.get(r.verdict, 2), -r.size_of_change,
                             order[r.verdict], r.benchmark, sorted(r.params.items())))
    return rows


# How many other full runs a slower or faster row is judged again in.
HISTORY_RUNS = 4


def judge_in_other_runs(measurements, side_a, side_b, rows, factor, most=HISTORY_RUNS):
    """For two environments at one commit: judge the same two environments in
    up to ``most`` other full runs of the machine (newest first), each run on
    its own noise model as ``npthreads reproducibility`` does, and count on
    every slower or faster row how many of them gave it the same verdict.

    Why: within one run a verdict is as good as that run's noise model, and
    the machine drifts between sessions. Over four committed runs the
    oversubscribed 384x384 cells of 2.1.3 -> 2.2.6 came out slower in 3 of 4,
    never faster, while the BLAS-above-cores rows of 1.26.4 -> 2.0.2 were
    slower in 4 of 4: the count says which verdict to re-measure (--confirm)
    before acting on it. Comparing two commits has no other runs of the same
    pair. Returns the commits judged."""
    if side_a.commit != side_b.commit or most < 1:
        return []
    flagged = {r.key: r for r in rows if r.verdict in (SLOWER, FASTER)}
    judged = []
    for commit in evidence.method_runs(measurements):
        if commit == side_a.commit:
            continue
        then_a = Side.of(measurements, side_a.env_name, commit)
        then_b = Side.of(measurements, side_b.env_name, commit)
        if not (then_a.measurements and then_b.measurements):
            continue
        judged.append(commit)
        if flagged:
            noise = evidence.noise_of(measurements, [commit])
            then = {r.key: r.verdict for r in compare_sides(then_a, then_b, factor, noise)}
            for key, row in flagged.items():
                if key in then:
                    row.other_runs += 1
                    row.same_in_other_runs += then[key] == row.verdict
        if len(judged) == most:
            break
    return judged


def judge_pooled(history, side_a, side_b, rows, factor):
    """Each timed row of an environment pair, pooled over the machine's full
    runs that measured both environments as this commit did
    (``pooled.History.pair``): the verdict every session says together.

    Within one run a threaded row resolves ~2x on this VM, because how far
    one environment's level moves against another's from session to session
    cannot be averaged out in one session; pooled over five runs the same
    rows resolve 1.15-1.32x, and the 2.1.3 -> 2.2.6 oversubscribed 384x384
    cells that were flagged in some runs and never in the opposite direction
    are called. Two commits of one environment are different sessions,
    not replications: nothing is pooled there. Returns the number of runs
    the most-pooled row combined (0: nothing pooled)."""
    if side_a.commit != side_b.commit or side_a.env_name == side_b.env_name:
        return 0
    most = 0
    for r in rows:
        if not evidence.is_timed(r.benchmark) or r.verdict in (FAILED, SKIPPED, MISSING,
                                                                INVALID):
            continue
        found = history.pair(side_a.env_name, side_b.env_name, r.key, side_a.commit)
        if not found.pooled:
            continue
        r.pooled_ratio, r.pooled_resolution = found.ratio, found.resolution
        r.pooled_runs = found.runs
        r.pooled = {1: SLOWER, -1: FASTER, 0: UNCHANGED}[found.direction(factor)]
        most = max(most, found.runs)
    return most


def decided(r):
    """The verdict a row stands on: pooled over runs where it was pooled
    (narrower, and every session agrees to it), else this run's."""
    return r.pooled or r.verdict


def exit_code(rows, gated=True):
    """1 if any row is slower and the comparison may gate: both sides from
    one session (or an environment pair pooled over the machine's runs,
    each of them one session), or the slowdowns confirmed by re-measuring."""
    slower = [r for r in rows if r.verdict == SLOWER or r.pooled == SLOWER]
    return EXIT_SLOWER if gated and slower else EXIT_OK


# -- confirmation: re-measure flagged rows, both sides, one session ---------------

def asv_pattern(row):
    """asv's -b regex for exactly this combination: asv matches a
    parameterized benchmark as ``name(repr, repr, ...)``."""
    combo = ", ".join(repr(v) for v in row.params.values())
    return f"^{re.escape(row.benchmark)}\\({re.escape(combo)}\\)$"


def _confirm_config(side_a, side_b, results_dir, args):
    """(asv config path, config) to re-measure the two sides with."""
    swapped = [s.env_name for s in (side_a, side_b)
               if any(m.openblas_build for m in s.measurements.values())]
    if swapped and not args.config:
        raise UsageError(f"--confirm rebuilds environments of the numpy axis only; "
                         f"{swapped[0]} has a swapped OpenBLAS: re-measure it with "
                         "`npthreads bisect` or give --config")
    threaded = [s.env_name for s in (side_a, side_b)
                if any(m.free_threaded for m in s.measurements.values())]
    if threaded and not args.config:
        raise UsageError(f"--confirm rebuilds environments of the numpy axis only; "
                         f"{threaded[0]} runs a free-threaded CPython: re-measure it with "
                         "`npthreads bench --axis freethreaded` or give --config")
    if args.config:
        config_path = Path(args.config).resolve()
        if not config_path.is_file():
            raise UsageError(f"--config {args.config}: no such file")
        return config_path, asvrun.load_config_at(config_path)
    # The repository's config, limited to the two sides' environments and
    # writing into the results being compared.
    root = asvrun.repo_root()
    numpys = sorted({side_a.numpy, side_b.numpy})
    config_path = asvrun.profile_config(root, profiles.active_profile(), numpys)
    conf = asvrun.load_config_at(config_path)
    conf["results_dir"] = str(Path(results_dir).resolve())
    config_path.write_text(json.dumps(conf, indent=2) + "\n")
    return config_path, conf


def measure_rows(targets, side_a, side_b, machine, config_path, conf, rounds, timeout):
    """Append ``rounds`` rounds of ``targets`` to both sides, interleaved, in
    one asv session (asv --append-samples); stopped after ``timeout`` s
    (what was measured by then stays on disk)."""
    root = asvrun.repo_root()
    if side_a.commit == side_b.commit:
        spec = f"{side_a.commit}^!"
    else:
        hashfile = config_path.with_name("confirm-hashes.txt")
        hashfile.write_text(f"{side_a.commit}\n{side_b.commit}\n")
        spec = f"HASHFILE:{hashfile}"
    cmd = ["run", spec, "--config", str(config_path), "--machine", machine,
           "--append-samples", "--record-samples", "--interleave-rounds", "--show-stderr",
           "-a", f"rounds={rounds}"]
    for r in targets:
        cmd += ["-b", asv_pattern(r)]
    code = asvrun.asv(cmd, asvrun.asv_environ(conf, profiles.active_profile()), root,
                      timeout=timeout, to_stderr=True)
    if code == asvrun.TIMED_OUT:
        print("[confirm] stopped at the time bound: judging the rounds measured so far",
              file=sys.stderr, flush=True)
    return code


def confirm(rows, side_a, side_b, machine, results_dir, noise, one_session, args):
    """Re-measure the rows whose answer is worth more rounds (every slower
    row, and every row whose estimate lies beyond the factor but is not yet
    decided: ``racing.contenders``) on both sides, interleaved in this
    session, batch after batch until each is decided or the time bound
    (``racing.race``). Two sides of one session are judged on all their
    rounds; sides from different sessions on the new rounds alone, which
    share a session. Returns the rows with the re-measured ones replaced,
    or None if nothing needed re-measuring."""
    targets = racing.contenders(rows, args.factor, args.confirm_max)
    if not targets:
        return None
    here = asvrun.machine_name()
    if here != machine:
        raise UsageError(f"--confirm re-measures on this machine ({here}), but the results "
                         f"are from {machine}: run it there")
    config_path, conf = _confirm_config(side_a, side_b, results_dir, args)
    asvrun.register_machine(machine)
    first = {r.key: r for r in rows}
    skip = {} if one_session else {
        r.key: (len(evidence.rounds_of(side_a.measurements[r.key])),
                len(evidence.rounds_of(side_b.measurements[r.key]))) for r in targets}

    def measure(batch, left):
        measure_rows(batch, side_a, side_b, machine, config_path, conf, args.confirm_rounds,
                     min(left, args.confirm_timeout))

    looks = [1]   # the first judgement was a look at the data too

    def rejudge():
        # Every batch is another look at the same rows: the rank test's
        # level is divided by the looks so far (Bonferroni), or a row that
        # is raced long enough comes out changed by chance. Seen in a CI run
        # before this: an untouched cache-sized fill raced to 30 rounds a
        # side came out 1.71x "slower" at p = 0.043 on its fourth look.
        looks[0] += 1
        measurements = results.load(results_dir, machine)
        a = Side.of(measurements, side_a.env_name, side_a.commit)
        b = Side.of(measurements, side_b.env_name, side_b.commit)
        return {r.key: r for r in compare_sides(a, b, args.factor, noise, skip=skip,
                                                alpha=evidence.ROUND_ALPHA / looks[0])}

    def say(text):
        print(text.replace("[race]", "[confirm]"), file=sys.stderr, flush=True)

    say(f"[confirm] re-measuring {len(targets)} row(s), {args.confirm_rounds} rounds a side "
        f"a batch, both sides interleaved in this session (at most "
        f"{args.confirm_timeout:g} s)")
    latest, _ = racing.race(targets, measure, rejudge, args.factor, args.confirm_timeout, say)
    out = []
    for r in rows:
        new = latest.get(r.key)
        if new is None:
            if r.verdict == SLOWER:
                r.confirmed = "not re-measured (--confirm-max)"
            out.append(r)
            continue
        was = first[r.key]
        added = new.n_after - (0 if skip else was.n_after)
        if was.verdict == SLOWER:
            new.confirmed = "confirmed" if new.verdict == SLOWER else "not confirmed"
        else:
            new.confirmed = f"raced: {added} more rounds a side"
        new.note = (f"first {fmt_ratio(was.ratio)} {was.verdict}; re-measured in one "
                    f"session: {new.note or new.verdict}")
        out.append(new)
    return out


# -- command line ---------------------------------------------------------------

def add_arguments(parser):
    which = parser.add_argument_group("what to compare")
    which.add_argument("--from", dest="from_env", metavar="ENV",
                       help="environment before: numpy==X (numpy==pinned for the "
                            "pin-following one), a full asv environment name or a unique part")
    which.add_argument("--to", dest="to_env", metavar="ENV", help="environment after")
    which.add_argument("--commit", metavar="REF",
                       help="commit of both sides (default: newest with results for both)")
    which.add_argument("--from-commit", metavar="REF", help="commit before (hash prefix or git ref)")
    which.add_argument("--to-commit", metavar="REF", help="commit after")
    which.add_argument("--commits", nargs=2, metavar=("BEFORE", "AFTER"),
                       help="shorthand for --from-commit BEFORE --to-commit AFTER")
    which.add_argument("--env", metavar="ENV",
                       help="environment of both sides when comparing commits "
                            "(default: the pin-following one)")
    where = parser.add_argument_group("which results")
    where.add_argument("--results", metavar="DIR",
                       help="asv results directory (default: results/ of the repository)")
    where.add_argument("--machine", metavar="NAME",
                       help="machine whose results to read (default: the only one)")
    judge = parser.add_argument_group("verdict and output")
    judge.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                       help="the least change worth a verdict, whatever the resolution "
                            f"(default {DEFAULT_FACTOR})")
    judge.add_argument("--only-changed", action="store_true",
                       help="list only slower, faster, unstable and failing rows "
                            "(summaries count all)")
    out = judge.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--markdown", action="store_true",
                     help="a Markdown table for a pull-request comment")
    again = parser.add_argument_group("confirmation (re-measures with asv, on this machine)")
    again.add_argument("--confirm", action="store_true",
                       help="re-measure the slower rows, and the rows whose estimate is beyond "
                            "--factor but not yet decided, on both sides, interleaved in one "
                            "session (asv --append-samples), batch after batch until decided "
                            "or --confirm-timeout; sides from different sessions are judged "
                            "on the new rounds alone")
    # 8 a side: a rank test over 6 against 6 rounds needs them all apart
    # (a real 20% slowdown came out 1.21x with one round overlapping here).
    again.add_argument("--confirm-rounds", type=int, default=8, metavar="N",
                       help="rounds a side to add in each batch (default 8)")
    again.add_argument("--confirm-max", type=int, default=12, metavar="ROWS",
                       help="confirm at most this many rows, largest change first (default 12)")
    again.add_argument("--config", metavar="ASV_CONF",
                       help="asv config to re-measure with (default: the repository's "
                            "asv.conf.json, limited to the two sides' environments)")
    again.add_argument("--confirm-timeout", type=float, default=600.0, metavar="SECONDS",
                       help="stop re-measuring after this long, all batches together "
                            "(default 600)")
    judge.add_argument("--no-pooled", dest="pooled", action="store_false",
                       help="judge on this run alone, without the verdict pooled over the "
                            "machine's full runs")
    judge.add_argument("--history", type=int, default=HISTORY_RUNS, metavar="RUNS",
                       help="judge the two environments again in up to this many other "
                            "committed runs and say, per slower or faster row, in how many "
                            f"it came out the same (default {HISTORY_RUNS}; 0: off)")


def _check(args):
    if not (args.factor >= 1.0 and math.isfinite(args.factor)):
        raise UsageError(f"--factor must be a number >= 1 (got {args.factor})")
    if not stats.can_decide(args.confirm_rounds, args.confirm_rounds, evidence.ROUND_ALPHA):
        raise UsageError(f"--confirm-rounds {args.confirm_rounds}: so few rounds a side can "
                         f"never reach p < {evidence.ROUND_ALPHA:g}; give more")
    if args.history < 0:
        raise UsageError(f"--history must be 0 or more runs (got {args.history})")
    if args.confirm_max < 1:
        raise UsageError(f"--confirm-max must be at least 1 (got {args.confirm_max})")
    if not (args.confirm_timeout > 0 and math.isfinite(args.confirm_timeout)):
        raise UsageError(f"--confirm-timeout must be a positive number of seconds "
                         f"(got {args.confirm_timeout})")


def load_comparison(args):
    """Everything a comparison needs from disk: machine, measurements, sides, noise."""
    results_dir = asvrun.results_dir(args.results)
    machine = choose_machine(results_dir, args.machine)
    measurements = results.load(results_dir, machine)
    root = results_dir if results_dir.is_dir() else Path.cwd()
    side_a, side_b = choose_sides(measurements, args, root)
    noise = evidence.noise_of(measurements, sorted({side_a.commit, side_b.commit}))
    return results_dir, machine, measurements, side_a, side_b, noise


def run(args):
    _check(args)
    results_dir, machine, measurements, side_a, side_b, noise = load_comparison(args)
    rows = compare_sides(side_a, side_b, args.factor, noise)
    one_session = same_session(side_a, side_b)
    confirmed = False
    if args.confirm:
        raced = confirm(rows, side_a, side_b, machine, results_dir, noise, one_session, args)
        if raced is not None:
            rows, confirmed = raced, True
            _, _, measurements, side_a, side_b, _ = load_comparison(args)
    history = judge_in_other_runs(measurements, side_a, side_b, rows, args.factor,
                                  args.history)
    pooled_runs = judge_pooled(pooled.history_of(measurements), side_a, side_b, rows,
                               args.factor) if args.pooled else 0
    gated = one_session or confirmed
    code = exit_code(rows, gated)
    shown = ([r for r in rows if r.verdict in CHANGED or r.pooled in (SLOWER, FASTER)]
             if args.only_changed else rows)
    context = dict(machine=machine, factor=args.factor, counts=counts(rows), exit_code=code,
                   noise=noise, one_session=one_session, confirmed=confirmed, gated=gated,
                   history=history, pooled_runs=pooled_runs,
                   # two commits have no other runs of the same pair to ask
                   history_asked=args.history if side_a.commit == side_b.commit else 0)
    render = (compare_report.render_json if args.json else
              compare_report.render_markdown if args.markdown else compare_report.render_text)
    sys.stdout.write(render(side_a, side_b, rows, shown, context))
    return code
