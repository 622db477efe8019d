"""Running asv on this repository: machine registration, config, pythons.

asv itself does the work; this module only removes its interactive and
environment-dependent steps, so one command gives the same run on a fresh
machine as on a developer's:
- the machine is registered under a stable name with every field given,
  because ``asv machine --machine NAME --yes`` keeps only fields that differ
  from detection and would drop cpu and ram;
- the Python versions the matrix asks for are put on PATH from pyenv, where
  asv's virtualenv plugin looks for ``python3.12``;
- a profile other than the default gets a derived config whose results and
  site go under ``.asv/<profile>/``, so a smoke run never overwrites the
  results committed in ``results/``.
"""

import json
import os
import re
import socket
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import UsageError, machine, results
from .openblas_build import numbers
from .profiles import PROFILE_ENV, PROFILES

CONFIG = "asv.conf.json"
MACHINE_ENV = "NPTHREADS_MACHINE"
# The environments the quick profile builds: the pin-following one and the
# oldest numpy, so even a smoke run has a version axis.
QUICK_NUMPY = ["1.26.4"]


def repo_root(start=None):
    """The directory holding asv.conf.json, searching upwards."""
    path = Path(start or os.getcwd()).resolve()
    for candidate in (path, *path.parents):
        if (candidate / CONFIG).is_file():
            return candidate
    raise UsageError(f"no {CONFIG} here or above {path}: run from the npthreads repository")


def load_config(root):
    """The repository's asv.conf.json as a dict."""
    return load_config_at(Path(root) / CONFIG)


def load_config_at(path):
    """An asv config file as a dict, read as asv reads it (json5: comments
    anywhere, trailing commas); a file that does not parse is one line."""
    import json5  # asv's own dependency, so the same parser asv uses
    try:
        return json5.loads(Path(path).read_text())
    except ValueError as err:
        raise UsageError(f"{path} is not a valid asv config: {err}") from None


def results_dir(given=None):
    """The results directory a command reads: ``given``, else the
    repository's (from its asv.conf.json), else ./results."""
    if given:
        return Path(given)
    try:
        root = repo_root()
    except UsageError:
        return Path("results")
    return config_dirs(root, root / CONFIG)[0]


def config_dirs(root, config):
    """(results_dir, html_dir) of an asv config, as absolute paths: asv reads
    relative ones against the working directory, which is ``root``."""
    conf = load_config_at(config)
    found = []
    for key, default in (("results_dir", "results"), ("html_dir", "html")):
        path = Path(conf.get(key, default))
        found.append(path if path.is_absolute() else Path(root) / path)
    return tuple(found)


def machine_name(wanted=None):
    """``wanted`` (``--machine``), else $NPTHREADS_MACHINE, else a name that
    stays the same across sessions on the same kind of machine (a hostname
    does not), e.g. ``amd-epyc-2cpu-24gib``."""
    source = "--machine " if wanted else f"{MACHINE_ENV}="
    override = (wanted or os.environ.get(MACHINE_ENV, "")).strip()
    if override:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", override):
            raise UsageError(f"{source}{override!r} is not a usable machine name "
                             "(letters, digits, '.', '_' and '-')")
        return override
    facts = machine.machine_facts()
    cpu = re.sub(r"[^a-z0-9]+", "-", facts["cpu"].lower()).strip("-") or facts["arch"]
    gib = round(facts["memory_total_bytes"] / 2**30)
    return f"{cpu}-{facts['usable_cores']}cpu-{gib}gib"


def machine_identity(name):
    """The fields asv puts into every graph's path (``graphs/arch-.../os-.../
    ram-.../``), from facts that stay the same across sessions on the same
    hardware: arch, CPU model, cores, OS family and memory in whole GiB.

    Not the kernel build or memory to the byte: a fresh VM of the same kind
    differs in both, and every environment's history would split in two.
    Those details go to the session log (``record_session``)."""
    facts = machine.machine_facts()
    return {
        "machine": name,
        "arch": facts["arch"],
        "cpu": facts["cpu"],
        "num_cpu": str(facts["usable_cores"]),
        "os": facts["os_family"],
        "ram": f"{round(facts['memory_total_bytes'] / 2**30)}GiB",
    }


def register_machine(name):
    """Write this machine's entry, every field filled, into ~/.asv-machine.json
    (keeping the other entries), so asv asks no questions."""
    path = Path(os.path.expanduser("~/.asv-machine.json"))
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        raise UsageError(f"{path} is not valid JSON; fix or remove it") from None
    data["version"] = 1
    data[name] = machine_identity(name)
    try:
        path.write_text(json.dumps(data, indent=4) + "\n")
    except OSError as err:
        raise UsageError(f"cannot register the machine in {path}: {err.strerror}") from None
    return data[name]


def record_session(results_dir, name, commit, profile, removed, forced=None, axis="numpy"):
    """Append what this session ran on to ``<results>/<machine>/sessions.jsonl``
    (asv reads only *.json there): the details that change between sessions
    without changing the hardware, and the BLAS variables bench removed."""
    facts = machine.machine_facts()
    line = {"commit": commit, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "profile": profile, "axis": axis, "os": facts["os"],
            "ram_bytes": facts["memory_total_bytes"],
            "usable_cores": facts["usable_cores"], "blas_env_removed": removed,
            "openblas_coretype_forced": forced}
    folder = Path(results_dir) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "sessions.jsonl", "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    except OSError as err:
        raise UsageError(f"cannot write {folder / 'sessions.jsonl'}: {err.strerror}") from None


def _matrix_pythons(conf):
    pythons = set(conf.get("pythons", []))
    pythons.update(inc["python"] for inc in conf.get("include", []) if "python" in inc)
    return sorted(pythons)


def path_with_pythons(conf, path=None):
    """PATH with the newest pyenv install of each matrix Python in front,
    so asv finds ``python3.12`` even where only 3.11 is pyenv's global."""
    path = path if path is not None else os.environ.get("PATH", "")
    root = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))) / "versions"
    extra = []
    for python in _matrix_pythons(conf):
        matches = sorted(root.glob(f"{python}.*"),
                         key=lambda p: numbers(p.name))
        matches = [m for m in matches if re.fullmatch(rf"{re.escape(python)}\.\d+", m.name)]
        if matches:
            extra.append(str(matches[-1] / "bin"))
    return os.pathsep.join(extra + [path])


def _only_numpy(conf, versions):
    """Keep the environments whose numpy is in ``versions`` ("pinned" names
    the pin-following one); an unknown version is a one-line error."""
    req = conf.setdefault("matrix", {}).setdefault("req", {})
    matrix = list(req.get("numpy") or [])
    includes = conf.get("include", [])
    known = matrix + [v for v in dict.fromkeys(map(_numpy_of, includes)) if v not in matrix]
    unknown = [v for v in versions if v not in known]
    if unknown:
        raise UsageError(f"numpy {', '.join(unknown)} is not in the matrix; "
                         f"choose from {', '.join(known)}")
    req["numpy"] = [v for v in matrix if v in versions]
    conf["include"] = [inc for inc in includes if _numpy_of(inc) in versions]
    if not req["numpy"]:
        _no_matrix_environment(conf, matrix)


def _numpy_of(entry):
    """The numpy an include entry installs ("pinned": the project's pin)."""
    return (entry.get("req") or {}).get("numpy") or "pinned"


def _no_matrix_environment(conf, matrix):
    """Keep the include entries only: asv needs a non-empty matrix, so its
    first numpy stays and is excluded again ("exclude" applies to the matrix
    only, never to include entries)."""
    if matrix:
        conf.setdefault("matrix", {}).setdefault("req", {})["numpy"] = matrix[:1]
        conf.setdefault("exclude", []).append({"req": {"numpy": re.escape(matrix[0])}})


# What a run follows (``npthreads bench --axis``): the numpy versions, each
# with the OpenBLAS its wheel vendors, or one numpy with one scipy-openblas64
# build per OpenBLAS release swapped in (the include entries that set
# NPTHREADS_OPENBLAS) next to that numpy's own wheel, the anchor.
# or the free-threaded CPython (the include entries whose python ends in "t")
# with each numpy that has wheels for it, the GIL off and on.
AXES = ("numpy", "openblas", "freethreaded")
# The benchmarks the OpenBLAS axis runs (asv -b, one class each): where
# OpenBLAS decides the answer (BLAS threads, small BLAS calls, the machine's
# ceilings and each environment's BLAS facts), within a budget the nine
# builds leave room for. The one place to change that set.
OPENBLAS_AXIS_BENCHMARKS = ("BlasRuntime", "MachineLimits", "DotBlasThreads",
                            "MatmulThreadSplit", "SmallBlasCalls")


def swapped_build(entry):
    """The scipy-openblas64 build an include entry swaps in ("" for none)."""
    return results.openblas_build_of(entry.get("env"))


def free_threaded(entry):
    """Whether an include entry runs a free-threaded CPython ("3.13t")."""
    return results.is_free_threaded(entry.get("python"))


def axis_benchmarks(axis):
    """asv -b patterns of what ``axis`` runs: [] = every benchmark."""
    if axis != "openblas":
        return []
    return [rf"\.{re.escape(name)}\." for name in OPENBLAS_AXIS_BENCHMARKS]


def _only_axis(conf, axis, measured_anchors=()):
    """Keep the environments of ``axis``: for "numpy" every one but the
    swapped builds; for "openblas" the swapped builds and the matrix
    environment of their numpy (the anchor: the same numpy, its own build),
    unless that numpy is in ``measured_anchors`` (see ``measured_anchors``)."""
    includes = conf.get("include", [])
    threaded = [inc for inc in includes if free_threaded(inc)]
    includes = [inc for inc in includes if not free_threaded(inc)]
    swapped = [inc for inc in includes if swapped_build(inc)]
    if axis == "numpy":
        conf["include"] = [inc for inc in includes if not swapped_build(inc)]
        return
    if axis == "freethreaded":
        if not threaded:
            raise UsageError(f"{CONFIG} has no free-threaded environments "
                             "(include entries whose python ends in 't', e.g. 3.13t)")
        conf["include"] = threaded
        _no_matrix_environment(conf, list(conf.get("matrix", {}).get("req", {}).get("numpy")
                                          or []))
        return
    if not swapped:
        raise UsageError(f"{CONFIG} has no OpenBLAS axis "
                         f"(include entries setting {results.OPENBLAS_VAR})")
    hosts = axis_hosts(conf)
    req = conf.setdefault("matrix", {}).setdefault("req", {})
    anchors = [v for v in req.get("numpy") or [] if v in hosts]
    if not anchors:
        raise UsageError(f"the OpenBLAS axis runs numpy {', '.join(sorted(map(str, hosts)))}, "
                         f"which the matrix does not: no anchor environment to compare with")
    req["numpy"] = anchors
    conf["include"] = swapped
    # asv applies "exclude" to the matrix only, never to "include" entries:
    # these rules drop the anchor and leave every swapped build.
    conf["exclude"] = [{"req": {"numpy": re.escape(v)}} for v in anchors
                       if v in measured_anchors]


def axis_hosts(conf):
    """The numpy versions the OpenBLAS axis swaps builds into."""
    return {(inc.get("req") or {}).get("numpy") for inc in conf.get("include", [])
            if swapped_build(inc)}


def measured_anchors(results_dir, machine_name, commit, hosts, coretype=None):
    """The numpy versions among ``hosts`` (``axis_hosts``) whose anchor
    environment already holds results of every class the OpenBLAS axis runs
    at ``commit`` (with the same forced kernel, if any): ``make bench``
    measured them in its own session.

    Why an axis run keeps such an anchor out: asv merges a second run at the
    same commit into the anchor's result file, so the axis session's values
    for those classes would replace the main session's and the numpy view
    would set them beside the other numpys' from another session. Left out,
    the anchor stays one session's throughout; at a commit ``make bench`` has not run, the axis measures it as before."""
    root = Path(results_dir)
    if not (root / "benchmarks.json").is_file() or not (root / machine_name).is_dir():
        return set()
    found = {}
    for m in results.load(root, machine_name):
        if (m.commit == commit and m.numpy in hosts and m.axis == "numpy"
                and m.status == "ok"
                and (m.env_vars.get("OPENBLAS_CORETYPE") or None) == coretype):
            found.setdefault(m.numpy, set()).add(m.scenario)
    return {numpy for numpy, classes in found.items()
            if set(OPENBLAS_AXIS_BENCHMARKS) <= classes}


def absolute_paths(conf, root):
    """Make a config's paths absolute, in place: asv reads relative ones
    against the working directory, not the config's folder, and a derived
    config must work from anywhere."""
    conf["repo"] = str(root)
    for key, default in (("benchmark_dir", "benchmarks"), ("env_dir", ".asv/env"),
                         ("results_dir", "results"), ("html_dir", ".asv/html")):
        conf[key] = str(Path(root) / conf.get(key, default))


def profile_config(root, profile, numpy=None, coretype=None, axis="numpy",
                   measured_anchors=()):
    """The config file asv should use for ``profile`` on ``axis`` (and, if
    given, only the environments of these ``numpy`` versions, or every
    environment with the OpenBLAS kernel forced to ``coretype``):
    asv.conf.json itself when that is exactly what it builds, else a derived
    copy under .asv/<profile>/. The numpy axis leaves the swapped OpenBLAS
    builds out (``make bench`` has a 15-minute budget); the openblas axis is
    those and their anchor only (the anchor left out where its numpy is in
    ``measured_anchors``). Results of the default profile always go to the
    committed results/."""
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if axis not in AXES:
        raise UsageError(f"unknown axis {axis!r}; choose from {', '.join(AXES)}")
    if axis == "openblas" and numpy:
        raise UsageError("--numpy does not combine with --axis openblas, which runs the "
                         "numpy its builds are swapped into")
    conf = load_config(root)
    if (profile == "default" and not numpy and not coretype and axis == "numpy"
            and not any(swapped_build(inc) or free_threaded(inc)
                        for inc in conf.get("include", []))):
        return Path(root) / CONFIG
    out = Path(root) / ".asv" / profile
    out.mkdir(parents=True, exist_ok=True)
    absolute_paths(conf, root)
    if profile != "default":
        conf["results_dir"] = str(out / "results")
        conf["html_dir"] = str(out / "html")
    _only_axis(conf, axis, measured_anchors)
    if profile == "quick" and axis == "numpy":
        conf.setdefault("matrix", {}).setdefault("req", {})["numpy"] = QUICK_NUMPY
        conf["include"] = [inc for inc in conf.get("include", [])
                           if inc.get("env", {}).get("NPTHREADS_NUMPY") == "pinned"]
    if profile == "quick" and axis == "freethreaded" and not numpy:
        # a smoke run: the newest numpy only, the GIL off and on
        numpy = [max(map(_numpy_of, conf["include"]), key=numbers)]
    if numpy and axis == "freethreaded":
        known = sorted(set(map(_numpy_of, conf["include"])), key=numbers)
        unknown = [v for v in numpy if v not in known]
        if unknown:
            raise UsageError(f"numpy {', '.join(unknown)} has no free-threaded environment; "
                             f"choose from {', '.join(known)}")
        conf["include"] = [inc for inc in conf["include"] if _numpy_of(inc) in numpy]
    elif numpy:
        _only_numpy(conf, numpy)
    if coretype:
        # A forced kernel is part of each environment (its name, so its own
        # history series, and its result files' env_vars), never a silent
        # shell setting.
        for entry in [conf.setdefault("matrix", {})] + conf.get("include", []):
            entry.setdefault("env_nobuild", {})["OPENBLAS_CORETYPE"] = coretype
    name = ("asv.openblas.conf.json" if axis == "openblas" else
            "asv.freethreaded.conf.json" if axis == "freethreaded" else
            "asv.conf.json" if not numpy else "asv.some-numpy.conf.json")
    path = out / (name if not coretype else name.replace(".conf", f".{coretype}.conf"))
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return path


# Variables that change which OpenBLAS kernel runs or how it schedules, read
# when numpy is imported. asv passes the user's whole shell environment to the
# benchmarks: a shell exporting OPENBLAS_CORETYPE makes every environment run
# that kernel instead of the detected one, a step in the history no commit
# caused (docs/measurements.md). The thread counts are pinned by the config's
# env_nobuild (seed_programs.THREAD_VARIABLES are the thread ones); these are
# removed, so the kernel is the detected one.
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "GOTO_NUM_THREADS",
                    "OPENBLAS_MAIN_FREE", "GOTOBLAS_MAIN_FREE", "OPENBLAS_VERBOSE")


def asv_environ(conf, profile):
    """The environment asv runs in: pythons on PATH, the profile, and none
    of the kernel-steering variables of ``KERNEL_VARIABLES``."""
    env = dict(os.environ)
    env["PATH"] = path_with_pythons(conf)
    env[PROFILE_ENV] = profile
    for var in KERNEL_VARIABLES:
        env.pop(var, None)
    return env


def forced_kernel(name):
    """The OpenBLAS kernel name ``--openblas-coretype`` asks for, spelled as
    OpenBLAS spells it; an unknown one is a one-line error."""
    from .blasfacts import ARCHITECTURES
    known = {k.lower(): k for k in ARCHITECTURES[1:]}
    if str(name).lower() not in known:
        raise UsageError(f"--openblas-coretype {name!r} is not an OpenBLAS kernel; choose "
                         f"from {', '.join(ARCHITECTURES[1:])}")
    return known[str(name).lower()]


def blas_env_removed(environ=None):
    """The ``KERNEL_VARIABLES`` set in ``environ`` (default: ours), as VAR=value:
    what ``asv_environ`` keeps away from the benchmarks."""
    environ = os.environ if environ is None else environ
    return [f"{var}={environ[var]}" for var in KERNEL_VARIABLES if var in environ]


# What ``asv`` returns when ``timeout`` stopped it.
TIMED_OUT = -1


def asv(args, env, root, timeout=None, to_stderr=False):
    """Run ``python -m asv ARGS`` in ``root``, streaming its output (asv
    prints its own [ nn%] progress); returns the exit code, or ``TIMED_OUT``
    after stopping asv and every benchmark process it started at
    ``timeout`` seconds (asv saves each environment's results after each
    round, so what was measured before stays on disk). ``to_stderr`` sends
    asv's output to stderr, for commands whose stdout is a report."""
    cmd = [sys.executable, "-m", "asv", *args]
    print("$ asv " + " ".join(args), file=sys.stderr if to_stderr else sys.stdout, flush=True)
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=2 if to_stderr else None,
                            start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return TIMED_OUT
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        raise


def parallel_build_args():
    """asv run's option to create and build the environments in parallel,
    one per usable core (asv benchmarks them one at a time all the same).
    Measured on this 2-core VM: `asv setup` of the eight environments of
    `make bench` took 75.8 s one at a time and 38.5 s two at a time."""
    return ["--parallel", str(machine.usable_cores())]


def launch_method_args():
    """asv run's options for the launch method this platform has: asv's
    forkserver needs fork and Unix sockets (asv.runner.get_spawner), so
    where either is missing (Windows) each benchmark is spawned."""
    if hasattr(os, "fork") and hasattr(socket, "AF_UNIX"):
        return []
    return ["--launch-method", "spawn"]
