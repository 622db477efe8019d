"""What each scenario asks and which of its cells play which role.

The one home of the scenarios' roles: the serial baseline and the tutorial's
naive configuration of each scenario, and its question and layout. The
report lays out and judges its grids by them; ``advise`` takes its serial
and naive references from them. Plain data, no numpy.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """A configuration, optionally in another scenario (same size and
    environment): the naive and serial baselines are not in every grid."""
    params: tuple                 # ((name, label), ...)
    scenario: str | None = None   # None: this scenario
    text: str = ""                # how the report names it

    def matches(self, scenario, params):
        """Whether a measurement of ``scenario`` with ``params`` is this
        configuration (its own scenario's, when ``self.scenario`` is None)."""
        return (self.scenario in (None, scenario)
                and all(params.get(k) == v for k, v in self.params))


@dataclass(frozen=True)
class Spec:
    """How a scenario is laid out and judged."""
    question: str
    rows: str | None              # param on the heat map's rows (None: one row)
    cols: str
    serial: Ref | None
    naive: Ref | None
    work: str | None = None       # key into cost.WORK: what the machine limit is


def _ref(text, scenario=None, **params):
    return Ref(tuple(params.items()), scenario, text)


NAIVE_MATMUL = _ref("ThreadPool() + default BLAS (tutorial S2)", "MatmulTutorial",
                    executor="ThreadPool()", chunksize="default")
ONE_THREAD_MATMUL = _ref("1 Python thread x 1 BLAS thread", "MatmulThreadSplit",
                         python_threads="1", blas_threads="1")

# Keyed by benchmark class. A class not listed gets a generic layout (its
# last two params, or its only one) and no naive or serial marking.
SPECS = {
    "MatmulTutorial": Spec(
        "Does a default ThreadPool() lose to BLAS threads alone? (tutorial S1-S3)",
        "executor", "chunksize",
        _ref("serial loop + default BLAS (S1)", executor="serial loop", chunksize="default"),
        _ref("ThreadPool() + default BLAS (S2)", executor="ThreadPool()", chunksize="default"),
        "matmul"),
    "MatmulThreadSplit": Spec(
        "Which split of Python threads x BLAS threads is fastest?",
        "python_threads", "blas_threads",
        _ref("1 Python thread x 1 BLAS thread", python_threads="1", blas_threads="1"),
        NAIVE_MATMUL, "matmul"),
    "MatmulExecutors": Spec(
        "Which executor serves a batch of matmuls best, one worker per core?",
        "executor", "blas_threads", ONE_THREAD_MATMUL, NAIVE_MATMUL, "matmul"),
    "DotBlasThreads": Spec(
        "Does a threaded BLAS speed up one large vector dot? (tutorial S4-S5)",
        None, "blas_threads",
        _ref("1 BLAS thread", blas_threads="1"),
        _ref("default BLAS threads (S5)", blas_threads="default"), "dot"),
    "DotEnvVarTutorial": Spec(
        "The tutorial's OMP_NUM_THREADS before import, vector creation included (S4-S5)",
        None, "omp_num_threads",
        _ref("OMP_NUM_THREADS=1 (S4)", omp_num_threads="1"),
        _ref("OMP_NUM_THREADS unset (S5)", omp_num_threads="default"), None),
    "FillManyArrays": Spec(
        "Does a thread pool speed up filling many separate arrays? (tutorial S6-S7)",
        "executor", "chunksize",
        _ref("serial loop (S6)", executor="serial loop", chunksize="default"),
        _ref("ThreadPool().map (S7)", executor="ThreadPool()", chunksize="default"),
        "fill_many"),
    "FillOneArrayInParts": Spec(
        "Does filling one large array, one slice per thread, speed it up?",
        None, "executor", _ref("serial loop", executor="serial loop"), None, "fill_one"),
    "ExpInParts": Spec(
        "Does np.exp over one large array get faster with one slice per thread?",
        None, "executor", _ref("serial loop", executor="serial loop"), None, "exp"),
    "SmallBlasCalls": Spec(
        "Do many small BLAS calls from concurrent workers slow down when each worker's "
        "BLAS keeps its default threads? (numpy#27605)",
        "executor", "blas_threads",
        _ref("serial loop + 1 BLAS thread", executor="serial loop", blas_threads="1"),
        _ref("ProcessPool(cores) + default BLAS (numpy#27605)",
             executor="ProcessPool(cores)", blas_threads="default"), None),
    "PythonBetweenCalls": Spec(
        "Does a pool of Python threads speed up many small numpy calls with Python "
        "work between them? (the GIL's question: free-threaded CPython against the rest)",
        None, "executor", _ref("serial loop", executor="serial loop"), None, None),
}
