"""The suite under real asv: discovery, and an end-to-end quick run."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from npthreads import results

from .conftest import ROOT, fresh_clone, run_cli

SKIP_RULES = {
    # the only combinations the suite skips by design on any machine
    ("executor", "serial loop"): "a serial loop has no chunks",
}


def _asv(*args, cwd, env):
    return subprocess.run([sys.executable, "-m", "asv", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("profile", ["quick", "default", "full"])
def test_asv_check_passes_for_every_profile(profile):
    env = dict(os.environ, NPTHREADS_PROFILE=profile)
    out = _asv("check", "--python=same", cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_params_never_depend_on_the_installed_numpy():
    """Params are plain strings fixed by the profile: the same text whatever numpy."""
    code = ("import json, sys; sys.path.insert(0, '.');\n"
            "import benchmarks.bench_matmul as m, benchmarks.bench_fill as f, "
            "benchmarks.bench_dot as d, benchmarks.bench_ufunc as u, "
            "benchmarks.bench_small_calls as s, benchmarks.bench_python_work as p\n"
            "out = {}\n"
            "for mod in (m, f, d, u, s, p):\n"
            "    for name in dir(mod):\n"
            "        cls = getattr(mod, name)\n"
            "        if isinstance(cls, type) and getattr(cls, 'params', None) and cls.__module__ == mod.__name__:\n"
            "            out[cls.__name__] = cls.params\n"
            "print(json.dumps(out))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    params = json.loads(out.stdout)
    assert {"MatmulTutorial", "MatmulThreadSplit", "DotBlasThreads", "FillManyArrays",
            "FillOneArrayInParts", "ExpInParts", "DotEnvVarTutorial",
            "SmallBlasCalls", "PythonBetweenCalls"} <= set(params)
    for axes in params.values():
        assert all(isinstance(v, str) for axis in axes for v in axis)


@pytest.mark.parametrize("blas_threads", ["1", "default"])
def test_small_calls_hold_the_blas_limit_inside_process_workers(blas_threads):
    """numpy#27605's scenario: a process pool's workers each have their own
    BLAS, so "1" must be applied in every worker, and "default" left alone."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_small_calls import CALLS, SmallBlasCalls

    from npthreads.threadcontrol import current_blas_threads, worker_blas_threads
    default = current_blas_threads()
    bench = SmallBlasCalls()
    call = next(iter(CALLS))
    kind, n, calls, tasks = CALLS[call]
    bench.setup(call, "ProcessPool(cores)", blas_threads)
    try:
        pool = bench._executor
        bench.time_small_calls(call, "ProcessPool(cores)", blas_threads)
        seen = set(pool.run(worker_blas_threads, [(i,) for i in range(2 * pool.workers)]))
        results = pool.run(bench.batch.fn, bench.batch.tasks)
    finally:
        bench.teardown(call, "ProcessPool(cores)", blas_threads)
        from benchmarks import common
        common._close_executors()   # the pools outlive teardown by design
    assert seen == ({1} if blas_threads == "1" else {default})
    assert results == [float(n)] * tasks   # a dot of ones, computed in the workers
    assert current_blas_threads() == default


@pytest.mark.slow
def test_quick_profile_end_to_end_with_real_asv(tmp_path):
    """`npthreads bench --profile quick` on a clone: two real virtualenvs, and
    every benchmark and parameter combination has a value."""
    clone, env = fresh_clone(tmp_path, "e2e-box")
    out = run_cli("bench", "--profile", "quick", "--no-publish", env=env, cwd=clone, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "[npthreads] results in" in out.stdout

    results_dir = clone / ".asv" / "quick" / "results"
    machine = json.loads((results_dir / "e2e-box" / "machine.json").read_text())
    # the stable identity (issue 9): memory in whole GiB, the OS family only
    assert machine["num_cpu"] and machine["cpu"] and machine["ram"].endswith("GiB")
    assert int(machine["ram"][:-3]) > 0 and " " not in machine["os"]
    session = json.loads((results_dir / "e2e-box" / "sessions.jsonl").read_text()
                         .splitlines()[-1])
    assert session["ram_bytes"] > 0 and session["os"].startswith(machine["os"])
    assert (session["profile"], session["axis"]) == ("quick", "numpy")

    measured = results.load(results_dir, "e2e-box")
    envs = {m.env_name for m in measured}
    assert len(envs) == 2, envs
    benchmarks = results.load_benchmarks(results_dir)
    for env_name in envs:
        in_env = {(m.benchmark, tuple(m.params.values())): m for m in measured
                  if m.env_name == env_name}
        for name, info in benchmarks.items():
            labels = [[results.param_label(v) for v in axis] for axis in info.get("params", [])]
            for combo in itertools.product(*labels) if labels else [()]:
                m = in_env.get((name, combo))
                assert m is not None, f"{env_name}: no result for {name}{combo}"
                if m.status == "skipped":
                    assert any(m.params.get(k) == v for k, v in SKIP_RULES), (name, combo)
                else:
                    assert m.status == "ok" and m.value > 0, (env_name, name, combo, m.status)

    # The pinned environment really runs the pin, the other the matrix's numpy:
    # numpy 1.26.4 vendors OpenBLAS 0.3.23, the pinned 2.4.6 vendors 0.3.31.
    versions = {m.numpy: m.value for m in measured
                if m.benchmark.endswith("track_openblas_version")}
    assert versions == {"1.26.4": 323, "pinned": 331}


@pytest.mark.parametrize("versions,expected", [
    (["pinned"], ["NPTHREADS_NUMPYpinned"]),
    (["1.26.4", "2.5.5"], ["numpy1.26.4", "numpy2.5.5"]),
])
def test_bench_can_run_only_some_numpy_versions(versions, expected):
    """`npthreads bench --numpy V`: asv itself sees only those environments,
    and default-profile results still go to the committed results/."""
    from asv import environment
    from asv.config import Config

    from npthreads import asvrun
    path = asvrun.profile_config(ROOT, "default", versions)
    conf = Config.load(str(path))
    names = [e.name for e in environment.get_environments(conf, None)]
    assert len(names) == len(expected)
    assert all(any(part in name for name in names) for part in expected)
    assert json.loads(path.read_text())["results_dir"] == str(ROOT / "results")


def test_a_forced_kernel_is_part_of_every_environment():
    """`npthreads bench --openblas-coretype Haswell`: every environment sets
    it and carries it in its name (its own history series), issue 9."""
    from asv import environment
    from asv.config import Config

    from npthreads import asvrun
    path = asvrun.profile_config(ROOT, "default", None, asvrun.forced_kernel("haswell"))
    names = [e.name for e in environment.get_environments(Config.load(str(path)), None)]
    assert len(names) == 8 and all("OPENBLAS_CORETYPEHaswell" in name for name in names)


def test_an_unknown_kernel_is_one_line():
    out = run_cli("bench", "--openblas-coretype", "Pentium4")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "'Pentium4' is not an OpenBLAS kernel; choose from Prescott" in out.stderr


def test_an_unknown_numpy_version_is_one_line():
    out = run_cli("bench", "--numpy", "9.9")
    assert out.returncode == 2
    assert "numpy 9.9 is not in the matrix; choose from 1.26.4" in out.stderr
