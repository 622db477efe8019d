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
benchmark and parameter combination it reports both medians, their ratio,
the Mann-Whitney p-value on the recorded samples (``npthreads.stats``, the
test asv uses) and a verdict. A row is "slower" only if the difference is
significant *and* beyond ``--factor``, in the medians *and* in the fastest
samples; with too few samples for the test to ever reach significance it
says so instead of guessing.

Why the fastest samples too: asv takes all of a round's samples in one
process, so on a shared machine a busy spell slows a whole round at once
and the samples are not independent, which the test assumes. An A/A
comparison here (numpy 2.4.6 against the pin-following environment, which
installs the same numpy 2.4.6) had 4 of 42 rows "significantly slower"
(up to 142x, a BLAS thread waiting for a busy core in whole rounds) on
medians alone. Load only ever adds time, so a real slowdown also moves the
fastest sample; a busy spell does not. Such a row is "unstable": shown,
not gated.

Exit codes: 0 no significant slowdown, 1 slowdowns found, 2 bad usage or
unreadable data. Newly failing benchmarks are reported but do not set 1,
so the code means one thing.
"""

import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError, asvrun, blasfacts, results, stats

DEFAULT_FACTOR = 1.10
EXIT_OK, EXIT_SLOWER = 0, 1

# Verdicts, in the order the summaries list them.
SLOWER, FASTER, UNCHANGED, TOO_FEW = "slower", "faster", "unchanged", "too few samples"
UNSTABLE = "unstable"
FAILED, SKIPPED, MISSING, TRACKED = "failed", "skipped", "missing", "tracked"
VERDICTS = (SLOWER, FASTER, UNSTABLE, UNCHANGED, TOO_FEW, FAILED, SKIPPED, MISSING, TRACKED)
CHANGED = (SLOWER, FASTER, UNSTABLE, FAILED)


@dataclass
class Side:
    """One side of the comparison: an environment at a commit."""
    env_name: str
    commit: str
    measurements: dict = field(default_factory=dict)  # (benchmark, params) -> Measurement

    @property
    def numpy(self):
        first = next(iter(self.measurements.values()), None)
        return first.numpy if first else "?"

    @property
    def openblas(self):
        """The OpenBLAS version this environment ran, from the suite's own
        BlasRuntime track (major*10000+minor*100+patch), if it was run."""
        for (name, _), m in self.measurements.items():
            if name.endswith("track_openblas_version") and m.status == "ok" and m.value:
                return blasfacts.version_text(m.value)
        return None

    def describe(self, with_commit=True):
        text = f"numpy {self.numpy}"
        if self.openblas:
            text += f" (OpenBLAS {self.openblas})"
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
    before: float | None = None
    after: float | None = None
    ratio: float | None = None        # of the medians
    fastest: float | None = None      # ratio of the fastest samples
    p: float | None = None
    n_before: int = 0
    n_after: int = 0
    note: str = ""

    @property
    def scenario(self):
        return results.scenario_of(self.benchmark)

    @property
    def name(self):
        """Benchmark without its module: "MatmulThreadSplit.time_matmul_batch"."""
        return ".".join(self.benchmark.split(".")[-2:])

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


def select_env(envs, selector):
    """The one environment ``selector`` names: ``numpy==X`` (``pinned`` for
    the pin-following one), a full environment name, or a unique part of one.
    ``envs`` maps environment name -> its numpy."""
    if selector.replace(" ", "").startswith("numpy=="):
        version = selector.split("==", 1)[1].strip()
        found = [e for e, numpy in envs.items() if numpy == version]
        what = f"numpy=={version}"
    elif selector in envs:
        return selector
    else:
        found = [e for e in envs if selector in e]
        what = repr(selector)
    if len(found) == 1:
        return found[0]
    available = "; ".join(f"numpy=={n} ({e})" for e, n in sorted(envs.items()))
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
    envs = {e: next(m.numpy for m in measurements if m.env_name == e) for e in by_env}

    commit_mode = any((args.from_commit, args.to_commit, args.commits))
    if args.commits:
        if args.from_commit or args.to_commit:
            raise UsageError("give --commits A B or --from-commit/--to-commit, not both")
        args.from_commit, args.to_commit = args.commits
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
    ref_a = args.from_commit or args.commit
    ref_b = args.to_commit or args.commit
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

    sides = []
    for env_name, commit in ((env_a, commit_a), (env_b, commit_b)):
        side = Side(env_name, commit)
        for m in measurements:
            if m.env_name == env_name and m.commit == commit:
                side.measurements[(m.benchmark, tuple(sorted(m.params.items())))] = m
        sides.append(side)
    return sides


# -- comparing ------------------------------------------------------------------

def compare_one(a, b, timed, factor, threshold):
    """The row for one benchmark and parameter combination; ``a`` or ``b``
    is None where that side did not run it."""
    some = a or b
    row = Row(some.benchmark, dict(some.params), some.unit, UNCHANGED)
    if a is None or b is None:
        row.verdict, row.note = MISSING, "only in " + ("to" if a is None else "from")
        return row
    row.before, row.after = a.value, b.value
    row.n_before, row.n_after = len(a.samples), len(b.samples)
    if FAILED in (a.status, b.status):
        row.verdict = FAILED
        row.note = {("ok", FAILED): "newly failing", (FAILED, FAILED): "fails in both",
                    (FAILED, "ok"): "fixed: failed before"}.get((a.status, b.status),
                                                                 f"{a.status} -> {b.status}")
        return row
    if SKIPPED in (a.status, b.status):
        row.verdict = SKIPPED
        return row
    if a.value and b.value:
        row.ratio = b.value / a.value
    if not timed:
        # A tracked value (GB/s, a version number) has no samples and no
        # known direction: shown, never judged.
        row.verdict = TRACKED
        return row
    if not stats.can_decide(row.n_before, row.n_after, threshold):
        row.verdict = TOO_FEW
        row.note = (f"{row.n_before} vs {row.n_after} samples cannot reach p < {threshold:g}"
                    if row.n_before and row.n_after
                    else "no samples recorded (asv run --record-samples)")
        return row
    _, row.p = stats.mann_whitney_u(a.samples, b.samples)
    if min(a.samples) > 0:
        row.fastest = min(b.samples) / min(a.samples)
    if row.p >= threshold or row.ratio is None or row.fastest is None:
        return row
    if row.ratio > factor:
        row.verdict = SLOWER if row.fastest > factor else UNSTABLE
    elif row.ratio < 1 / factor:
        row.verdict = FASTER if row.fastest < 1 / factor else UNSTABLE
    if row.verdict == UNSTABLE:
        row.note = (f"fastest samples {row.fastest:.2f}x: slow rounds on one side, "
                    "not a change in the code?")
    return row


def compare_sides(side_a, side_b, kinds, factor, threshold):
    """Every row, largest change first: failures, then by |log ratio|."""
    keys = list(side_a.measurements) + [k for k in side_b.measurements
                                        if k not in side_a.measurements]
    rows = [compare_one(side_a.measurements.get(k), side_b.measurements.get(k),
                        kinds.get(k[0], "time") == "time", factor, threshold)
            for k in keys]
    if not any(r.verdict not in (MISSING,) for r in rows):
        raise UsageError(f"the two sides share no benchmark and parameter combination: "
                         f"{side_a.env_name}@{side_a.commit[:8]} against "
                         f"{side_b.env_name}@{side_b.commit[:8]} (different suites or grids?)")
    order = {v: i for i, v in enumerate((FAILED, SLOWER, FASTER, UNSTABLE, UNCHANGED,
                                         TOO_FEW, TRACKED, SKIPPED, MISSING))}
    group = {FAILED: 0, SLOWER: 1, FASTER: 1, UNSTABLE: 1, UNCHANGED: 1, TOO_FEW: 1}
    rows.sort(key=lambda r: (group.get(r.verdict, 2), -r.size_of_change,
                             order[r.verdict], r.benchmark, sorted(r.params.items())))
    return rows


def counts(rows):
    out = dict.fromkeys(VERDICTS, 0)
    for r in rows:
        out[r.verdict] += 1
    return out


def exit_code(rows):
    return EXIT_SLOWER if any(r.verdict == SLOWER for r in rows) else EXIT_OK


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
                       help="a significant change counts only beyond this ratio "
                            f"(default {DEFAULT_FACTOR})")
    judge.add_argument("--p-threshold", type=float, default=stats.P_THRESHOLD,
                       help=f"significance level (default {stats.P_THRESHOLD}, asv's)")
    judge.add_argument("--only-changed", action="store_true",
                       help="list only slower, faster, unstable and failing rows "
                            "(summaries count all)")
    out = judge.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--markdown", action="store_true",
                     help="a Markdown table for a pull-request comment")


def _results_dir(given):
    if given:
        return Path(given)
    try:
        return asvrun.repo_root() / "results"
    except UsageError:
        return Path("results")


def run(args):
    if not (args.factor >= 1.0 and math.isfinite(args.factor)):
        raise UsageError(f"--factor must be a number >= 1 (got {args.factor})")
    if not 0 < args.p_threshold < 1:
        raise UsageError(f"--p-threshold must be between 0 and 1 (got {args.p_threshold})")
    results_dir = _results_dir(args.results)
    machine = choose_machine(results_dir, args.machine)
    measurements = results.load(results_dir, machine)
    kinds = {name: info.get("type", "time")
             for name, info in results.load_benchmarks(results_dir).items()}
    root = results_dir if results_dir.is_dir() else Path.cwd()
    side_a, side_b = choose_sides(measurements, args, root)
    rows = compare_sides(side_a, side_b, kinds, args.factor, args.p_threshold)
    code = exit_code(rows)
    shown = [r for r in rows if r.verdict in CHANGED] if args.only_changed else rows
    context = dict(machine=machine, factor=args.factor, threshold=args.p_threshold,
                   counts=counts(rows), exit_code=code)
    # Imported here: the report module reads this one's verdict names.
    from .compare_report import render_json, render_markdown, render_text
    render = render_json if args.json else render_markdown if args.markdown else render_text
    sys.stdout.write(render(side_a, side_b, rows, shown, context))
    return code
