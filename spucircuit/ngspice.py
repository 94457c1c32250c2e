"""Deprecated alias of the former module ``spucircuit.ngspice`` (now spucircuit.io.ngspice and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'DEFAULT_TIMEOUT_S': 'spucircuit.io.ngspice',
    'NgspiceError': 'spucircuit.io.ngspice',
    'NgspiceResult': 'spucircuit.io.ngspice',
    'find_ngspice': 'spucircuit.io.ngspice',
    'ngspice_available': 'spucircuit.io.ngspice',
    'run_ngspice': 'spucircuit.io.ngspice',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
