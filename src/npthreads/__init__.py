"""npthreads: when do Python threads help numpy, and when do they hurt?

The package is split by concern: ``workloads`` (what is timed), ``executors``
(how tasks are spread over threads or processes), ``threadcontrol`` (BLAS
thread limits through threadpoolctl), ``machine`` (cores, memory, BLAS
facts), ``profiles`` (the benchmark grids), ``results`` (the one reader of
asv's result files) and ``cli`` (the command line).
"""

__version__ = "0.1.0"


class UsageError(ValueError):
    """Bad input from a user: reported as one line, never a traceback."""
