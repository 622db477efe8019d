"""``npthreads bench``: run the suite over the numpy matrix, then publish.

One command on a fresh machine: register the machine, run asv over every
environment of the profile's matrix for the checked-out commit with samples
recorded (the comparisons need them), publish the site, and say what was
produced.
"""

import subprocess
from collections import Counter

from . import UsageError, asvrun, results
from .profiles import PROFILES, active_profile


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
                             + ", ".join(asvrun.OPENBLAS_AXIS_BENCHMARKS) + " unless -b says")
    parser.add_argument("--no-publish", action="store_true", help="skip publishing the site")


def run(args):
    profile = args.profile or active_profile()
    root = asvrun.repo_root()
    conf = asvrun.load_config(root)
    name = asvrun.machine_name()
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
        relabelled = results.stabilise_machine(results_dir, facts)
        if relabelled:
            print(f"[npthreads] results: {relabelled} file(s) of {name} re-labelled with the "
                  "machine's stable identity (one history series per environment)", flush=True)
        carried = results.carry_versions(results_dir)
        if carried:
            print(f"[npthreads] results: {carried} file(s) given the benchmark versions their "
                  "code has since a refactor that changed no measurement "
                  "(results.CARRIED_VERSIONS), so asv keeps showing them", flush=True)
        # Against asv.conf.json itself, not the derived config: a forced
        # kernel is in every derived environment but was not in older runs.
        renamed = results.name_every_matrix_variable(results_dir, conf)
        if renamed:
            print(f"[npthreads] results: {renamed} file(s) renamed with every matrix variable "
                  "of asv.conf.json, as asv names them now (one history series per "
                  "environment)", flush=True)
    env = asvrun.asv_environ(conf, profile)
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
    if profile == "quick":
        cmd.append("--quick")
    for pattern in args.bench or asvrun.axis_benchmarks(args.axis):
        cmd += ["--bench", pattern]
    what = ("the OpenBLAS axis (each build swapped into one numpy, and its own wheel)"
            if args.axis == "openblas" else "every environment")
    print(f"[npthreads] 1/2 running the suite on {commit[:8]} in {what} "
          "(asv builds each virtualenv on first use)", flush=True)
    code = asvrun.asv(cmd, env, root)
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
