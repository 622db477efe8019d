"""The ``npthreads`` command line.

Each subcommand lives in its own module exposing ``add_arguments(parser)``
and ``run(args) -> exit code``; modules are imported only when their command
runs, so ``npthreads --help`` stays fast. Bad input is one line on stderr
and exit code 2, never a traceback.
"""

import argparse
import importlib
import sys

from . import UsageError, __version__

# name -> (module, one-line help)
COMMANDS = {
    "bench": ("npthreads.bench", "run the asv suite over the numpy matrix, then publish"),
    "publish": ("npthreads.publish", "build the HTML site from the results"),
    "seed": ("npthreads.seed", "re-measure the tutorial's S1-S7 on this machine, with verdicts"),
    "advise": ("npthreads.advise", "recommend Python threads x BLAS threads for a workload"),
    "compare": ("npthreads.compare", "compare two environments or two commits; exit 1 on slowdowns"),
    "bisect": ("npthreads.bisect",
               "which OpenBLAS build changed a row between two numpys, and does numpy play a part?"),
    "reproducibility": ("npthreads.reproduce",
                        "do the verdicts of several committed runs agree? (A/A included)"),
    "merge": ("npthreads.fleet",
              "merge other machines' result folders (e.g. CI artifacts) into results/"),
    # module:attribute where one module serves two commands
    "machine-name": ("npthreads.fleet:name_command",
                     "print the name a CI runner registers under (os, arch, CPU, cores)"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser():
    parser = _Parser(prog="npthreads", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"npthreads {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser, sub


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser, sub = build_parser()
        # The command's module adds its own options before the full parse
        # (so `npthreads compare --help` lists them); it is the first word
        # that names a command.
        command = next((word for word in argv if word in COMMANDS), None)
        if command is None:
            args = parser.parse_args(argv)  # --help, --version or an error
            parser.print_help()
            return 2
        module_name, _, attribute = COMMANDS[command][0].partition(":")
        module = importlib.import_module(module_name)
        module = getattr(module, attribute) if attribute else module
        module.add_arguments(sub.choices[command])
        args = parser.parse_args(argv)
        return module.run(args) or 0
    except UsageError as err:
        print(f"npthreads: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npthreads: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
