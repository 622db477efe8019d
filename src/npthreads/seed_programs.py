"""The tutorial's seven programs (S1-S7), verbatim, and their sizes.

Kept apart from the runner (``npthreads.seed``) so the texts can be read and
diffed against the tutorial in one place. Only sizes are ever substituted
(and S3's chunksize, a quarter of the tasks as 25 is of 100); ``seed_program``
adds two ``time()`` calls around the parallel part and a report line after
the program's own last line.
"""

import math
import re
from dataclasses import dataclass

from . import cost

# -- the tutorial's programs, verbatim (line counts match its listings) -----

_S1 = """\
# example of multithreaded matrix multiplication
from numpy import ones
from time import time

# function for performing operation on matrices
def operation(item1, item2):
    # matrix multiplication
    return item1.dot(item2)

# record the start time
start = time()
# prepare lists of matrices
n = 2000
data1 = [ones((n,n)) for _ in range(100)]
data2 = [ones((n,n)) for _ in range(100)]
# apply math operation to items
results = [operation(item1, item2) for item1,item2 in zip(data1,data2)]
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""

_S2 = """\
# example of multithreaded matrix multiplication with thread pool
from numpy import ones
from time import time
from multiprocessing.pool import ThreadPool

# function for performing operation on matrices
def operation(item1, item2):
    # matrix multiplication
    return item1.dot(item2)

# record the start time
start = time()
# prepare lists of matrices
n = 2000
data1 = [ones((n,n)) for _ in range(100)]
data2 = [ones((n,n)) for _ in range(100)]
# create thread pool
with ThreadPool() as pool:
    # prepare arguments
    args = [(item1,item2) for item1,item2 in zip(data1,data2)]
    # issue tasks to thread pool
    results = pool.starmap(operation, args)
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""

# The tutorial gives S3 as a change of one line of S2.
_S3 = _S2.replace("results = pool.starmap(operation, args)\n",
                  "results = pool.starmap(operation, args, chunksize=25)\n")

_S4 = """\
# example of single threaded vector multiplication
from os import environ
environ['OMP_NUM_THREADS'] = '1'
from time import time
from numpy import ones
# record the start time
start = time()
# size of arrays
n = 1000000000
# create vectors
data1 = ones(n)
data2 = ones(n)
# vector multiplication
result = data1.dot(data2)
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""

_S5 = """\
# example of multithreaded vector multiplication
from time import time
from numpy import ones
# record the start time
start = time()
# size of arrays
n = 1000000000
# create vectors
data1 = ones(n)
data2 = ones(n)
# vector multiplication
result = data1.dot(data2)
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""

_S6 = """\
# example of single-threaded array filling
from numpy import ones
from time import time
# record the start time
start = time()
# prepare data
n = 5000
# prepare data
data = [ones((n,n)) for _ in range(100)]
# perform operation on each pair of arrays
[item.fill(0) for item in data]
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""

_S7 = """\
# example of multithreaded array filling
from numpy import ones
from time import time
from multiprocessing.pool import ThreadPool

# function for performing operation on matrices
def operation(item):
    # apply array operation
    item.fill(0)

# record the start time
start = time()
# prepare data
n = 5000
# prepare data
data = [ones((n,n)) for _ in range(100)]
# create thread pool
with ThreadPool() as pool:
    # issue tasks to thread pool
    _ = pool.map(operation, data)
# calculate and report duration
duration = time() - start
print(f'Took {duration:.3f} seconds')
"""


@dataclass(frozen=True)
class Experiment:
    id: str
    what: str                 # how the table describes it
    group: str                # experiments of a group share sizes: matmul, dot, fill
    program: str              # the tutorial's text at the tutorial's sizes
    part: str                 # the line that is "the parallel part"
    tutorial_seconds: float | None
    baseline: str | None = None
    claim: str | None = None  # "slower" or "same" as the baseline


EXPERIMENTS = {e.id: e for e in (
    Experiment("S1", "matmul, list comprehension", "matmul", _S1,
               "results = [operation(item1, item2) for item1,item2 in zip(data1,data2)]",
               10.705),
    Experiment("S2", "matmul, ThreadPool().starmap", "matmul", _S2,
               "results = pool.starmap(operation, args)", 17.354, "S1", "slower"),
    Experiment("S3", "matmul, starmap chunksize=tasks/4", "matmul", _S3,
               "results = pool.starmap(operation, args, chunksize=25)", None, "S1", "same"),
    Experiment("S4", "dot, OMP_NUM_THREADS=1", "dot", _S4,
               "result = data1.dot(data2)", 5.750),
    Experiment("S5", "dot, BLAS threads default", "dot", _S5,
               "result = data1.dot(data2)", 5.462, "S4", "same"),
    Experiment("S6", "fill, loop", "fill", _S6, "[item.fill(0) for item in data]", 7.615),
    Experiment("S7", "fill, ThreadPool().map", "fill", _S7,
               "_ = pool.map(operation, data)", 7.810, "S6", "same"),
)}

CLAIMS = {"slower": "slower than its baseline by more than the margin",
          "same": "the same as its baseline within the margin"}

# group -> (n, task count) in the tutorial; the dot has one task.
TUTORIAL_SIZES = {"matmul": (2000, 100), "dot": (1_000_000_000, None), "fill": (5000, 100)}
GROUP_TITLES = {"matmul": "S1-S3", "dot": "S4-S5", "fill": "S6-S7"}
MIN_TASKS = 4
MARGIN = 0.05          # the tutorial's own "margin of error" (S4 vs S5: 5.0%)
DEFAULT_SCALE = "0.08"  # 1.5-3 minutes on 2 cores with 10 repeats; under 1.5 GiB
DEFAULT_REPEAT = 10     # even: each order (see ``measure``) runs equally often
# Variables that would change the BLAS thread count under the program's feet.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
MARKER = "NPTHREADS-SEED "
# Appended after the tutorial's own last line, so outside every timed region.
_REPORT = """
import json as _json, os as _os, numpy as _numpy
try:
    from threadpoolctl import threadpool_info as _threadpool_info
    _blas = [_i for _i in _threadpool_info() if _i.get('user_api') == 'blas']
except ImportError:
    _blas = []
_blas = ([_i for _i in _blas if 'numpy' in _i.get('filepath', '').lower()] or _blas or [{}])[0]
print(%r + _json.dumps({'whole': duration, 'part': _part, 'numpy': _numpy.__version__,
      'blas': _blas.get('internal_api'), 'blas_version': _blas.get('version'),
      'blas_threads': _blas.get('num_threads'), 'cpu_count': _os.cpu_count()}))
""" % MARKER


# -- sizes and programs ------------------------------------------------------

def sizes(group, scale):
    """The sizes of ``group`` at ``scale`` (see the module docstring)."""
    n0, count0 = TUTORIAL_SIZES[group]
    if count0 is None:
        return {"n": max(1, round(n0 * scale))}
    tasks = count0 * scale
    count = max(MIN_TASKS, MIN_TASKS * math.floor(tasks / MIN_TASKS + 0.5))
    n = n0 if tasks >= MIN_TASKS else max(1, round(n0 * math.sqrt(tasks / MIN_TASKS)))
    return {"n": n, "count": count}


def nbytes(group, size):
    """Memory the group's programs hold at their peak (results included)."""
    if group == "matmul":
        return cost.matmul_nbytes(size["n"], size["count"])
    if group == "dot":
        return cost.dot_nbytes(size["n"])
    return cost.fill_many_nbytes(size["n"], size["count"])


def describe(group, size):
    if group == "dot":
        return f"2 vectors of {size['n']:.3g}"
    kind = "pairs" if group == "matmul" else "arrays"
    return f"{size['count']} {kind} of {size['n']}x{size['n']}"


def _substitute(text, old, new):
    if old not in text:
        raise AssertionError(f"tutorial text lost {old!r}")  # a programming error
    return text.replace(old, new)


def tutorial_program(exp, size):
    """The tutorial's program with only its sizes substituted (and S3's
    chunksize, a quarter of the tasks as 25 is of 100)."""
    text = exp.program
    n0, count0 = TUTORIAL_SIZES[exp.group]
    text = _substitute(text, f"n = {n0}\n", f"n = {size['n']}\n")
    if count0 is not None:
        text = _substitute(text, f"range({count0})", f"range({size['count']})")
    if exp.id == "S3":
        chunk = max(1, size["count"] // 4)
        text = _substitute(text, "chunksize=25", f"chunksize={chunk}")
    return text


def seed_program(exp, size):
    """The tutorial's program plus two ``time()`` calls around the parallel
    part and a report line after its own last line."""
    lines = tutorial_program(exp, size).splitlines()
    def shape(line):  # S3's chunksize was substituted: compare without it
        return re.sub(r"chunksize=\d+", "chunksize=N", line.strip())
    index = [i for i, line in enumerate(lines) if shape(line) == shape(exp.part)]
    if len(index) != 1:
        raise AssertionError(f"{exp.id}: parallel part {exp.part!r} not found once")
    i = index[0]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i:i + 1] = [indent + "_part_start = time()", lines[i],
                      indent + "_part = time() - _part_start"]
    return "\n".join(lines) + "\n" + _REPORT
