"""Physical constants and the default component values of the TNGD paper's timing model (SI units)."""

K_B = 1.380649e-23  # Boltzmann constant, J/K (exact, SI 2019)
T_ROOM = 300.0  # default temperature, K

R_MIN_DEFAULT = 1e3  # smallest programmable resistance, Ohm
R_MAX_DEFAULT = 1e6  # largest programmable resistance, Ohm
C_DEFAULT = 1e-9  # integrator capacitance, F  (tau = R0 C0 = 1 us with R0 = 1 kOhm)
V_SWING_DEFAULT = 1.0  # largest |node voltage| the mapping aims for, V
