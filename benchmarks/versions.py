"""asv's version of every benchmark: one table, changed on purpose.

asv hides every result recorded under another version than the current
one. By default the version is a hash of the benchmark's code, so a
refactor that changes nothing measured (a guard moved to another module,
an untimed check added to ``setup``) would hide the whole history. Here
each benchmark's version is explicit (``common.Versioned`` sets it on the
method): the hash its code had when the table began, which every committed
result carries, and a short number for benchmarks added since. Change an
entry when what the benchmark measures changes (new work, new sizes, a
different timer): its history then starts afresh, as asv intends. A
benchmark missing from the table is an error at import (``Versioned``).
"""

VERSIONS = {
    "bench_dot.DotBlasThreads.time_dot":
        "51b52653920b46841c716d0cc8fed5200591679d8bf9f57359d8741755705030",
    "bench_dot.DotEnvVarTutorial.timeraw_create_and_dot":
        "140b80ec765fa42f38f3e7929bb40eccddbf12fe117ac46d258e82cf0b901e1b",
    "bench_dot.DotRate.track_gbytes_per_s":
        "a2017bdc6e0a0a4ba286e0cfbae61d477d6345708b0a210c9d91c4d9bf9a8bbc",
    "bench_environment.BlasRuntime.track_blas_architecture":
        "78ed7971fc32c6e12c1dc65c55f03924af6a1731f70c43cbcd8f1651c4c43264",
    "bench_environment.BlasRuntime.track_blas_default_threads":
        "6107f46b87dfbf51487e601aedbc7da4abe96d0b596a0e5742e108d689acdc3e",
    "bench_environment.BlasRuntime.track_blas_library":
        "2cf61355a91cee71c40c8c481dacb2bace455634fcaa5ef8c0d02a9a5583a6a6",
    "bench_environment.BlasRuntime.track_blas_threading_layer":
        "cb60c4036c80b9f00cab53a062c3c82e0be406b57387e804b8c3b605b9d2fbc0",
    "bench_environment.BlasRuntime.track_numpy_version":
        "bcb94a92ebcd52c27b5995197fd356f16c8887bab7b9a627565b1b7f1319e5a9",
    "bench_environment.BlasRuntime.track_openblas_version":
        "4cf6f93f1ae424a8fda76de1497ab76cd034b5cb53da692f1c32344302119c3c",
    "bench_environment.BlasRuntime.track_usable_cores":
        "32e3c5c69f8dc58c81980e51a1b645e930b095d652cf624d6c0b2e0cc1648319",
    "bench_environment.CacheLimits.track_cache_bytes":
        "2b548387802bd8e15b4af7ffe636365178062f286e840126a4bc6504ab7520f9",
    "bench_environment.CacheLimits.track_cache_gbytes_per_s":
        "ac9d0fdaf7bc4e070077d41e62f4c86b617d9d09835b1184d549b0d4e1bd47fa",
    "bench_environment.MachineLimits.track_dgemm_peak_gflops":
        "bd2731365ad30058abe2354b1d3f66e56f80c499239d32ca5ebfc301ee24789f",
    "bench_environment.MachineLimits.track_triad_gbytes_per_s":
        "b6d4e6b3d729b9bc5517e27e2ecbb4821ba03a6a0e8b14124060c99dd46bc97e",
    "bench_fill.FillManyArrays.time_fill":
        "5e1ab1cb1673b9911a828ff02c7416e94837d2ae25f9884bbd4c1b0153763aea",
    "bench_fill.FillOneArrayInParts.time_fill":
        "afef0fec08f915e3bdd59ebe37559275b249ede438c04bf8c145a6d1ae42e86d",
    "bench_fill.FillRate.track_gbytes_per_s":
        "e50239bf6415779b06420d8e6987e4c7973ea3a82ba8e64cecbf987b4af3f906",
    "bench_matmul.MatmulExecutors.time_matmul_batch":
        "7ce09538eebd87bd037b44fdc176c0356dfb5e79d2e46ca321c640468a2c0fdc",
    "bench_matmul.MatmulRate.track_gflops":
        "e126f66b6d8aa3f5e7249c0378e8ce5a375ae2980a1b76b1f8155aedb9244b7b",
    "bench_matmul.MatmulThreadSplit.time_matmul_batch":
        "8a2fdaafc2a668e9a8014051c23c828c3e947b7e906ddb508c91034a1849ccd4",
    "bench_matmul.MatmulTutorial.time_matmul_batch":
        "fadc83b7de769280ab6432a2f379077dc186b85808bb2c63fb54410ffb526299",
    "bench_small_calls.SmallBlasCalls.time_small_calls":
        "4cb411b3fbfa535c5a1a785401a02cb3c6bf068e9c82f6dc6fed673b46433bbe",
    "bench_ufunc.ExpInParts.time_exp":
        "503c8823a64b8f4ec9d5468c7481cd0aedcc7c34d0b2d0d5976fd1b0fba644c5",
    # added after the table began
    "bench_environment.BlasRuntime.track_gil_enabled": "1",
    "bench_python_work.PythonBetweenCalls.time_python_work": "1",
}
