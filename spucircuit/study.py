"""Deprecated alias of the former module ``spucircuit.study`` (now spucircuit.studies.sweep and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'table': 'spucircuit.report.study:study_table',
    'KNOB': 'spucircuit.studies.knobs',
    'KNOBS': 'spucircuit.studies.knobs',
    'Knob': 'spucircuit.studies.knobs',
    'StudyError': 'spucircuit.errors',
    'StudyResult': 'spucircuit.studies.sweep',
    'convert': 'spucircuit.studies.knobs',
    'default_config': 'spucircuit.studies.knobs',
    'expand': 'spucircuit.studies.sweep',
    'load_matrices': 'spucircuit.cli.study',
    'make_imperfection': 'spucircuit.studies.sweep',
    'parse_sweep': 'spucircuit.studies.knobs',
    'parse_values': 'spucircuit.studies.knobs',
    'run_study': 'spucircuit.studies.sweep',
    'run_task': 'spucircuit.studies.sweep',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
