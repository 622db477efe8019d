"""The BLAS facts of an environment, as numbers asv can store.

asv's ``track_`` benchmarks can only return numbers, yet the report must say
which BLAS each environment ran: library, version, threading layer, the CPU
kernel OpenBLAS picked at run time (DYNAMIC_ARCH). Keeping them in asv's own
result files (rather than a side file) means they are committed, compared
and published with the timings. Categorical facts are stored as their index
in a fixed, append-only table; 0 means "other / unknown".
"""

LIBRARIES = ("other", "openblas", "mkl", "blis", "flexiblas", "accelerate")
THREADING_LAYERS = ("other", "pthreads", "openmp", "disabled", "tbb", "sequential", "intel")
# OpenBLAS kernel names as threadpoolctl reports them (x86-64 and arm64).
# Append only: the index is what results store.
ARCHITECTURES = (
    "other", "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
    "Sandybridge", "Haswell", "SkylakeX", "Cooperlake", "SapphireRapids",
    "Opteron", "Barcelona", "Bobcat", "Bulldozer", "Piledriver", "Steamroller",
    "Excavator", "Zen", "armv8", "cortexa53", "cortexa55", "cortexa57",
    "cortexa72", "cortexa73", "neoversen1", "neoversen2", "neoversev1",
    "neoversev2", "thunderx", "thunderx2t99", "tsv110", "emag8180", "falkor",
    "a64fx", "armv8sve", "vortex",
)


def encode(table, name):
    """Index of ``name`` in ``table`` (case-insensitive), 0 if absent."""
    lowered = [entry.lower() for entry in table]
    text = str(name or "").lower()
    return lowered.index(text) if text in lowered else 0


def decode(table, code):
    try:
        index = int(code)
    except (TypeError, ValueError):
        return "unknown"
    return table[index] if 0 <= index < len(table) else "unknown"


def version_number(text):
    """'0.3.31.188.0' -> 331 (major*10000 + minor*100 + patch): plottable."""
    parts = []
    for piece in str(text or "").split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    parts += [0] * (3 - len(parts))
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


def version_text(number):
    """331 -> '0.3.31'; the inverse of ``version_number``."""
    number = int(number)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def describe(info):
    """threadpoolctl's dict for one library -> the coded facts a track stores."""
    if not info:
        return {"library": 0, "version": 0, "threading_layer": 0, "architecture": 0,
                "default_threads": 0}
    return {
        "library": encode(LIBRARIES, info.get("internal_api")),
        "version": version_number(info.get("version")),
        "threading_layer": encode(THREADING_LAYERS, info.get("threading_layer")),
        "architecture": encode(ARCHITECTURES, info.get("architecture")),
        "default_threads": int(info.get("num_threads") or 0),
    }
