"""Deprecated alias of the former module ``spucircuit.nonideal`` (now spucircuit.imperfections and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'ADC': 'spucircuit.imperfections.models',
    'Build': 'spucircuit.imperfections.base',
    'CapacitorBank': 'spucircuit.imperfections.models',
    'Chain': 'spucircuit.imperfections.base',
    'ClippingWarning': 'spucircuit.errors',
    'Converter': 'spucircuit.device.converters',
    'DAC': 'spucircuit.imperfections.models',
    'Device': 'spucircuit.imperfections.instance',
    'DeviceKey': 'spucircuit._util.keys',
    'DeviceRunResult': 'spucircuit.imperfections.instance',
    'EffectiveSystem': 'spucircuit.imperfections.effective',
    'ImperfectSPU': 'spucircuit.imperfections.instance',
    'Imperfection': 'spucircuit.imperfections.base',
    'InjectedNoise': 'spucircuit.imperfections.models',
    'OpAmpBandwidth': 'spucircuit.imperfections.models',
    'OpAmpGain': 'spucircuit.imperfections.models',
    'OpAmpOffset': 'spucircuit.imperfections.models',
    'Parasitics': 'spucircuit.imperfections.models',
    'ResistorBank': 'spucircuit.imperfections.models',
    'Thermal': 'spucircuit.imperfections.models',
    'Tolerance': 'spucircuit.imperfections.models',
    'chain': 'spucircuit.imperfections.base',
    'coupling_matrix': 'spucircuit.imperfections.effective',
    'device_inv': 'spucircuit.linalg.solve',
    'device_solve': 'spucircuit.linalg.solve',
    'effective_system': 'spucircuit.imperfections.effective',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
