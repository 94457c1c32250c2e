"""spucircuit: circuit-level digital twin of a thermodynamic stochastic processing unit (SPU).

Short API: :func:`solve`, :func:`inv` (thermodynamic linear algebra on the twin),
:func:`integrator_array` (matrix -> circuit), :func:`compile_netlist` (circuit -> SDE),
:class:`SPU` (the device twin), :class:`Netlist`. SI units throughout.
"""
from spucircuit.circuit.capacitive_array import CapacitiveCircuit, capacitive_spu, diagonal_rescaling
from spucircuit.circuit.integrator_array import MappedCircuit, integrator_array
from spucircuit.circuit.netlist import Netlist
from spucircuit.device.spu import SPU, RunResult
from spucircuit.errors import MatrixError, NetlistError, ParseError, RealizabilityError, SPUError, StepError
from spucircuit.io.graphml import to_graphml
from spucircuit.io.spice import read_spice, write_spice
from spucircuit.linalg.capacitive import capacitive_inv, capacitive_sample
from spucircuit.linalg.conditional import conditional
from spucircuit.linalg.expm import expm, expnegm
from spucircuit.linalg.logdet import logdet
from spucircuit.linalg.lyapunov import lyap
from spucircuit.linalg.sample import sample
from spucircuit.linalg.solve import inv, solve
from spucircuit.numerics.matrices import check_spd, random_spd
from spucircuit.report.graph_plot import plot_coupling_graph
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.model import StateSpace

__all__ = [
    "Netlist", "integrator_array", "MappedCircuit", "compile_netlist", "StateSpace", "SPU",
    "RunResult", "solve", "inv", "random_spd", "check_spd", "SPUError", "NetlistError",
    "MatrixError", "RealizabilityError", "StepError", "ParseError", "capacitive_spu",
    "capacitive_inv", "capacitive_sample", "sample", "lyap", "conditional", "expm", "expnegm", "logdet",
    "CapacitiveCircuit", "diagonal_rescaling", "to_graphml",
    "plot_coupling_graph", "read_spice", "write_spice",
]
__version__ = "0.1.0"

# the composition root injects the edge's progress bar as the meaning of progress=True
from spucircuit._util.progress import set_default_meter  # noqa: E402
from spucircuit.report.progress import TqdmProgressMeter  # noqa: E402

set_default_meter(TqdmProgressMeter)
