"""``npthreads seed``: re-measure the tutorial's seven experiments (S1-S7)
on this machine, the way the tutorial ran them.

Why whole programs: the tutorial timed each program from ``start = time()``
to the end, array creation included, in a fresh interpreter, with
``OMP_NUM_THREADS`` set before numpy is imported where it did that (S4). A
benchmark that builds data once and times only the call (the asv suite)
answers a different question. So each experiment here is the tutorial's own
program text, run by ``sys.executable`` in a new process; only the sizes are
substituted, and two ``time()`` calls are added around the parallel part so
that part is also reported alone (in the fill experiments allocation, with
its first-touch page faults, is most of the time).

Scale: ``--scale`` is a fraction of the tutorial's sizes. The per-task shapes
stay the tutorial's (2000x2000 products, 5000x5000 fills), so every call runs
in the same regime as in the tutorial; only the number of tasks (S1-S3,
S6-S7) and the vector length (S4-S5) shrink. Task counts are rounded to a
multiple of 4, because S3's ``chunksize=25`` is a quarter of its 100 tasks
and must divide them evenly as 25 divides 100. Below 4 tasks the shapes
shrink instead (n scales with the square root), which is only for smoke
tests. ``--scale auto`` runs each pair at the tutorial's size where memory
allows and scales it down to fit otherwise, saying so.

Memory is primed (see ``prime``): just before each program the runner
touches and frees as much memory as the program will allocate, because on a
VM with a memory balloon the cost of allocating otherwise depends on what
the previous program freed, by up to 15x here.

Verdict rule (see ``verdict``): a claim is judged from the median of the
per-round ratios X/baseline and its box-plot notch (median +- 1.57
IQR/sqrt(n)), against the region the claim allows ("same":
within M = 5%, the tutorial's own margin: it calls a 5.0% difference, S5 vs
S4, "within the margin of error"; "slower": above 1 + M).
"""

import dataclasses
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import UsageError, machine, stats
from .units import format_minutes, format_seconds
from .seed_programs import (
    CLAIMS, DEFAULT_REPEAT, DEFAULT_SCALE, EXPERIMENTS, GROUP_TITLES, MARGIN, MARKER,
    THREAD_VARIABLES, describe, nbytes, seed_program, sizes, tutorial_program,
)


# -- what is passed around ---------------------------------------------------

@dataclass(frozen=True)
class Group:
    """How one group of experiments (S1-S3, S4-S5, S6-S7) runs: ``plan``'s answer."""
    scale: float                  # the fraction of the tutorial's sizes it runs at
    size: dict                    # ``seed_programs.sizes``: {"n": ..., "count": ...}
    nbytes: int                   # memory its programs hold at their peak
    note: str | None              # why --scale auto shrank it; None: it did not


@dataclass
class Runs:
    """One experiment's measurements, seconds in the order run (``measure``)."""
    whole: list = field(default_factory=list)     # the whole program, from ``start``
    part: list = field(default_factory=list)      # the parallel part alone
    tutorial: list = field(default_factory=list)  # the tutorial's own program (--against-tutorial)
    facts: dict | None = None     # numpy, BLAS and cpu_count as the seed program saw them
    error: str | None = None      # why it failed; it is not run again after


@dataclass
class ExperimentRow:
    """One experiment in the report; its fields are the ``--json`` keys."""
    id: str
    experiment: str               # how the table describes it
    sizes: str                    # ``describe``: "8 pairs of 2000x2000"
    scale: float
    nbytes: int
    tutorial_seconds: float | None
    baseline: str | None          # the experiment its claim is about; None: it is one
    claim: str | None             # the claim in words (``CLAIMS``)
    error: str | None
    whole: stats.Summary | None   # None: no run finished
    part: stats.Summary | None
    facts: dict | None
    # --against-tutorial: the tutorial's own program, and seed's figure over it
    # as ratio of medians, of minimums, and median of back-to-back pairs.
    tutorial_program: stats.Summary | None = None
    seed_vs_tutorial_program: float | None = None
    seed_vs_tutorial_program_min: float | None = None
    seed_vs_tutorial_program_paired: float | None = None
    # Rows with a baseline: the tutorial's ratio (None where it gave no
    # figure), then ``verdict``'s ratio, notch and verdict for the whole
    # program and for the part (ratio and notch None without both sides' runs).
    tutorial_ratio: float | None = None
    whole_ratio: float | None = None
    whole_interval: list | None = None
    whole_verdict: str | None = None
    part_ratio: float | None = None
    part_interval: list | None = None
    part_verdict: str | None = None


@dataclass
class SeedReport:
    """What ``seed`` found; ``to_json`` is the ``--json`` output."""
    scale: float | str            # as given: a number or "auto"
    repeat: int
    margin: float                 # the claims' margin (``MARGIN``)
    cleared_env: list             # BLAS thread variables unset for the programs
    notes: list                   # what --scale auto shrank, in words
    machine: dict                 # ``machine.machine_facts()``
    experiments: list             # [ExperimentRow], in the tutorial's order
    primed: bool                  # memory touched before each program (``prime``)
    wall_seconds: float | None = None   # the whole measurement, set once it is over

    def to_json(self):
        return dataclasses.asdict(self)


def clean_environ():
    """The environment the programs run in: the caller's, minus the BLAS
    thread variables, so "default" means the BLAS's own default as in the
    tutorial and S4's OMP_NUM_THREADS is not outranked by OPENBLAS_NUM_THREADS."""
    env = dict(os.environ)
    cleared = [name for name in THREAD_VARIABLES if env.pop(name, None) is not None]
    return env, cleared


def prime(nbytes):
    """Touch, then free, the memory a program is about to allocate.

    Why: on a VM whose memory balloon hands freed pages back to the host,
    allocating costs what the previous second left behind: 1.2 GB of
    ``ones`` took 0.15-0.6 s right after another process freed as much, and
    2.3-3.3 s after a 3 s pause (measured here). Priming gives every program
    memory that is resident, as on a machine without a balloon, so the order
    of the experiments does not decide the allocation figures."""
    import numpy as np
    block = np.ones(max(1, nbytes // 8))
    del block


class ProgramFailed(RuntimeError):
    pass


def run_program(code, env, timeout=3600):
    """Run ``code`` in a fresh interpreter; its stdout."""
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProgramFailed(f"no result within {timeout} s") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        if proc.returncode < 0:
            reason = f"killed by signal {-proc.returncode} (out of memory?)"
        raise ProgramFailed(reason)
    return proc.stdout


def parse_seed_output(stdout):
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise ProgramFailed("the program printed no result line")


def parse_tutorial_output(stdout):
    match = re.search(r"Took ([0-9.]+) seconds", stdout)
    if not match:
        raise ProgramFailed("the tutorial's program printed no 'Took ... seconds'")
    return float(match.group(1))


# -- verdicts ----------------------------------------------------------------

def verdict(claim, runs, base_runs, margin=MARGIN):
    """(verdict, ratio, [lo, hi]) for ``claim`` about ``runs`` against
    ``base_runs``, both in the order they ran.

    Paired, because each round runs an experiment and its baseline close
    together: the ratio within a round cancels the load other processes
    put on the machine, which drifts over seconds. The ratio is the median
    of the per-round ratios, its interval their notch (``stats.Summary.notch``).
    Each claim is a region of ratios: "same" is [1 - M, 1 + M] (the
    tutorial's own margin), "slower" is above 1 + M. The claim holds when
    the whole interval lies inside its region, does not hold when it lies
    wholly outside, and is inconclusive when it straddles the edge (the
    noise is too large to tell) or there are fewer than 2 rounds.
    """
    ratios = stats.summarise([x / b for x, b in zip(runs, base_runs)])
    lo, hi = ratios.notch()
    if len(ratios.runs) < 2:
        return "inconclusive (1 run)", ratios.median, [lo, hi]
    if claim == "slower":
        inside, outside = lo > 1 + margin, hi <= 1 + margin
    else:
        inside = 1 - margin <= lo and hi <= 1 + margin
        outside = hi < 1 - margin or lo > 1 + margin
    verdict_text = "holds" if inside else "does not hold" if outside else "inconclusive"
    return verdict_text, ratios.median, [lo, hi]


# -- planning: scale, memory -------------------------------------------------

def parse_scale(text):
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--scale {text!r} is neither a number nor 'auto'") from None
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--scale {text!r} must be a positive number")
    return value


def parse_only(text):
    if not text:
        return list(EXPERIMENTS)
    ids = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [i for i in ids if i not in EXPERIMENTS]
    if unknown or not ids:
        raise UsageError(f"--only {text!r}: unknown experiment {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(EXPERIMENTS)}")
    return [i for i in EXPERIMENTS if i in ids]  # tutorial order, no duplicates


def plan(ids, scale):
    """group -> ``Group``; refuses before anything runs."""
    out = {}
    for group in dict.fromkeys(EXPERIMENTS[i].group for i in ids):
        chosen, note = scale, None
        if scale == "auto":
            chosen = 1.0
            # Shrink 2% at a time: rounding the task count can overshoot a
            # computed fit, so check the sizes actually run.
            while machine.check_fits(nbytes(group, sizes(group, chosen)), group) and chosen > 1e-6:
                chosen *= 0.98
            if chosen < 1.0:
                _, available = machine.memory_bytes()
                note = (f"{GROUP_TITLES[group]} scaled to {chosen:.2f} of the tutorial's size "
                        f"to fit in {available / 2**30:.1f} GiB of available memory")
        size = sizes(group, chosen)
        need = nbytes(group, size)
        reason = machine.check_fits(need, f"{GROUP_TITLES[group]} at --scale {chosen:g} "
                                          f"({describe(group, size)})")
        if reason:
            raise UsageError(reason + "; use a smaller --scale "
                             "or --scale auto")
        out[group] = Group(scale=chosen, size=size, nbytes=need, note=note)
    return out


# -- running -----------------------------------------------------------------

class Progress:
    """Time left, from each experiment's own runs once it has run, and before
    that from the tutorial's figure scaled by how this machine compares so far."""

    def __init__(self, jobs, prior):
        self.jobs, self.prior, self.walls, self.done = jobs, prior, {}, 0
        self.started = time.perf_counter()

    def estimate(self, key):
        if self.walls.get(key):
            return statistics.mean(self.walls[key])
        seen = [k for k in self.walls if self.walls[k]]
        factor = (sum(statistics.mean(self.walls[k]) for k in seen)
                  / sum(self.prior[k] for k in seen)) if seen else 1.0
        return self.prior[key] * factor

    def skip(self):
        self.done += 1

    def record(self, key, wall, message):
        self.walls.setdefault(key, []).append(wall)
        self.done += 1
        left = sum(self.estimate(k) for k in self.jobs[self.done:])
        print(f"[seed] {self.done}/{len(self.jobs)} {message}; "
              f"about {format_minutes(left)} left", file=sys.stderr, flush=True)


def measure(ids, groups, repeat, against_tutorial=False, env=None, primed=True):
    """Run every experiment ``repeat`` times, interleaved round by round so
    slow drift on a shared machine spreads over all of them.

    Every other round runs in reverse order: the cost of allocating depends
    on what the previous program freed (on a VM with a memory balloon, pages
    freed and handed back to the host fault in far more slowly), so a fixed
    order would always give S5 and S7 the memory S4 and S6 just released.
    With an even number of rounds each experiment follows each neighbour
    equally often. Returns id -> ``Runs``."""
    env = env if env is not None else clean_environ()[0]
    programs = {}
    for i in ids:
        exp, group = EXPERIMENTS[i], groups[EXPERIMENTS[i].group]
        programs[(i, "seed")] = seed_program(exp, group.size)
        if against_tutorial:
            programs[(i, "tutorial")] = tutorial_program(exp, group.size)
    kinds = ["seed", "tutorial"] if against_tutorial else ["seed"]
    jobs, prior = [], {}
    for r in range(repeat):
        forward = r % 2 == 0
        jobs += [(i, kind) for i in (ids if forward else ids[::-1])
                 for kind in (kinds if forward else kinds[::-1])]
    for i in ids:
        exp = EXPERIMENTS[i]
        figure = exp.tutorial_seconds or EXPERIMENTS[exp.baseline].tutorial_seconds
        for kind in kinds:
            prior[(i, kind)] = 0.2 + figure * groups[exp.group].scale
    progress = Progress(jobs, prior)
    raw = {i: Runs() for i in ids}
    for n, (i, kind) in enumerate(jobs):
        runs = raw[i]
        if runs.error:
            progress.skip()
            continue
        started = time.perf_counter()
        try:
            if primed:
                prime(groups[EXPERIMENTS[i].group].nbytes)
            stdout = run_program(programs[(i, kind)], env)
            wall = time.perf_counter() - started  # what the time-left estimate needs
            if kind == "seed":
                found = parse_seed_output(stdout)
                runs.whole.append(found["whole"])
                runs.part.append(found["part"])
                runs.facts = {k: found[k] for k in
                              ("numpy", "blas", "blas_version", "blas_threads", "cpu_count")}
                message = f"{i} {found['whole']:.3f} s (part {found['part']:.3f} s)"
            else:
                runs.tutorial.append(parse_tutorial_output(stdout))
                message = f"{i} tutorial's program {runs.tutorial[-1]:.3f} s"
        except ProgramFailed as failed:
            runs.error = str(failed)
            wall, message = 0.0, f"{i} failed: {failed}"
        round_no = n // (len(ids) * len(kinds)) + 1
        progress.record((i, kind), wall, f"round {round_no}/{repeat}: {message}")
    return raw


def build_report(ids, groups, raw, repeat, scale, cleared, primed):
    """The ``SeedReport`` from ``measure``'s runs (``raw``: id -> ``Runs``)."""
    rows = []
    for i in ids:
        exp, group, runs = EXPERIMENTS[i], groups[EXPERIMENTS[i].group], raw[i]
        row = ExperimentRow(
            id=i, experiment=exp.what, sizes=describe(exp.group, group.size),
            scale=group.scale, nbytes=group.nbytes,
            tutorial_seconds=exp.tutorial_seconds, baseline=exp.baseline,
            claim=CLAIMS.get(exp.claim), error=runs.error,
            whole=stats.summarise(runs.whole) if runs.whole else None,
            part=stats.summarise(runs.part) if runs.part else None,
            facts=runs.facts)
        if runs.tutorial:
            row.tutorial_program = stats.summarise(runs.tutorial)
            if row.whole:
                # Medians are the figures; minimums are what interference
                # from other processes (it only ever adds time) touches least.
                row.seed_vs_tutorial_program = row.whole.median / row.tutorial_program.median
                row.seed_vs_tutorial_program_min = row.whole.min / row.tutorial_program.min
                # Each round runs the two programs back to back: the ratio
                # within a round cancels the load other processes put on.
                row.seed_vs_tutorial_program_paired = statistics.median(
                    a / b for a, b in zip(runs.whole, runs.tutorial))
        base = EXPERIMENTS.get(exp.baseline)
        if base:
            tutorial_base = EXPERIMENTS[exp.baseline].tutorial_seconds
            row.tutorial_ratio = (exp.tutorial_seconds / tutorial_base
                                  if exp.tutorial_seconds else None)
            base_runs = raw.get(base.id)
            for key in ("whole", "part"):
                if getattr(row, key) and base_runs and getattr(base_runs, key):
                    v, r, interval = verdict(exp.claim, getattr(runs, key),
                                             getattr(base_runs, key))
                    setattr(row, f"{key}_ratio", r)
                    setattr(row, f"{key}_interval", interval)
                    setattr(row, f"{key}_verdict", v)
                else:
                    setattr(row, f"{key}_verdict", f"no baseline (add {base.id})"
                            if not base_runs else "failed")
        rows.append(row)
    return SeedReport(scale=scale, repeat=repeat, margin=MARGIN, cleared_env=cleared,
                      notes=[g.note for g in groups.values() if g.note],
                      machine=machine.machine_facts(), experiments=rows, primed=primed)


def _fig(summary):
    if not summary:
        return "-"
    return (f"{format_seconds(summary.median)} "
            f"[{format_seconds(summary.q25)}, {format_seconds(summary.q75)}]")


def format_table(report):
    """The text output: a ``SeedReport`` as a table between what ran and how to read it."""
    header = ["id", "experiment", "sizes", "tutorial", "this machine [IQR]",
              "ratio (tutorial)", "verdict", "part alone [IQR]", "part ratio",
              "part verdict"]
    table = [header]
    for row in report.experiments:
        if row.tutorial_seconds:
            tutorial = f"{row.tutorial_seconds:.3f} s"
        else:
            tutorial = f"~{row.baseline}"
        ratio = part_ratio = verdict_text = part_verdict = ""
        if row.baseline:
            if row.whole_ratio is not None:
                tr = row.tutorial_ratio
                ratio = f"{row.whole_ratio:.2f} ({f'{tr:.2f}' if tr else '~1'})"
            if row.part_ratio is not None:
                part_ratio = f"{row.part_ratio:.2f}"
            verdict_text, part_verdict = row.whole_verdict, row.part_verdict
        else:
            ratio = "baseline"
        if row.error:
            verdict_text = f"failed: {row.error}"
        table.append([row.id, row.experiment, row.sizes, tutorial, _fig(row.whole),
                      ratio, verdict_text, _fig(row.part), part_ratio, part_verdict])
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table]
    # S4 sets OMP_NUM_THREADS=1: the BLAS default comes from another program.
    facts = next((r.facts for r in sorted(report.experiments, key=lambda r: r.id == "S4")
                  if r.facts), None)
    m = report.machine
    intro = [f"The tutorial's S1-S7 on this machine: {m['usable_cores']} usable cores "
             f"(ThreadPool() starts os.cpu_count() = {m['logical_cpus']} workers), "
             f"{m['cpu']}; median of {report.repeat} runs, each a fresh interpreter."]
    if facts:
        intro.append(f"numpy {facts['numpy']}, {facts['blas']} {facts['blas_version']} "
                     f"(default {facts['blas_threads']} BLAS threads).")
    intro += [f"note: {n}" for n in report.notes]
    if report.primed:
        intro.append("note: each program's memory was touched and freed just before it "
                     "started, so allocation finds it resident (--no-prime to skip)")
    if report.cleared_env:
        intro.append(f"note: unset {', '.join(report.cleared_env)} for the programs, "
                     "as the tutorial ran them")
    outro = [f"Figures: median [interquartile range]. Ratios: median of the per-round "
             f"ratios to the baseline (S2/S1, S3/S1, S5/S4, S7/S6), the tutorial's in "
             f"brackets. Claims: S2 slower by more than the tutorial's own {MARGIN:.0%} "
             "margin, S3/S5/S7 the same within it; a claim holds (does not hold) when the "
             "ratio's notch (median +- 1.57 IQR/sqrt(rounds)) lies wholly inside (outside) "
             "that range, else inconclusive. "
             "'part alone' is the parallel call without array creation."]
    compared = [r for r in report.experiments if r.seed_vs_tutorial_program is not None]
    if compared:
        outro.append("seed's figure / the tutorial's own program at the same sizes, as "
                     "ratio of medians (median of back-to-back pairs; of minimums): " + ", ".join(
                         f"{r.id} {r.seed_vs_tutorial_program:.3f} "
                         f"({r.seed_vs_tutorial_program_paired:.3f}; "
                         f"{r.seed_vs_tutorial_program_min:.3f})" for r in compared))
    return "\n".join(intro + [""] + lines + [""] + outro)


# -- command line ------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--scale", default=DEFAULT_SCALE,
                        help="fraction of the tutorial's sizes, or 'auto' (the tutorial's "
                             f"sizes where memory allows); default {DEFAULT_SCALE}")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT,
                        help=f"runs of each program (default {DEFAULT_REPEAT})")
    parser.add_argument("--only", default="", help="experiments to run, e.g. S1,S2")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--against-tutorial", action="store_true",
                        help="also run the tutorial's unmodified programs and compare")
    parser.add_argument("--no-prime", action="store_true",
                        help="do not touch each program's memory just before it starts "
                             "(allocation figures then depend on the previous program)")
    parser.add_argument("--show", action="store_true",
                        help="print the programs that would run, and exit")


def run(args):
    scale = parse_scale(args.scale)
    if args.repeat < 1:
        raise UsageError(f"--repeat {args.repeat} must be at least 1")
    ids = parse_only(args.only)
    groups = plan(ids, scale)
    if args.show:
        for i in ids:
            exp = EXPERIMENTS[i]
            print(f"# ---- {i} ----\n{seed_program(exp, groups[exp.group].size)}")
        return 0
    env, cleared = clean_environ()
    for group, g in groups.items():
        print(f"[seed] {GROUP_TITLES[group]}: {describe(group, g.size)}, "
              f"{g.nbytes / 2**30:.2f} GiB", file=sys.stderr)
    for note in [g.note for g in groups.values() if g.note]:
        print(f"[seed] {note}", file=sys.stderr)
    started = time.perf_counter()
    raw = measure(ids, groups, args.repeat, args.against_tutorial, env,
                  primed=not args.no_prime)
    report = build_report(ids, groups, raw, args.repeat, scale, cleared,
                          primed=not args.no_prime)
    report.wall_seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(format_table(report))
        print(f"measured in {format_minutes(report.wall_seconds)}")
    return 1 if any(r.error for r in report.experiments) else 0
