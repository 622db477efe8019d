"""The comparison engine behind ``npthreads compare``, ``reproducibility``,
``bisect`` and ``bench``'s follow-up: two sides (an environment at a commit
of one machine's results), one row per benchmark and parameter combination,
each judged on asv's rounds (``npthreads.evidence``), and the exit code.

Kept apart from the commands so they share it without importing one
another; ``compare`` turns its options into the plain keyword calls here,
and ``compare_report`` shows what comes back.

Each row carries both sides' medians of round summaries, their ratio, the
row's resolution (the smallest change it could have detected in this run,
from its own rounds and the negative control), a rank test over rounds and
a verdict. A row is "slower" only beyond ``max(factor, resolution)`` with
its rounds separated; beyond it with the rounds overlapping (a bimodal cell
whose share of slow rounds differs) it is "unstable": shown, not gated.

Why rounds: three full runs on this shared VM had the A/A pair (numpy 2.4.6
against the pin-following environment, the same numpy) flag 8-10 of 84 rows
each on pooled samples, up to 6.7x, and none of those again in another run.
Samples of one round share a process and a stretch of machine state; rounds
are the independent unit.
"""

import functools
import math
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError, asvrun, blasfacts, evidence, pooled, results
from .report import version_key
from .verdicts import (CHANGED, EXIT_OK, EXIT_SLOWER, FAILED, FASTER, INVALID, MISSING,
                       SKIPPED, SLOWER, TOO_FEW, TRACKED, UNCHANGED, UNSTABLE, counts)
from .units import format_value

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
        cores = self.tracked("track_usable_cores")
        return {
            "usable cores (what 'cores' means)": f"{cores:.0f}" if cores else "-",
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
    newly_failing: bool = False       # ok before, failed after: reported, never gated
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
    """The machine ``wanted`` names, else the only one, else this host's
    (``asvrun.machine_name``) when it has results."""
    names = list(results.machines(results_dir))
    if wanted:
        if wanted not in names:
            raise UsageError(f"no results for machine {wanted!r} under {results_dir}; "
                             f"machines: {', '.join(names) or 'none'}")
        return wanted
    if len(names) == 1:
        return names[0]
    here = asvrun.machine_name()
    if here in names:
        return here
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


def _environments(measurements):
    """({environment: {commit: date}}, {environment: env_label}) of one
    machine's measurements; none is a one-line error."""
    by_env = {}
    for m in measurements:
        by_env.setdefault(m.env_name, {}).setdefault(m.commit, m.date)
    if not by_env:
        raise UsageError("the results hold no measurements")
    envs = {e: next(env_label(m) for m in measurements if m.env_name == e) for e in by_env}
    return by_env, envs


def choose_sides(measurements, *, from_env=None, to_env=None, env=None, commit=None,
                 from_commit=None, to_commit=None, commits=None, root=None):
    """The two (environment, commit) sides the options name: ``from_env``
    and ``to_env`` (environment against environment), or ``from_commit``
    and ``to_commit`` (``commits`` = both) in ``env``, by default the
    pin-following environment; ``commit`` for both sides where one is not
    given. ``root`` is where git resolves refs."""
    by_env, envs = _environments(measurements)

    commit_mode = any((from_commit, to_commit, commits))
    if commits:
        if from_commit or to_commit:
            raise UsageError("give --commits A B or --from-commit/--to-commit, not both")
        from_commit, to_commit = commits
    if bool(from_env) != bool(to_env):
        raise UsageError("give both --from and --to (environments), or neither")
    if not from_env and not commit_mode:
        raise UsageError("nothing to compare: give --from/--to (environments) "
                         "or --from-commit/--to-commit (commits)")
    if env and from_env:
        raise UsageError("give --env or --from/--to, not both")

    if from_env:
        env_a, env_b = select_env(envs, from_env), select_env(envs, to_env)
    else:
        env_a = env_b = select_env(envs, env) if env else default_env(envs)

    commits_a = sorted(by_env[env_a], key=by_env[env_a].get, reverse=True)
    commits_b = sorted(by_env[env_b], key=by_env[env_b].get, reverse=True)
    ref_a = from_commit or commit
    ref_b = to_commit or commit
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


def choose_side(measurements, selector, ref, root):
    """One side from one machine's measurements: the environment
    ``selector`` names (default: the pin-following one) at commit ``ref``
    (default: its newest)."""
    by_env, envs = _environments(measurements)
    env = select_env(envs, selector) if selector else default_env(envs)
    commits = sorted(by_env[env], key=by_env[env].get, reverse=True)
    commit = select_commit(commits, ref, env, root) if ref else commits[0]
    return Side.of(measurements, env, commit)


def combined_noise(a, b):
    """Noise for two sides measured on two machines: each row's larger
    round spread, the larger calibration and session movement of the two
    machines (a cross-machine pair is never one session)."""
    keys = set(a.sigma) | set(b.sigma)
    return evidence.Noise(
        sigma={k: max(a.sigma.get(k, 0.0), b.sigma.get(k, 0.0)) for k in keys},
        session={k: max(a.session.get(k, 0.0), b.session.get(k, 0.0))
                 for k in set(a.session) | set(b.session)},
        calibration=max(a.calibration, b.calibration), control_pair=a.control_pair,
        control_rows=a.control_rows, runs=min(a.runs, b.runs),
        session_runs=min(a.session_runs, b.session_runs))


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
        row.newly_failing = (a.status, b.status) == ("ok", FAILED)
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


def exit_code(rows, gated=True):
    """1 if any row is slower and the comparison may gate: both sides from
    one session (or an environment pair pooled over the machine's runs,
    each of them one session), or the slowdowns confirmed by re-measuring."""
    slower = [r for r in rows if r.verdict == SLOWER or r.pooled == SLOWER]
    return EXIT_SLOWER if gated and slower else EXIT_OK


def asv_pattern(benchmark, params):
    """asv's -b regex for exactly one combination of ``benchmark``: asv
    matches a parameterized benchmark as ``name(repr, repr, ...)``, the
    values in the benchmark's own order (``params``: name -> label)."""
    combo = ", ".join(repr(v) for v in params.values())
    return f"^{re.escape(benchmark)}\\({re.escape(combo)}\\)$"


# -- the pairs of one full run ------------------------------------------------

def pairs_at(measurements, commit):
    """(numpy label -> environment name, pairs) of the numpy axis at
    ``commit``: every adjacent numpy pair in release order, then the A/A pair
    (the pin-following environment and its twin) both ways, if there is one."""
    envs = {}
    for m in measurements:
        if m.commit == commit and m.axis == "numpy":
            envs.setdefault(m.numpy, m.env_name)
    matrix = sorted((v for v in envs if v != "pinned"), key=version_key)
    pairs = list(zip(matrix, matrix[1:]))
    control = evidence.control_pair(measurements, commit)
    twin = next((v for v, e in envs.items() if control and e == control[0]), None)
    if twin:
        pairs += [(twin, "pinned"), ("pinned", twin)]
    return envs, pairs


def judge_run(measurements, commit, factor):
    """pair label -> rows, for every pair of ``pairs_at`` at ``commit``; and
    the run's noise model."""
    noise = evidence.noise_of(measurements, [commit])
    envs, pairs = pairs_at(measurements, commit)
    out = {}
    for a, b in pairs:
        side_a = Side.of(measurements, envs[a], commit)
        side_b = Side.of(measurements, envs[b], commit)
        out[(a, b)] = compare_sides(side_a, side_b, factor, noise)
    return out, noise


# -- one comparison, as a command makes it ---------------------------------------

@dataclass
class Comparison:
    """Two sides of one machine's results and their rows, with what the
    verdicts and the exit code depend on."""
    results_dir: Path
    machine: str
    measurements: list
    side_a: Side
    side_b: Side
    noise: evidence.Noise
    factor: float
    rows: list
    one_session: bool                 # as the sides were first read (before --confirm)
    confirmed: bool = False           # rows re-measured in one session (--confirm)
    history: list = field(default_factory=list)   # other runs that judged the rows again
    history_asked: int = 0            # how many other runs were asked for
    pooled_runs: int = 0              # runs the most-pooled row combined (0: none)
    # Side b's machine when it is not side a's (a cross-machine comparison:
    # informative, never gated, judged on both machines' noise).
    other_machine: str = ""

    @property
    def gated(self):
        """Whether a slower row may set the exit code: both sides of one
        session, or the slowdowns confirmed by re-measuring."""
        return self.one_session or self.confirmed

    @property
    def exit_code(self):
        return exit_code(self.rows, self.gated)

    @property
    def counts(self):
        return counts(self.rows)

    @property
    def pooled_counts(self):
        return {v: n for v, n in counts(self.rows, "pooled").items()
                if v in (SLOWER, FASTER, UNCHANGED)}

    @property
    def newly_failing(self):
        return sum(1 for r in self.rows if r.newly_failing)

    def shown(self, only_changed=False):
        """The rows to list: all, or only the changed and failing ones."""
        if not only_changed:
            return self.rows
        return [r for r in self.rows if r.verdict in CHANGED or r.pooled in (SLOWER, FASTER)]

    def reread(self):
        """Read the two sides again from disk, after rounds were appended."""
        self.measurements = results.load(self.results_dir, self.machine)
        self.side_a = Side.of(self.measurements, self.side_a.env_name, self.side_a.commit)
        self.side_b = Side.of(self.measurements, self.side_b.env_name, self.side_b.commit)

    def judge_history(self, most=HISTORY_RUNS):
        """Judge the rows again in up to ``most`` other full runs
        (``judge_in_other_runs``)."""
        if self.other_machine:
            return          # other runs of one machine say nothing of two
        self.history = judge_in_other_runs(self.measurements, self.side_a, self.side_b,
                                           self.rows, self.factor, most)
        # two commits have no other runs of the same pair to ask
        self.history_asked = most if self.side_a.commit == self.side_b.commit else 0

    def judge_pooled(self):
        """Pool each row over the machine's full runs (``judge_pooled``)."""
        if self.other_machine:
            return
        self.pooled_runs = judge_pooled(pooled.history_of(self.measurements), self.side_a,
                                        self.side_b, self.rows, self.factor)


def load_comparison(results_dir=None, machine=None, *, factor=evidence.FACTOR, to_machine=None,
                    **sides):
    """The comparison of the two sides ``sides`` name (``choose_sides``'s
    keywords) in the results under ``results_dir`` (default: the
    repository's) of ``machine`` (default: the only one), every row judged
    on this run."""
    results_dir = asvrun.results_dir(results_dir)
    machine = choose_machine(results_dir, machine)
    measurements = results.load(results_dir, machine)
    root = results_dir if results_dir.is_dir() else Path.cwd()
    if to_machine and to_machine != machine:
        return _across_machines(results_dir, machine, measurements, to_machine, factor, root,
                                **sides)
    side_a, side_b = choose_sides(measurements, root=root, **sides)
    noise = evidence.noise_of(measurements, sorted({side_a.commit, side_b.commit}))
    rows = compare_sides(side_a, side_b, factor, noise)
    return Comparison(results_dir, machine, measurements, side_a, side_b, noise, factor, rows,
                      one_session=same_session(side_a, side_b))


def _across_machines(results_dir, machine, measurements, to_machine, factor, root, *,
                     from_env=None, to_env=None, env=None, commit=None, from_commit=None,
                     to_commit=None, commits=None):
    """The same (or another) environment on two machines: each side its
    machine's newest commit unless named, judged on both machines' noise."""
    if commits:
        raise UsageError("across machines give --from-commit/--to-commit (or --commit), "
                         "not --commits")
    if env and (from_env or to_env):
        raise UsageError("give --env or --from/--to, not both")
    other = choose_machine(results_dir, to_machine)
    theirs = results.load(results_dir, other)
    side_a = choose_side(measurements, from_env or env, from_commit or commit, root)
    side_b = choose_side(theirs, to_env or from_env or env, to_commit or commit, root)
    noise = combined_noise(evidence.noise_of(measurements, [side_a.commit]),
                           evidence.noise_of(theirs, [side_b.commit]))
    rows = compare_sides(side_a, side_b, factor, noise)
    return Comparison(results_dir, machine, measurements, side_a, side_b, noise, factor, rows,
                      one_session=False, other_machine=other)
