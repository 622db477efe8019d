"""How a measured value is written for people: one formatter for durations
and rates, used by the comparison, the reproducibility report and the
evidence's descriptions."""


def format_value(value, unit):
    """12.3ms, 4.17us, 117 GFLOP/s; "-" for no value."""
    if value is None:
        return "-"
    if unit == "seconds":
        for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or suffix == "ns":
                return f"{value / scale:.3g}{suffix}"
    # Long units ("major*10000+minor*100+patch") would swamp the table.
    return f"{value:.4g} {unit}" if 0 < len(unit) <= 8 else f"{value:.4g}"
