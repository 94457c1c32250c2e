"""Stage 6, thermodynamic linear algebra on the twin: solve, inv, calibration, mitigation."""
