"""How a measured value is written for people: the one home of duration
and rate formatting.

- ``format_duration``: the report pages and plots ("3.2 ms", "41.7 µs");
- ``format_value``: compact, for the comparison tables and the evidence's
  descriptions ("3.2ms", "117 GFLOP/s");
- ``format_seconds``: as the tutorial prints its times, seconds with three
  decimals from 1 s on (``seed`` and ``advise`` set their figures beside it);
- ``format_minutes``: how long a command takes or has left ("1m05s", "42s").
"""

import math

# (seconds per unit, compact suffix, page suffix), largest first
_SCALES = ((1, "s", "s"), (1e-3, "ms", "ms"), (1e-6, "us", "µs"), (1e-9, "ns", "ns"))


def format_duration(seconds):
    """3 significant digits in the unit a reader expects; "—" for none."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    for scale, _compact, suffix in _SCALES:
        if seconds >= scale or suffix == "ns":
            return f"{seconds / scale:.3g} {suffix}"


def format_seconds(value):
    """3 decimals in seconds from 1 s on, then ms, then us below 0.1 ms; "-" for none."""
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.3f} s"
    return f"{value * 1e3:.3g} ms" if value >= 1e-4 else f"{value * 1e6:.3g} us"


def format_minutes(seconds):
    """Whole seconds, as minutes and seconds from a minute on: "42s", "1m05s"."""
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def format_value(value, unit):
    """12.3ms, 4.17us, 117 GFLOP/s; "-" for no value."""
    if value is None:
        return "-"
    if unit == "seconds":
        for scale, suffix, _page in _SCALES:
            if abs(value) >= scale or suffix == "ns":
                return f"{value / scale:.3g}{suffix}"
    # Long units ("major*10000+minor*100+patch") would swamp the table.
    return f"{value:.4g} {unit}" if 0 < len(unit) <= 8 else f"{value:.4g}"
