import pytest

from npthreads import UsageError, machine


@pytest.mark.parametrize("label,expected", [
    ("1", 1), ("cores", 6), ("halfcores", 3), ("2xcores", 12), ("4xcores", 24), ("5", 5),
])
def test_thread_labels_resolve_relative_to_cores(label, expected):
    assert machine.resolve_threads(label, cores=6) == expected


def test_halfcores_never_reaches_zero():
    assert machine.resolve_threads("halfcores", cores=1) == 1


@pytest.mark.parametrize("bad", ["0", "-2", "abc", "0xcores", "", "1.5"])
def test_bad_thread_counts_are_refused_with_a_reason(bad):
    with pytest.raises(UsageError) as err:
        machine.resolve_threads(bad, cores=4)
    assert "\n" not in str(err.value)
    assert repr(bad) in str(err.value) or "factor" in str(err.value)


def test_usable_cores_is_within_the_host():
    import os
    assert 1 <= machine.usable_cores() <= os.cpu_count()


def test_memory_guard_refuses_what_cannot_fit():
    total, available = machine.memory_bytes()
    assert 0 < available <= total
    assert machine.check_fits(1024, "tiny") is None
    reason = machine.check_fits(total * 4, "matmul 2000x2000 x100000")
    assert "matmul 2000x2000 x100000 needs" in reason and "GiB" in reason


def test_waiting_for_memory_gives_up_at_once_when_the_machine_cannot_hold_it():
    import time
    total, _ = machine.memory_bytes()
    start = time.monotonic()
    reason = machine.wait_until_fits(total * 2, "too big", seconds=30)
    assert reason and "kept free" in reason
    assert time.monotonic() - start < 5  # no point waiting for memory that cannot exist


def test_waiting_for_memory_returns_none_when_it_fits():
    assert machine.wait_until_fits(1024, "tiny", seconds=30) is None


def test_machine_identity_stays_the_same_across_kernel_builds(monkeypatch):
    """Two sessions on the same hardware, two kernel builds and memory
    counted a few KiB apart: the same identity, so asv's graph paths do not
    split (issue 9)."""
    import platform

    from npthreads import asvrun, machine
    seen = []
    for release, total in (("6.18.44-fc-v669", 25276502016), ("6.18.44-fc-v657", 25276510208)):
        monkeypatch.setattr(platform, "release", lambda r=release: r)
        monkeypatch.setattr(machine, "memory_bytes", lambda t=total: (t, t // 2))
        seen.append(asvrun.machine_identity("box"))
    assert seen[0] == seen[1]
    assert seen[0]["os"] == platform.system() and seen[0]["ram"] == "24GiB"


def test_committed_results_are_one_series_per_environment():
    """asv puts every machine field of a result file's params into the graph
    path: two files of one machine and environment with different params
    would be two histories."""
    import json

    from .conftest import ROOT
    series = {}
    for path in (ROOT / "results").glob("*/*.json"):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        key = (path.parent.name, data["env_name"])
        series.setdefault(key, set()).add(json.dumps(data["params"], sort_keys=True))
    assert series, "no committed results"
    split = {k: v for k, v in series.items() if len(v) > 1}
    assert not split, f"environments split into several series: {sorted(split)}"


def test_stabilise_rewrites_only_the_machine_fields(tmp_path):
    import json

    from npthreads import migrate
    folder = tmp_path / "box"
    folder.mkdir()
    (folder / "machine.json").write_text(json.dumps({"machine": "box", "os": "Linux 6.1-a",
                                                     "ram": "1000", "version": 1}))
    data = {"commit_hash": "c" * 40, "env_name": "e", "params": {
        "machine": "box", "os": "Linux 6.1-a", "ram": "1000", "numpy": "2.4.6"},
        "results": {"b": [float("nan")]}}
    (folder / "cccccccc-e.json").write_text(json.dumps(data))
    identity = {"machine": "box", "arch": "x86_64", "cpu": "C", "num_cpu": "2", "os": "Linux",
                "ram": "1GiB"}
    assert migrate.stabilise_machine(tmp_path, identity) == 2
    rewritten = json.loads((folder / "cccccccc-e.json").read_text())
    assert rewritten["params"]["os"] == "Linux" and rewritten["params"]["numpy"] == "2.4.6"
    assert rewritten["results"]["b"][0] != rewritten["results"]["b"][0]  # NaN kept
    assert migrate.stabilise_machine(tmp_path, identity) == 0


def test_cache_levels_from_sysfs(tmp_path):
    """Private levels count once per core, a shared one once."""
    def cache(cpu, index, level, kind, size, shared):
        d = tmp_path / f"cpu{cpu}" / "cache" / f"index{index}"
        d.mkdir(parents=True)
        for name, value in (("level", level), ("type", kind), ("size", size),
                            ("shared_cpu_list", shared)):
            (d / name).write_text(f"{value}\n")
    for cpu in (0, 1):
        cache(cpu, 0, 1, "Data", "32K", cpu)
        cache(cpu, 1, 1, "Instruction", "32K", cpu)
        cache(cpu, 2, 2, "Unified", "512K", cpu)
        cache(cpu, 3, 3, "Unified", "32768K", "0-1")
    (tmp_path / "cpufreq").mkdir()
    levels = machine.cache_levels(str(tmp_path))
    assert [(c.name, c.size, c.instances, c.total) for c in levels] == [
        ("L1d", 32768, 2, 65536), ("L2", 524288, 2, 2**20), ("L3", 2**25, 1, 2**25)]
    assert machine.cache_levels(str(tmp_path / "absent")) == []


def test_a_cgroup_quota_is_read_v1_and_v2_own_or_ancestor(tmp_path):
    """A container given --cpus=1 sees every CPU: only its cgroup's quota
    (v2 cpu.max, v1 cpu.cfs_quota_us) says 1; the tightest of its own and
    its ancestors' counts, and no quota is no limit."""
    from pathlib import Path

    from npthreads import machine
    proc = tmp_path / "cgroup"
    root = tmp_path / "fs"
    (root / "cpu" / "box" / "job").mkdir(parents=True)
    (root / "cpu" / "box" / "cpu.cfs_quota_us").write_text("150000\n")
    (root / "cpu" / "box" / "cpu.cfs_period_us").write_text("100000\n")
    (root / "cpu" / "box" / "job" / "cpu.cfs_quota_us").write_text("-1\n")
    (root / "cpu" / "box" / "job" / "cpu.cfs_period_us").write_text("100000\n")
    proc.write_text("3:cpuset:/\n1:cpu:/box/job\n0::/\n")
    assert machine._cgroup_cpu_limit(proc, root) == 1
    (root / "svc").mkdir()
    (root / "svc" / "cpu.max").write_text("300000 100000\n")
    proc.write_text("0::/svc\n")
    assert machine._cgroup_cpu_limit(proc, root) == 3
    (root / "svc" / "cpu.max").write_text("max 100000\n")
    assert machine._cgroup_cpu_limit(proc, root) is None
    assert machine._cgroup_cpu_limit(tmp_path / "absent", Path(tmp_path / "none")) is None
