"""Deprecated alias of the former module ``spucircuit.calibration`` (now spucircuit.linalg.calibration and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'Calibration': 'spucircuit.linalg.calibration',
    'calibrate': 'spucircuit.linalg.calibration',
    'calibrated_device': 'spucircuit.linalg.calibration',
    'measure_offset': 'spucircuit.linalg.calibration',
    'round_robin': 'spucircuit.linalg.calibration',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
