"""The names of a comparison's verdicts and its exit codes: one home, read by
the comparison (``compare``), its renderers (``compare_report``) and the
reproducibility report, so none of them imports another for a string."""

SLOWER, FASTER, UNCHANGED, TOO_FEW = "slower", "faster", "unchanged", "too few rounds"
UNSTABLE = "unstable"
FAILED, SKIPPED, MISSING, TRACKED = "failed", "skipped", "missing", "tracked"
INVALID = "invalid"   # a value in a result file no report can use
# In the order the summaries list them.
VERDICTS = (SLOWER, FASTER, UNSTABLE, UNCHANGED, TOO_FEW, FAILED, INVALID, SKIPPED, MISSING,
            TRACKED)
CHANGED = (SLOWER, FASTER, UNSTABLE, FAILED)

EXIT_OK, EXIT_SLOWER = 0, 1


def counts(rows, attribute="verdict"):
    """verdict -> how many rows carry it (every verdict present, zeros too);
    ``attribute`` "pooled" counts the verdicts pooled over runs instead."""
    out = dict.fromkeys(VERDICTS, 0)
    for r in rows:
        verdict = getattr(r, attribute)
        if verdict:
            out[verdict] += 1
    return out
