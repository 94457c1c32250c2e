"""spucircuit: circuit-level digital twin of a thermodynamic stochastic processing unit (SPU).

Short API: :func:`solve`, :func:`inv` (thermodynamic linear algebra on the twin),
:func:`integrator_array` (matrix -> circuit), :func:`compile_netlist` (circuit -> SDE),
:class:`SPU` (the device twin), :class:`Netlist`. SI units throughout.
"""
from .capacitive import CapacitiveCircuit, capacitive_inv, capacitive_sample, capacitive_spu, diagonal_rescaling
from .compiler import StateSpace, compile_netlist
from .device import SPU, RunResult
from .errors import MatrixError, NetlistError, ParseError, RealizabilityError, SPUError, StepError
from .mapping import MappedCircuit, integrator_array
from .netlist import Netlist
from .solvers import inv, solve
from .spice import read_spice, write_spice
from .graph import plot_coupling_graph, to_graphml
from .validation import check_spd, random_spd

__all__ = [
    "Netlist", "integrator_array", "MappedCircuit", "compile_netlist", "StateSpace", "SPU",
    "RunResult", "solve", "inv", "random_spd", "check_spd", "SPUError", "NetlistError",
    "MatrixError", "RealizabilityError", "StepError", "ParseError", "capacitive_spu",
    "capacitive_inv", "capacitive_sample", "CapacitiveCircuit", "diagonal_rescaling", "to_graphml",
    "plot_coupling_graph", "read_spice", "write_spice",
]
__version__ = "0.1.0"
