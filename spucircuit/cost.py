"""Deprecated alias of the former module ``spucircuit.cost`` (now spucircuit.studies.cost and its neighbours).

Kept for one minor release so that old imports keep working; every access warns with a
DeprecationWarning naming the new home. Import from the new modules instead.
"""
from spucircuit._deprecated import forward

_HOMES = {
    'Cost': 'spucircuit.studies.cost.model',
    'CostError': 'spucircuit.errors',
    'DeviceLoad': 'spucircuit.studies.cost.load',
    'Hardware': 'spucircuit.studies.cost.params',
    'Host': 'spucircuit.studies.cost.params',
    'LABELS': 'spucircuit.studies.cost.model',
    'METHODS': 'spucircuit.studies.cost.model',
    'PHASES': 'spucircuit.studies.cost.model',
    'SOURCES': 'spucircuit.studies.cost.params',
    'calibrate_host': 'spucircuit.studies.cost.model',
    'compare_iteration': 'spucircuit.studies.cost.model',
    'device_load': 'spucircuit.studies.cost.load',
    'digital_iteration_cost': 'spucircuit.studies.cost.model',
    'digital_work': 'spucircuit.studies.cost.model',
    'factored_load': 'spucircuit.studies.cost.load',
    'fig2_sweep': 'spucircuit.studies.cost.model',
    'format_comparison': 'spucircuit.report.cost_tables',
    'format_cost': 'spucircuit.report.cost_tables',
    'integrator_load': 'spucircuit.studies.cost.load',
    'paper_timing_model': 'spucircuit.studies.cost.model',
    'params_table': 'spucircuit.studies.cost.params',
    'plot_fig2': 'spucircuit.report.cost_plots',
    'solve_cost': 'spucircuit.studies.cost.model',
    'tngd_iteration_cost': 'spucircuit.studies.cost.model',
    'to_json': 'spucircuit.report.cost_tables',
    'with_overrides': 'spucircuit.studies.cost.params',
}
__all__ = sorted(_HOMES)
__getattr__ = forward(__name__, _HOMES)
