"""npthreads: when do Python threads help numpy, and when do they hurt?

Two kinds of module live here, and the line between them is ``IN_ENVIRONMENT``:

- **In the asv environments** (imported by ``benchmarks/`` or run by asv's
  install steps, where only numpy, threadpoolctl and the standard library are
  installed, ``--no-deps``): ``workloads`` (what is timed), ``cost`` (its
  FLOPs and bytes), ``executors`` (threads or processes), ``threadcontrol``
  (BLAS limits through threadpoolctl), ``machine`` (cores, memory, caches),
  ``profiles`` (the grids), ``blasfacts`` (BLAS facts as codes), ``pinned``
  and ``openblas_build`` (install steps). They never import a tool module.
- **The tools**, in the project's own venv (asv, matplotlib, jinja2), in
  three tiers, each importing only from the tiers below it:
  - the core: ``results`` (reads asv's files; writes nothing), ``migrate``
    (the one place result files are rewritten), ``evidence``, ``pooled``,
    ``racing``, ``stats``, ``choice``, ``comparison`` (the comparison
    engine), ``report`` (+ ``pages``, ``plots``, ``machines``), ``site``
    (+ ``regressions``), ``asvrun``, ``freethreaded``, ``scenarios``,
    ``units``, ``verdicts``;
  - the commands, one module each (``cli.COMMANDS``): ``bench``,
    ``compare`` (+ ``compare_report``), ``reproduce``, ``bisect``,
    ``advise``, ``seed``, ``publish``, ``fleet``; a command never imports
    another command (``tests/test_layers.py``);
  - ``cli`` and ``options`` (options several commands share).

``tests/test_layers.py`` imports the first group with the tools' own
dependencies unavailable and checks that nothing else comes in.
"""

__version__ = "0.1.0"

# Modules that run inside asv's environments (see above).
IN_ENVIRONMENT = ("workloads", "cost", "executors", "threadcontrol", "machine", "profiles",
                  "blasfacts", "pinned", "openblas_build")


class UsageError(ValueError):
    """Bad input from a user: reported as one line, never a traceback."""
