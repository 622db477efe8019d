"""What the report pages say, computed from the results: no HTML, no plots.

asv graphs each benchmark against commits; our users ask other questions:
which split of Python threads and BLAS threads is fastest, how much the
tutorial's naive ``ThreadPool()`` with default BLAS threads loses, whether
the answer moved with the numpy (and so OpenBLAS) version, and how close
the best configuration gets to what the machine can do. This module turns
one machine's measurements into those answers: a ``Grid`` per scenario,
size and environment, the environments' facts, and the advice rows.
``pages`` renders them and ``plots`` draws them.
"""

import math
import statistics
from dataclasses import dataclass, field

from . import UsageError, blasfacts, choice, cost, evidence, machine, pooled, profiles, results
from .openblas_build import numbers
from .scenarios import SPECS
from .units import format_duration


FACTS = {  # track (class.method) -> fact name in Env
    "BlasRuntime.track_openblas_version": "openblas",
    "BlasRuntime.track_blas_default_threads": "blas_default_threads",
    "BlasRuntime.track_usable_cores": "usable_cores",
    "BlasRuntime.track_blas_library": "blas_library",
    "BlasRuntime.track_blas_threading_layer": "blas_threading_layer",
    "BlasRuntime.track_blas_architecture": "blas_architecture",
    "BlasRuntime.track_gil_enabled": "gil_enabled",
    "MachineLimits.track_dgemm_peak_gflops": "dgemm_peak_gflops",
    "MachineLimits.track_triad_gbytes_per_s": "triad_gbytes_per_s",
}
# parametrized by cache level: fact name -> {level: value}
LEVEL_FACTS = {
    "CacheLimits.track_cache_bytes": "cache_bytes",
    "CacheLimits.track_cache_gbytes_per_s": "cache_gbytes_per_s",
}


@dataclass
class Env:
    """One environment of one machine, as the report labels it."""
    name: str
    numpy: str
    python: str
    commit: str
    date: int
    facts: dict = field(default_factory=dict)   # FACTS values, None if not measured
    env_vars: dict = field(default_factory=dict)  # the environment's matrix variables

    @property
    def blas_variables_text(self):
        """The BLAS and thread variables the environment set ("OMP_NUM_THREADS=''
        ..."), as its result file records them."""
        shown = {k: v for k, v in sorted(self.env_vars.items())
                 if k.startswith(("OPENBLAS_", "OMP_", "GOTO_", "MKL_"))}
        return ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "none set"

    @property
    def kernel_text(self):
        """"SkylakeX (detected)", or "Haswell (forced)" when the environment
        set OPENBLAS_CORETYPE (``npthreads bench --openblas-coretype``)."""
        kernel = self.blas_fact("blas_architecture")
        if kernel is None:
            return None
        forced = self.env_vars.get("OPENBLAS_CORETYPE")
        return f"{kernel} (forced)" if forced else f"{kernel} (detected)"

    @property
    def openblas(self):
        """The tracked OpenBLAS version decoded ("0.3.31"), or None."""
        number = self.facts.get("openblas")
        return blasfacts.version_text(number) if number else None

    def blas_fact(self, fact):
        """A coded categorical fact decoded ("pthreads"), or None if the
        results predate its track."""
        table = {"blas_library": blasfacts.LIBRARIES,
                 "blas_threading_layer": blasfacts.THREADING_LAYERS,
                 "blas_architecture": blasfacts.ARCHITECTURES}[fact]
        code = self.facts.get(fact)
        return None if code is None else blasfacts.decode(table, code)

    @property
    def openblas_build(self):
        return results.openblas_build_of(self.env_vars)

    @property
    def gil(self):
        return results.gil_of(self.python, self.env_vars)

    @property
    def label(self):
        if self.openblas_build:
            return f"numpy {self.numpy} + OpenBLAS {self.openblas_build}"
        if self.gil:
            return f"numpy {self.numpy}, CPython {self.python}, GIL {self.gil}"
        return f"numpy {self.numpy}"


def version_key(numpy):
    """numpy versions in release order (``openblas_build.numbers``, the one
    reading of a version); "pinned" (not chosen by asv) last."""
    parts = numbers(numpy)
    return (0, parts) if parts else (1, ())


@dataclass
class Grid:
    """One scenario at one size in one environment: every configuration's
    measurement, the fastest, the one the advice names, and the serial and
    naive references.

    Times (``time``) are the cells' *levels*: the fastest cell's median of
    round summaries in this run, and every other cell at its ratio to it,
    pooled over the machine's full runs where every cell has at least
    ``pooled.MIN_RUNS`` comparable runs, else this run's own. So every
    figure a page shows for a grid (heat map, table, advice) agrees with the
    ratios the choice was made on."""
    benchmark: str
    scenario: str
    size: str                     # the params outside the heat map, as text
    env: Env
    row_name: str | None
    col_name: str
    row_labels: list
    col_labels: list
    cells: dict                   # (row, col) -> Measurement
    fastest: tuple | None = None  # (row, col) of the lowest point estimate
    serial_time: float | None = None
    naive_time: float | None = None
    naive_cell: tuple | None = None   # (row, col) when the naive config is in this grid
    serial_cell: tuple | None = None  # (row, col) when the serial config is in this grid
    serial_text: str = ""
    naive_text: str = ""
    # The cell the advice names (``choice.choose``): the recommended one,
    # or where the evidence cannot tell, the fastest measured. The heat
    # map's star and the advice table both show this cell.
    chosen: tuple | None = None
    decision: choice.Choice | None = None
    levels: dict = field(default_factory=dict)    # (row, col) -> seconds, see above
    runs: int = 1                 # runs behind the levels: > 1 when pooled
    # why the newest run's serial rounds are unusable on their own, if they are
    serial_disturbed: str = ""
    serial_pooled: bool = False   # the serial baseline's figure is pooled over the runs
    size_params: tuple = ()       # ((param, label), ...) outside the heat map

    def time(self, key):
        m = self.cells.get(key)
        if m is None or m.status != "ok":
            return None
        return self.levels.get(key, m.value) if self.levels else m.value

    def config(self, key):
        """A cell's configuration in words, e.g. "python_threads=cores, blas_threads=1"."""
        row, col = key
        parts = [] if self.row_name is None else [f"{self.row_name}={row}"]
        return ", ".join(parts + [f"{self.col_name}={col}"])

    def words(self, key):
        """The configuration as the advice sentence says it: "1 Python thread
        with BLAS at cores", "ThreadPool() with chunksize tasks/4"."""
        row, col = key
        pairs = ([] if self.row_name is None else [(self.row_name, row)]) + [(self.col_name, col)]
        said = [w for name, label in pairs if (w := _word(name, label))]
        if not said:
            return self.config(key)
        return said[0] + (" with " + ", ".join(said[1:]) if len(said) > 1 else "")

    @property
    def pooled(self):
        return self.runs > 1

    @property
    def basis(self):
        """Where the grid's figures come from, in words."""
        return f"pooled over {self.runs} runs" if self.pooled else "this run"

    @property
    def decided(self):
        return bool(self.decision and self.decision.decided)

    @property
    def fastest_time(self):
        return self.time(self.fastest) if self.fastest else None

    @property
    def chosen_time(self):
        return self.time(self.chosen) if self.chosen else None

    def contenders(self):
        """[(row, col)] of the cells the fastest cannot be told from, fastest first."""
        if not self.decision:
            return []
        keys = {m.key: k for k, m in self.cells.items()}
        return [keys[k] for k in self.decision.contenders if k in keys]

    def ratio(self, key):
        """A cell's time over the fastest cell's (>= 1), on the grid's levels."""
        time, fastest = self.time(key), self.fastest_time
        return time / fastest if time and fastest else None

    def speedup(self, key, over):
        """``over`` time / this cell's time (>1: the cell is faster)."""
        time = self.time(key)
        return over / time if time and over else None


def _word(name, label):
    """One parameter of a configuration as the advice says it."""
    label = str(label)
    if name == "python_threads":
        if label == "1":
            return "1 Python thread"
        if label == "cores":
            return "a Python thread per core"
        if label.endswith("xcores"):
            return f"{label[:-6]} Python threads per core"
        return f"{label} Python threads"
    if name == "blas_threads":
        if label == "default":
            return "BLAS at its default"
        return f"BLAS at {label} thread" + ("" if label == "1" else "s") \
            if label.isdigit() else f"BLAS at {label}"
    if name == "executor":
        return "a serial loop" if label == "serial loop" else label
    if name == "chunksize":
        return None if label == "default" else f"chunksize {label}"
    if name == "omp_num_threads":
        return "OMP_NUM_THREADS unset" if label == "default" else f"OMP_NUM_THREADS={label}"
    return f"{name}={label}"


@dataclass
class Report:
    """Everything one machine's page shows."""
    machine: str
    info: dict                    # machine.json
    envs: list                    # Env, numpy release order
    grids: list                   # Grid, in scenario, size, env order
    specs: dict = field(default_factory=dict)   # benchmark -> Spec (None: generic)
    # The OpenBLAS axis: one numpy with swapped OpenBLAS builds,
    # and that numpy's own environment of the numpy axis as the anchor.
    axis_envs: list = field(default_factory=list)
    axis_grids: list = field(default_factory=list)
    # The free-threaded axis: each numpy on CPython 3.13t, the GIL off and
    # on (PYTHON_GIL=0/1), judged against this run's noise.
    threaded_envs: list = field(default_factory=list)
    threaded_grids: list = field(default_factory=list)
    measurements: list = field(default_factory=list)   # all of the machine's results

    def figures(self, axis=False):
        """Grids grouped as the page shows them: (benchmark, size) -> [Grid
        per env], across numpy versions (or, ``axis``, OpenBLAS builds)."""
        out = {}
        for g in (self.axis_grids if axis else self.grids):
            out.setdefault((g.benchmark, g.size), []).append(g)
        return out

    def advice_env(self):
        """The environment the advice speaks for: the project's pinned numpy if
        it was measured, else the newest numpy."""
        pinned = [e for e in self.envs if e.numpy == "pinned"]
        return pinned[0] if pinned else (self.envs[-1] if self.envs else None)


def _scenario_benchmarks(measurements):
    """The timed benchmarks (time_*, timeraw_*) that have params."""
    names = {}
    for m in measurements:
        method = m.benchmark.rsplit(".", 1)[-1]
        if method.startswith(("time_", "timeraw_")) and m.params:
            names.setdefault(m.benchmark, list(m.params))
    return names


def _layout(benchmark, param_names):
    """(spec or None, row param or None, col param) for one benchmark."""
    scenario = benchmark.split(".")[-2] if benchmark.count(".") else benchmark
    spec = SPECS.get(scenario)
    if spec and spec.cols in param_names and (spec.rows is None or spec.rows in param_names):
        return spec, spec.rows, spec.cols
    axes = [p for p in param_names if p != "size"] or list(param_names)
    if len(axes) >= 2:
        return None, axes[-2], axes[-1]
    return None, None, axes[-1]


def _ordered(values, axis_order):
    """Labels in the benchmark's own param order where known."""
    order = {v: i for i, v in enumerate(axis_order)}
    return sorted(set(values), key=lambda v: (order.get(v, len(order)), v))


def _find(measurements, benchmark_class, params, size_params):
    """The measurement of ``benchmark_class`` (any time_ method) whose
    params match ``params`` and ``size_params``, or None."""
    want = dict(size_params, **dict(params))
    for m in measurements:
        if m.scenario == benchmark_class and evidence.is_timed(m.benchmark) \
                and all(m.params.get(k) == v for k, v in want.items()) \
                and set(m.params) <= set(want):
            return m
    return None


def _env_facts(measurements):
    facts = {}
    for m in measurements:
        key = ".".join(m.benchmark.split(".")[-2:])
        if key in FACTS and not m.params:
            facts[FACTS[key]] = m.value if m.status == "ok" else None
        elif key in LEVEL_FACTS and m.status == "ok" and "level" in m.params:
            facts.setdefault(LEVEL_FACTS[key], {})[m.params["level"]] = m.value
    return facts


def build(results_dir, machine, commit=None):
    """The report of one machine, from its newest result per environment
    (or from one ``commit``'s run). Environments with a swapped OpenBLAS
    build make the OpenBLAS view, next to the numpy axis, with
    the numpy axis's environment of the same numpy as its anchor.

    Each grid is judged on the machine's full runs pooled (``pooled``) up
    to and including the run it shows, where there are enough of them, so a
    report of an older ``commit`` says what was known then."""
    info = results.machines(results_dir).get(machine, {})
    everything = results.load(results_dir, machine)
    if commit:
        measured = [m for m in everything if m.commit == commit]
    else:
        measured = results.latest_per_environment(everything)
    noise = evidence.noise_of(everything, sorted({m.commit for m in measured}))
    history = PooledRuns(pooled.history_of(everything), everything)
    swapped = [m for m in measured if m.axis == "openblas"]
    threaded = [m for m in measured if m.axis == "freethreaded"]
    measured = [m for m in measured if m.axis == "numpy"]
    report = Report(machine=machine, info=info, envs=[], grids=[], measurements=everything)
    report.envs, report.grids = _grids(measured, noise, report.specs, history)
    if swapped:
        hosts = {m.numpy for m in swapped}
        anchors = [m for m in measured if m.numpy in hosts]
        report.axis_envs, report.axis_grids = _grids(anchors + swapped, noise, report.specs,
                                                     history)
    if threaded:
        report.threaded_envs, report.threaded_grids = _grids(threaded, noise, report.specs)
    return report


@dataclass
class GilPair:
    """One scenario at one size under one numpy on a free-threaded CPython:
    its grid with the GIL off and with it on (PYTHON_GIL=1, the same
    interpreter), and the same numpy on the numpy axis's GIL build."""
    numpy: str
    off: Grid | None
    on: Grid | None
    gil_build: Grid | None        # the numpy axis (CPython 3.11/3.12), if measured

    def on_over_off(self):
        """Time with the GIL on over time with it off, for the cell the
        GIL-off advice names (> 1: the GIL costs that much there)."""
        if not (self.off and self.on and self.off.chosen):
            return None
        off, on = self.off.time(self.off.chosen), self.on.time(self.off.chosen)
        return on / off if on and off else None


def gil_pairs(report):
    """(benchmark, size) -> [GilPair per numpy, release order] of the
    free-threaded axis."""
    out = {}
    numpy_axis = {(g.benchmark, g.size, g.env.numpy): g for g in report.grids}
    for g in report.threaded_grids:
        pairs = out.setdefault((g.benchmark, g.size), {})
        pair = pairs.setdefault(g.env.numpy, GilPair(g.env.numpy, None, None,
                                                      numpy_axis.get((g.benchmark, g.size,
                                                                      g.env.numpy))))
        if g.env.gil == "on":
            pair.on = g
        else:
            pair.off = g
    return {key: sorted(pairs.values(), key=lambda p: version_key(p.numpy))
            for key, pairs in out.items()}


class PooledRuns:
    """A machine's pooled history, and for each run the runs known by then."""

    def __init__(self, history, measurements):
        self.history = history
        self.dates = {}
        for m in measurements:
            self.dates[m.commit] = max(self.dates.get(m.commit, 0), m.date, m.started_at)

    def evidence(self, env_name, commit):
        """``choice.PooledEvidence`` of one environment shown at ``commit``:
        the full runs not newer than it, the run itself as the reference
        when it is one. None if fewer than ``pooled.MIN_RUNS`` such runs."""
        runs = self.history.runs
        if commit in runs:
            upto, reference = runs[runs.index(commit):], commit
        else:
            when = self.dates.get(commit, 0)
            upto, reference = [c for c in runs if self.dates.get(c, 0) <= when], None
        if len(upto) < pooled.MIN_RUNS:
            return None
        return choice.PooledEvidence(self.history, env_name, reference, upto)


def _grids(measured, noise, specs, history=None):
    """(environments, grids) of a set of measurements, every grid judged
    on the pooled ``history`` where it can be, else against this run's
    noise; ``specs`` receives each benchmark's layout."""
    across_envs = {}
    for m in measured:
        if m.status == "ok" and m.value:
            across_envs.setdefault(m.key, []).append(m.value)
    by_env = {}
    for m in measured:
        by_env.setdefault(m.env_name, []).append(m)
    envs = []
    for name, ms in by_env.items():
        first = ms[0]
        envs.append(Env(name=name, numpy=first.numpy, python=first.python,
                        commit=first.commit, date=first.date, facts=_env_facts(ms),
                        env_vars=dict(first.env_vars)))
    # the OpenBLAS axis in release order, the wheel's own build at its place
    envs.sort(key=lambda e: (version_key(e.numpy), e.facts.get("openblas") or 0,
                             version_key(e.openblas_build or "0"), e.python, e.name))
    pooled_by_env = {e.name: history.evidence(e.name, e.commit)
                     if history and not e.openblas_build else None for e in envs}

    bench_axes = _scenario_benchmarks(measured)
    param_order = {}
    for m in measured:
        for k, v in m.params.items():
            param_order.setdefault((m.benchmark, k), []).append(v)
    grids = []
    for benchmark in sorted(bench_axes, key=_benchmark_order):
        spec, row_name, col_name = _layout(benchmark, bench_axes[benchmark])
        specs[benchmark] = spec
        outer = [p for p in bench_axes[benchmark] if p not in (row_name, col_name)]
        sizes = {}
        for env in envs:
            for m in by_env[env.name]:
                if m.benchmark != benchmark:
                    continue
                size = tuple((p, m.params.get(p, "")) for p in outer)
                sizes.setdefault(size, {}).setdefault(env.name, []).append(m)
        for size in sorted(sizes, key=lambda s: [param_order[(benchmark, p)].index(v)
                                                  for p, v in s]):
            for env in envs:
                cells_ms = sizes[size].get(env.name)
                if cells_ms:
                    grid = _grid(benchmark, spec, row_name, col_name, size, env,
                                 cells_ms, by_env[env.name], param_order)
                    _judge_grid(grid, noise, by_env[env.name], spec, across_envs,
                                pooled_by_env[env.name])
                    grids.append(grid)
    return envs, grids


def _benchmark_order(name):
    """Scenarios in the order of the tutorial's story; unknown ones after."""
    scenario = name.split(".")[-2] if name.count(".") else name
    order = list(SPECS)
    return (order.index(scenario) if scenario in order else len(order), name)


def _grid(benchmark, spec, row_name, col_name, size, env, cells_ms, env_ms, param_order):
    def key(m):
        return (m.params.get(row_name) if row_name else "", m.params.get(col_name))

    cells = {key(m): m for m in cells_ms}
    grid = Grid(
        benchmark=benchmark, scenario=cells_ms[0].scenario,
        size=", ".join(v if p == "size" else f"{p}={v}" for p, v in size),
        env=env, row_name=row_name, col_name=col_name, size_params=size,
        row_labels=_ordered([k[0] for k in cells], param_order.get((benchmark, row_name), [])),
        col_labels=_ordered([k[1] for k in cells], param_order.get((benchmark, col_name), [])),
        cells=cells)
    ok = [k for k, m in cells.items() if m.status == "ok" and m.value is not None]
    grid.fastest = min(ok, key=lambda k: cells[k].value) if ok else None
    if spec is None:
        grid.serial_time = None
        return grid
    grid.serial_text, grid.serial_time, grid.serial_cell = _reference(spec.serial, grid,
                                                                      env_ms, size)
    grid.naive_text, grid.naive_time, grid.naive_cell = _reference(spec.naive, grid, env_ms,
                                                                   size)
    return grid


def _reference(ref, grid, env_ms, size):
    """(how the report names it, its time, its cell if in ``grid``) of a
    serial or naive reference; ("", None, None) where the scenario has none."""
    if ref is None:
        return "", None, None
    if ref.scenario is None:
        params = dict(ref.params)
        cell = (params.get(grid.row_name, "") if grid.row_name else "",
                params.get(grid.col_name))
        return ref.text, grid.time(cell), cell if cell in grid.cells else None
    found = _find(env_ms, ref.scenario, ref.params, size)
    return ref.text, found.value if found is not None and found.status == "ok" else None, None


# -- what the grid's evidence allows it to say -------------------------------------

def threads_of(params, cores):
    """Threads a configuration runs, Python x BLAS, from its labels: "1",
    "cores", "2xcores", "default" (the BLAS's own: one per core),
    "serial loop", "ThreadPool()" (one per core), "ThreadPool(2xcores)";
    the thread label itself as ``machine.resolve_threads`` reads it."""
    def count(label):
        label = str(label)
        if label == "serial loop":
            return 1
        if "(" in label:
            label = label[label.index("(") + 1:label.rindex(")")] or "cores"
        try:
            return machine.resolve_threads("cores" if label == "default" else label, cores)
        except UsageError:
            return None

    total = 1
    for name, label in params:
        if name in ("python_threads", "blas_threads", "executor", "omp_num_threads"):
            n = count(label)
            total *= n if n else 1
    return total


def _judge_grid(grid, noise, env_ms, spec, across_envs, pooled_evidence=None):
    """The grid's choice (``choice.choose``): the fastest cell, the one the
    advice names, and every figure shown for it (``Grid.levels``, the
    serial and naive times), from one body of evidence: the runs pooled
    when every cell of the grid has enough of them, else this run."""
    ok = {k: m for k, m in grid.cells.items() if m.status == "ok" and m.value is not None}
    if not ok:
        return
    serial = _reference_measurement(grid, spec.serial if spec else None, env_ms)
    naive = _reference_measurement(grid, spec.naive if spec else None, env_ms)
    refs = [m for m in (serial, naive) if m is not None and m.status == "ok" and m.value]
    run = choice.RunEvidence({m.key: evidence.rounds_of(m) for m in [*ok.values(), *refs]},
                             {m.key: m.value for m in [*ok.values(), *refs]}, noise)
    reference = min(ok.values(), key=lambda m: run.level(m.key)).key
    found = pooled_evidence
    if found is not None and not all(found.interval(reference, m.key) for m in ok.values()):
        found = None          # a cell with too few runs: the whole grid speaks for this run
    chosen_evidence = found or run

    cores = int(grid.env.facts.get("usable_cores") or 1)

    def option(k, m):
        estimate = (found.interval(reference, m.key).ratio if found else run.level(m.key))
        # Fewest threads; then the BLAS left at its default; then the
        # grid's own order (serial loop before ThreadPool(1), ThreadPool
        # before ThreadPoolExecutor), never the times, which the margin covers.
        return choice.Option(
            m.key, estimate, threads_of(m.params.items(), cores),
            blas_default=all(m.params.get(p, "default") == "default"
                             for p in ("blas_threads", "omp_num_threads")),
            order=(grid.row_labels.index(k[0]) if k[0] in grid.row_labels else 0,
                   grid.col_labels.index(k[1]) if k[1] in grid.col_labels else 0))

    decision = choice.choose([option(k, m) for k, m in ok.items()], chosen_evidence.interval)
    by_key = {m.key: k for k, m in ok.items()}
    grid.decision = decision
    grid.fastest, grid.chosen = by_key[decision.best], by_key[decision.named]
    # The figures are anchored on this run's time of the fastest cell (the
    # run the page shows, on the host it ran on: hosts here differed by a
    # third between sessions), every other cell at its ratio to it.
    anchor = run.level(decision.best)

    def level(key):
        """A cell's figure: the fastest cell's level times the cell's ratio
        to it, on the evidence the choice used; this run's ratio where that
        evidence has none (a reference measured in too few runs)."""
        interval = decision.intervals.get(key) or chosen_evidence.interval(decision.best, key)
        if interval is not None and anchor:
            return anchor * interval.ratio
        here, best_here = run.level(key), run.level(decision.best)
        return anchor * here / best_here if here and best_here and anchor else None

    grid.levels = {k: level(m.key) for k, m in ok.items()}
    if found:
        grid.runs = min(found.runs(decision.best, m.key) for m in ok.values())
    if spec is not None and spec.serial is not None:
        grid.serial_time = level(serial.key) if _among(serial, refs) else None
    if spec is not None and spec.naive is not None:
        grid.naive_time = level(naive.key) if _among(naive, refs) else None
    if _among(serial, refs):
        why = evidence.disturbed(evidence.rounds_of(serial))
        typical = statistics.median(across_envs.get(serial.key) or [serial.value])
        if not why and serial.value > evidence.USEFUL * typical:
            why = (f"{serial.value / typical:.1f}x the same cell's median over the run's "
                   "environments")
        grid.serial_disturbed = why
        # Pooled, a scattered run is one of several, weighted by its own
        # spread: the speed-up stands. Alone it carries none.
        grid.serial_pooled = bool(found and found.interval(decision.best, serial.key))
        if why and not grid.serial_pooled:
            grid.serial_time = None


def _among(m, measurements):
    return m is not None and any(m is other for other in measurements)


def _reference_measurement(grid, ref, env_ms):
    """The Measurement behind the serial or naive baseline ``ref``, where there is one."""
    if ref is None:
        return None
    if ref.scenario is None:
        params = dict(ref.params)
        return grid.cells.get((params.get(grid.row_name, "") if grid.row_name else "",
                               params.get(grid.col_name)))
    return _find(env_ms, ref.scenario, ref.params, grid.size_params)


# -- the machine's limit ------------------------------------------------------

def _size_table(kind):
    """Size label -> numbers, over every profile (labels are unique across them)."""
    key = cost.WORK[kind].grid
    table = {}
    for profile in profiles.PROFILES:
        table.update(profiles.grid(profile).get(key, {}))
    return table


@dataclass(frozen=True)
class Limit:
    """The ceiling a row is judged against, and which one it is."""
    name: str        # "DGEMM peak", "L3 bandwidth", "memory triad"
    value: float     # in the row's unit


@dataclass(frozen=True)
class Achieved:
    rate: float
    unit: str
    limit: Limit | None     # None: this run measured no ceiling for it

    @property
    def share(self):
        return self.rate / self.limit.value if self.limit and self.limit.value else None

    @property
    def share_text(self):
        if self.share is None:
            return "—"
        return f"{self.share:.0%} of {self.limit.name}"


def limit_for(facts, work, amount):
    """The ceiling for ``amount`` FLOPs or bytes of ``work`` in an
    environment with these ``facts``. Bytes are judged
    against the smallest cache level whose capacity (across the machine)
    holds them, else against the memory triad. A run that measured no cache
    levels judges only what exceeds nothing it knows: no limit for bytes
    that might sit in cache, rather than a share of the triad that says
    only "this was not memory"."""
    if cost.WORK[work].flops is not None:
        peak = facts.get("dgemm_peak_gflops")
        return Limit("DGEMM peak", peak) if peak else None
    sizes = facts.get("cache_bytes") or {}
    speeds = facts.get("cache_gbytes_per_s") or {}
    for level, capacity in sorted(sizes.items(), key=lambda kv: kv[1]):
        if amount <= capacity:
            return Limit(f"{level} bandwidth", speeds[level]) if speeds.get(level) else None
    if not sizes:
        return None
    triad = facts.get("triad_gbytes_per_s")
    return Limit("memory triad", triad) if triad else None


def achieved(grid, key=None):
    """The rate of a cell (default: the fastest) against its limit, or None
    where the scenario has no cost model or the size is unknown."""
    spec = SPECS.get(grid.scenario)
    key = key or grid.fastest
    if spec is None or spec.work is None or key is None or grid.time(key) is None:
        return None
    work = cost.WORK[spec.work]
    size = _size_table(spec.work).get(grid.size)
    if size is None:
        return None
    amount = work.flops(size) if work.flops else work.nbytes(size)
    return Achieved(amount / grid.time(key) / 1e9, work.unit,
                    limit_for(grid.env.facts, spec.work, amount))


# -- the advice ---------------------------------------------------------------

@dataclass
class Advice:
    grid: Grid                    # the advice environment's grid
    named: dict                   # numpy label -> (config the advice names there, decided?)

    @property
    def same_everywhere(self):
        """Every environment recommends one and the same configuration."""
        values = list(self.named.values())
        return bool(values) and all(d for _, d in values) and len({c for c, _ in values}) == 1

    def agreeing(self):
        """(environments recommending this grid's recommendation, environments,
        environments that cannot tell)."""
        mine = named_config(self.grid)
        values = list(self.named.values())
        same = sum(1 for c, d in values if d and self.grid.decided and c == mine)
        return same, len(values), sum(1 for _, d in values if not d)

    def winners_text(self):
        """The table's "same on every numpy?" cell."""
        if len(self.named) < 2:
            return "only one version measured"
        if self.same_everywhere:
            return "yes"
        same, total, unsure = self.agreeing()
        if unsure == total:
            return f"cannot tell in all {total} versions"
        if self.grid.decided:
            return f"no: {same} of {total} versions" + (
                f", cannot tell in {unsure}" if unsure else "")
        recs = sorted({c for c, d in self.named.values() if d})
        return (f"no: cannot tell in {unsure} of {total} versions; "
                + (f"{total - unsure} recommend {recs[0]}" if len(recs) == 1
                   else f"{len(recs)} different recommendations in the others"))

    def everywhere_text(self):
        """How the sentence ends: "on every numpy", "on 6 of 8 numpy versions"."""
        if len(self.named) < 2:
            return "one numpy measured"
        if self.same_everywhere:
            return "on every numpy"
        same, total, _ = self.agreeing()
        return f"on {same} of {total} numpy versions"

    def sentence(self):
        """The advice in one sentence: what to use and what it gains,
        or which cells the evidence cannot tell apart and what would settle it."""
        g = self.grid
        what = f"{g.scenario} {g.size}".strip() if g.size else g.scenario
        if not g.chosen:
            return f"{what}: nothing measured."
        if g.decided:
            gains = [f"{speedup_text(s)} over {name}" for s, name, cell in (
                (g.speedup(g.chosen, g.serial_time), "serial", g.serial_cell),
                (g.speedup(g.chosen, g.naive_time),
                 "the naive " + ("pool" if "Pool" in g.naive_text else "setting"),
                 g.naive_cell))
                if s and cell != g.chosen]
            if g.chosen == g.fastest:
                close = "the fastest measured"
            else:
                close = (f"within {g.decision.margin_text()} of the fastest measured, "
                         f"{g.words(g.fastest)}")
            return (f"{what}: use {g.words(g.chosen)} ({format_duration(g.chosen_time)})"
                    + (": " + ", ".join(gains) if gains else "")
                    + f"; {close} ({g.basis}); {self.everywhere_text()}.")
        others = g.contenders()
        named = [f"{g.words(k)} ({format_duration(g.time(k))}, {speedup_text(g.ratio(k))})"
                 for k in others[:2]]
        more = f" and {len(others) - 2} more" if len(others) > 2 else ""
        return (f"{what}: cannot tell {g.words(g.fastest)} ({format_duration(g.fastest_time)}, "
                f"fastest measured) from " + " or ".join(named) + more
                + f", {g.basis}; {choice.SETTLE_RUNS}.")


def named_config(grid):
    """The configuration a grid's advice names, as ``config`` says it."""
    return grid.config(grid.chosen) if grid.chosen else "nothing measured"


def advice(report):
    """One row per scenario and size, for the advice environment, with the
    configuration each environment's advice names, for comparison."""
    env = report.advice_env()
    rows = []
    for (benchmark, size), grids in report.figures().items():
        mine = [g for g in grids if g.env is env]
        if not mine:
            continue
        named = {g.env.label: (named_config(g), g.decided) for g in grids if g.chosen}
        rows.append(Advice(mine[0], named))
    return rows


# What ``advice_by_run`` says for a row whose evidence cannot name a cell.
CANNOT_TELL = "cannot tell"


def advice_by_run(results_dir, machine, commits):
    """(scenario, size) -> what each run's advice says in its advice
    environment: the recommended configuration, or "cannot tell" (which of
    the cells it cannot separate measured fastest is, by definition, not
    advice), each run judged on the runs up to and including it: what
    ``npthreads reproducibility`` checks for stability."""
    out = {}
    for commit in commits:
        for a in advice(build(results_dir, machine, commit)):
            g = a.grid
            text = named_config(g)
            if g.chosen and not g.decided:
                text = CANNOT_TELL
            out.setdefault((g.scenario, g.size or "-"), []).append(text)
    return {k: v for k, v in out.items() if len(v) == len(commits)}


def speedup_text(value):
    return "—" if value is None or not math.isfinite(value) else f"{value:.2f}x"
