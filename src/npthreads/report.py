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
import re
import statistics
from dataclasses import dataclass, field

from . import blasfacts, cost, evidence, profiles, results
from .scenarios import SPECS


# work kind -> (profiles grid key, flops(size), bytes(size) or None, unit).
# FLOPs are judged against the calibrated DGEMM peak; bytes against the
# bandwidth of the level that holds them (``limit_for``).
WORK = {
    "matmul": ("matmul", lambda s: cost.matmul_flops(*s), None, "GFLOP/s"),
    "dot": ("dot", None, cost.dot_nbytes, "GB/s"),
    "fill_many": ("fill_many", None, lambda s: cost.fill_many_nbytes(*s), "GB/s"),
    "fill_one": ("one_array", None, cost.one_array_nbytes, "GB/s"),
    "exp": ("one_array", None, lambda n: cost.one_array_nbytes(n, arrays=2), "GB/s"),
}

FACTS = {  # track (class.method) -> fact name in Env
    "BlasRuntime.track_openblas_version": "openblas",
    "BlasRuntime.track_blas_default_threads": "blas_default_threads",
    "BlasRuntime.track_usable_cores": "usable_cores",
    "BlasRuntime.track_blas_library": "blas_library",
    "BlasRuntime.track_blas_threading_layer": "blas_threading_layer",
    "BlasRuntime.track_blas_architecture": "blas_architecture",
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
    def label(self):
        if self.openblas_build:
            return f"numpy {self.numpy} + OpenBLAS {self.openblas_build}"
        return f"numpy {self.numpy}"


def version_key(numpy):
    """numpy versions in release order; "pinned" (not chosen by asv) last."""
    parts = re.findall(r"\d+", numpy)
    return (0, tuple(int(p) for p in parts)) if parts else (1, ())


@dataclass
class Grid:
    """One scenario at one size in one environment: every configuration's
    measurement, and the fastest, serial and naive ones."""
    benchmark: str
    scenario: str
    size: str                     # the params outside the heat map, as text
    env: Env
    row_name: str | None
    col_name: str
    row_labels: list
    col_labels: list
    cells: dict                   # (row, col) -> Measurement
    fastest: tuple | None = None  # (row, col) of the fastest ok cell
    serial_time: float | None = None
    naive_time: float | None = None
    naive_cell: tuple | None = None   # (row, col) when the naive config is in this grid
    serial_text: str = ""
    naive_text: str = ""
    # Cells the fastest does not beat beyond the noise (issue 8): the
    # "fastest" above is the one of them with the fewest threads.
    ties: list = field(default_factory=list)
    serial_disturbed: str = ""    # why the serial baseline is not used, if it is not
    size_params: tuple = ()       # ((param, label), ...) outside the heat map

    def time(self, key):
        m = self.cells.get(key)
        return m.value if m is not None and m.status == "ok" else None

    def config(self, key):
        """A cell's configuration in words, e.g. "python_threads=cores, blas_threads=1"."""
        row, col = key
        parts = [] if self.row_name is None else [f"{self.row_name}={row}"]
        return ", ".join(parts + [f"{self.col_name}={col}"])

    @property
    def fastest_time(self):
        return self.time(self.fastest) if self.fastest else None

    def runner_up(self):
        """(config, how much slower than the named fastest, within noise?)
        of the next cell, or None: another tied cell if there is one (within
        noise: this machine cannot tell them apart), else the quickest cell
        the fastest beats beyond the noise."""
        if not self.fastest:
            return None
        others = [k for k in self.ties if k != self.fastest]
        tied = bool(others)
        if not tied:
            others = [k for k in self.cells if self.time(k) is not None and k != self.fastest]
        if not others:
            return None
        second = min(others, key=self.time)
        return self.config(second), self.time(second) / self.fastest_time - 1.0, tied

    def speedup(self, key, over):
        """``over`` time / this cell's time (>1: the cell is faster)."""
        time = self.time(key)
        return over / time if time and over else None


@dataclass
class Report:
    """Everything one machine's page shows."""
    machine: str
    info: dict                    # machine.json
    envs: list                    # Env, numpy release order
    grids: list                   # Grid, in scenario, size, env order
    specs: dict = field(default_factory=dict)   # benchmark -> Spec (None: generic)
    # The OpenBLAS axis (issue 10): one numpy with swapped OpenBLAS builds,
    # and that numpy's own environment of the numpy axis as the anchor.
    axis_envs: list = field(default_factory=list)
    axis_grids: list = field(default_factory=list)

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
    build (issue 10) make the OpenBLAS view, next to the numpy axis, with
    the numpy axis's environment of the same numpy as its anchor."""
    info = results.machines(results_dir).get(machine, {})
    everything = results.load(results_dir, machine)
    if commit:
        measured = [m for m in everything if m.commit == commit]
    else:
        measured = results.latest_per_environment(everything)
    noise = evidence.noise_of(everything, sorted({m.commit for m in measured}))
    swapped = [m for m in measured if m.openblas_build]
    measured = [m for m in measured if not m.openblas_build]
    report = Report(machine=machine, info=info, envs=[], grids=[])
    report.envs, report.grids = _grids(measured, noise, report.specs)
    if swapped:
        hosts = {m.numpy for m in swapped}
        anchors = [m for m in measured if m.numpy in hosts]
        report.axis_envs, report.axis_grids = _grids(anchors + swapped, noise, report.specs)
    return report


def _grids(measured, noise, specs):
    """(environments, grids) of a set of measurements, every grid judged
    against the noise; ``specs`` receives each benchmark's layout."""
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
                    _judge_grid(grid, noise, by_env[env.name], spec, across_envs)
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
    for which in ("serial", "naive"):
        ref = getattr(spec, which)
        if ref is None:
            continue
        setattr(grid, f"{which}_text", ref.text)
        if ref.scenario is None:
            params = dict(ref.params)
            cell = (params.get(row_name, "") if row_name else "", params.get(col_name))
            setattr(grid, f"{which}_time", grid.time(cell))
            if which == "naive" and cell in cells:
                grid.naive_cell = cell
        else:
            found = _find(env_ms, ref.scenario, ref.params, size)
            setattr(grid, f"{which}_time",
                    found.value if found is not None and found.status == "ok" else None)
    return grid


# -- what the grid's evidence allows it to say (issue 8) ---------------------------

def threads_of(params, cores):
    """Threads a configuration runs, Python x BLAS, from its labels: "1",
    "cores", "2xcores", "default" (the BLAS's own: one per core),
    "serial loop", "ThreadPool()" (one per core), "ThreadPool(2xcores)"."""
    def count(label):
        label = str(label)
        if label == "serial loop":
            return 1
        if "(" in label:
            label = label[label.index("(") + 1:label.rindex(")")] or "cores"
        if label in ("cores", "default"):
            return cores
        if label.endswith("xcores") and label[:-6].isdigit():
            return int(label[:-6]) * cores
        return int(label) if label.isdigit() else None

    total = 1
    for name, label in params:
        if name in ("python_threads", "blas_threads", "executor", "omp_num_threads"):
            n = count(label)
            total *= n if n else 1
    return total


def _judge_grid(grid, noise, env_ms, spec, across_envs):
    """Ties with the fastest, the named fastest (fewest threads among the
    ties), and whether the serial baseline can carry a speed-up."""
    ok = {k: m for k, m in grid.cells.items() if m.status == "ok" and m.value is not None}
    if not ok:
        return
    quickest = min(ok, key=lambda k: ok[k].value)
    best = ok[quickest]
    best_rounds = evidence.rounds_of(best)
    ties = []
    for k, m in ok.items():
        rounds = evidence.rounds_of(m)
        resolution = max((r for r in (noise.resolution(best.key, len(best_rounds), len(rounds)),
                                      noise.resolution(m.key, len(best_rounds), len(rounds)))
                          if r), default=None)
        j = evidence.judge(best_rounds, rounds, resolution, evidence.FACTOR)
        if k == quickest or not (j.direction > 0 and j.separated):
            ties.append(k)
    cores = int(grid.env.facts.get("usable_cores") or 1)
    # Fewest threads; among equal counts the grid's own order (serial loop
    # before ThreadPool(1), ThreadPool before ThreadPoolExecutor), not the
    # measured times, which a tie by definition cannot order.
    def order(k):
        return (threads_of(ok[k].params.items(), cores),
                grid.row_labels.index(k[0]) if k[0] in grid.row_labels else 0,
                grid.col_labels.index(k[1]) if k[1] in grid.col_labels else 0)

    ties.sort(key=order)
    grid.ties = ties
    grid.fastest = ties[0]
    serial = _serial_measurement(grid, spec, env_ms)
    if serial is not None and serial.status == "ok":
        why = evidence.disturbed(evidence.rounds_of(serial))
        typical = statistics.median(across_envs.get(serial.key) or [serial.value])
        if not why and serial.value > evidence.USEFUL * typical:
            why = (f"{serial.value / typical:.1f}x the same cell's median over the run's "
                   "environments")
        if why:
            grid.serial_disturbed = why
            grid.serial_time = None


def _serial_measurement(grid, spec, env_ms):
    """The Measurement behind the serial baseline, where there is one."""
    ref = spec.serial if spec else None
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
    key = WORK[kind][0]
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
    environment with these ``facts`` (issue 9, item 5). Bytes are judged
    against the smallest cache level whose capacity (across the machine)
    holds them, else against the memory triad. A run that measured no cache
    levels judges only what exceeds nothing it knows: no limit for bytes
    that might sit in cache, rather than a share of the triad that says
    only "this was not memory"."""
    if WORK[work][1] is not None:
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
    _key, flops, nbytes, unit = WORK[spec.work]
    size = _size_table(spec.work).get(grid.size)
    if size is None:
        return None
    amount = flops(size) if flops else nbytes(size)
    return Achieved(amount / grid.time(key) / 1e9, unit,
                    limit_for(grid.env.facts, spec.work, amount))


# -- the advice ---------------------------------------------------------------

@dataclass
class Advice:
    grid: Grid                    # the advice environment's grid
    winners: dict                 # numpy label -> set of configs tied for fastest there

    @property
    def same_everywhere(self):
        """One configuration is among the fastest (ties counted) everywhere."""
        sets = list(self.winners.values())
        return bool(sets) and bool(set.intersection(*sets))

    def winners_text(self):
        if len(self.winners) < 2:
            return "only one version measured"
        if self.same_everywhere:
            return "yes (ties counted)"
        distinct = {min(s) for s in self.winners.values()}
        return f"no: {len(distinct)} different in {len(self.winners)} versions"


def advice(report):
    """One row per scenario and size, for the advice environment, with the
    configurations tied for fastest in every environment for comparison."""
    env = report.advice_env()
    rows = []
    for (benchmark, size), grids in report.figures().items():
        mine = [g for g in grids if g.env is env]
        if not mine:
            continue
        winners = {g.env.label: {g.config(k) for k in (g.ties or [g.fastest])}
                   for g in grids if g.fastest}
        rows.append(Advice(mine[0], winners))
    return rows


def advice_by_run(results_dir, machine, commits):
    """(scenario, size) -> the recommended configuration in each run's advice
    environment: what ``npthreads reproducibility`` checks for stability."""
    out = {}
    for commit in commits:
        for a in advice(build(results_dir, machine, commit)):
            g = a.grid
            out.setdefault((g.scenario, g.size or "-"), []).append(
                g.config(g.fastest) if g.fastest else "nothing measured")
    return {k: v for k, v in out.items() if len(v) == len(commits)}


def speedup_text(value):
    return "—" if value is None or not math.isfinite(value) else f"{value:.2f}x"
