"""npthreads: when do Python threads help numpy, and when do they hurt?

Two kinds of module live here, and the line between them is ``IN_ENVIRONMENT``:

- **In the asv environments** (imported by ``benchmarks/`` or run by asv's
  install steps, where only numpy, threadpoolctl and the standard library are
  installed, ``--no-deps``): ``workloads`` (what is timed), ``cost`` (its
  FLOPs and bytes), ``executors`` (threads or processes), ``threadcontrol``
  (BLAS limits through threadpoolctl), ``machine`` (cores, memory, caches),
  ``profiles`` (the grids), ``blasfacts`` (BLAS facts as codes), ``pinned``
  and ``openblas_build`` (install steps). They never import a tool module.
- **The tools**, in the project's own venv (asv, matplotlib, jinja2):
  ``results`` (the one reader of asv's files), ``evidence`` (the statistics),
  ``compare``, ``reproduce``, ``bisect``, ``report`` + ``pages`` + ``plots``,
  ``advise``, ``seed``, ``bench``, ``site`` (+ ``regressions``), ``asvrun``
  and ``cli``.

``tests/test_layers.py`` imports the first group with the tools' own
dependencies unavailable and checks that nothing else comes in.
"""

__version__ = "0.1.0"

# Modules that run inside asv's environments (see above).
IN_ENVIRONMENT = ("workloads", "cost", "executors", "threadcontrol", "machine", "profiles",
                  "blasfacts", "pinned", "openblas_build")


class UsageError(ValueError):
    """Bad input from a user: reported as one line, never a traceback."""
