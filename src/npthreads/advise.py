"""``npthreads advise``: how many Python threads x BLAS threads for a workload?

Why measure rather than rule of thumb: the tutorial's answer (a default
``ThreadPool()`` fights the BLAS's own threads) depends on core count, BLAS
build and problem size, so the advice comes from a small grid timed on this
machine now: Python threads {1, cores, 2xcores} x BLAS threads {1, cores,
default}, plus the two things a user would otherwise write, a serial loop and
the naive ``ThreadPool()`` with the BLAS untouched. ``--from-results`` reads
the latest asv results instead (through ``npthreads.results``).

Choice rule (``recommend``): ``npthreads.choice``, the rule the report's
grids use too. The fastest measured cell is the lowest point estimate; a
cell is clearly slower when even the low end of its ratio to it lies above
5%; if every other cell is within 25% of it at the high end, the advice
recommends the one with the fewest threads (Python x BLAS, then the BLAS
left at its default) and states that margin; otherwise it cannot tell, and
names the fastest measured cell and its contenders. The ratios come from the
results' full runs pooled (``--from-results``, 3 or more runs), else from
the rounds measured. "Python threads x BLAS threads" is the nominal count:
OpenBLAS may serialise concurrent calls.

Measured now, the configurations race (``measure``): after a first few
rounds of every cell, only the cells not clearly slower than the fastest
get more rounds, until the rule decides or the time budget runs out.

Oversubscription risk compares every cell running more threads than usable
cores with the best cell that does not: low when none is slower beyond the
tie margin, high when one is 1.5x slower or worse, moderate between.
"""

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field

from . import UsageError, asvrun, choice, cost, evidence, machine, stats
from .scenarios import SPECS
from .units import format_seconds

@dataclass(frozen=True)
class Workload:
    """A workload ``--workload`` names."""
    size_unit: str                # what --size counts: "n" or "elements"
    default_size: int
    default_tasks: int | None     # None: one array, split one part per thread
    what: str                     # what it runs
    work: str                     # its cost: a key into ``cost.WORK``
    references: str | None        # the suite's scenario holding its serial and naive cells


# Advise's own table (the command line's names, sizes and wording); what a
# workload costs and whether it calls the BLAS is ``cost.WORK``'s.
WORKLOADS = {
    "matmul": Workload("n", 512, 16, "pairs of n x n matrices, a.dot(b) each", "matmul",
                       "MatmulTutorial"),
    "dot": Workload("elements", 20_000_000, None,
                    "one vector dot, split into one part per thread", "dot", None),
    "fill": Workload("n", 1024, 16, "separate n x n arrays, .fill(0) each", "fill_many",
                     "FillManyArrays"),
    "fill-parts": Workload("elements", 20_000_000, None,
                           "one array .fill(0), one slice per thread", "fill_one",
                           "FillOneArrayInParts"),
    "exp": Workload("elements", 10_000_000, None,
                    "np.exp of one array into another, one slice per thread", "exp",
                    "ExpInParts"),
}


def workload_uses_blas(workload):
    """Whether its tasks call the BLAS; else its threads sit idle, so only
    Python threads count towards oversubscription."""
    return cost.WORK[WORKLOADS[workload].work].uses_blas
PYTHON_THREADS = ("1", "cores", "2xcores")
BLAS_THREADS = ("1", "cores", "default")
TIE = choice.TIE
HIGH_PENALTY = 1.5
# Rounds at most per configuration: only the contenders get past MIN_ROUNDS
# (the race), and the budget stops them first on a slow workload.
DEFAULT_REPS = 20
DEFAULT_BUDGET = 45.0  # seconds: "under a minute" with start-up and a slow round
MIN_ROUNDS = 3


# -- what is passed around ---------------------------------------------------

@dataclass
class Cell:
    """One configuration and its times: a cell of the grid, or the serial or
    naive reference beside it. Measured now (``measure``) or read from the
    suite's results (``from_results``); ``recommend`` and ``format_advice``
    read both alike."""
    kind: str                     # "grid"; "serial" or "naive": the suite's references
    python: str                   # as the grid names it: "1", "cores", "2xcores"; "ThreadPool()"
    blas: str                     # "1", "cores", "default", ... (default: left untouched)
    python_threads: int | None = None   # what ``python`` came to on this machine
    blas_threads: int | None = None     # what ``blas`` came to (the default's own count)
    median: float | None = None   # seconds; None: nothing measured (refused, or no runs)
    q25: float | None = None
    q75: float | None = None
    # Seconds, one per timed round (from results: per asv round);
    # the tie rule judges on these where they are known.
    runs: list = field(default_factory=list)
    reason: str | None = None     # why the BLAS limit was refused: the cell is not run
    # Measured now only: the executor's label ("serial loop", "ThreadPool(4)",
    # "ThreadPool()"); None for cells read from results, whose executors the
    # grid's labels already say.
    executor: str | None = None
    # The grid's (1, default) cell measured now: a plain loop with the BLAS
    # untouched, i.e. the serial reference (the results have their own).
    serial_reference: bool = False
    # Set on the pooled cells of a workload that never calls the BLAS, so
    # its label says the BLAS setting does not matter.
    blas_irrelevant: bool = False
    # From results: the row key (``results.row_key``) the pooled runs know
    # the cell by; measured now: None (the cell is known by its labels).
    key: tuple | None = None
    # Measured now: the round after which the race dropped the cell as
    # clearly slower than the fastest (it is no candidate any more); None:
    # in the race to the end.
    dropped_after: int | None = None

    @property
    def ident(self):
        """How the evidence names the cell."""
        return self.key or (self.kind, self.python, self.blas)

    def to_json(self):
        """The dict ``--json`` prints: every field."""
        return dataclasses.asdict(self)


@dataclass
class Oversubscribed:
    """A measured configuration that runs more threads than usable cores."""
    config: str                   # its label
    threads: int                  # Python x BLAS threads (Python only if the BLAS sits idle)
    penalty: float                # its median over the best median that fits the cores


@dataclass
class Contender:
    """A cell the fastest measured cannot be told from."""
    config: str
    seconds: float                # its time, on the evidence the choice used
    ratio: float                  # over the fastest measured


@dataclass
class Recommendation:
    """What ``recommend`` advises; ``to_json`` is the ``--json`` output's
    "recommendation"."""
    best: str                     # label of the cell the advice names: the recommendation,
                                  # or (``decided`` false) the fastest measured
    python: str                   # its grid labels, e.g. "cores" and "default"
    blas: str
    python_threads: int           # what they came to on the machine
    blas_threads: int
    seconds: float                # its time (pooled runs: this run's fastest x pooled ratio)
    tie_margin: float             # a cell is clearly slower only beyond this (0.05)
    fastest: str                  # label of the fastest measured cell
    speedup_over_naive: float | None    # None: no naive ThreadPool() was measured
    speedup_over_serial: float | None   # None: no serial loop was measured
    naive_threads: int | None     # the threads the naive ThreadPool() runs, as counted
    cores: int                    # usable cores the oversubscription is judged against
    uses_blas: bool               # False: BLAS threads sit idle and do not count
    oversubscribed: list          # [Oversubscribed], in the order of the cells
    worst_penalty: float | None   # the largest of their penalties; None: none
    risk: str                     # "low", "moderate" or "high"
    decided: bool = True          # False: the evidence cannot tell the fastest from others
    margin: float | None = None   # decided: ``best`` is within this ratio (<= 1.25) of ``fastest``
    contenders: list = field(default_factory=list)   # [Contender], fastest first
    evidence: str = ""            # "pooled over 5 runs", "6 rounds" or "asv's medians"
    settle: str | None = None     # not decided: what would settle it
    # The time the advice quotes for every measured cell, on the evidence it
    # used (pooled: this run's fastest x each cell's pooled ratio; the
    # cells' "median" stays this run's own): [{kind, python, blas, seconds}]
    times: list = field(default_factory=list)

    def time_of(self, cell):
        """The quoted time of a ``Cell`` (its median if it was not judged)."""
        return next((t["seconds"] for t in self.times if (t["kind"], t["python"], t["blas"])
                     == (cell.kind, cell.python, cell.blas)), cell.median)

    def to_json(self):
        return dataclasses.asdict(self)


# -- input -------------------------------------------------------------------

def parse_size(text):
    """"512", "1e7", "20_000_000" -> a positive whole number."""
    try:
        value = float(str(text).replace("_", ""))
    except ValueError:
        raise UsageError(f"--size {text!r} is not a number (e.g. 512 or 1e7)") from None
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise UsageError(f"--size {text!r} must be a whole number of at least 1")
    return int(value)


def nbytes(workload, size, tasks):
    spec = WORKLOADS[workload]
    return cost.WORK[spec.work].nbytes((size, tasks) if spec.default_tasks else size)


def describe(workload, size, tasks):
    if WORKLOADS[workload].size_unit == "n":
        kind = "pairs" if workload == "matmul" else "arrays"
        return f"{workload}: {tasks} {kind} of {size}x{size}"
    return f"{workload}: {size:.3g} elements"


# -- measuring the grid now --------------------------------------------------

def make_batch(workload, size, tasks, parts):
    """The workload as tasks; "parts" workloads split one array per thread."""
    from . import workloads
    if workload == "matmul":
        return workloads.matmul_batch(size, tasks)
    if workload == "fill":
        return workloads.fill_many_batch(size, tasks)
    if workload == "fill-parts":
        return workloads.fill_parts_batch(size, parts)
    if workload == "exp":
        return workloads.exp_parts_batch(size, parts)
    import numpy as np
    a, b = workloads.dot_batch(size).tasks[0]
    pairs = tuple(zip(np.array_split(a, parts), np.array_split(b, parts)))
    return workloads.Batch(f"dot {size} in {parts} parts", workloads.dot, pairs,
                           flops=2.0 * size, bytes_moved=16.0 * size)


def grid_configs():
    """The grid, then the naive ThreadPool(). One Python thread is a plain
    loop (a pool of one only adds hand-offs), so the (1, default) cell is
    also the serial reference."""
    configs = [Cell("grid", p, b, executor="serial loop" if p == "1" else f"ThreadPool({p})",
                    serial_reference=p == "1" and b == "default")
               for p in PYTHON_THREADS for b in BLAS_THREADS]
    configs.append(Cell("naive", "ThreadPool()", "default", executor="ThreadPool()"))
    return configs


def measure(workload, size, tasks, reps, budget=None, uses_blas=True, say=None):
    """Time the configurations after one warm-up, round by round (each round
    visits every configuration still in the race, starting one further on,
    so drift on a shared machine spreads over all cells), and race them.

    The first ``MIN_ROUNDS`` rounds (``reps`` if fewer) time every
    configuration. From then on a round times only the contenders: the
    cells the rule (``decide``, on the rounds so far) does not find clearly
    slower than the fastest, and it stops as soon as the rule decides
    (every contender within its 25% margin, or none left), after ``reps``
    rounds, or when the next round would end past ``budget`` seconds.
    ``say`` gets one line of progress per round. Returns the cells and facts."""
    from .executors import executor_from_label
    from .threadcontrol import BlasLimitRefused, BlasThreads, current_blas_threads
    say = say or (lambda text: None)
    cores = machine.usable_cores()
    default_blas = current_blas_threads()
    configs = grid_configs()
    executors, batches = {}, {}
    first = min(reps, MIN_ROUNDS)
    try:
        for c in configs:
            if c.executor not in executors:
                executors[c.executor] = executor_from_label(c.executor)
            c.python_threads = executors[c.executor].workers
            c.blas_threads = (default_blas if c.blas == "default"
                              else machine.resolve_threads(c.blas, cores))
            c.runs, c.reason = [], None
        started_all, rounds, last_round, active = time.perf_counter(), 0, 0.0, configs
        budget_reached = False
        for rep in range(reps + 1):
            spent = time.perf_counter() - started_all
            if rep > first:
                active, decided = _contenders(configs, uses_blas)
                for c in configs:
                    if c.kind == "grid" and c.dropped_after is None and c.runs \
                            and not any(c is a for a in active) and not decided:
                        c.dropped_after = rounds
            else:
                decided = False
            # the budget first: where both hold, the run stopped at its budget
            if budget and rounds >= MIN_ROUNDS and spent + last_round > budget:
                budget_reached = True
                say(f"[advise] time budget reached ({budget:g} s) after {rounds} rounds: "
                    + ("decided" if decided else f"{len(active)} configurations still open"))
                break
            if decided:
                say(f"[advise] decided after {rounds} rounds ({spent:.1f} s)")
                break
            shift = rep % len(active)
            round_started = time.perf_counter()
            for c in active[shift:] + active[:shift]:
                if c.reason:
                    continue
                try:
                    limit = BlasThreads(None if c.blas == "default" else c.blas_threads)
                except BlasLimitRefused as refused:
                    c.reason = str(refused)
                    continue
                try:
                    pool = executors[c.executor]
                    parts = pool.workers
                    if parts not in batches:
                        batches[parts] = make_batch(workload, size, tasks, parts)
                    batch = batches[parts]
                    started = time.perf_counter()
                    pool.run(batch.fn, batch.tasks)
                    elapsed = time.perf_counter() - started
                finally:
                    limit.restore()
                if rep:  # round 0 is the warm-up
                    c.runs.append(elapsed)
            last_round = time.perf_counter() - round_started
            rounds = rep
            if rep:
                say(f"[advise] round {rep}: {len(active)} configurations timed "
                    f"({time.perf_counter() - started_all:.1f} s)")
    finally:
        for pool in executors.values():
            pool.close()
    for c in configs:
        _summarise(c)
    return configs, {"cores": cores, "default_blas_threads": default_blas, "rounds": rounds,
                     "budget_reached": budget_reached}


def _contenders(configs, uses_blas):
    """(the configurations still in the race, whether the rule has decided)
    on the rounds so far. A workload that never calls the BLAS is judged on
    its Python threads (``_pool_blas_columns``): a Python thread count in
    the race keeps every BLAS column of it."""
    measured = [c for c in configs if c.runs]
    for c in measured:
        _summarise(c)
    try:
        decision, by_ident, _, _ = decide(measured, uses_blas)
    except UsageError:
        return [c for c in configs if not c.reason], False
    if decision.decided:
        return [], True
    kept = {decision.best, *decision.contenders}
    pythons = {by_ident[k].python for k in kept}
    return [c for c in configs if c.kind == "grid" and not c.reason and c.dropped_after is None
            and ((c.ident in kept) if uses_blas else c.python in pythons)], False


def _summarise(cell):
    """The cell's median and quartiles from its runs (None without runs)."""
    if not cell.runs:
        cell.median = cell.q25 = cell.q75 = None
        return
    summary = stats.summarise(cell.runs)
    cell.median, cell.q25, cell.q75 = summary.median, summary.q25, summary.q75


# -- the recommendation ------------------------------------------------------

def _pool_blas_columns(cells):
    """For a workload that never calls the BLAS its setting cannot matter:
    the cells of one Python thread count are one configuration measured
    several times, so their runs are pooled (where the runs are known)."""
    groups, rest = {}, []
    for c in cells:
        if c.kind == "grid" and c.runs:
            groups.setdefault(c.python, []).append(c)
        else:
            rest.append(c)
    pooled = []
    for group in groups.values():
        base = next((c for c in group if c.blas == "default"), group[0])
        merged = dataclasses.replace(base, runs=[r for c in group for r in c.runs],
                                     blas_irrelevant=True)
        _summarise(merged)
        pooled.append(merged)
    return pooled + rest


def _threads(cell, uses_blas):
    return cell.python_threads * (cell.blas_threads if uses_blas else 1)


def decide(cells, uses_blas=True, pooled=None, noise=None):
    """The rule (``choice.choose``) over the candidate cells: a measured
    serial loop and every grid cell. -> (Choice, candidates by ident, level)
    where ``level(cell)`` is the time the advice quotes for a cell.

    ``pooled`` (``choice.PooledEvidence``) judges on the results' full runs
    pooled, when it has enough runs for every candidate; else the cells'
    rounds are the evidence (``noise``: the results' noise model; without
    it, measured now, the rounds' own spread)."""
    if not uses_blas:
        cells = _pool_blas_columns(cells)
    # A cell the race dropped stays out: it was clearly slower than the
    # fastest when it left, on the rule's own terms (a race's eliminations
    # are final, or its last few rounds would decide what the first did).
    grid = [c for c in cells if c.kind in ("grid", "serial") and c.median
            and c.dropped_after is None]
    if not grid:
        raise UsageError("no grid cell was measured; nothing to recommend")
    known = [c for c in cells if c.median]
    run = choice.RunEvidence({c.ident: list(c.runs) for c in known},
                             {c.ident: c.median for c in known}, noise)
    reference = min(grid, key=lambda c: run.level(c.ident)).ident
    use = pooled
    if use is not None and not all(use.interval(reference, c.ident) for c in grid):
        use = None            # a cell with too few runs: judge on this run alone
    ev = use or run
    options = [choice.Option(c.ident, use.interval(reference, c.ident).ratio if use
                             else run.level(c.ident), _threads(c, uses_blas),
                             blas_default=c.blas == "default", order=(i,))
               for i, c in enumerate(grid)]
    decision = choice.choose(options, ev.interval)
    anchor = run.level(decision.best)

    def level(cell):
        interval = decision.intervals.get(cell.ident) or ev.interval(decision.best, cell.ident)
        if interval is not None and anchor:
            return anchor * interval.ratio
        here, best = run.level(cell.ident), run.level(decision.best)
        return anchor * here / best if here and best and anchor else cell.median

    basis = (f"pooled over {min(use.runs(decision.best, c.ident) for c in grid)} runs" if use
             else f"{max(len(c.runs) for c in grid)} rounds" if any(c.runs for c in grid)
             else "asv's medians")
    return decision, {c.ident: c for c in known}, level, basis


def recommend(cells, cores, uses_blas=True, pooled=None, noise=None,
              settle=choice.SETTLE_ROUNDS):
    """The ``Recommendation`` from measured ``Cell``s (see the module docstring)."""
    decision, by_ident, level, basis = decide(cells, uses_blas, pooled, noise)
    named, fastest = by_ident[decision.named], by_ident[decision.best]
    candidates = [c for c in by_ident.values() if c.kind in ("grid", "serial")]
    refs = {("serial" if c.serial_reference else c.kind): c for c in by_ident.values()
            if c.kind in ("serial", "naive") or c.serial_reference}
    within = [c for c in candidates if _threads(c, uses_blas) <= cores]
    best_within = min(within, key=level) if within else fastest
    over = [Oversubscribed(label(c), _threads(c, uses_blas), level(c) / level(best_within))
            for c in by_ident.values() if _threads(c, uses_blas) > cores]
    worst = max((o.penalty for o in over), default=None)
    if worst is None or worst <= 1 + TIE:
        risk = "low"
    else:
        risk = "high" if worst >= HIGH_PENALTY else "moderate"
    naive, serial = refs.get("naive"), refs.get("serial")
    seconds = level(named)
    contenders = [Contender(label(by_ident[k]), level(by_ident[k]), decision.ratio(k))
                  for k in decision.contenders]
    return Recommendation(
        best=label(named), python=named.python, blas=named.blas,
        python_threads=named.python_threads, blas_threads=named.blas_threads,
        seconds=seconds, tie_margin=TIE, fastest=label(fastest),
        speedup_over_naive=level(naive) / seconds if naive else None,
        speedup_over_serial=level(serial) / seconds if serial else None,
        naive_threads=_threads(naive, uses_blas) if naive else None,
        cores=cores, uses_blas=uses_blas, oversubscribed=over,
        worst_penalty=worst, risk=risk, decided=decision.decided, margin=decision.margin,
        contenders=contenders, evidence=basis,
        settle=None if decision.decided else settle,
        times=[{"kind": c.kind, "python": c.python, "blas": c.blas, "seconds": level(c)}
               for c in cells if c.median])


def label(cell):
    """How the output names a configuration (a ``Cell``)."""
    count = cell.blas_threads
    blas = (f"BLAS default ({count})" if cell.blas == "default"
            else f"BLAS {count} thread{'s' if count != 1 else ''}")
    if cell.blas_irrelevant:
        blas = "any BLAS setting"
    if cell.kind == "naive":
        return f"ThreadPool() ({cell.python_threads} workers), {blas}"
    if cell.kind == "serial" or cell.executor == "serial loop":
        return f"serial loop, {blas}"
    return f"ThreadPool({cell.python_threads}), {blas}"


# -- reading the suite's results instead -------------------------------------


def _role(workload, m):
    """Where a suite measurement goes: ("grid", python, blas), ("serial",),
    ("naive",) or None; only the suite's time_* benchmarks are used."""
    if ".time_" not in m.benchmark:
        return None
    p, s = m.params, m.scenario
    if workload == "matmul" and s == "MatmulThreadSplit":
        return ("grid", p["python_threads"], p["blas_threads"])
    if workload == "dot" and s == "DotBlasThreads":
        return ("grid", "1", p["blas_threads"])
    if s != WORKLOADS[workload].references:
        return None
    spec = SPECS[s]
    for role, ref in (("serial", spec.serial), ("naive", spec.naive)):
        if ref is not None and ref.matches(s, p):
            return (role,)
    executor = p.get("executor", "")
    if workload != "matmul" and p.get("chunksize", "default") == "default" \
            and executor.startswith("ThreadPool(") and executor != "ThreadPool()":
        return ("grid", executor[len("ThreadPool("):-1], "default")
    return None


def _leading_number(size_label):
    text = size_label.split()[0].split("x")[0]
    try:
        return float(text)
    except ValueError:
        return None


def default_env(measurements):
    """The environment a user runs: the pin-following one (numpy "pinned"),
    else the newest numpy of the matrix; never one of the OpenBLAS axis
    (a build swapped into a numpy), which no user installs. None
    if there is no such environment."""
    from .report import version_key
    envs = {m.env_name: m.numpy for m in measurements if m.axis == "numpy"}
    pinned = sorted(e for e, numpy in envs.items() if numpy == "pinned")
    if pinned:
        return pinned[0]
    return max(envs, key=lambda e: (version_key(envs[e]), e), default=None)


def from_results(workload, results_dir, size=None, env=None):
    """[(size label, cells, facts, judge)] from the newest results of one
    machine and environment: this machine's if it has any (else the one
    with the newest results), and the environment ``env`` names
    (``comparison.select_env``: numpy==X, openblas==B, a name) or else
    ``default_env``. ``judge`` holds the evidence ``recommend`` takes: the
    machine's full runs pooled up to the environment's newest run, and that
    run's noise model."""
    from . import comparison, report, results
    found = results.machines(results_dir)
    if not found:
        raise UsageError(f"{results_dir}: no machine has results")
    everything = results.load(results_dir)
    name = asvrun.machine_name()
    if name not in found:
        name = max(found, key=lambda k: max((m.date for m in everything if m.machine == k),
                                            default=0))
    everything = [m for m in everything if m.machine == name]
    mine = results.latest_per_environment(everything)
    if not mine:
        raise UsageError(f"{results_dir}: no results for machine {name!r}")
    if env:
        labels = {}
        for m in mine:
            labels.setdefault(m.env_name, comparison.env_label(m))
        env = comparison.select_env(labels, env)
    else:
        env = default_env(mine)
        if env is None:
            raise UsageError(f"{results_dir}: machine {name!r} has only OpenBLAS-axis "
                             "environments; choose one with --env openblas==B")
    first = next(m for m in mine if m.env_name == env)
    cores = int(found[name].get("num_cpu") or machine.usable_cores())
    default_blas = next((m.value for m in mine if m.env_name == env and m.status == "ok"
                         and m.benchmark.endswith("track_blas_default_threads")), None)
    default_blas = int(default_blas) if default_blas else cores
    blocks = {}
    for m in mine:
        role = _role(workload, m) if m.env_name == env and m.status == "ok" else None
        if role is None:
            continue
        size_label = m.params.get("size", "")
        if size is not None and _leading_number(size_label) != float(size):
            continue
        kind = role[0]
        python = role[1] if kind == "grid" else ("1" if kind == "serial" else "ThreadPool()")
        blas = role[2] if kind == "grid" else "default"
        workers = cores if python == "ThreadPool()" else machine.resolve_threads(python, cores)
        blocks.setdefault(size_label, []).append(Cell(
            kind, python, blas, python_threads=workers,
            blas_threads=(default_blas if blas == "default"
                          else machine.resolve_threads(blas, cores)),
            median=m.value, q25=m.q25 if m.q25 is not None else m.value,
            q75=m.q75 if m.q75 is not None else m.value,
            # The round is the unit: a cell's runs are its asv
            # rounds' medians, as in compare and the report.
            runs=evidence.rounds_of(m), key=m.key))
        if blocks[size_label][-1].runs:
            _summarise(blocks[size_label][-1])
        # else: asv ran without --record-samples; its median and quartiles stand
    if not blocks:
        wanted = f" at size {size:g}" if size is not None else ""
        raise UsageError(f"{results_dir}: no {workload} results{wanted} for machine {name!r}, "
                         f"environment {env}")
    pooled = (None if first.axis != "numpy" else
              report.PooledRuns(_history(everything), everything).evidence(env, first.commit))
    judge = {"pooled": pooled, "noise": evidence.noise_of(everything, [first.commit])}
    facts = {"machine": name, "env_name": env, "numpy": first.numpy, "cores": cores,
             "default_blas_threads": default_blas, "openblas_build": first.openblas_build,
             "commit": first.commit}
    return [(size_label, cells, facts, judge) for size_label, cells in blocks.items()]


def _history(measurements):
    from . import pooled
    return pooled.history_of(measurements)


# -- output ------------------------------------------------------------------

def format_advice(title, cells, advice):
    """The text output of one block: ``Cell``s and their ``Recommendation``."""
    grid = {(c.python, c.blas): c for c in cells if c.kind == "grid"}
    pythons = list(dict.fromkeys(k[0] for k in grid))
    blases = list(dict.fromkeys(k[1] for k in grid))

    def head(lbl, kind):
        cell = next(c for k, c in grid.items() if k[0 if kind == "python" else 1] == lbl)
        count = cell.python_threads if kind == "python" else cell.blas_threads
        text = lbl if lbl == str(count) else f"{lbl}={count}"
        return text + (" (loop)" if kind == "python" and cell.executor == "serial loop"
                       else "")

    def text(p, b):
        cell = grid.get((p, b))
        if cell is None:
            return "-"
        if not cell.median:
            return "refused" if cell.reason else "-"
        return format_seconds(advice.time_of(cell))

    rows = [["Python \\ BLAS threads"] + [head(b, "blas") for b in blases]]
    rows += [[head(p, "python")] + [text(p, b) for b in blases] for p in pythons]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title, ""] + ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip()
                           for r in rows]
    refs = [f"{label(c)} {format_seconds(advice.time_of(c))}" for c in cells
            if (c.kind in ("serial", "naive") or c.serial_reference) and c.median]
    if refs:
        lines.append("references: " + "; ".join(refs))
    if advice.evidence.startswith("pooled"):
        lines.append(f"(times: this run's time of the fastest, {advice.fastest}, times each "
                     f"configuration's ratio to it {advice.evidence})")
    lines += [f"refused: {label(c)}: {c.reason}" for c in cells if c.reason]
    a = advice
    how = ("" if a.blas == "default" else
           f" (threadpoolctl.threadpool_limits({a.blas_threads}, user_api='blas'))")
    if a.decided:
        close = ("the fastest measured" if a.fastest == a.best else
                 f"within +{max(0.0, a.margin - 1):.0%} of the fastest measured, {a.fastest}")
        lines += ["", f"recommendation: {a.best}{how} -> {format_seconds(a.seconds)}; "
                      f"{close} ({a.evidence})"]
        gains = []
        if a.speedup_over_naive:
            gains.append(f"{a.speedup_over_naive:.2f}x over the naive ThreadPool() with "
                         "default BLAS")
        if a.speedup_over_serial:
            gains.append(f"{a.speedup_over_serial:.2f}x over the serial loop")
        if gains:
            lines.append("  expected speed-up: " + ", ".join(gains))
    else:
        others = " or ".join(f"{o.config} ({format_seconds(o.seconds)}, {o.ratio:.2f}x)"
                             for o in a.contenders[:3])
        more = f" and {len(a.contenders) - 3} more" if len(a.contenders) > 3 else ""
        lines += ["", f"cannot tell: {a.best} ({format_seconds(a.seconds)}, fastest measured) "
                      f"from {others}{more} ({a.evidence}); {a.settle}"]
    if not a.uses_blas:
        lines.append("  (this workload never calls the BLAS: its threads sit idle, so only "
                     "Python threads count below)")
    over = a.oversubscribed
    if over:
        worst = max(over, key=lambda o: o.penalty)
        lines.append(f"  oversubscription risk: {a.risk}: {len(over)} of the configurations "
                     f"run more threads than the {a.cores} usable cores; the worst, "
                     f"{worst.config}, took {worst.penalty:.2f}x the best that fits")
        if a.naive_threads and a.naive_threads > a.cores:
            naive = next((o for o in over if o.config.startswith("ThreadPool()")), None)
            if naive:
                lines.append(f"  the naive ThreadPool() runs {a.naive_threads} threads on "
                             f"{a.cores} cores: {naive.penalty:.2f}x the best that fits")
    else:
        lines.append(f"  oversubscription risk: {a.risk}: no measured configuration "
                     f"ran more threads than the {a.cores} usable cores")
    return "\n".join(lines)


# -- command line ------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--workload", default="matmul",
                        help=f"one of {', '.join(WORKLOADS)} (default matmul)")
    parser.add_argument("--size", default=None,
                        help="matrix n for matmul/fill (default 512/1024), elements for "
                             "dot/fill-parts/exp (default 2e7/2e7/1e7); e.g. 512 or 1e7")
    parser.add_argument("--tasks", type=int, default=None,
                        help="independent tasks for matmul/fill (default 16)")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS,
                        help=f"most timed rounds per configuration; past the first "
                             f"{MIN_ROUNDS} only the contenders get more (default {DEFAULT_REPS})")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                        help=f"stop adding rounds (after {MIN_ROUNDS}) past this many seconds "
                             f"(default {DEFAULT_BUDGET:g}; 0: no limit)")
    parser.add_argument("--from-results", nargs="?", const="", default=None, metavar="DIR",
                        help="read the latest asv results (default: the repository's "
                             "results directory) instead of measuring")
    parser.add_argument("--env", metavar="SELECTOR",
                        help="with --from-results: the environment, numpy==X (pinned: the "
                             "pin-following one), openblas==B or a name (default: the "
                             "pin-following one, else the newest numpy)")
    parser.add_argument("--json", action="store_true", help="print the advice as JSON")


def _check_args(args):
    if args.workload not in WORKLOADS:
        raise UsageError(f"unknown workload {args.workload!r}; choose from "
                         f"{', '.join(WORKLOADS)}")
    default_size, default_tasks = (WORKLOADS[args.workload].default_size,
                                   WORKLOADS[args.workload].default_tasks)
    if args.tasks is not None and default_tasks is None:
        raise UsageError(f"--tasks applies to matmul and fill, not {args.workload}")
    if args.tasks is not None and args.tasks < 1:
        raise UsageError(f"--tasks {args.tasks} must be at least 1")
    if args.reps < 1:
        raise UsageError(f"--reps {args.reps} must be at least 1")
    if not math.isfinite(args.budget) or args.budget < 0:
        raise UsageError(f"--budget {args.budget:g} must be a number of seconds, 0 or more")
    if args.env and args.from_results is None:
        raise UsageError("--env applies to --from-results")
    size = parse_size(args.size) if args.size is not None else None
    return size, default_size, args.tasks or default_tasks


def run(args):
    size, default_size, tasks = _check_args(args)
    uses_blas = workload_uses_blas(args.workload)
    started = time.perf_counter()
    blocks = []
    if args.from_results is not None:
        results_dir = asvrun.results_dir(args.from_results)
        for size_label, cells, facts, judge in from_results(args.workload, results_dir, size,
                                                            args.env):
            build = f" + OpenBLAS {facts['openblas_build']}" if facts["openblas_build"] else ""
            title = (f"advice from {results_dir}: {args.workload} {size_label}; machine "
                     f"{facts['machine']}, {facts['cores']} cores; environment "
                     f"{facts['env_name']} (numpy {facts['numpy']}{build})")
            blocks.append((title, cells, recommend(cells, facts["cores"], uses_blas,
                                                   settle=choice.SETTLE_RUNS, **judge), facts))
    else:
        size = size if size is not None else default_size
        what = describe(args.workload, size, tasks)
        reason = machine.check_fits(nbytes(args.workload, size, tasks), what)
        if reason:
            raise UsageError(reason)
        configs = grid_configs()
        print(f"[advise] {what}: timing {len(configs)} configurations, "
              f"{min(args.reps, MIN_ROUNDS)} rounds each (+1 warm-up), then only the contenders, up to {args.reps} rounds"
              + (f" or {args.budget:g} s" if args.budget else ""), file=sys.stderr, flush=True)
        cells, facts = measure(args.workload, size, tasks, args.reps, args.budget, uses_blas,
                               say=lambda text: print(text, file=sys.stderr, flush=True))
        from .threadcontrol import numpy_blas
        import numpy
        blas = numpy_blas() or {}
        facts.update(numpy=numpy.__version__, blas=blas.get("internal_api"),
                     blas_version=blas.get("version"))
        stopped = facts["rounds"] < args.reps
        title = (f"advice for {what}; {facts['cores']} usable cores; numpy {facts['numpy']}, "
                 f"{facts['blas']} {facts['blas_version']} (default "
                 f"{facts['default_blas_threads']} BLAS threads); median of up to "
                 f"{facts['rounds']} runs"
                 + (" (time budget {:g} s reached)".format(args.budget)
                    if stopped and facts.get("budget_reached") else
                    " (the race decided)" if stopped else ""))
        blocks.append((title, cells, recommend(cells, facts["cores"], uses_blas), facts))
    wall = time.perf_counter() - started
    if args.json:
        print(json.dumps({"workload": args.workload, "wall_seconds": wall, "advice": [
            {"title": t, "facts": f, "cells": [cell.to_json() for cell in c],
             "recommendation": a.to_json()}
            for t, c, a, f in blocks]}, indent=2))
    else:
        print("\n\n".join(format_advice(t, c, a) for t, c, a, _ in blocks))
        print(f"{'read' if args.from_results is not None else 'measured'} in {wall:.1f} s")
    return 0
