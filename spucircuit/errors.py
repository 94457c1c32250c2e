"""The package's own exceptions. Every bad input raises one of these, with a message naming it."""


class SPUError(Exception):
    """Base class of every error this package raises on purpose."""


class NetlistError(SPUError, ValueError):
    """A netlist is malformed: bad value, duplicate name, dangling or floating node, singular circuit."""


class MatrixError(SPUError, ValueError):
    """A matrix or vector argument is unusable: wrong shape, NaN/inf, not symmetric, not positive definite."""


class RealizabilityError(SPUError, ValueError):
    """A scaled matrix entry cannot be realised by a component inside the allowed value range."""


class StepError(SPUError, ValueError):
    """A user-given time step is unstable (or otherwise unusable) for the chosen integration scheme."""


class ParseError(SPUError, ValueError):
    """A quantity such as '50tau' or '10us' could not be parsed."""
