"""Deprecated alias of the former module ``spucircuit.factored`` (now spucircuit.circuit.factored_array and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'ChainDrift': 'spucircuit.statespace.chain',
    'DENSE_MAX_N': 'spucircuit.statespace.chain',
    'EULER_SAFETY': 'spucircuit.integrate.discretize',
    'ExpDiscretization': 'spucircuit.integrate.chain_exponential',
    'FabricationMismatch': 'spucircuit.imperfections.factored',
    'FactoredCircuit': 'spucircuit.circuit.factored_array',
    'FactoredComponents': 'spucircuit.circuit.factored_components',
    'FactoredRunResult': 'spucircuit.device.base:RunResult',
    'FactoredSPU': 'spucircuit.device.factored_spu',
    'FactoredScales': 'spucircuit.circuit.factored_array',
    'NETLIST_MAX_RESISTORS': 'spucircuit.circuit.factored_array',
    'SAMPLE_BYTES_MAX': 'spucircuit.device.factored_spu',
    'components_from_netlist': 'spucircuit.circuit.factored_components',
    'conductance_grid': 'spucircuit.numerics.quantize',
    'counter_uniforms': 'spucircuit._util.keys',
    'exponential_discretization': 'spucircuit.integrate.chain_exponential',
    'exponential_step': 'spucircuit.integrate.chain_exponential',
    'exponential_step_dense': 'spucircuit.integrate.chain_exponential',
    'factored_circuit': 'spucircuit.circuit.factored_array',
    'imperfect_components': 'spucircuit.imperfections.factored',
    'measure_input_gains': 'spucircuit.imperfections.factored',
    'perturb_netlist_resistors': 'spucircuit.circuit.factored_components',
    'quantize_array': 'spucircuit.numerics.quantize',
    'quantize_h_blocks': 'spucircuit.numerics.quantize',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
