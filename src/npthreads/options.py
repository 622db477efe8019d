"""Options several commands share, declared once so they read and default
the same everywhere (``compare``, ``reproducibility``)."""

from .evidence import FACTOR


def add_results_options(parser):
    """--results and --machine: which machine's results a command reads.
    ``parser`` may be an argument group."""
    parser.add_argument("--results", metavar="DIR",
                        help="asv results directory (default: results/ of the repository)")
    parser.add_argument("--machine", metavar="NAME",
                        help="machine whose results to read (default: the only one, else "
                             "this host's)")


def add_factor_option(parser, help_text="the least change worth a verdict, whatever "
                                        "the resolution"):
    """--factor: the least change a verdict calls slower or faster."""
    parser.add_argument("--factor", type=float, default=FACTOR,
                        help=f"{help_text} (default {FACTOR})")
