"""The one reader of asv's result files; the site, the comparisons and the
advice all read results through here.

asv 0.6 writes, under ``results/``: ``benchmarks.json`` (every benchmark's
params and unit), ``<machine>/machine.json`` and one
``<machine>/<commit[:8]>-<env>.json`` per commit and environment, whose
``results`` rows follow ``result_columns``, each per-parameter column a flat
list in ``itertools.product(*params)`` order. A skipped combination is NaN,
a failed one null. The JSON is read directly (not through asv's private
classes) so the reader also runs where asv is not installed, and a corrupt
file is named in a one-line error instead of a traceback.
"""

import ast
import functools
import hashlib
import itertools
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError
# the matrix variable naming the scipy-openblas64 build swapped into an
# environment, defined by the install step that reads it
from .openblas_build import OPENBLAS_VAR


def row_key(benchmark, params):
    """The key of one benchmark at one parameter combination, the same on
    every side of a comparison: (benchmark, sorted (param, label) pairs)."""
    return (benchmark, tuple(sorted(params.items())))


def scenario_of(benchmark):
    """Module-less class name of an asv benchmark name, e.g. "MatmulThreadSplit"
    for "bench_matmul.MatmulThreadSplit.time_matmul_batch": the unit every
    report, comparison and piece of advice groups by."""
    parts = benchmark.split(".")
    return parts[-2] if len(parts) >= 2 else parts[-1]


def openblas_build_of(env_vars):
    """The scipy-openblas64 build an environment's matrix variables swap in,
    or "" for the numpy wheel's own (every environment of the numpy axis)."""
    return (env_vars or {}).get(OPENBLAS_VAR) or ""


# The variable CPython's free-threaded build reads at start-up: "0" the GIL
# off (the build's default), "1" on.
GIL_VAR = "PYTHON_GIL"


def is_free_threaded(python):
    """Whether asv's python spec names a free-threaded CPython ("3.13t")."""
    return str(python or "").endswith("t")


def gil_of(python, env_vars):
    """"on" or "off" in a free-threaded environment (its PYTHON_GIL), ""
    elsewhere (a GIL build: always on)."""
    if not is_free_threaded(python):
        return ""
    return "on" if (env_vars or {}).get(GIL_VAR) == "1" else "off"


def axis_of(python, env_vars):
    """"freethreaded", "openblas" or "numpy" (see ``Measurement.axis``)."""
    if is_free_threaded(python):
        return "freethreaded"
    return "openblas" if openblas_build_of(env_vars) else "numpy"


@dataclass
class Measurement:
    """One benchmark at one parameter combination in one environment."""
    machine: str
    env_name: str
    commit: str
    benchmark: str            # e.g. "bench_matmul.MatmulThreadSplit.time_matmul_batch"
    params: dict              # param name -> label, e.g. {"size": "64x64 x16 (cache)"}
    value: float | None       # median (time) or tracked value; None unless ok
    status: str               # "ok", "skipped", "failed" or "invalid" (a hostile value)
    unit: str
    samples: list = field(default_factory=list)
    q25: float | None = None
    q75: float | None = None
    requirements: dict = field(default_factory=dict)
    python: str = ""
    date: int = 0             # commit time, ms since epoch
    per_round: int | None = None  # samples each asv round took (the suite's fixed repeat)
    started_at: int = 0       # when asv last ran this benchmark, ms since epoch
    env_vars: dict = field(default_factory=dict)  # the matrix's variables for this env
    # asv's version of the benchmark (a hash of its code, or its ``version``
    # attribute): runs of different versions measured different things.
    version: str = ""
    # The pin-following environment only: the numpy its commit's
    # pyproject.toml pinned, which asv does not record ("" if unknown).
    pinned_numpy: str = ""

    @property
    def scenario(self):
        return scenario_of(self.benchmark)

    @property
    def key(self):
        return row_key(self.benchmark, self.params)

    @property
    def numpy(self):
        """The numpy version this environment ran ("pinned" if asv did not
        choose it: the pin-following environment)."""
        return self.requirements.get("numpy") or "pinned"

    @property
    def openblas_build(self):
        return openblas_build_of(self.env_vars)

    @property
    def free_threaded(self):
        """Whether this environment ran a free-threaded CPython ("3.13t")."""
        return is_free_threaded(self.python)

    @property
    def gil(self):
        return gil_of(self.python, self.env_vars)

    @property
    def axis(self):
        """Which axis of the matrix this environment belongs to: "numpy"
        (each numpy with its wheel's OpenBLAS), "openblas" (a build swapped
        in) or "freethreaded"."""
        return axis_of(self.python, self.env_vars)

    @property
    def spread(self):
        """asv's spread: interquartile range over median."""
        if self.value and self.q25 is not None and self.q75 is not None:
            return (self.q75 - self.q25) / self.value
        return None


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: not a readable asv result file ({err})") from None


def param_label(text):
    """asv stores param values as their repr: "'cores'" -> "cores"."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return str(text)
    return str(value)


def _int(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def load_benchmarks(results_dir):
    data = load_json(Path(results_dir) / "benchmarks.json")
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def machines(results_dir):
    """machine name -> its machine.json (cpu, num_cpu, ram, ...)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UsageError(f"{root}: no results directory (run the benchmarks first)")
    found = {}
    for path in sorted(root.glob("*/machine.json")):
        found[path.parent.name] = load_json(path)
    return found


def result_files(results_dir, machine=None):
    root = Path(results_dir)
    if not root.is_dir():
        raise UsageError(f"{root}: no results directory (run the benchmarks first)")
    # Every machine folder, with or without its machine.json: a result file
    # must never be passed over unread.
    names = [machine] if machine else sorted(p.name for p in root.iterdir() if p.is_dir())
    files = []
    for name in names:
        folder = root / name
        if not folder.is_dir():
            raise UsageError(f"{root}: no results for machine {name!r}")
        files.extend(p for p in sorted(folder.glob("*.json")) if p.name != "machine.json")
    return files


def read_result_file(path, benchmarks):
    """Every measurement in one result file."""
    data = load_json(path)
    try:
        columns = data["result_columns"]
        rows = data["results"]
        env_name = data["env_name"]
        commit = data["commit_hash"]
    except (KeyError, TypeError):
        raise UsageError(f"{path}: not an asv 0.6 result file (no result_columns)") from None
    machine = Path(path).parent.name
    out = []
    invalid = []
    for name, row in rows.items():
        record = dict(zip(columns, row))
        info = benchmarks.get(name, {})
        params = record.get("params") or []
        names = info.get("param_names") or [f"p{i}" for i in range(len(params))]
        combos = list(itertools.product(*params)) if params else [()]
        repeat = info.get("repeat")
        per_round = repeat if isinstance(repeat, int) and repeat > 0 else None
        values = record.get("result")
        values = values if isinstance(values, list) else [None] * len(combos)
        if len(values) != len(combos):  # else every later row would be mislabelled
            raise UsageError(f"{path}: {name} has {len(values)} results for "
                             f"{len(combos)} parameter combinations")

        def column(key, _n=len(combos)):
            col = record.get(key)
            return col if isinstance(col, list) and len(col) == _n else [None] * _n

        samples, q25, q75 = column("samples"), column("stats_q_25"), column("stats_q_75")
        for i, (combo, value) in enumerate(zip(combos, values)):
            if value is None:
                status = "failed"
            elif isinstance(value, float) and math.isnan(value):
                status, value = "skipped", None
            elif not _valid(value, timed=info.get("type", "time") == "time"):
                status, value = "invalid", None
                invalid.append(name)
            else:
                status = "ok"
            out.append(Measurement(
                machine=machine, env_name=env_name, commit=commit, benchmark=name,
                params={n: param_label(v) for n, v in zip(names, combo)},
                value=value, status=status, unit=info.get("unit", ""),
                samples=list(samples[i] or []), q25=q25[i], q75=q75[i],
                requirements=dict(data.get("requirements") or {}),
                python=str(data.get("python", "")), date=int(data.get("date") or 0),
                per_round=per_round, started_at=_int(record.get("started_at")),
                env_vars=dict(data.get("env_vars") or {}),
                version=str(record.get("version") or "")))
    if invalid:
        # One line, and the rest of the file still counts.
        print(f"npthreads: warning: {path}: {len(invalid)} invalid value(s) (infinite, "
              f"negative, zero time or not a number) in {', '.join(sorted(set(invalid)))}; "
              "shown as invalid", file=sys.stderr)
    return out


def _valid(value, timed):
    """A value a report can use: a finite number, and for a time above zero.
    Hand-edited files or other tools can leave anything."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if not math.isfinite(value):
        return False
    return value > 0 if timed else True


def load(results_dir, machine=None):
    """Every measurement under ``results_dir`` (optionally one machine's),
    the pin-following environments' with the numpy their commit pinned."""
    benchmarks = load_benchmarks(results_dir)
    out = []
    for path in result_files(results_dir, machine):
        out.extend(read_result_file(path, benchmarks))
    # only results older than the suite's own numpy track need git
    tracked = {(m.env_name, m.commit) for m in out
               if m.benchmark.endswith("track_numpy_version") and m.status == "ok"}
    untracked = [m for m in out if m.numpy == "pinned" and (m.env_name, m.commit) not in tracked]
    if untracked:
        repo = str(Path(results_dir).resolve())
        pins = {c: pinned_numpy_at(c, repo) for c in {m.commit for m in untracked}}
        for m in untracked:
            m.pinned_numpy = pins[m.commit]
    return out


@functools.lru_cache(maxsize=None)
def pinned_numpy_at(commit, repo):
    """numpy==X of the ``pinned`` extra in pyproject.toml at ``commit``, read
    from the git repository holding ``repo`` ("" if unknown)."""
    try:
        text = subprocess.run(["git", "show", f"{commit}:pyproject.toml"], cwd=repo,
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    found = re.search(r'^pinned\s*=\s*\[[^\]]*"numpy==([^"]+)"', text, flags=re.M)
    return found.group(1) if found else ""


def latest_per_environment(measurements):
    """Keep, per machine and environment, only the newest commit's results."""
    newest = {}
    for m in measurements:
        key = (m.machine, m.env_name)
        if m.date >= newest.get(key, (-1, ""))[0]:
            newest[key] = (m.date, m.commit)
    return [m for m in measurements if newest[(m.machine, m.env_name)][1] == m.commit]


# The machine.json fields asv copies into each result file's params.
MACHINE_FIELDS = ("machine", "arch", "cpu", "num_cpu", "os", "ram")


# -- the names asv computes (``migrate`` renames files to them) -------------------


def asv_env_name(tool, python, requirements, env_vars):
    """The name asv 0.6 gives an environment (``Environment.name``, i.e.
    ``asv.environment.get_env_name``): tool, python, the requirements sorted
    (a bare name when the version is empty), then every matrix variable
    sorted, value glued on, joined by "-" and sanitised as asv does."""
    parts = ([tool] if tool else []) + [f"py{python}"]
    parts += [f"{k}{v}" if v else k for k, v in sorted(requirements.items())]
    parts += [f"{k}{v}" for k, v in sorted(env_vars.items())]
    # asv.util.sanitize_filename: the same character class, spelt the same
    return re.sub('[<>:"/\\^|?*\x00-\x1f]', "_", "-".join(parts))


def asv_result_filename(commit, env_name):
    """``<commit[:8]>-<env_name>.json``, or with ``env-<md5 of the name>``
    when the name has 128 characters or more (asv.results.get_filename):
    every environment that names NPTHREADS_OPENBLAS is that long."""
    if len(env_name) >= 128:
        env_name = "env-" + hashlib.md5(env_name.encode("utf-8")).hexdigest()
    return f"{commit[:8]}-{env_name}.json"
