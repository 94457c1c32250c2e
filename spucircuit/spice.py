"""Deprecated alias of the former module ``spucircuit.spice`` (now spucircuit.io.spice and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'OPAMP_FINITE': 'spucircuit.io.spice._cards',
    'OPAMP_IDEAL': 'spucircuit.io.spice._cards',
    'format_value': 'spucircuit._util.quantities',
    'parse_spice': 'spucircuit.io.spice.reader',
    'parse_value': 'spucircuit.io.spice.expressions',
    'read_spice': 'spucircuit.io.spice.reader',
    'write_spice': 'spucircuit.io.spice.writer',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
