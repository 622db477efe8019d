"""``npthreads reproducibility``: do the verdicts hold when measured again?

A verdict that flips when measured again is worse than none. Given
several full runs in ``results/`` (one commit each, every environment of the
matrix), this judges, in every run on its own, each adjacent numpy pair and
the A/A pair (the pin-following environment against the matrix entry with
the same numpy, both directions) exactly as ``npthreads compare`` would, and
prints:

- per pair, the rows flagged (slower or faster) in each run, and of the rows
  flagged in any run how many carry the same verdict in all of them;
- the A/A figures: rows flagged and exit code per run;
- per scenario, the smallest change its rows resolve (the median resolution
  over the runs' pairs): what a verdict on this machine can and cannot see;
- the same pairs pooled over the runs (``npthreads.pooled``): rows flagged,
  how many of the rows flagged in any single run the pooled verdict carries,
  the pooled A/A, and the smallest change each scenario resolves pooled;
- the advice (the recommended configuration, or "cannot tell") per
  scenario, size and numpy, and in how many runs it is the same.

A measurement of the machine and the method, not a test: it exits 0 unless
the input is unusable.
"""

import statistics
import sys
from collections import defaultdict

from . import UsageError, asvrun, evidence, pooled, results
from .comparison import choose_machine, exit_code, judge_run, pairs_at, select_commit
from .options import add_factor_option, add_results_options
from .report import CANNOT_TELL, advice_by_run
from .verdicts import EXIT_SLOWER, FASTER, SLOWER


def add_arguments(parser):
    add_results_options(parser)
    parser.add_argument("--commits", nargs="+", metavar="REF",
                        help="the runs to compare (default: the newest three full runs)")
    parser.add_argument("--runs", type=int, default=3,
                        help="how many of the newest full runs, without --commits (default 3)")
    add_factor_option(parser, "as for compare")


def judge_pooled(measurements, commits, factor):
    """pair label -> {row key: pooled Contrast} for every pair ``judge_run``
    makes at the newest of ``commits``, pooled over ``commits`` only; the A/A
    pair pools each run's own control (its twin may differ between runs)."""
    history = pooled.history_of(measurements)
    newest = commits[0]
    envs, pairs = pairs_at(measurements, newest)
    controls = {c: p for c, p in history.controls.items() if c in commits}
    out = {}
    keys = history.keys()
    for a, b in pairs:
        if "pinned" not in (a, b):
            out[(a, b)] = {k: c for k in keys
                           if (c := history.contrast((envs[a], k), (envs[b], k), newest,
                                                     commits)).pooled}
            continue
        first, second = (0, 1) if b == "pinned" else (1, 0)
        out[(a, b)] = {k: c for k in keys if (c := history.contrast(
            {cm: (p[first], k) for cm, p in controls.items()},
            {cm: (p[second], k) for cm, p in controls.items()},
            commits=commits)).pooled}
    return out, history


def pooled_lines(runs_rows, pooled_pairs, history, factor):
    """The pooled section of the report."""
    lines = [f"pooled over the runs (random-effects meta-analysis; A/A calibration "
             f"x{history.calibration:.2f} over {history.control_rows} rows):"]
    header = ("pair", "pooled slower", "pooled faster", "flagged in any run",
              "not pooled", "same pooled verdict", "share")
    table = [header]
    for pair, contrasts in pooled_pairs.items():
        if not all(pair in r for r in runs_rows):
            continue
        verdict = {k: {1: SLOWER, -1: FASTER}.get(c.direction(factor)) for k, c in
                   contrasts.items()}
        anywhere = {}
        for rows in runs_rows:
            for r in rows[pair]:
                if r.verdict in (SLOWER, FASTER):
                    anywhere.setdefault(r.key, set()).add(r.verdict)
        # rows measured in fewer than pooled.MIN_RUNS of the runs have no
        # pooled verdict to agree or disagree with
        unpooled = [k for k in anywhere if k not in contrasts]
        same = [k for k, v in anywhere.items() if len(v) == 1 and verdict.get(k) in v]
        judged = len(anywhere) - len(unpooled)
        share = len(same) / judged if judged else None
        table.append((_label(pair), str(sum(v == SLOWER for v in verdict.values())),
                      str(sum(v == FASTER for v in verdict.values())), str(len(anywhere)),
                      str(len(unpooled)), str(len(same)),
                      f"{share:.0%}" if share is not None else "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                      for i, (cell, w) in enumerate(zip(row, widths))))
    for pair, contrasts in pooled_pairs.items():
        moved = sorted(((c.ratio, k, c) for k, c in contrasts.items()
                        if c.direction(factor)), key=lambda t: t[0])
        if moved:
            lines.append(f"{_label(pair)}: pooled changes")
            for ratio, (benchmark, params), c in moved:
                lines.append(f"  {ratio:6.2f}x (resolves {c.resolution:.2f}x, {c.runs} runs)  "
                             f"{results.scenario_of(benchmark)} "
                             + ", ".join(f"{k}={val}" for k, val in params))
    lines.append("smallest change each scenario resolves, pooled (median over pairs; "
                 "best row - worst row):")
    by_scenario = defaultdict(list)
    for contrasts in pooled_pairs.values():
        for (benchmark, _), c in contrasts.items():
            by_scenario[results.scenario_of(benchmark)].append(c.resolution)
    for scenario, values in sorted(by_scenario.items()):
        lines.append(f"  {scenario}: {statistics.median(values):.2f}x "
                     f"({min(values):.2f}x - {max(values):.2f}x)")
    return lines


def _label(pair):
    a, b = pair
    return f"{a} -> {b}" + ("  (A/A)" if "pinned" in pair else "")


def report(runs_rows, runs_noise, commits, advice, pooled_section=()):
    """The text of the reproducibility report."""
    lines = [f"reproducibility over {len(commits)} runs: "
             + ", ".join(c[:8] for c in commits), ""]
    lines.append("noise calibration (negative control) per run: "
                 + ", ".join(f"x{n.calibration:.2f}" for n in runs_noise))
    lines.append("")
    pairs = [p for p in runs_rows[0] if all(p in r for r in runs_rows)]
    header = ("pair", *[f"flagged {c[:8]}" for c in commits], "flagged in any",
              "same in all", "share")
    table = [header]
    summary = {}
    for pair in pairs:
        verdicts = [{r.key: r.verdict for r in rows[pair] if r.verdict in (SLOWER, FASTER)}
                    for rows in runs_rows]
        anywhere = set().union(*verdicts)
        same = [k for k in anywhere if len({v.get(k) for v in verdicts}) == 1]
        share = len(same) / len(anywhere) if anywhere else None
        summary[pair] = (verdicts, anywhere, same)
        table.append((_label(pair), *[str(len(v)) for v in verdicts], str(len(anywhere)),
                      str(len(same)), f"{share:.0%}" if share is not None else "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))))
    lines.append("")
    for pair in pairs:
        verdicts, anywhere, same = summary[pair]
        if not anywhere:
            continue
        lines.append(f"{_label(pair)}: rows flagged in any run")
        for key in sorted(anywhere):
            benchmark, params = key
            marks = " ".join(f"{v.get(key, '-'):>7}" for v in verdicts)
            lines.append(f"  {marks}  {results.scenario_of(benchmark)} "
                         + ", ".join(f"{k}={val}" for k, val in params))
    lines.append("")
    aa = [p for p in pairs if "pinned" in p]
    for pair in aa:
        codes = [exit_code(rows[pair]) for rows in runs_rows]
        flagged = [sum(r.verdict in (SLOWER, FASTER) for r in rows[pair]) for rows in runs_rows]
        lines.append(f"A/A {_label(pair)}: flagged {flagged} rows, exit "
                     f"{codes} ({sum(c == EXIT_SLOWER for c in codes)} of {len(codes)} exit 1)")
    lines.append("")
    lines.append("smallest change each scenario resolves (median over runs and pairs; "
                 "best row - worst row):")
    by_scenario = defaultdict(list)
    for rows_by_pair in runs_rows:
        for pair, rows in rows_by_pair.items():
            for r in rows:
                if r.resolution:
                    by_scenario[r.scenario].append(r.resolution)
    for scenario, values in sorted(by_scenario.items()):
        lines.append(f"  {scenario}: {statistics.median(values):.2f}x "
                     f"({min(values):.2f}x - {max(values):.2f}x)")
    if pooled_section:
        lines += [""] + list(pooled_section)
    if advice:
        lines.append("")
        same = sum(1 for per_run in advice.values() if len(set(per_run)) == 1)
        lines.append(f"advice: the same recommendation (or 'cannot tell') in all runs for "
                     f"{same} of {len(advice)} rows ({same / len(advice):.0%})")
        # "cannot tell" in one run and a recommendation in another is the
        # evidence growing (each run is judged on the runs up to it); two
        # runs naming different configurations is the advice changing its mind
        named = sum(1 for per_run in advice.values()
                    if len(set(per_run) - {CANNOT_TELL}) <= 1)
        lines.append(f"advice: no two runs name different configurations for {named} of "
                     f"{len(advice)} rows ({named / len(advice):.0%})")
        for key, per_run in sorted(advice.items()):
            if len(set(per_run)) > 1:
                lines.append(f"  differs: {' / '.join(key)}: " + " | ".join(per_run))
    return "\n".join(lines) + "\n"


def run(args):
    results_dir = asvrun.results_dir(args.results)
    machine = choose_machine(results_dir, args.machine)
    measurements = results.load(results_dir, machine)
    available = evidence.method_runs(measurements)
    if args.commits:
        root = results_dir if results_dir.is_dir() else None
        commits = [select_commit(available, ref, "a full run", root)
                   for ref in args.commits]
    else:
        if args.runs < 2:
            raise UsageError(f"--runs must be at least 2 (got {args.runs})")
        commits = available[:args.runs]
    if len(commits) < 2:
        raise UsageError(f"{results_dir}/{machine}: {len(available)} full run(s) with a "
                         "negative control; reproducibility needs at least two")
    runs_rows, runs_noise = [], []
    for i, commit in enumerate(commits, 1):
        print(f"[reproducibility] judging run {i}/{len(commits)} ({commit[:8]})",
              file=sys.stderr, flush=True)
        rows, noise = judge_run(measurements, commit, args.factor)
        runs_rows.append(rows)
        runs_noise.append(noise)
    print(f"[reproducibility] pooling {len(commits)} runs", file=sys.stderr, flush=True)
    pooled_pairs, history = judge_pooled(measurements, commits, args.factor)
    section = pooled_lines(runs_rows, pooled_pairs, history, args.factor)
    advice = advice_by_run(results_dir, machine, commits)
    sys.stdout.write(report(runs_rows, runs_noise, commits, advice, section))
    return 0
