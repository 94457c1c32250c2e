"""Deprecated alias of the former module ``spucircuit.compiler`` (now spucircuit.statespace.mna and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'StateSpace': 'spucircuit.statespace.model',
    'compile_netlist': 'spucircuit.statespace.mna',
    'noise_factor': 'spucircuit.statespace.model',
    'noise_sources': 'spucircuit.circuit.noise',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
