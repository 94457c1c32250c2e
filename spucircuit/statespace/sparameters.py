"""S, Y and Z parameters of a netlist's RF ports (SPICE's ``.sp``, ngspice's RFSPICE).

A port k is a voltage source u_k in series with its reference impedance z0_k (the resistor
``<name>#z0`` of :mod:`spucircuit.io.spice.ports`), from n-_k to n+_k. ngspice (span.c, cktspdum.c)
drives one port at a time with u_j = 1 (every other source, AC values included, off) and forms the
power waves of each port k from its voltage v_k = V(n+_k) - V(n-_k) and the current i_k into the
circuit at n+_k:

    a_k = (v_k + z0_k i_k) / (2 sqrt(z0_k)),   b_k = (v_k - z0_k i_k) / (2 sqrt(z0_k)),   S = B A^-1.

Through the series resistor i_k = (u_k - v_k) / z0_k, so a_k = u_k / (2 sqrt(z0_k)) (A is diagonal) and

    S_kj = sqrt(z0_j / z0_k) (2 V_kj - delta_kj),                                       (1)

V_kj the port-k voltage for u_j = 1: one ``.ac`` transfer function per driven port
(:func:`spucircuit.statespace.frequency.ac_response`, which calls this module with it). The port network's impedance and admittance
matrices (the circuit seen at the ports, without the z0 resistors) follow from the same sweep: with
I_kj = (delta_kj - V_kj) / z0_k the port currents, V = Z I, so

    Z = V I^-1,   Y = I V^-1,                                                          (2)

which equal ngspice's Z = Gn^-1 (E - S)^-1 (S Z0 + Z0) Gn and Y = Gn^-1 (S Z0 + Z0)^-1 (E - S) Gn
(Gn = diag(1/sqrt(z0)), cktspdum.c). Where Z or Y does not exist (I or V singular to working precision:
a series element has no Z, a shunt one no Y) its entries are NaN; ngspice prints what its inverse of
the singular matrix gives.
"""
from __future__ import annotations

import numpy as np

from spucircuit.errors import NetlistError
from spucircuit.statespace.model import StateSpace


def port_list(netlist) -> list:
    """The RF ports as [(source name, n+, n-, z0_ohm)] in port-number order (``netlist.meta['ports']``)."""
    ports = netlist.meta.get("ports") if isinstance(netlist.meta, dict) else None
    if not isinstance(ports, dict) or not ports:
        return []
    recs = sorted(ports.items(), key=lambda kv: int(kv[1]["portnum"]))
    nums = [int(r["portnum"]) for _, r in recs]
    if nums != list(range(1, len(nums) + 1)):
        raise NetlistError(f"RF port numbers must run 1..{len(nums)} without gaps or duplicates, got {nums}")
    return [(nm, str(r["node"]), str(r["neg"]), float(r["z0_ohm"])) for nm, r in recs]


def port_voltages(ss: StateSpace, ports: list, freqs_hz, response) -> np.ndarray:
    """V[f, k, j]: the voltage of port k (V(n+) - V(n-)) when port j's source is 1 V and every other
    source is off: ``response(ss, nodes, amplitudes, freqs_hz)`` is the .ac transfer function
    (:func:`spucircuit.statespace.frequency.ac_response`, passed in: that module calls this one)."""
    index = {nm.lower(): i for i, nm in enumerate(ss.input_names)}
    nodes = sorted({nd for _, p, q, _ in ports for nd in (p, q) if nd.lower() not in ("0", "gnd")}, key=str.lower)
    col = {nd.lower(): i for i, nd in enumerate(nodes)}
    f = np.asarray(freqs_hz, dtype=float)
    out = np.empty((len(f), len(ports), len(ports)), dtype=complex)
    for j, (name, _, _, _) in enumerate(ports):
        if name.lower() not in index:
            raise NetlistError(f"RF port {name!r} is not an input of the compiled circuit")
        a = np.zeros(len(ss.input_names), dtype=complex)
        a[index[name.lower()]] = 1.0
        v = response(ss, nodes, a, f) if nodes else np.zeros((len(f), 0), dtype=complex)
        for k, (_, p, q, _) in enumerate(ports):
            vp = v[:, col[p.lower()]] if p.lower() in col else 0.0
            vq = v[:, col[q.lower()]] if q.lower() in col else 0.0
            out[:, k, j] = vp - vq
    return out


SINGULAR_RCOND = 1e3 * np.finfo(float).eps  # 1/cond(D) below this: D^-1 has fewer than ~4 correct digits


def _right_divide(N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """N D^-1 per frequency; NaN where D is singular to working precision (1/cond(D) < SINGULAR_RCOND:
    round-off alone would decide the result, as for the Z of a series element)."""
    out = np.full(N.shape, np.nan + 0j)
    for k in range(N.shape[0]):
        c = np.linalg.cond(D[k])
        if not (np.isfinite(c) and 1.0 / c >= SINGULAR_RCOND):
            continue
        out[k] = np.linalg.solve(D[k].T, N[k].T).T
    return out


def s_parameters(ss: StateSpace, ports: list, freqs_hz, response) -> dict:
    """{'s', 'y', 'z'}: complex arrays [f, port, port] by (1) and (2) of the module docstring
    (``response``: the .ac transfer function, see :func:`port_voltages`)."""
    if len(ports) < 2:
        raise NetlistError(f"an S-parameter analysis needs at least two RF ports, the circuit has {len(ports)}")
    V = port_voltages(ss, ports, freqs_hz, response)
    z0 = np.array([p[3] for p in ports])
    eye = np.eye(len(ports))
    S = np.sqrt(z0[None, None, :] / z0[None, :, None]) * (2.0 * V - eye)  # (1)
    current = (eye - V) / z0[None, :, None]  # I_kj = (delta_kj - V_kj) / z0_k
    with np.errstate(all="ignore"):
        Z = _right_divide(V, current)  # (2)
        Y = _right_divide(current, V)
    return {"s": S, "y": Y, "z": Z}
