"""The package's own exceptions. Every bad input raises one of these, with a message naming it."""
import contextlib
import sys
import warnings


class SPUError(Exception):
    """Base class of every error this package raises on purpose."""


class NetlistError(SPUError, ValueError):
    """A netlist is malformed: bad value, duplicate name, dangling or floating node, singular circuit."""


class MatrixError(SPUError, ValueError):
    """A matrix or vector argument is unusable: wrong shape, NaN/inf, not symmetric, not positive definite."""


class RealizabilityError(SPUError, ValueError):
    """A scaled matrix entry cannot be realised by a component inside the allowed value range."""


class CostError(SPUError, ValueError):
    """A cost-model parameter or size is unusable (non-positive rate, bits out of range, ...)."""


class StepError(SPUError, ValueError):
    """A user-given time step is unstable (or otherwise unusable) for the chosen integration scheme."""


class ParseError(SPUError, ValueError):
    """A quantity such as '50tau' or '10us' could not be parsed."""


class SpiceError(NetlistError):
    """A SPICE netlist cannot be read or written: names the file, the line number and what is wrong.

    ``filename`` and ``lineno`` (1-based, or None) are kept as attributes; ``reason`` is the bare
    message without the location prefix.
    """

    def __init__(self, reason: str, filename: str | None = None, lineno: int | None = None):
        self.reason = str(reason)
        self.filename = filename
        self.lineno = lineno
        where = filename or "<netlist>"
        if lineno is not None:
            where = f"{where}:{lineno}"
        super().__init__(f"{where}: {self.reason}")


class StudyError(SPUError):
    """A study knob, sweep or matrix file is unusable."""


class Interrupted(SPUError):
    """The user stopped a long run (Ctrl-C); the message says what was kept. Exit status 130."""


class ShortRunWarning(UserWarning):
    """A run was given less analog time than its answer needs: the message states the expected error."""


class ClippingWarning(UserWarning):
    """A converter clipped: some values were outside its full-scale range (counts in the result)."""


class SpiceValueWarning(UserWarning):
    """A SPICE value read as ngspice reads it, where the text suggests another meaning (``4K7``)."""


class NoiseModelWarning(UserWarning):
    """A noise the time-domain twin does not carry (a resistor's flicker noise): named, never dropped silently."""


MESSAGE_MAX_CHARS = 600


def one_line(exc_or_text, limit: int = MESSAGE_MAX_CHARS) -> str:
    """An error message as one terminal line: newlines folded, and the middle of a message longer
    than ``limit`` characters elided (a 10 MB token must not become a 10 MB error line)."""
    text = " ".join(str(exc_or_text).split("\n"))
    if len(text) > limit:
        keep = (limit - 25) // 2
        text = f"{text[:keep]} ... [{len(text) - 2 * keep} characters] ... {text[-keep:]}"
    return text


def unexpected_line(prog: str, exc: BaseException) -> str:
    """The one line a command prints for an exception the package did not raise on purpose (a bug,
    or a resource the checks did not foresee): its type and message, and how to see the traceback."""
    if isinstance(exc, MemoryError):
        return (f"{prog}: error: out of memory ({one_line(exc) or 'MemoryError'}): make the problem smaller "
                "(fewer --chains, a shorter run, a smaller n); rerun with --debug for the traceback")
    return (f"{prog}: internal error: {type(exc).__name__}: {one_line(exc, 300)} (not a known bad input: "
            "rerun with --debug for the traceback and report it)")


@contextlib.contextmanager
def one_line_warnings(prog: str):
    """A context in which every warning prints as one line ``PROG: warning: message`` on stderr
    (instead of Python's file, line and source echo): the commands' form."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def pop_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``--debug`` anywhere on a command line (before or after the subcommand): removed, and True."""
    return [a for a in argv if a != "--debug"], "--debug" in argv
