"""``npthreads bench``: run the suite over the numpy matrix, then publish.

One command on a fresh machine: register the machine, run asv over every
environment of the profile's matrix for the checked-out commit with samples
recorded (the comparisons need them), re-measure the rows still open
(the follow-up phase), publish the site, and say what was produced.
"""

import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

from . import UsageError, asvrun, evidence, migrate, racing, results
from .profiles import CHECKED_ENV, PROFILES, active_profile

# The follow-up phase: after the interleaved rounds, the rows of an adjacent
# numpy pair or the A/A pair whose estimate lies beyond RACE_FROM but is not
# yet decided get more rounds, in every environment, until decided or
# FOLLOW_UP seconds have passed. In the last four six-round runs a batch
# of 4 rounds over 12 rows took the whole 150 s and decided 1, 3, 5 and 1 of
# the 12 rows (all "unchanged"): one batch of 2 rounds in 90 s keeps the
# phase's share of `make bench` small (issue 16: 15 min for the whole).
RACE_FROM = 1.10
FOLLOW_UP = 90.0
FOLLOW_UP_ROWS = 12
FOLLOW_UP_ROUNDS = 2


def add_arguments(parser):
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="grid to run (default: $NPTHREADS_PROFILE or 'default')")
    parser.add_argument("--bench", "-b", action="append", default=[],
                        help="only benchmarks matching this regex (asv -b)")
    parser.add_argument("--numpy", action="append", default=[], metavar="VERSION",
                        help="only the environment of this numpy (repeatable; "
                             "'pinned' = the pin-following one)")
    parser.add_argument("--openblas-coretype", metavar="KERNEL",
                        help="force this OpenBLAS kernel (e.g. Haswell) in every environment; "
                             "recorded in the environment names (default: OpenBLAS detects)")
    parser.add_argument("--axis", choices=asvrun.AXES, default="numpy",
                        help="numpy: every numpy with its wheel's own OpenBLAS (default); "
                             "openblas: one numpy with each OpenBLAS build of asv.conf.json "
                             "swapped in, plus that numpy's own wheel, running only "
                             + ", ".join(asvrun.OPENBLAS_AXIS_BENCHMARKS) + " unless -b says; "
                             "freethreaded: each numpy with free-threaded wheels on CPython "
                             "3.13t, PYTHON_GIL=0 and =1 (finds or builds the interpreter)")
    parser.add_argument("--follow-up", type=float, default=FOLLOW_UP, metavar="SECONDS",
                        help="after the full run, re-measure the rows still undecided "
                             f"beyond {RACE_FROM:g}x for at most this long (default "
                             f"{FOLLOW_UP:g}; 0: no follow-up)")
    parser.add_argument("--no-publish", action="store_true", help="skip publishing the site")
    parser.add_argument("--machine", metavar="NAME",
                        help="register and record under this name (default: "
                             "$NPTHREADS_MACHINE, else one from the CPU, cores and memory; "
                             "`npthreads machine-name` gives a CI runner's)")


def run(args):
    profile = args.profile or active_profile()
    root = asvrun.repo_root()
    conf = asvrun.load_config(root)
    name = asvrun.machine_name(args.machine)
    facts = asvrun.register_machine(name)
    print(f"[npthreads] machine {name}: {facts['cpu']}, {facts['num_cpu']} cores, "
          f"{facts['ram']}; profile {profile}", flush=True)
    forced = asvrun.forced_kernel(args.openblas_coretype) if args.openblas_coretype else None
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                            text=True).stdout.strip()
    if not commit:
        raise UsageError(f"{root} has no commit to benchmark")
    config = asvrun.profile_config(root, profile, args.numpy, forced, args.axis)
    results_dir, _ = asvrun.config_dirs(root, config)
    if args.axis == "openblas":
        anchors = asvrun.measured_anchors(results_dir, name, commit,
                                          asvrun.axis_hosts(conf), forced)
        if anchors:
            config = asvrun.profile_config(root, profile, args.numpy, forced, args.axis,
                                           anchors)
            print(f"[npthreads] numpy {', '.join(sorted(anchors))} (the axis's anchor) already "
                  f"has results at {commit[:8]} from its own session: kept out, only the "
                  "swapped builds run", flush=True)
    # A corrupt result file already on disk is named now, in one line,
    # before asv runs for minutes and then trips over it.
    if (results_dir / "benchmarks.json").is_file():
        results.load(results_dir)
        # Against asv.conf.json itself, not the derived config: a forced
        # kernel is in every derived environment but was not in older runs.
        for line in migrate.bring_up_to_date(results_dir, conf, facts):
            print(f"[npthreads] {line}", flush=True)
    env = asvrun.asv_environ(conf, profile)
    if args.axis == "freethreaded":
        from . import freethreaded
        interpreters = freethreaded.ensure(say=lambda line: print(line, flush=True))
        env["PATH"] = freethreaded.path_with(interpreters, env["PATH"])
    removed = asvrun.blas_env_removed()
    print("[npthreads] BLAS settings: "
          + (f"removed {', '.join(removed)} from the benchmarks' environment"
             if removed else "no BLAS variable in the environment")
          + (f"; kernel forced to {forced} (OPENBLAS_CORETYPE, in every environment's name)"
             if forced else "; OpenBLAS detects the CPU kernel")
          + "; thread counts pinned by asv.conf.json", flush=True)
    asvrun.record_session(results_dir, name, commit, profile, removed, forced, args.axis)
    cmd = ["run", f"{commit}^!", "--config", str(config), "--machine", name,
           "--record-samples", "--show-stderr", "--interleave-rounds"]
    cmd += asvrun.launch_method_args()  # spawn where asv has no forkserver (Windows)
    cmd += asvrun.parallel_build_args()
    if profile == "quick":
        cmd.append("--quick")
    for pattern in args.bench or asvrun.axis_benchmarks(args.axis):
        cmd += ["--bench", pattern]
    what = {"openblas": "the OpenBLAS axis (each build swapped into one numpy, and its own "
                        "wheel)",
            "freethreaded": "the free-threaded axis (each numpy on CPython 3.13t, the GIL "
                            "off and on)"}.get(args.axis, "every environment")
    print(f"[npthreads] 1/2 running the suite on {commit[:8]} in {what} "
          "(asv builds each virtualenv on first use)", flush=True)
    started = time.monotonic()
    # the result checks run in each environment's first round only
    with tempfile.TemporaryDirectory(prefix="npthreads-checked-") as checked:
        env[CHECKED_ENV] = checked
        code = asvrun.asv(cmd, env, root)
        print(f"[npthreads] the full run took {(time.monotonic() - started) / 60:.1f} min",
              flush=True)
        if (code in (0, 2) and args.axis == "numpy" and profile != "quick"
                and args.follow_up > 0 and not args.bench):
            follow_up(cmd, env, root, results_dir, name, commit, args.follow_up)
        env.pop(CHECKED_ENV)
    summarize(results_dir, name, commit)
    if code not in (0, 2):  # 2: some benchmark failed, still worth publishing
        return code
    if not args.no_publish:
        print("[npthreads] 2/2 publishing the site", flush=True)
        from . import site
        site_code = site.publish(root, config, env)
        if site_code:
            return site_code
    return code


def open_rows(measurements, commit, factor=RACE_FROM):
    """The rows still open at ``commit``: for every adjacent numpy pair and
    the A/A pair, judged as ``npthreads compare`` judges them, the rows whose
    estimate is beyond ``factor`` but undecided (``comparison.judge_run``'s
    pairs). One row per benchmark and parameter combination, largest change
    first."""
    from . import comparison
    by_pair, _ = comparison.judge_run(measurements, commit, evidence.FACTOR)
    found = {}
    for rows in by_pair.values():
        for r in rows:
            if racing.is_open(r, factor) and (r.key not in found
                                              or racing.size(r) > racing.size(found[r.key])):
                found[r.key] = r
    return sorted(found.values(), key=lambda r: -racing.size(r))


def follow_up(cmd, env, root, results_dir, machine, commit, budget):
    """Re-measure the open rows (``open_rows``) in every environment, a
    batch of rounds at a time with asv's --append-samples and interleaved
    rounds, until none is open or ``budget`` seconds have passed."""
    from .comparison import asv_pattern
    rows = open_rows(results.load(results_dir, machine), commit)[:FOLLOW_UP_ROWS]
    if not rows:
        print("[npthreads] follow-up: no row is open beyond "
              f"{RACE_FROM:g}x; nothing to re-measure", flush=True)
        return
    print(f"[npthreads] follow-up: {len(rows)} row(s) undecided beyond {RACE_FROM:g}x, "
          f"re-measured in every environment, {FOLLOW_UP_ROUNDS} rounds a batch, for at "
          f"most {budget:g} s", flush=True)
    base = [c for c in cmd if c != "--record-samples"]
    # drop the full run's --bench patterns: only the open rows run again
    while "--bench" in base:
        i = base.index("--bench")
        del base[i:i + 2]

    def measure(batch, left):
        args = base + ["--record-samples", "--append-samples", "-a",
                       f"rounds={FOLLOW_UP_ROUNDS}"]
        for r in batch:
            args += ["--bench", asv_pattern(r.benchmark, r.params)]
        asvrun.asv(args, env, root, timeout=left)

    def rejudge():
        # a row no pair leaves open any more is closed: decided, or its
        # estimate fell back within RACE_FROM
        still = {r.key: r for r in open_rows(results.load(results_dir, machine), commit)}
        return {r.key: still.get(r.key) or _Closed(r.key) for r in rows}

    def say(text):
        print(text.replace("[race]", "[npthreads] follow-up:"), flush=True)

    racing.race(rows, measure, rejudge, RACE_FROM, budget, say)


@dataclass(frozen=True)
class _Closed:
    """A row of the follow-up that no pair leaves open any more."""
    key: tuple
    verdict: str = "closed"
    ratio: float | None = None


def summarize(results_dir, machine, commit):
    """Per environment: how many combinations ran, were skipped or failed."""
    measured = [m for m in results.load(results_dir, machine) if m.commit == commit]
    if not measured:
        print(f"[npthreads] no results for {commit[:8]} under {results_dir}/{machine}")
        return
    print(f"[npthreads] results in {results_dir}/{machine}:")
    by_env = {}
    for m in measured:
        by_env.setdefault(m.env_name, Counter())[m.status] += 1
    for env_name, counts in sorted(by_env.items()):
        if counts["failed"] and not counts["ok"] and not counts["skipped"]:
            # what asv records for an environment whose install step failed,
            # e.g. an OpenBLAS build that did not verify (openblas_build)
            print(f"  {env_name}: nothing measured, {counts['failed']} failed: refused at "
                  "install or every benchmark failed (asv's output above says which)")
            continue
        print(f"  {env_name}: {counts['ok']} measured, {counts['skipped']} skipped, "
              f"{counts['failed']} failed")
