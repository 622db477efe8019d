"""The suite where it is not Linux with OpenBLAS, and merging machines.

Nothing here runs on macOS or Windows: their interfaces are faked (sysfs
and /proc absent, sysctl and vm_stat output, threadpoolctl's description of
Accelerate, MKL and BLIS), so what is tested is what the code does with
what those systems are documented to say."""

import builtins
import json
import os
import shutil
import sys

import pytest

from npthreads import UsageError, fleet, machine, threadcontrol

from .conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------ BLAS limits

MKL = {"user_api": "blas", "internal_api": "mkl", "version": "2024.2",
       "num_threads": 4, "threading_layer": "intel", "filepath": "/x/numpy/libmkl_rt.so"}
BLIS = {"user_api": "blas", "internal_api": "blis", "version": "1.0",
        "num_threads": 4, "threading_layer": "pthreads", "filepath": "/x/libblis.so"}


def test_no_controllable_blas_refuses_every_limit_with_the_reason(monkeypatch):
    """Accelerate (numpy's macOS arm64 wheels): threadpoolctl sees no BLAS."""
    monkeypatch.setattr(threadcontrol, "numpy_blas", lambda: None)
    monkeypatch.setattr(threadcontrol, "build_blas", lambda: "accelerate")
    with pytest.raises(threadcontrol.BlasLimitRefused) as err:
        threadcontrol.BlasThreads(1)
    assert "accelerate" in str(err.value) and "cannot be set" in str(err.value)
    assert threadcontrol.BlasThreads(None).count is None  # the default still runs


@pytest.mark.parametrize("info,name", [(MKL, "mkl 2024.2"), (BLIS, "blis 1.0")])
def test_a_blas_whose_limits_are_not_verified_is_refused(monkeypatch, info, name):
    monkeypatch.setattr(threadcontrol, "numpy_blas", lambda: info)
    calls = []
    monkeypatch.setattr(threadcontrol, "controller", lambda: calls.append(1))
    with pytest.raises(threadcontrol.BlasLimitRefused) as err:
        threadcontrol.BlasThreads(2)
    assert name in str(err.value) and "verifies limits only for openblas" in str(err.value)
    assert not calls  # refused before any limit was set


def test_openblas_is_not_refused():
    assert threadcontrol.limit_refusal({"internal_api": "openblas", "version": "0.3.31"}) is None


def test_build_blas_names_numpys_blas():
    name = threadcontrol.build_blas()
    assert name is None or name.split()[0] in ("scipy-openblas", "openblas", "openblas64",
                                               "accelerate", "mkl", "blis")


def test_a_benchmark_skips_the_blas_thread_cells_and_runs_the_default(monkeypatch):
    """What asv records as a skip (NotImplementedError from setup), with the
    reason; the cell at the BLAS's default is measured."""
    from benchmarks.bench_dot import DotBlasThreads
    monkeypatch.setattr(threadcontrol, "numpy_blas", lambda: None)
    monkeypatch.setattr(threadcontrol, "build_blas", lambda: "accelerate")
    bench = DotBlasThreads()
    size = next(iter(DotBlasThreads.params[0]))
    with pytest.raises(NotImplementedError) as err:
        bench.setup(size, "cores")
    assert str(err.value).startswith("BLAS refused cores threads: numpy's BLAS")
    bench.teardown(size, "cores")
    bench.setup(size, "default")
    bench.time_dot(size, "default")
    bench.teardown(size, "default")


# ------------------------------------------------------------ no sysfs, no /proc

VM_STAT = """Mach Virtual Memory Statistics: (page size of 16384 bytes)
Pages free:                               12000.
Pages active:                            200000.
Pages inactive:                          100000.
Pages speculative:                         3000.
Pages throttled:                              0.
Pages wired down:                         90000.
Pages purgeable:                           1000.
"""

APPLE_M1_VM = {  # what sysctl -n says on an Apple silicon VM: no L3
    "hw.memsize": "7516192768", "hw.logicalcpu": "3", "hw.ncpu": "3",
    "machdep.cpu.brand_string": "Apple M1 (Virtual)",
    "hw.perflevel0.l1dcachesize": "131072", "hw.perflevel0.l2cachesize": "12582912",
    "hw.perflevel0.logicalcpu": "3", "hw.perflevel0.cpusperl2": "3",
    "hw.l1dcachesize": "65536", "hw.l2cachesize": "4194304",
}
INTEL_MAC = {
    "hw.memsize": "17179869184", "hw.logicalcpu": "8", "hw.cacheconfig": "8 2 2 8 0 0 0 0 0 0",
    "hw.l1dcachesize": "32768", "hw.l2cachesize": "262144", "hw.l3cachesize": "8388608",
}


@pytest.fixture
def no_linux_files(monkeypatch):
    """/proc and /sys absent, as on macOS and Windows."""
    real = builtins.open

    def fake_open(path, *args, **kwargs):
        if str(path).startswith(("/proc/", "/sys/")):
            raise FileNotFoundError(path)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(machine, "open", fake_open, raising=False)
    monkeypatch.setattr(machine, "_SYSFS_CPU", "/nonexistent/sys/devices/system/cpu")


def fake_macos(monkeypatch, answers):
    monkeypatch.setattr(sys, "platform", "darwin")

    def run(*cmd):
        if cmd[0] == "vm_stat":
            return VM_STAT
        if cmd[:2] == ("sysctl", "-n"):
            return answers.get(cmd[2]) and answers[cmd[2]] + "\n"
        return None
    monkeypatch.setattr(machine, "_run", run)


def test_macos_memory_and_cpu_from_sysctl(monkeypatch, no_linux_files):
    fake_macos(monkeypatch, APPLE_M1_VM)
    total, available = machine.memory_bytes()
    assert total == 7516192768
    assert available == (12000 + 100000 + 3000 + 1000) * 16384
    assert machine.cpu_model() == "Apple M1 (Virtual)"


def test_macos_apple_silicon_caches_have_no_l3(monkeypatch, no_linux_files):
    fake_macos(monkeypatch, APPLE_M1_VM)
    levels = machine.cache_levels()
    assert [(c.name, c.size, c.instances) for c in levels] == [
        ("L1d", 131072, 3), ("L2", 12582912, 1)]
    reason = machine.no_cache_reason("L3")
    assert reason == "macOS's sysctl reports no L3 cache size on this machine"


def test_intel_mac_caches_count_their_sharing():
    levels = machine.darwin_cache_levels(INTEL_MAC.get)
    assert [(c.name, c.size, c.instances) for c in levels] == [
        ("L1d", 32768, 4), ("L2", 262144, 4), ("L3", 8388608, 1)]


def test_sysctl_failing_or_absent_is_no_cache_not_a_crash(monkeypatch, no_linux_files):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(machine, "_run", lambda *cmd: None)
    assert machine.cache_levels() == []
    assert machine.sysctl("hw.l3cachesize") is None
    assert machine.darwin_cache_levels({"hw.l2cachesize": "lots"}.get) == []


def test_windows_has_no_cache_facts_and_says_why(monkeypatch, no_linux_files):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr("platform.system", lambda: "Windows")
    assert machine.cache_levels() == []
    assert machine.no_cache_reason("L2") == (
        "no L2 cache size: Windows has no sysfs and its own interface is not read here")


def test_cache_limits_skip_a_level_the_os_does_not_report(monkeypatch, no_linux_files):
    from benchmarks.bench_environment import CacheLimits
    fake_macos(monkeypatch, APPLE_M1_VM)
    with pytest.raises(NotImplementedError) as err:
        CacheLimits().setup("L3")
    assert str(err.value) == "macOS's sysctl reports no L3 cache size on this machine"


def test_arm_linux_cpu_is_named_from_its_part_number():
    info = "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd49\n"
    assert machine._arm_core(info) == "ARM Neoverse-N2"
    assert machine._arm_core("processor : 0\n") is None


# ------------------------------------------------------------ names, launch


@pytest.mark.parametrize("system,arch,cpu,cores,expected", [
    ("Linux", "x86_64", "AMD EPYC 7763 64-Core Processor", 4, "gha-linux-x64-amd-epyc-7763-4cpu"),
    ("Linux", "x86_64", "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", 4,
     "gha-linux-x64-intel-xeon-platinum-8370c-4cpu"),
    ("Linux", "aarch64", "ARM Neoverse-N2", 4, "gha-linux-arm64-arm-neoverse-n2-4cpu"),
    ("Darwin", "arm64", "Apple M1 (Virtual)", 3, "gha-macos-arm64-apple-m1-virtual-3cpu"),
    ("Windows", "AMD64", "AMD EPYC 7763 64-Core Processor", 4,
     "gha-windows-x64-amd-epyc-7763-4cpu"),
])
def test_fleet_names(system, arch, cpu, cores, expected):
    assert fleet.fleet_name("gha", system, arch, cpu, cores) == expected


def test_fleet_names_fit_asvs_limit_and_our_check():
    name = fleet.fleet_name("selfhosted", "Linux", "x86_64", "Very " * 30 + "Long CPU", 128)
    assert len(name) <= 64 and fleet.NAME.fullmatch(name) and name.endswith("-128cpu")
    with pytest.raises(UsageError):
        fleet.fleet_name("../x")


def test_spawn_where_there_is_no_fork(monkeypatch):
    from npthreads import asvrun
    assert asvrun.launch_method_args() == []  # Linux: asv.conf.json's forkserver
    monkeypatch.delattr(os, "fork")
    assert asvrun.launch_method_args() == ["--launch-method", "spawn"]


@pytest.mark.skipif(not shutil.which("taskset"), reason="needs taskset (util-linux)")
def test_environments_build_one_per_usable_core():
    """A run confined to one core builds one environment at a time: asv's
    --parallel follows the cores the run may use, not the host's."""
    import subprocess
    code = "from npthreads import asvrun; print(' '.join(asvrun.parallel_build_args()))"
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["--parallel", "1"]
    from npthreads import asvrun
    assert asvrun.parallel_build_args() == ["--parallel", str(machine.usable_cores())]


def test_machine_name_command_and_bench_machine_option():
    out = run_cli("machine-name", "--prefix", "self")
    assert out.returncode == 0 and out.stdout.startswith("self-linux-")
    assert fleet.NAME.fullmatch(out.stdout.strip())
    out = run_cli("bench", "--help")
    assert "--machine NAME" in out.stdout
    out = run_cli("bench", "--machine", "../../etc", "--profile", "quick")
    assert out.returncode == 2 and "not a usable machine name" in out.stderr


# ------------------------------------------------------------ merge

MACHINE = {"arch": "x86_64", "cpu": "AMD EPYC 7763 64-Core Processor",
           "machine": "gha-linux-x64-amd-epyc-7763-4cpu", "num_cpu": "4", "os": "Linux",
           "ram": "16GiB", "version": 1}
SUITE = {"bench_dot.DotBlasThreads.time_dot": {"version": "abc"}, "version": 2}


def artifact(root, machine_info=MACHINE, results=None, suite=SUITE, sessions=('{"a": 1}',)):
    """What one runner uploads: benchmarks.json and its machine folder."""
    folder = root / machine_info["machine"]
    folder.mkdir(parents=True)
    (folder / "machine.json").write_text(json.dumps(machine_info, indent=4))
    for name, data in (results or {"0123abcd-env-1.json": {"results": {"x": [1.0]}}}).items():
        (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))
    if sessions:
        (folder / "sessions.jsonl").write_text("\n".join(sessions) + "\n")
    if suite is not None:
        (root / "benchmarks.json").write_text(json.dumps(suite))
    return root


def test_merge_copies_new_machines_and_is_idempotent(tmp_path):
    target = tmp_path / "results"
    a = artifact(tmp_path / "a")
    lines = []
    s = fleet.merge([a], target, say=lines.append)
    assert (s.new, s.same, s.sessions, s.suite) == (1, 0, 1, "written")
    name = MACHINE["machine"]
    assert json.loads((target / name / "machine.json").read_text()) == MACHINE
    assert "a new machine" in lines[0]
    s = fleet.merge([a], target, say=lines.append)
    assert (s.new, s.same, s.sessions, s.suite, s.kept) == (0, 1, 0, "unchanged", [])


def test_merge_never_overwrites_a_differing_result(tmp_path):
    target = tmp_path / "results"
    fleet.merge([artifact(tmp_path / "a")], target, say=lambda _: None)
    name = MACHINE["machine"]
    before = (target / name / "0123abcd-env-1.json").read_bytes()
    b = artifact(tmp_path / "b", results={"0123abcd-env-1.json": {"results": {"x": [2.0]}},
                                          "4567cdef-env-1.json": {"results": {"x": [3.0]}}},
                 sessions=('{"a": 1}', '{"b": 2}'))
    lines = []
    s = fleet.merge([b], target, say=lines.append)
    assert (s.new, len(s.kept), s.sessions) == (1, 1, 1)
    assert (target / name / "0123abcd-env-1.json").read_bytes() == before
    assert any(line.startswith("[npthreads] merge: kept ") for line in lines)
    assert (target / name / "sessions.jsonl").read_text() == '{"a": 1}\n{"b": 2}\n'


def test_merge_treats_reformatted_json_with_nan_as_identical(tmp_path):
    target = tmp_path / "results"
    fleet.merge([artifact(tmp_path / "a", results={"c-e.json": '{"r": [NaN]}'})], target,
                say=lambda _: None)
    s = fleet.merge([artifact(tmp_path / "b", results={"c-e.json": '{ "r" : [ NaN ] }'})],
                    target, say=lambda _: None)
    assert (s.same, s.kept) == (1, [])


def _nothing_merged(target):
    return not target.exists() or not any(target.iterdir())


def test_merge_refuses_corrupt_json_and_copies_nothing(tmp_path):
    target = tmp_path / "results"
    good = artifact(tmp_path / "good", {**MACHINE, "machine": "box-a"})
    bad = artifact(tmp_path / "bad", {**MACHINE, "machine": "box-b"},
                   results={"0123abcd-env-1.json": '{"results": {'}, suite=None)
    with pytest.raises(UsageError) as err:
        fleet.merge([good, bad], target)
    assert "0123abcd-env-1.json: not valid JSON" in str(err.value)
    assert "\n" not in str(err.value) and _nothing_merged(target)


def test_merge_refuses_a_machine_json_that_disagrees(tmp_path):
    target = tmp_path / "results"
    fleet.merge([artifact(tmp_path / "a")], target, say=lambda _: None)
    other = artifact(tmp_path / "b", {**MACHINE, "cpu": "Intel(R) Xeon(R) Platinum 8370C"})
    with pytest.raises(UsageError) as err:
        fleet.merge([other], target)
    assert "disagrees with" in str(err.value) and "cpu:" in str(err.value)
    assert "two machines under one name" in str(err.value)


def test_merge_refuses_two_sources_of_different_suites(tmp_path):
    a = artifact(tmp_path / "a", {**MACHINE, "machine": "box-a"})
    b = artifact(tmp_path / "b", {**MACHINE, "machine": "box-b"}, suite={"version": 3})
    with pytest.raises(UsageError) as err:
        fleet.merge([a, b], tmp_path / "results")
    assert "describe different suites" in str(err.value)


def test_merge_refuses_a_folder_named_unlike_its_machine(tmp_path):
    a = artifact(tmp_path / "a")
    (a / MACHINE["machine"]).rename(a / "renamed")
    with pytest.raises(UsageError) as err:
        fleet.merge([a], tmp_path / "results")
    assert "not its folder 'renamed'" in str(err.value)


def test_merge_command_errors_are_one_line(tmp_path):
    bad = artifact(tmp_path / "bad", results={"0123abcd-env-1.json": "{"})
    out = run_cli("merge", str(bad), "--into", str(tmp_path / "results"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "not valid JSON" in out.stderr
    out = run_cli("merge", str(tmp_path / "absent"), "--into", str(tmp_path / "results"))
    assert out.returncode == 2 and "no such folder" in out.stderr


def test_merge_command_merges_the_committed_results_into_a_copy(tmp_path):
    """The committed results merged into themselves: every file identical."""
    copy = tmp_path / "results"
    shutil.copytree(ROOT / "results", copy)
    out = run_cli("merge", str(ROOT / "results"), "--into", str(copy))
    assert out.returncode == 0, out.stderr
    assert " 0 file(s) new" in out.stdout and "kept" not in out.stdout
    assert "benchmarks.json unchanged" in out.stdout
