"""Deprecated alias of the former module ``spucircuit.mitigation`` (now spucircuit.linalg.mitigation and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'Ensemble': 'spucircuit.linalg.mitigation',
    'eps_scan': 'spucircuit.linalg.mitigation',
    'fit_slope': 'spucircuit.linalg.mitigation',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
