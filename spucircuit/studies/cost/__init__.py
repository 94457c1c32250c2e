"""Hardware runtime and energy model of the SPU and of digital natural-gradient methods.

:mod:`~spucircuit.studies.cost.params` (Hardware, Host, SOURCES), :mod:`~spucircuit.studies.cost.load`
(what a circuit asks of the device) and :mod:`~spucircuit.studies.cost.model` (the costs). Tables,
JSON and plots live at the edge: :mod:`spucircuit.report.cost_tables`, :mod:`spucircuit.report.cost_plots`.
"""
from spucircuit.errors import CostError
from spucircuit.studies.cost.load import DeviceLoad, device_load, factored_load, integrator_load
from spucircuit.studies.cost.model import (
    LABELS,
    MEASURED_KEYS,
    METHODS,
    PHASES,
    Cost,
    calibrate_host,
    check_measured_rows,
    compare_iteration,
    digital_iteration_cost,
    digital_work,
    fig2_sweep,
    paper_timing_model,
    solve_cost,
    tngd_iteration_cost,
    tngd_runtime_s,
)
from spucircuit.studies.cost.params import SOURCES, Hardware, Host, params_table, with_overrides

__all__ = [
    "CostError", "Hardware", "Host", "SOURCES", "params_table", "with_overrides", "Cost", "DeviceLoad",
    "integrator_load", "factored_load", "device_load", "solve_cost", "METHODS", "PHASES", "LABELS",
    "digital_work", "digital_iteration_cost", "tngd_iteration_cost", "tngd_runtime_s", "paper_timing_model", "compare_iteration",
    "MEASURED_KEYS", "check_measured_rows", "calibrate_host", "fig2_sweep",
]
