"""``npthreads compare``: did an upgrade or a commit make anything slower?

Two questions asv alone does not answer in one step:
- environment against environment at one commit ("numpy 2.3.5 -> 2.4.6",
  which also swaps the vendored OpenBLAS); ``asv compare`` only compares
  commits (asv issue #370);
- commit against commit in one environment (by default the pin-following
  one, so a commit that bumps the numpy pin shows up), with a verdict CI
  can gate on: ``asv continuous`` exits 1 for "slower" and "newly failing"
  alike, and says nothing when there are too few samples to tell.

Each side is an (environment, commit) pair of one machine's results; the
rows, their verdicts and the exit code are the engine's
(``npthreads.comparison``), the output ``npthreads.compare_report``'s. This
module turns the options into calls to them, and re-measures (``--confirm``).

Sides measured in different sessions (commit against commit, each from its
own ``make bench``) carry the machine's drift between sessions, which no
control in either run measures: the comparison says so, shows what differs
(BLAS kernel, thread variables, calibrated DGEMM peak and triad bandwidth),
and gates only on rows confirmed by ``--confirm``, which re-measures both
sides interleaved in one session with asv's own ``--append-samples`` and
judges the new rounds alone.

Environment pairs at one commit are also judged in the machine's other
committed runs (``--history``): each slower or faster row says in how many
of them it came out the same, a history no verdict or exit code depends on.

Exit codes: 0 no significant slowdown, 1 slowdowns found, 2 bad usage or
unreadable data. Newly failing benchmarks are reported but do not set 1,
so the code means one thing.
"""

import json
import math
import sys
from pathlib import Path

from . import UsageError, asvrun, compare_report, comparison, evidence, profiles, racing, stats
from .compare_report import fmt_ratio
from .comparison import HISTORY_RUNS, asv_pattern, compare_sides
from .options import add_factor_option, add_results_options
from .verdicts import SLOWER


# -- confirmation: re-measure flagged rows, both sides, one session ---------------

def _confirm_config(side_a, side_b, results_dir, *, config=None):
    """(asv config path, config) to re-measure the two sides with: the file
    ``config``, or the repository's, limited to the two sides' environments."""
    # --confirm rebuilds environments of the numpy axis only; the others have
    # their own command
    elsewhere = {"openblas": "has a swapped OpenBLAS: re-measure it with `npthreads bisect`",
                 "freethreaded": "runs a free-threaded CPython: re-measure it with "
                                 "`npthreads bench --axis freethreaded`"}
    for side in (side_a, side_b):
        axis = next((m.axis for m in side.measurements.values()), "numpy")
        if axis in elsewhere and not config:
            raise UsageError(f"--confirm rebuilds environments of the numpy axis only; "
                             f"{side.env_name} {elsewhere[axis]} or give --config")
    if config:
        config_path = Path(config).resolve()
        if not config_path.is_file():
            raise UsageError(f"--config {config}: no such file")
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


def measure_rows(targets, side_a, side_b, machine, config_path, conf, *, rounds, timeout):
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
        cmd += ["-b", asv_pattern(r.benchmark, r.params)]
    code = asvrun.asv(cmd, asvrun.asv_environ(conf, profiles.active_profile()), root,
                      timeout=timeout, to_stderr=True)
    if code == asvrun.TIMED_OUT:
        print("[confirm] stopped at the time bound: judging the rounds measured so far",
              file=sys.stderr, flush=True)
    return code


def confirm(c, *, most, rounds, timeout, config=None):
    """Re-measure the rows of the comparison ``c`` whose answer is worth
    more rounds (every slower row, and every row whose estimate lies beyond
    the factor but is not yet decided: ``racing.contenders``, at most
    ``most``) on both sides, interleaved in this session, ``rounds`` a side
    a batch, until each is decided or ``timeout`` s (``racing.race``). Two
    sides of one session are judged on all their rounds; sides from
    different sessions on the new rounds alone, which share a session.
    ``c``'s sides are read again as rounds are added. Returns the rows with
    the re-measured ones replaced, or None if nothing needed re-measuring."""
    rows, side_a, side_b, machine = c.rows, c.side_a, c.side_b, c.machine
    targets = racing.contenders(rows, c.factor, most)
    if not targets:
        return None
    here = asvrun.machine_name()
    if here != machine:
        raise UsageError(f"--confirm re-measures on this machine ({here}), but the results "
                         f"are from {machine}: run it there")
    config_path, conf = _confirm_config(side_a, side_b, c.results_dir, config=config)
    asvrun.register_machine(machine)
    first = {r.key: r for r in rows}
    skip = {} if c.one_session else {
        r.key: (len(evidence.rounds_of(side_a.measurements[r.key])),
                len(evidence.rounds_of(side_b.measurements[r.key]))) for r in targets}

    def measure(batch, left):
        measure_rows(batch, side_a, side_b, machine, config_path, conf, rounds=rounds,
                     timeout=min(left, timeout))

    looks = [1]   # the first judgement was a look at the data too

    def rejudge():
        # Every batch is another look at the same rows: the rank test's
        # level is divided by the looks so far (Bonferroni), or a row that
        # is raced long enough comes out changed by chance. Seen in a CI run
        # before this: an untouched cache-sized fill raced to 30 rounds a
        # side came out 1.71x "slower" at p = 0.043 on its fourth look.
        looks[0] += 1
        c.reread()
        return {r.key: r for r in compare_sides(c.side_a, c.side_b, c.factor, c.noise,
                                                skip=skip,
                                                alpha=evidence.ROUND_ALPHA / looks[0])}

    def say(text):
        print(text.replace("[race]", "[confirm]"), file=sys.stderr, flush=True)

    say(f"[confirm] re-measuring {len(targets)} row(s), {rounds} rounds a side "
        f"a batch, both sides interleaved in this session (at most "
        f"{timeout:g} s)")
    latest, _ = racing.race(targets, measure, rejudge, c.factor, timeout, say)
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
    results_group = parser.add_argument_group("which results")
    add_results_options(results_group)
    results_group.add_argument(
        "--to-machine", metavar="NAME",
        help="take the 'to' side from this machine's results (the 'from' side from "
             "--machine's): the same environment on two machines, each side its machine's "
             "newest commit unless named; judged on both machines' noise, never gated")
    judge = parser.add_argument_group("verdict and output")
    add_factor_option(judge)
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


def run(args):
    _check(args)
    c = comparison.load_comparison(
        args.results, args.machine, factor=args.factor, from_env=args.from_env,
        to_env=args.to_env, env=args.env, commit=args.commit, from_commit=args.from_commit,
        to_commit=args.to_commit, commits=args.commits, to_machine=args.to_machine)
    if args.confirm and c.other_machine:
        raise UsageError("--confirm re-measures both sides in one session on this machine; "
                         "sides on two machines cannot be")
    if args.confirm:
        raced = confirm(c, most=args.confirm_max, rounds=args.confirm_rounds,
                        timeout=args.confirm_timeout, config=args.config)
        if raced is not None:
            c.rows, c.confirmed = raced, True
    c.judge_history(args.history)
    if args.pooled:
        c.judge_pooled()
    render = (compare_report.render_json if args.json else
              compare_report.render_markdown if args.markdown else compare_report.render_text)
    sys.stdout.write(render(c, c.shown(args.only_changed)))
    return c.exit_code
