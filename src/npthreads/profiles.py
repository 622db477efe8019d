"""The benchmark grids: which sizes and thread labels each profile runs.

The profile is chosen by the ``NPTHREADS_PROFILE`` environment variable
(scikit-learn's asv suite does the same with a config file), because asv
gives benchmarks no arguments. Params are plain labels fixed here, so they
never depend on the installed numpy or on the machine: a label such as
"2xcores" is resolved to a count only inside ``setup``.

- ``quick``: a smoke run, a couple of seconds per environment.
- ``default``: every question on cache-resident and memory- or compute-bound
  sizes, sized so the whole matrix runs in minutes on 2 cores.
- ``full``: adds the tutorial's own sizes (gigabytes; the memory guard skips
  what this machine cannot hold).
"""

import os

from . import UsageError

PROFILE_ENV = "NPTHREADS_PROFILE"
PROFILES = ("quick", "default", "full")
# A directory ``npthreads bench`` creates for one run: the suite's result
# checks (``benchmarks/common.py``) leave a mark there for each cell and
# environment they checked, so later rounds of the run, each a fresh
# process, do not check it again. Unset (a plain ``asv run``), every process
# checks. Checking in every round took 9-10 s of a 28 s environment round.
CHECKED_ENV = "NPTHREADS_CHECKED"

_DEFAULT = {
    # Python worker threads and BLAS threads: the "balance" grid.
    "python_threads": ["1", "cores", "2xcores", "4xcores"],
    "blas_threads": ["1", "cores", "2xcores"],
    # matmul: label -> (n, number of pairs)
    "matmul": {
        "64x64 x128 (cache)": (64, 128),
        "384x384 x8 (compute)": (384, 8),
    },
    # vector dot: label -> elements
    "dot": {
        "1e5 (cache)": 100_000,
        "2e7 (memory)": 20_000_000,
    },
    # fill of many arrays: label -> (n, number of n x n arrays)
    "fill_many": {
        "128x128 x256 (cache)": (128, 256),
        "1024x1024 x16 (memory)": (1024, 16),
    },
    # one large array split into parts: label -> elements
    "one_array": {
        "2e5 (cache)": 200_000,
        "2e7 (memory)": 20_000_000,
    },
    # many small BLAS calls (numpy#27605): label -> (call, n, calls per task,
    # tasks). A call takes 3-105 us on one core. dot n=16000 is the issue's
    # (the norm of one DataFrame column), above the 10,000 elements from
    # which OpenBLAS threads a DDOT; a 256x256 DGEMV is threaded by OpenBLAS
    # 0.3.23 (numpy 1.26), not from 0.3.27 on (raised threshold); a 128^3
    # DGEMM by every OpenBLAS of the matrix (above the 100^3 of the
    # small-matrix kernels and the 64^3 of the threading threshold).
    # Batches of 4-7 ms on 2 cores; the slow cells (ProcessPool, default
    # BLAS, numpy 2.4.6) take 0.1 s: 4x the batch of the first version, which
    # took 0.4-0.5 s there and would have pushed `make bench` past 15 min.
    "small_calls": {
        "dot 16e3 x2000": ("dot", 16_000, 125, 16),
        "gemv 256x256 x1024": ("gemv", 256, 64, 16),
        "gemm 128x128 x48": ("gemm", 128, 3, 16),
    },
    # small numpy calls with Python work between them, from Python threads:
    # label -> (kind, n, calls per task, tasks). From the interpreter's work
    # (16 elements: ~2.5 us a call and its Python work, on one core of the
    # development VM) to the BLAS's (a 256x256 DGEMM: ~1 ms at one BLAS
    # thread). Batches of 10-20 ms serial there: four sizes by three
    # executors, each a process per round, stay a few seconds per round.
    "python_work": {
        "vector 16 x4000": ("vector", 16, 250, 16),
        "vector 1e3 x4000": ("vector", 1_000, 250, 16),
        "matmul 64x64 x512": ("matmul", 64, 32, 16),
        "matmul 256x256 x16": ("matmul", 256, 1, 16),
    },
    # its Python threads: one per core, and twice that (a pool larger than
    # the cores helps only if a thread waits, e.g. for the GIL)
    "python_work_threads": ["cores", "2xcores"],
}

_QUICK = {
    "python_threads": ["1", "cores"],
    "blas_threads": ["1", "cores"],
    "matmul": {"64x64 x16 (cache)": (64, 16)},
    "dot": {"1e5 (cache)": 100_000},
    "fill_many": {"128x128 x16 (cache)": (128, 16)},
    "one_array": {"2e5 (cache)": 200_000},
    "small_calls": {"dot 16e3 x2000": ("dot", 16_000, 125, 16)},
    "python_work": {"vector 16 x4000": ("vector", 16, 250, 16)},
    "python_work_threads": ["cores"],
}

_TUTORIAL_SIZES = {
    "matmul": {"2000x2000 x100 (tutorial)": (2000, 100)},
    "dot": {"1e9 (tutorial)": 1_000_000_000},
    "fill_many": {"5000x5000 x100 (tutorial)": (5000, 100)},
    "one_array": {"1e9 (tutorial scale)": 1_000_000_000},
}


def active_profile():
    name = os.environ.get(PROFILE_ENV, "").strip() or "default"
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r} in {PROFILE_ENV}; "
                         f"choose from {', '.join(PROFILES)}")
    return name


def grid(profile=None):
    """The grid of ``profile`` (default: the active one) as a fresh dict."""
    profile = profile or active_profile()
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if profile == "quick":
        return {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in _QUICK.items()}
    result = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in _DEFAULT.items()}
    if profile == "full":
        for key, sizes in _TUTORIAL_SIZES.items():
            result[key].update(sizes)
    return result
