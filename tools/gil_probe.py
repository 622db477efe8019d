"""Replicate the free-threaded finding outside asv: PythonBetweenCalls'
vector batches, serially and from thread pools, in fresh processes of
several interpreters, interleaved.

    .venv/bin/python tools/gil_probe.py --rounds 6 \
        "GIL off=PYTHON_GIL=0 .asv/env/<3.13t env>/bin/python" \
        "GIL on=PYTHON_GIL=1 .asv/env/<3.13t env>/bin/python" \
        "3.11=.asv/env/<3.11 env>/bin/python"

Each interpreter must have numpy and npthreads installed (an asv
environment of this repository does). Every round starts one fresh process
per interpreter, in turn; each process takes the median of 7 samples per
cell, the BLAS held at 1 thread. Prints each cell's median over rounds (and
range), and per interpreter the median over rounds of serial / pool time.
A benchmark, not a test: nothing passes or fails.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

PROCESS = r"""
import json, statistics, sys, time
from npthreads import executors, workloads
from npthreads.threadcontrol import BlasThreads
blas = BlasThreads(1)
out = {"gil": getattr(sys, "_is_gil_enabled", lambda: True)()}
for kind, n in (("vector", 16), ("vector", 1000)):
    batch = workloads.python_work_batch(kind, n, 250, 16)
    for label in ("serial loop", "ThreadPool(2)", "ThreadPool(4)"):
        ex = executors.executor_from_label(label)
        ex.run(batch.fn, batch.tasks)
        times = []
        for _ in range(7):
            start = time.perf_counter()
            ex.run(batch.fn, batch.tasks)
            times.append(time.perf_counter() - start)
        out[f"{kind} {n} {label}"] = statistics.median(times) * 1e3
        ex.close()
print(json.dumps(out))
"""


def parse(spec):
    """"LABEL=[VAR=VALUE ...] PYTHON" -> (label, env additions, python)."""
    label, _, command = spec.partition("=")
    words = shlex.split(command)
    env = dict(w.split("=", 1) for w in words[:-1])
    if not label or not words:
        sys.exit(f"gil_probe: {spec!r} is not LABEL=[VAR=VALUE ...] PYTHON")
    return label, env, words[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interpreters", nargs="+", metavar="LABEL=[VAR=VALUE ...] PYTHON")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    specs = [parse(s) for s in args.interpreters]
    got = {label: [] for label, _, _ in specs}
    for r in range(args.rounds):
        for label, extra, python in specs:
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
            out = subprocess.run([python, "-c", PROCESS], env={**env, **extra},
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                sys.exit(f"gil_probe: {label}: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
            got[label].append(json.loads(out.stdout))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    cells = [k for k in got[specs[0][0]][0] if k != "gil"]
    print("ms, median of rounds (range)".ljust(28)
          + "".join(label.rjust(20) for label, _, _ in specs))
    for cell in cells:
        print(cell.ljust(28) + "".join(
            (f"{statistics.median(x[cell] for x in got[label]):.2f} "
             f"({min(x[cell] for x in got[label]):.1f}-{max(x[cell] for x in got[label]):.1f})"
             ).rjust(20) for label, _, _ in specs))
    for label, _, _ in specs:
        gil = "on" if got[label][0]["gil"] else "off"
        ratios = [statistics.median(x[f"vector {n} serial loop"] / x[f"vector {n} ThreadPool(4)"]
                                    for x in got[label]) for n in (16, 1000)]
        print(f"{label} (GIL {gil}): serial / ThreadPool(4) = {ratios[0]:.2f}x (vector 16), "
              f"{ratios[1]:.2f}x (vector 1000)")


if __name__ == "__main__":
    main()
