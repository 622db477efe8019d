"""Facts about the machine that decide how many threads make sense.

Thread counts in the benchmark grid are labels relative to the machine
("cores", "2xcores"), so the results of a 2-core laptop and a 64-core server
line up; this module turns a label into a count and says how much memory a
workload may take before it would be OOM-killed instead of skipped.
"""

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import UsageError

# Labels in the order the grids and the reports list them.
THREAD_LABELS = ("1", "halfcores", "cores", "2xcores", "4xcores")


def _quota_in(directory):
    """CPUs a cgroup directory's own quota allows (v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), or None."""
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def _cgroup_cpu_limit(proc=Path("/proc/self/cgroup"), root=Path("/sys/fs/cgroup")):
    """CPUs allowed by a cgroup quota on this process, v2 or v1, its own
    cgroup's or an ancestor's (the tightest), or None when unlimited. A
    container given ``--cpus=1`` sees every CPU of the host: the quota is
    the only place the limit shows."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        lines = []
    found = []
    for line in lines or ["0::/"]:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        names = controllers.split(",")
        if controllers == "":
            bases = [root, root / "unified"]
        elif "cpu" in names:
            bases = [root / "cpu", root / controllers]
        else:
            continue
        parts = [p for p in path.strip().split("/") if p]
        for base in bases:
            for depth in range(len(parts), -1, -1):
                quota = _quota_in(base.joinpath(*parts[:depth]))
                if quota:
                    found.append(quota)
    return max(1, int(min(found))) if found else None


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
    """(total, available) physical memory in bytes: /proc/meminfo on Linux
    (available counts reclaimable cache), sysctl and vm_stat on macOS,
    GlobalMemoryStatusEx on Windows, else sysconf."""
    try:
        fields = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, value = line.split(":", 1)
                fields[key] = int(value.split()[0]) * 1024
        return fields["MemTotal"], fields.get("MemAvailable", fields["MemFree"])
    except (OSError, KeyError, ValueError):
        pass
    if sys.platform == "darwin":
        found = _darwin_memory()
        if found:
            return found
    if sys.platform == "win32":
        return _windows_memory()
    page = os.sysconf("SC_PAGE_SIZE")
    return (os.sysconf("SC_PHYS_PAGES") * page,
            os.sysconf("SC_AVPHYS_PAGES") * page)


def _run(*cmd):
    """A command's stdout, or None where it is missing or fails (the OS's
    own tools: sysctl, vm_stat)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def sysctl(name):
    """macOS's ``sysctl -n NAME`` as an int, or None where the name does not
    exist (Apple silicon has no hw.l3cachesize) or is not a number. One name
    a call: asked for several, sysctl drops the missing ones' lines."""
    text = sysctl_text(name)
    try:
        return int(text.split()[0]) if text else None
    except ValueError:
        return None


def sysctl_text(name):
    """``sysctl -n NAME`` as text, or None."""
    text = _run("sysctl", "-n", name)
    return text.strip() if text and text.strip() else None


def _darwin_memory():
    """(total, available) from ``hw.memsize`` and vm_stat's free, inactive,
    speculative and purgeable pages (what macOS can hand out without
    swapping), or None."""
    total = sysctl("hw.memsize")
    text = _run("vm_stat")
    if not total or not text:
        return None
    page = re.search(r"page size of (\d+) bytes", text)
    pages = 0
    for kind in ("free", "inactive", "speculative", "purgeable"):
        match = re.search(rf"^Pages {kind}:\s+(\d+)", text, re.MULTILINE)
        pages += int(match.group(1)) if match else 0
    size = int(page.group(1)) if page else 4096
    return total, min(total, pages * size)


def _windows_memory():
    """(total, available) from GlobalMemoryStatusEx."""
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong),
                    ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong),
                    ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
    return status.ullTotalPhys, status.ullAvailPhys


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
    """The CPU's model name, as asv's machine.json records it: /proc/cpuinfo
    on Linux, ``machdep.cpu.brand_string`` on macOS ("Apple M1 (Virtual)";
    platform.processor() says only "arm"), the registry on Windows."""
    try:
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    arm = _arm_core(cpuinfo)
    if arm:
        return arm
    if sys.platform == "darwin":
        brand = sysctl_text("machdep.cpu.brand_string")
        if brand:
            return brand
    if sys.platform == "win32":
        try:
            import winreg
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                                r"HARDWARE\DESCRIPTION\System\CentralProcessor\0") as key:
                return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


# Arm Linux's /proc/cpuinfo has no model name, only the implementer and part
# numbers (lscpu's table): the cores of the Arm servers CI runners use.
_ARM_PARTS = {(0x41, 0xd0c): "Neoverse-N1", (0x41, 0xd40): "Neoverse-V1",
              (0x41, 0xd49): "Neoverse-N2", (0x41, 0xd4f): "Neoverse-V2",
              (0x41, 0xd8e): "Neoverse-N3", (0x41, 0xd84): "Neoverse-V3",
              (0x41, 0xd08): "Cortex-A72", (0x41, 0xd0b): "Cortex-A76",
              (0xc0, 0xac3): "Ampere-1", (0xc0, 0xac4): "Ampere-1a"}


def _arm_core(cpuinfo):
    """The core an Arm /proc/cpuinfo names by number ("ARM Neoverse-N2", or
    "ARM implementer 0x41 part 0xd99" for a part not in the table), or None."""
    implementer = re.search(r"^CPU implementer\s*:\s*(0x[0-9a-fA-F]+)", cpuinfo, re.MULTILINE)
    part = re.search(r"^CPU part\s*:\s*(0x[0-9a-fA-F]+)", cpuinfo, re.MULTILINE)
    if not implementer or not part:
        return None
    key = (int(implementer.group(1), 16), int(part.group(1), 16))
    vendor = {0x41: "ARM", 0xc0: "Ampere"}.get(key[0], f"implementer {implementer.group(1)}")
    name = _ARM_PARTS.get(key)
    return f"{vendor} {name}" if name else f"{vendor} part {part.group(1)}"


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


def cache_levels(root=None):
    """The data and unified cache levels of this machine, smallest first:
    from sysfs where it exists (Linux; ``root`` is another sysfs cpu folder,
    for the tests), from sysctl on macOS (``darwin_cache_levels``); an empty
    list where neither says (Windows: not read; ``no_cache_reason`` says why
    a level is missing)."""
    if os.path.isdir(root or _SYSFS_CPU):
        return _sysfs_cache_levels(root or _SYSFS_CPU)
    if root is None and sys.platform == "darwin":
        return darwin_cache_levels()
    return []


def no_cache_reason(level, root=None):
    """One line: why ``cache_levels`` has no ``level`` ("L2", "L3") here."""
    if os.path.isdir(root or _SYSFS_CPU):
        return f"sysfs ({root or _SYSFS_CPU}) reports no {level} cache on this machine"
    if root is None and sys.platform == "darwin":
        return f"macOS's sysctl reports no {level} cache size on this machine"
    return (f"no {level} cache size: {platform.system() or 'this OS'} has no sysfs and "
            "its own interface is not read here")


def darwin_cache_levels(text=None):
    """Cache levels from macOS's sysctl. On Apple silicon the performance
    cores' level (``hw.perflevel0.*``: an L2 shared by each cluster of
    ``cpusperl2`` cores) and no L3 (the system cache is not reported); on
    Intel Macs ``hw.l2cachesize`` and ``hw.l3cachesize``, with
    ``hw.cacheconfig`` saying how many logical CPUs share each level
    (index 1 = L1, 2 = L2, 3 = L3). A level whose sharing is not reported
    counts once. ``text`` is ``sysctl_text`` (a fake in the tests)."""
    text = text or sysctl_text

    def number(name):
        value = text(name)
        try:
            return int(value.split()[0]) if value and value.split() else None
        except ValueError:
            return None

    logical = number("hw.logicalcpu") or number("hw.ncpu") or 1
    try:
        sharing = [int(v) for v in (text("hw.cacheconfig") or "").split()]
    except ValueError:
        sharing = []

    def instances(index, cores=logical, per=None):
        per = per or (sharing[index] if index < len(sharing) else 0)
        return max(1, cores // per) if per > 0 else 1

    levels = []
    l1d = number("hw.perflevel0.l1dcachesize") or number("hw.l1dcachesize")
    if l1d:
        private = len(sharing) < 2 or sharing[1] <= 0   # unknown: one per logical CPU
        levels.append(CacheLevel("L1d", l1d, logical if private else instances(1)))
    perf_l2 = number("hw.perflevel0.l2cachesize")
    if perf_l2:
        cores = (number("hw.perflevel0.logicalcpu") or number("hw.perflevel0.physicalcpu")
                 or logical)
        per = number("hw.perflevel0.cpusperl2") or cores
        levels.append(CacheLevel("L2", perf_l2, instances(2, cores, per)))
    elif number("hw.l2cachesize"):
        levels.append(CacheLevel("L2", number("hw.l2cachesize"), instances(2)))
    if number("hw.l3cachesize"):
        levels.append(CacheLevel("L3", number("hw.l3cachesize"), instances(3)))
    return levels


def _sysfs_cache_levels(root):
    """Cache levels from sysfs. Each distinct ``shared_cpu_list`` counts as
    one instance: on this 2-vCPU EPYC L2 is 512 KiB per core (two
    instances), L3 32 MiB shared (one)."""
    found = {}
    for cpu in sorted(os.listdir(root)):
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
