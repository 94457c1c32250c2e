"""Quick tour of the twin: solve, invert, and simulate a hand-built circuit (SI units).

Run:  .venv/bin/python examples/quickstart.py
"""
import numpy as np

import spucircuit as sc
from spucircuit.numerics.ou import stationary_cov

# 1. A x = b on the twin: time average of the integrator array's output voltages
A = sc.random_spd(8, cond=50, seed=0)
b = np.random.default_rng(1).standard_normal(8)
x, info = sc.solve(A, b, seed=2, return_info=True)
print("solve: relative error", np.linalg.norm(x - np.linalg.solve(A, b)) / np.linalg.norm(np.linalg.solve(A, b)),
      "max std err", info["standard_error"].max(), "analog time", info["analog_time_s"], "s")

# 2. A^-1 from the stationary covariance (b = 0, injected noise at every summing node)
Ainv, info = sc.inv(A, seed=3, return_info=True)
print("inv: relative error", np.linalg.norm(Ainv - np.linalg.inv(A)) / np.linalg.norm(np.linalg.inv(A)))

# 3. Any netlist: a parallel RLC cell at 300 K obeys the Gibbs law cov(v) = kT/C, cov(i) = kT/L
nl = sc.Netlist("RLC cell")
nl.add_resistor("R1", "a", "0", 1e3)
nl.add_inductor("L1", "a", "0", 1e-3)
nl.add_capacitor("C1", "a", "0", 1e-9)
ss = sc.compile_netlist(nl, temperature_k=300)
S = stationary_cov(ss.drift.to_dense(), ss.diffusion)
print("RLC: v rms", np.sqrt(S[0, 0]), "V (kT/C ->", np.sqrt(1.380649e-23 * 300 / 1e-9), "V)")
spu = sc.SPU(nl, chains=32, seed=4)
spu.run(50e-6)
res = spu.run(2e-3)
print("RLC simulated v rms", res.states[:, :, 0].std(), "V")
