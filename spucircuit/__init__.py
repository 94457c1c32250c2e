"""spucircuit: circuit-level digital twin of a thermodynamic stochastic processing unit (SPU).

Short API: :func:`solve`, :func:`inv` (thermodynamic linear algebra on the twin),
:func:`integrator_array` (matrix -> circuit), :func:`compile_netlist` (circuit -> SDE),
:class:`SPU` (the device twin), :class:`Netlist`. SI units throughout.
"""
from spucircuit.circuit.capacitive_array import (
    CapacitiveCircuit,
    capacitive_inv,
    capacitive_sample,
    capacitive_spu,
    diagonal_rescaling,
)
from spucircuit.statespace.mna import StateSpace, compile_netlist
from spucircuit.device.spu import SPU, RunResult
from spucircuit.errors import MatrixError, NetlistError, ParseError, RealizabilityError, SPUError, StepError
from spucircuit.circuit.integrator_array import MappedCircuit, integrator_array
from spucircuit.circuit.netlist import Netlist
from spucircuit.linalg.solve import inv, solve
from spucircuit.io.spice import read_spice, write_spice
from spucircuit.io.graphml import plot_coupling_graph, to_graphml
from spucircuit.numerics.matrices import check_spd, random_spd

__all__ = [
    "Netlist", "integrator_array", "MappedCircuit", "compile_netlist", "StateSpace", "SPU",
    "RunResult", "solve", "inv", "random_spd", "check_spd", "SPUError", "NetlistError",
    "MatrixError", "RealizabilityError", "StepError", "ParseError", "capacitive_spu",
    "capacitive_inv", "capacitive_sample", "CapacitiveCircuit", "diagonal_rescaling", "to_graphml",
    "plot_coupling_graph", "read_spice", "write_spice",
]
__version__ = "0.1.0"
