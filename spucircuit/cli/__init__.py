"""The ``spu`` command line. Every subcommand has --help; errors print one line and exit 2.

Each subcommand lives in its own module with a ``register(subparsers)`` function; this module only
assembles the parser and runs the chosen command.
"""
from __future__ import annotations

import argparse
import os
import sys

from spucircuit.cli import cost, demo, gaussian, linalg, matfun, spice, study
from spucircuit.device import base as device_base
from spucircuit.errors import (
    Interrupted,
    SPUError,
    one_line,
    one_line_warnings,
    pop_debug,
    unexpected_line,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``spu`` argument parser with every subcommand."""
    p = argparse.ArgumentParser(
        prog="spu", description="Circuit-level digital twin of a thermodynamic SPU (SI units throughout).")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an unexpected error (anywhere on the command line)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True
    for module in (linalg, gaussian, matfun, demo, spice, study, cost):
        module.register(sub)
    return p


def main(argv=None) -> int:
    """Run ``spu`` with ``argv`` (default: the process arguments); returns the exit status."""
    argv, debug = pop_debug(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    saved_limits = device_base.MAX_RUN_S, device_base.MAX_MEMORY_BYTES  # --max-run-time, --max-memory: this command only
    device_base.reset_ledger()
    device_base.ON_ESTIMATE = lambda text: print(f"spu {args.cmd}: {text}", file=sys.stderr, flush=True)
    try:
        with one_line_warnings(f"spu {args.cmd}"):
            return args.func(args)
    except Interrupted as exc:
        print(f"spu {args.cmd}: {one_line(exc)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (outputs are written atomically: none is half-written)
        print(f"spu {args.cmd}: interrupted", file=sys.stderr)
        return 130
    except SPUError as exc:
        print(f"spu {args.cmd}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (spu ... | head): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except Exception as exc:  # not raised on purpose: one line and the way to the traceback
        if debug:
            raise
        print(unexpected_line(f"spu {args.cmd}", exc), file=sys.stderr)
        return 1
    finally:
        device_base.MAX_RUN_S, device_base.MAX_MEMORY_BYTES = saved_limits
        device_base.ON_ESTIMATE = None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
