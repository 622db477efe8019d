"""``npthreads bisect``: which OpenBLAS build changed a row, and does numpy play a part?

Every numpy wheel vendors its own OpenBLAS, so a step between two numpy
versions mixes two causes. This command separates them with
environments that differ in one thing only, measured together:

1. *Attribution.* In one asv session, interleaved: the two numpys as their
   wheels ship them (the step itself, re-measured now), and the newer numpy
   with the older numpy's OpenBLAS build swapped in (``openblas_build``).
   Same numpy, two OpenBLAS builds: does the row follow OpenBLAS? Same
   OpenBLAS build, two numpys: does numpy play a part?
2. *Search.* If the row follows OpenBLAS, bisect the scipy-openblas64
   snapshots between the two builds under the newer numpy. Each step
   measures the middle build next to the current "old" and "new" ends, in
   one session, and calls it old or new only when it matches one end and
   differs from the other; otherwise it stops and says it cannot tell.

Verdicts use the comparison engine's machinery (``comparison``) on asv's rounds (``evidence``): a pair
differs when its ratio is beyond the row's resolution and the rounds
separate. The measurements go to a scratch results directory
(``.asv/bisect/results``); the environments are shared with ``npthreads
bench`` under ``.asv/env``.
"""

import json
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError, asvrun, evidence, results
from .comparison import asv_pattern, compare_one
from .openblas_build import OPENBLAS_VAR, PACKAGE, SWAPPABLE_FROM, numbers
from .units import format_minutes
from .verdicts import FASTER, SLOWER

# The scipy-openblas64 build each numpy wheel vendors, from numpy's own
# sources at each tag: requirements/ci_requirements.txt for 2.x, and
# tools/openblas_support.py for 1.26.4 (OPENBLAS_LONG v0.3.23-293-gc2f4bdbb,
# the snapshot scipy-openblas64 0.3.23.293 packages; 1.26 links it under
# other symbol names, so it cannot take a swap, but its build is known).
VENDORED = {
    "1.26.4": "0.3.23.293.2",
    "2.0.2": "0.3.27.44.4",
    "2.1.3": "0.3.27.44.6",
    "2.2.6": "0.3.29.0.0",
    "2.3.5": "0.3.30.0.7",
    "2.4.6": "0.3.31.188.0",
}
# The oldest OpenBLAS snapshot numpy 2.x can load: 0.3.23.293 (numpy
# 1.26.4's) exports the old symbol names (cblas_dgemm64_, no scipy_ prefix)
# and numpy 2.x fails to import with it (checked by the install step).
FIRST_SWAPPABLE_SNAPSHOT = (0, 3, 24)
BISECT_DIR = Path(".asv") / "bisect"

OLD, NEW = "old", "new"


def snapshot(build):
    """The OpenBLAS source a scipy-openblas64 build packages: release and
    commits after it (0.3.27.44.6 -> (0, 3, 27, 44)); the fifth number only
    counts re-packagings of the same source."""
    return numbers(build)[:4]


def available_builds():
    """Every scipy-openblas64 version on the package index, oldest first."""
    proc = subprocess.run([sys.executable, "-m", "pip", "index", "versions", PACKAGE],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"Available versions:\s*(.+)", proc.stdout)
    if not found:
        raise UsageError(f"cannot list {PACKAGE} builds from the package index "
                         f"(pip index versions: {proc.stderr.strip().splitlines()[-1:]})")
    return sorted((v.strip() for v in found.group(1).split(",")), key=numbers)


def between(builds, old, new):
    """The newest packaging of each OpenBLAS snapshot strictly between the
    builds ``old`` and ``new``, oldest first: the candidates a bisection
    searches."""
    lo, hi = sorted((snapshot(old), snapshot(new)))
    newest = {}
    for build in builds:
        snap = snapshot(build)
        if lo < snap < hi and (snap not in newest
                               or numbers(build) > numbers(newest[snap])):
            newest[snap] = build
    return [newest[s] for s in sorted(newest)]


@dataclass
class Search:
    """The state of a bisection over ``candidates``: builds before ``old``
    (index) behave like the old end, from ``new`` on like the new end."""
    candidates: list              # old end, the builds between, new end
    old: int = 0
    new: int = -1
    steps: list = field(default_factory=list)   # (build, OLD / NEW / None, why)
    stopped: str = ""             # why the search could not go on

    def __post_init__(self):
        if self.new < 0:
            self.new = len(self.candidates) - 1

    @property
    def done(self):
        return bool(self.stopped) or self.new - self.old <= 1

    @property
    def middle(self):
        return self.candidates[(self.old + self.new) // 2]

    @property
    def first_new(self):
        """The first build that behaves like the new end, once found."""
        return None if self.stopped or not self.done else self.candidates[self.new]

    def record(self, side, why):
        """Record the middle build's verdict: OLD, NEW, or None (cannot tell)."""
        index = (self.old + self.new) // 2
        self.steps.append((self.candidates[index], side, why))
        if side == OLD:
            self.old = index
        elif side == NEW:
            self.new = index
        else:
            self.stopped = f"{self.candidates[index]}: {why}"


def bisect_builds(candidates, classify):
    """Bisect ``candidates`` (old end first, new end last) with
    ``classify(build, old_build, new_build) -> (OLD | NEW | None, why)``;
    the search ends at one build, or stops at the first it cannot place."""
    search = Search(list(candidates))
    while not search.done:
        side, why = classify(search.middle, search.candidates[search.old],
                             search.candidates[search.new])
        search.record(side, why)
    return search


# -- the environments ----------------------------------------------------------

@dataclass(frozen=True)
class Env:
    """One environment of the bisection: a numpy, and the OpenBLAS build
    swapped into it ("" for the wheel's own)."""
    numpy: str
    openblas: str = ""

    @property
    def build(self):
        """The scipy-openblas64 build this environment runs."""
        return self.openblas or VENDORED.get(self.numpy, "?")

    def __str__(self):
        own = "its own " if not self.openblas else ""
        return f"numpy {self.numpy} + {own}OpenBLAS {self.build}"


def _python_of(conf, numpy):
    for inc in conf.get("include", []):
        if inc.get("req", {}).get("numpy") == numpy and "python" in inc:
            return inc["python"]
    return conf["pythons"][0]


def bisect_config(root, envs, results_dir):
    """A config with exactly ``envs``, derived from the repository's, so
    the environments are the ones ``npthreads bench`` builds (same names,
    same env_dir)."""
    conf = asvrun.load_config(root)
    matrix = conf.setdefault("matrix", {})
    req = matrix.setdefault("req", {})
    numpys = list(req.get("numpy") or [])
    base_env = {k: (v[0] if isinstance(v, list) and v else v)
                for k, v in matrix.get("env", {}).items()}
    include = []
    for env in envs:
        entry = {"python": _python_of(conf, env.numpy),
                 "req": {**{k: (v[0] if isinstance(v, list) else v) for k, v in req.items()},
                         "numpy": env.numpy},
                 "env": {**base_env, OPENBLAS_VAR: env.openblas},
                 "env_nobuild": dict(matrix.get("env_nobuild", {}))}
        include.append(entry)
    # asv needs a non-empty matrix: keep one entry and exclude it again
    req["numpy"] = numpys[:1]
    conf["exclude"] = [{"req": {"numpy": numpys[0]}}] if numpys else []
    conf["include"] = include
    asvrun.absolute_paths(conf, root)
    conf["results_dir"] = str(results_dir)
    conf["html_dir"] = str(Path(root) / BISECT_DIR / "html")
    path = Path(root) / BISECT_DIR / "asv.bisect.conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return path


# -- the row -------------------------------------------------------------------

@dataclass(frozen=True)
class RowSpec:
    benchmark: str        # full asv name, e.g. "bench_dot.DotBlasThreads.time_dot"
    params: tuple         # ((name, label), ...) in the benchmark's order

    @property
    def key(self):
        return results.row_key(self.benchmark, dict(self.params))

    @property
    def pattern(self):
        """asv's -b regex for exactly this combination."""
        return asv_pattern(self.benchmark, dict(self.params))

    def __str__(self):
        name = ".".join(self.benchmark.split(".")[-2:])
        return f"{name}({', '.join(f'{k}={v}' for k, v in self.params)})"


def resolve_row(results_dir, name, given):
    """The benchmark named ``name`` (or ending in it) with ``given``
    params, checked against the suite's benchmarks.json."""
    path = Path(results_dir) / "benchmarks.json"
    if not path.is_file():
        raise UsageError(f"{path} is missing: run `make bench` (or asv run) once first")
    suite = results.load_benchmarks(results_dir)
    matches = [b for b in suite if b == name or b.endswith("." + name)]
    if len(matches) != 1:
        near = sorted(b for b in suite if name.split(".")[-1] in b)[:5]
        raise UsageError(f"benchmark {name!r} {'is ambiguous' if matches else 'not found'}"
                         + (f"; e.g. {', '.join(near)}" if near else ""))
    info = suite[matches[0]]
    names, values = info.get("param_names", []), info.get("params", [])
    params = []
    for pname, choices in zip(names, values):
        labels = [results.param_label(c) for c in choices]
        if pname not in given:
            raise UsageError(f"--param {pname}=... is needed; choose from {', '.join(labels)}")
        if given[pname] not in labels:
            raise UsageError(f"{pname}={given[pname]!r} is not in the grid; "
                             f"choose from {', '.join(labels)}")
        params.append((pname, given[pname]))
    extra = set(given) - set(names)
    if extra:
        raise UsageError(f"{matches[0]} has no parameter {', '.join(sorted(extra))}")
    if not evidence.is_timed(matches[0]):
        raise UsageError(f"{matches[0]} is a tracked value, not a time: nothing to bisect")
    return RowSpec(matches[0], tuple(params))


# -- measuring and judging -----------------------------------------------------

class Bench:
    """Measures the row in sets of environments, one asv session each, and
    judges pairs of them."""

    def __init__(self, root, row, rounds, deadline, history):
        self.root, self.row, self.rounds, self.deadline = root, row, rounds, deadline
        self.results_dir = Path(root) / BISECT_DIR / "results"
        self.machine = asvrun.machine_name()
        self.commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root,
                                     capture_output=True, text=True).stdout.strip()
        if not self.commit:
            raise UsageError(f"{root} has no commit to benchmark")
        self.history = history          # the machine's committed measurements
        self.measured = {}              # Env -> Measurement of the latest session
        self._past = None

    def measure(self, envs, label):
        left = self.deadline - time.monotonic()
        if left <= 30:
            raise TimeoutError(f"the time bound ran out before {label}")
        config = bisect_config(self.root, envs, self.results_dir)
        asvrun.register_machine(self.machine)
        conf = asvrun.load_config_at(config)
        print(f"[bisect] {label}: {len(envs)} environments, {self.rounds} rounds each, "
              f"interleaved ({format_minutes(left)} left)", file=sys.stderr, flush=True)
        code = asvrun.asv(["run", f"{self.commit}^!", "--config", str(config),
                           "--machine", self.machine, "--record-samples",
                           "--interleave-rounds", "--show-stderr", "-a", f"rounds={self.rounds}",
                           "-b", self.row.pattern],
                          asvrun.asv_environ(conf, "default"), self.root,
                          timeout=left, to_stderr=True)
        if code == asvrun.TIMED_OUT:
            raise TimeoutError(f"the time bound ran out while measuring {label}")
        found = {}
        for m in results.load(self.results_dir, self.machine):
            if m.commit == self.commit and m.key == self.row.key:
                env = Env(m.numpy, m.openblas_build)
                if env in envs:
                    found[env] = m
        missing = [str(e) for e in envs if e not in found or found[e].status != "ok"]
        if missing:
            raise UsageError(f"no measurement of {self.row} in {'; '.join(missing)} "
                             f"(an environment refused or the benchmark failed: see asv's "
                             f"output above)")
        self.measured.update(found)
        return found

    def noise(self):
        """The row's noise: its spread over rounds in this session's
        environments, never below what the machine's committed runs show for
        it, widened by their negative control's calibration."""
        local = evidence.build_noise({(str(e), "bisect"): {self.row.key: evidence.rounds_of(m)}
                                      for e, m in self.measured.items()})
        if self._past is None:
            self._past = (evidence.noise_of(self.history, []) if self.history
                          else evidence.Noise())
        past, key = self._past, self.row.key
        sigma = max(local.sigma.get(key, 0.0), past.sigma.get(key, 0.0)) or None
        return evidence.Noise(sigma={key: sigma} if sigma else {},
                              calibration=past.calibration)

    def differ(self, a, b):
        """(SLOWER / FASTER / "", Row) of ``b`` against ``a``."""
        row = compare_one(self.measured[a], self.measured[b], True,
                          evidence.FACTOR, self.noise())
        return (row.verdict if row.verdict in (SLOWER, FASTER) else ""), row

    def place(self, middle, lo, hi, step):
        """Measure ``middle`` between the current ends, in one session, and
        place it: NEW when it differs from the old end as the step does and
        carries nearly all of the step (``step_share``), OLD the other way
        round, else None."""
        self.measure([lo, middle, hi], f"step: {middle.build}")
        to_old, row_old = self.differ(lo, middle)
        to_new, row_new = self.differ(middle, hi)
        why = (f"against {lo.build}: {evidence_text(row_old)}; "
               f"against {hi.build}: {evidence_text(row_new)}")
        print(f"  {middle.build}: {why}", flush=True)
        share = step_share(row_old.ratio, row_new.ratio)
        if to_old == step and (not to_new or (share or 0) >= 1 - NEAR_END):
            return NEW, why
        if to_new == step and (not to_old or (share if share is not None else 1) <= NEAR_END):
            return OLD, why
        return None, "matches neither end alone: " + why


# A middle build can differ from the end it belongs to as well: a second,
# smaller change, or the wide spread of a thrashing cell. A CI run measured
# 0.3.27.0.1 at 330x the old end and 1.21x off the new end (7.8 +- 2 ms
# against 11.8 ms): it carries 97% of the step on the log scale, and is new.
# A build that carries no more than a quarter of the step (or no less than
# three quarters) sits with the near end; anything nearer the middle stops
# the search, as before.
NEAR_END = 0.25


def step_share(to_middle, middle_to_new):
    """How much of the step, on the log scale, lies between the old end and
    the middle build (0 at the old end, 1 at the new end); None when a ratio
    is missing or the ends do not differ."""
    if not to_middle or not middle_to_new or to_middle <= 0 or middle_to_new <= 0:
        return None
    whole = math.log(to_middle) + math.log(middle_to_new)
    if whole == 0:
        return None
    return math.log(to_middle) / whole


def evidence_text(row):
    if row.ratio is None:
        return row.note or row.verdict
    res = f", resolves {row.resolution:.2f}x" if row.resolution else ""
    p = f", p {row.p:.2g}" if row.p is not None else ""
    return (f"{row.ratio:.2f}x ({row.n_before} vs {row.n_after} rounds{p}{res}; "
            f"{row.verdict})")


# -- the command ---------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("benchmark", help="the row's benchmark, e.g. DotBlasThreads.time_dot")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=LABEL",
                        help="one parameter of the row (repeat for each), e.g. "
                             "--param 'size=1e5 (cache)' --param blas_threads=2xcores")
    parser.add_argument("--from", dest="old", required=True, metavar="numpy==V|openblas==B",
                        help="the side before the change")
    parser.add_argument("--to", dest="new", required=True, metavar="numpy==V|openblas==B",
                        help="the side after the change")
    parser.add_argument("--numpy", metavar="V",
                        help="the numpy that hosts OpenBLAS builds given with openblas== "
                             "(default: 2.4.6)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="asv rounds per environment and session (default 4)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="stop after this many seconds, saying how far it got (default 1800)")


def _side(text):
    m = re.fullmatch(r"(numpy|openblas)==([\w.]+)", text.strip())
    if not m:
        raise UsageError(f"{text!r}: give numpy==VERSION or openblas==BUILD")
    return m.groups()


def _params(pairs):
    given = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"--param {pair!r}: give NAME=LABEL")
        k, v = pair.split("=", 1)
        given[k.strip()] = v.strip()
    return given


def nearest_swappable(build, builds):
    """``build``, or the newest packaging of the oldest snapshot numpy 2.x
    can load if ``build`` is older than that."""
    if snapshot(build) >= FIRST_SWAPPABLE_SNAPSHOT:
        return build
    later = [b for b in builds if snapshot(b) >= FIRST_SWAPPABLE_SNAPSHOT]
    if not later:
        raise UsageError(f"no {PACKAGE} build numpy 2.x can load is on the package index")
    first = min(snapshot(b) for b in later)
    return max((b for b in later if snapshot(b) == first), key=numbers)


def plan(old, new, host, builds):
    """(the environments of the attribution, the OpenBLAS builds at each end,
    the numpy hosting the swaps) for the two sides. The third environment,
    the host numpy with the other numpy's build (or the nearest one it can
    load), carries both checks."""
    (kind_a, a), (kind_b, b) = old, new
    if kind_a != kind_b:
        raise UsageError("--from and --to must both name numpy versions or both OpenBLAS builds")
    if kind_a == "openblas":
        host = host or "2.4.6"
        for build in (a, b):
            if build not in builds:
                raise UsageError(f"{PACKAGE} {build} is not on the package index")
        return [Env(host, a), Env(host, b)], (a, b), host
    for v in (a, b):
        if v not in VENDORED:
            raise UsageError(f"numpy {v}: its OpenBLAS build is not known here; "
                             f"choose from {', '.join(VENDORED)}")
    newer = max(a, b, key=numbers)
    if numbers(newer)[:2] < SWAPPABLE_FROM:
        raise UsageError(f"numpy {a} and {b} both predate 2.0: neither can host another "
                         f"OpenBLAS build")
    host = host or newer
    old_build, new_build = VENDORED[a], VENDORED[b]
    if snapshot(old_build) == snapshot(new_build):
        envs = [Env(a), Env(b)]   # same OpenBLAS source: only numpy differs
    else:
        swapped = nearest_swappable(old_build if host == b else new_build, builds)
        envs = [Env(a), Env(b), Env(host, swapped)]
    return envs, (old_build, new_build), host


def run(args):
    root = asvrun.repo_root()
    row = resolve_row(asvrun.results_dir(), args.benchmark, _params(args.param))
    if args.rounds < evidence.MIN_ROUNDS:
        # 3 rounds a side cannot reach p < 0.05 in the rank test (its least p is 0.1)
        raise UsageError(f"--rounds {args.rounds}: at least {evidence.MIN_ROUNDS} rounds a side "
                         f"are needed for the rounds to separate at p < {evidence.ROUND_ALPHA:g}")
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a positive number of seconds")
    old, new = _side(args.old), _side(args.new)
    builds = available_builds()
    envs, (old_build, new_build), host = plan(old, new, args.numpy, builds)
    started = time.monotonic()
    # the machine's committed runs: the row's past noise and the control's calibration
    history = results.load(asvrun.results_dir(), asvrun.machine_name())
    bench = Bench(root, row, args.rounds, started + args.timeout, history)
    print(f"[bisect] {row}: {args.old} -> {args.new}; OpenBLAS {old_build} -> {new_build}",
          flush=True)
    try:
        return _run(bench, envs, old_build, new_build, host, builds, started)
    except TimeoutError as stop:
        print(f"[bisect] cannot tell: {stop} ({args.timeout:g} s); raise --timeout",
              flush=True)
        return 3


def _run(bench, envs, old_build, new_build, host, builds, started):
    bench.measure(envs, "1/2 attribution")
    print("\nattribution (one session, interleaved):", flush=True)
    step, row = bench.differ(envs[0], envs[1])
    print(f"  the step itself    {envs[0]}  ->  {envs[1]}: {evidence_text(row)}")
    if not step:
        print(f"[bisect] cannot tell: the step itself is \"{row.verdict}\" in this session "
              "(a change needs its ratio beyond the row's resolution and its rounds apart)")
        return 3
    follows_openblas = numpy_part = None
    old_end = new_end = None
    if len(envs) == 3:
        native, swapped = [e for e in envs[:2] if e.numpy == host][0], envs[2]
        other = [e for e in envs[:2] if e.numpy != host][0]
        # same numpy (the host), the two builds
        old_end, new_end = (swapped, native) if native == envs[1] else (native, swapped)
        blas_step, blas_row = bench.differ(old_end, new_end)
        print(f"  same numpy         {old_end}  ->  {new_end}: {evidence_text(blas_row)}")
        follows_openblas = blas_step == step
        # (nearly) the same build, the two numpys
        pair = (other, swapped) if other == envs[0] else (swapped, other)
        np_step, np_row = bench.differ(*pair)
        note = ("" if swapped.build == other.build else
                f" (the nearest build numpy {host} can load to {other.build}: a difference "
                "here may also be OpenBLAS's)")
        print(f"  same OpenBLAS      {pair[0]}  ->  {pair[1]}: {evidence_text(np_row)}{note}")
        numpy_part = bool(np_step)
    elif envs[0].numpy == envs[1].numpy:
        # two builds under one numpy: the step is OpenBLAS's by construction
        old_end, new_end = envs
        follows_openblas, numpy_part = True, False
    else:
        print("  both numpys vendor the same OpenBLAS snapshot: the step is numpy's")
        numpy_part, follows_openblas = True, False
    print()
    if not follows_openblas:
        print(f"[bisect] the row does not follow OpenBLAS {old_build} -> {new_build} under "
              f"numpy {host}; " + ("numpy plays the part" if numpy_part else
                                   "and the numpy step alone does not show it either: "
                                   "cannot tell"))
        return 0 if numpy_part else 3
    candidates = [old_end] + [Env(host, b) for b in between(builds, old_end.build,
                                                             new_end.build)] + [new_end]
    one_numpy = envs[0].numpy == envs[1].numpy
    print(f"[bisect] 2/2 the row follows OpenBLAS under numpy {host}"
          + ("" if one_numpy else "; numpy plays a part too" if numpy_part
             else "; numpy plays no part")
          + f". {len(candidates) - 2} snapshot(s) in between: "
          + ", ".join(e.build for e in candidates[1:-1]), flush=True)

    search = bisect_builds(candidates,
                           lambda middle, lo, hi: bench.place(middle, lo, hi, step))
    took = format_minutes(time.monotonic() - started)
    if search.first_new is None:
        print(f"\n[bisect] cannot tell after {len(search.steps)} step(s), {took}: "
              f"{search.stopped}")
        return 3
    first = search.first_new
    last_old = search.candidates[search.old]
    print(f"\n[bisect] first OpenBLAS build that shows the change: {first.build} "
          f"(the one before, {last_old.build}, does not), under numpy {host}"
          + ("" if one_numpy else "; numpy plays a part too" if numpy_part
             else "; numpy plays no part")
          + f". {len(search.steps)} bisection step(s), {took}.")
    return 0
