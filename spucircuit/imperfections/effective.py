"""What a perturbed integrator array computes: its effective matrix, input map and offsets, from
the compiled state space (noise-free part), and the matrix its coupling resistors encode."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spucircuit.circuit.integrator_array import COUPLING_RE, MappedCircuit
from spucircuit.imperfections.base import Build
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.model import StateSpace


# ==========================================================================  effective system
@dataclass
class EffectiveSystem:
    """What the perturbed circuit computes, from its compiled state space (noise-free part).

    x* = H u        stationary read-out (problem units) for the source levels u (V, A)
    M = dx*/db      linear map from the right-hand side through the nominal DAC scaling
    m0              x* with every input DAC at 0 V (offsets); x*(b) = M b + m0 without DAC rounding
    A_dc = M^-1     the matrix the device effectively solves with (input map folded in)
    A_drift         -tau Y F Y^-1: the drift in problem units and tau (None when there are more
                    states than outputs, e.g. with the op-amp macromodel)
    slow_eigs       the n slowest eigenvalues of -tau F (ascending real part)
    """

    H: np.ndarray
    u: np.ndarray
    vin_index: np.ndarray
    M: np.ndarray
    m0: np.ndarray
    A_dc: np.ndarray
    A_drift: np.ndarray | None
    slow_eigs: np.ndarray
    ss: StateSpace
    Y: np.ndarray

    def x_star(self, vin_volts) -> np.ndarray:
        u = self.u.copy()
        u[self.vin_index] = vin_volts
        return self.H @ u


def effective_system(build: Build, noise: bool = False) -> EffectiveSystem:
    mc = build.mapped
    ss = compile_netlist(build.netlist, build.temperature_k, noise=noise)
    F = ss.drift.to_dense()
    Y, Z = ss.node_voltage_map(mc.output_nodes)
    vu, tau = mc.v_unit_v, mc.tau_s
    H = (Y @ (-np.linalg.solve(F, ss.input_matrix)) + Z) / vu
    names = [nm.lower() for nm in ss.input_names]
    vin = np.array([names.index(s.lower()) for s in mc.input_sources])
    dv_db = -mc.r_in_ohm * mc.g_unit_siemens * mc.v_unit_v
    M = H[:, vin] * dv_db
    u0 = ss.inputs.copy()
    u0[vin] = 0.0
    m0 = H @ u0
    A_drift = None
    if Y.shape[0] == Y.shape[1]:
        A_drift = -tau * Y @ F @ np.linalg.inv(Y)
    ev = np.linalg.eigvals(-tau * F)
    ev = ev[np.argsort(ev.real)][: mc.n]
    return EffectiveSystem(H=H, u=ss.inputs.copy(), vin_index=vin, M=M, m0=m0, A_dc=np.linalg.inv(M),
                           A_drift=A_drift, slow_eigs=ev, ss=ss, Y=Y)


def coupling_matrix(mc: MappedCircuit) -> np.ndarray:
    """The matrix the coupling-array component values encode, A_ij = sign G_ij / g_unit, with the
    sign given by the resistor's source node (x_j: +, xn_j: -). Ideal buffers assumed."""
    nl = mc.netlist
    t = nl.tables["R"]
    A = np.zeros((mc.n, mc.n))
    for k, nm in enumerate(t.names):
        m = COUPLING_RE.match(nm)
        if not m:
            continue
        i, j = int(m.group(1)), int(m.group(2))
        src = nl.node_names[t.nodes[k, 0]].lower()
        sign = -1.0 if src.startswith("xn") else 1.0
        A[i, j] = sign / (t.values[k] * mc.g_unit_siemens)
    return A
