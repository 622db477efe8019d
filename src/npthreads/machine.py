"""Facts about the machine that decide how many threads make sense.

Thread counts in the benchmark grid are labels relative to the machine
("cores", "2xcores"), so the results of a 2-core laptop and a 64-core server
line up; this module turns a label into a count and says how much memory a
workload may take before it would be OOM-killed instead of skipped.
"""

import os
import platform
import re
from dataclasses import dataclass

from . import UsageError

# Labels in the order the grids and the reports list them.
THREAD_LABELS = ("1", "halfcores", "cores", "2xcores", "4xcores")


def _cgroup_cpu_limit():
    """CPUs allowed by a cgroup v2 quota (containers), or None when unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, int(int(quota) / int(period)))


def usable_cores():
    """Cores this process may run on: affinity mask and cgroup quota, not the
    host's total, which is what os.cpu_count() and ThreadPool() use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return min(cores, limit) if limit else cores


def resolve_threads(label, cores=None):
    """Turn a thread label ("1", "cores", "2xcores", "halfcores", "3") into a
    count. Raises UsageError with a one-line reason for anything else."""
    cores = usable_cores() if cores is None else cores
    text = str(label).strip()
    if text == "cores":
        return cores
    if text == "halfcores":
        return max(1, cores // 2)
    match = re.fullmatch(r"(\d+)xcores", text)
    if match:
        factor = int(match.group(1))
        if factor < 1:
            raise UsageError(f"thread label {label!r}: factor must be at least 1")
        return factor * cores
    try:
        count = int(text)
    except ValueError:
        raise UsageError(
            f"thread count {label!r} is neither a number nor one of "
            f"{', '.join(THREAD_LABELS)}"
        ) from None
    if count < 1:
        raise UsageError(f"thread count {label!r} must be at least 1")
    return count


def memory_bytes():
    """(total, available) physical memory in bytes, from /proc/meminfo where
    it exists (available counts reclaimable cache), else sysconf."""
    try:
        fields = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, value = line.split(":", 1)
                fields[key] = int(value.split()[0]) * 1024
        return fields["MemTotal"], fields.get("MemAvailable", fields["MemFree"])
    except (OSError, KeyError, ValueError):
        page = os.sysconf("SC_PAGE_SIZE")
        return (os.sysconf("SC_PHYS_PAGES") * page,
                os.sysconf("SC_AVPHYS_PAGES") * page)


def check_fits(nbytes, what, headroom=0.8):
    """Refuse, before allocating, a workload that would not fit in memory.

    Returns None when it fits, else a one-line reason. A benchmark turns the
    reason into a skip and the command line into an error, so an oversized
    request never ends in the kernel's OOM killer."""
    _, available = memory_bytes()
    if nbytes > headroom * available:
        return (f"{what} needs {nbytes / 2**30:.1f} GiB; {available / 2**30:.1f} GiB "
                f"of memory is available and {1 - headroom:.0%} of it is kept free")
    return None


def wait_until_fits(nbytes, what, seconds=20.0, headroom=0.8):
    """``check_fits``, but give memory that is being freed time to come back.

    A process that has just released gigabytes (the previous benchmark,
    still exiting) leaves MemAvailable low for seconds, more so on a VM with
    a memory balloon; skipping then would depend on what ran before. Waits
    only when the machine's total memory could hold the request."""
    import time
    total, _ = memory_bytes()
    deadline = time.monotonic() + seconds
    reason = check_fits(nbytes, what, headroom)
    while reason and nbytes <= headroom * total and time.monotonic() < deadline:
        time.sleep(0.5)
        reason = check_fits(nbytes, what, headroom)
    return reason


def cpu_model():
    """The CPU's model name, as asv's machine.json records it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts():
    """The machine half of the facts a report shows next to each result."""
    total, available = memory_bytes()
    return {
        "usable_cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "os_family": platform.system(),
        "memory_total_bytes": total,
        "memory_available_bytes": available,
    }


@dataclass(frozen=True)
class CacheLevel:
    """One data cache level as the kernel describes it."""
    name: str          # "L1d", "L2", "L3"
    size: int          # bytes of one instance
    instances: int     # how many instances the usable CPUs share out

    @property
    def total(self):
        """Bytes of this level across the machine: what a working set split
        over one thread per core can keep resident."""
        return self.size * self.instances


_SYSFS_CPU = "/sys/devices/system/cpu"


def _sysfs_size(text):
    """'512K' / '32768K' / '1M' -> bytes."""
    text = text.strip()
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:].upper(), 1)
    return int(text.rstrip("KMGkmg")) * scale


def cache_levels(root=_SYSFS_CPU):
    """The data and unified cache levels of this machine, smallest first,
    read from sysfs (Linux). Each distinct ``shared_cpu_list`` counts as one
    instance: on this 2-vCPU EPYC L2 is 512 KiB per core (two instances), L3
    32 MiB shared (one). An empty list where sysfs does not say."""
    found = {}
    for cpu in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        cache_dir = os.path.join(root, cpu, "cache")
        if not re.fullmatch(r"cpu\d+", cpu) or not os.path.isdir(cache_dir):
            continue
        for index in os.listdir(cache_dir):
            path = os.path.join(cache_dir, index)
            try:
                def read(field):
                    with open(os.path.join(path, field)) as f:
                        return f.read().strip()
                kind, level = read("type"), int(read("level"))
                size, shared = _sysfs_size(read("size")), read("shared_cpu_list")
            except (OSError, ValueError):
                continue
            if kind == "Instruction":
                continue
            name = f"L{level}d" if kind == "Data" else f"L{level}"
            found.setdefault((level, name, size), set()).add(shared)
    return [CacheLevel(name, size, len(shared))
            for (_level, name, size), shared in sorted(found.items())]
