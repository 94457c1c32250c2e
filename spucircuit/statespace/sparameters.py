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

``.sp ... donoise`` adds the ports' noise (span.c CKTspnoise, nevalsrc.c NevalSrc): each white noise
current source k (one-sided PSD S_k: a resistor's 4 k_B T / R, an N source) gives port voltages vN_k
with every port source off (its z0 in place), hence short-circuit port currents iN_k = (Y + Y0) vN_k
(Y0 = diag(1/z0)), and the noise correlation matrix of the port currents (A^2/Hz, one-sided)

    Cy = sum_k S_k iN_k iN_k^H.                                                        (3)

For two ports, with C = Cy / (4 k_B T) and Y0 = 1/z0 of port 1 (Hillbrand and Russer's noise
parameters; ngspice's formulas after 39.3, which also clamp Rn and C_22 below at 1e-30):

    Rn = C_22 / |Y_21|^2,  Ycor = Y_11 - (C_12 / C_22) Y_21,  Gu = C_11 - Rn |Y_11 - Ycor|^2,
    Yopt = sqrt(Gcor^2 + Gu / Rn) - j Bcor,  Sopt = (Y0 - Yopt) / (Y0 + Yopt),
    Fmin = 1 + 2 Rn (Gcor + Gopt),  F = Fmin + (Rn / Y0) |Y0 - Yopt|^2              (4)

(NF, NFmin in dB). A passive network has Cy = 4 k_B T Re(Y) (Twiss). ngspice 39.3 itself writes C_21 for
Y_21 in Ycor and Gopt for Y0 in F, so its SOpt, NF and NFmin differ from these (its Cy and Rn do not).
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.noise import noise_sources
from spucircuit.constants import K_B
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


def port_voltages(ss: StateSpace, ports: list, freqs_hz, response, drive: str | None = None) -> np.ndarray:
    """V[f, k, j]: the voltage of port k (V(n+) - V(n-)) when port j's source is 1 V and every other
    source is off: ``response(ss, nodes, amplitudes, freqs_hz)`` is the .ac transfer function
    (:func:`spucircuit.statespace.frequency.ac_response`, passed in: that module calls this one).
    ``drive``: the input driven at 1 instead (V[f, k, 0])."""
    index = {nm.lower(): i for i, nm in enumerate(ss.input_names)}
    nodes = sorted({nd for _, p, q, _ in ports for nd in (p, q) if nd.lower() not in ("0", "gnd")}, key=str.lower)
    col = {nd.lower(): i for i, nd in enumerate(nodes)}
    f = np.asarray(freqs_hz, dtype=float)
    drives = [p[0] for p in ports] if drive is None else [drive]
    out = np.empty((len(f), len(ports), len(drives)), dtype=complex)
    for j, name in enumerate(drives):
        if name.lower() not in index:
            raise NetlistError(f"{name!r} is not an input of the compiled circuit")
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


def port_noise(netlist, ports: list, freqs_hz, Y: np.ndarray, temperature_k: float, compile_fn, response) -> dict:
    """{'cy'} by (3), and for two ports {'nf_db', 'sopt', 'nfmin_db', 'rn_ohm'} by (4), of ``netlist``'s
    noise sources at ``temperature_k``; ``Y`` from :func:`s_parameters`, ``compile_fn(netlist)`` the MNA
    compile and ``response`` the .ac transfer function (passed in: this module sits below both)."""
    f = np.asarray(freqs_hz, dtype=float)
    n = len(ports)
    groups = [(nd, S) for nd, S in noise_sources(netlist, temperature_k, True) if len(S)]
    cy = np.zeros((len(f), n, n), dtype=complex)
    if groups:
        nodes = np.concatenate([np.asarray(nd) for nd, _ in groups])
        psd = np.concatenate([np.asarray(S, dtype=float) for _, S in groups])
        keep = psd > 0
        nodes, psd = nodes[keep], psd[keep]
        nl = netlist.copy()  # one unit current source per noise source, as an input of the compile
        names = [f"i#noise{k}" for k in range(len(psd))]
        if names:
            nl.add_elements("I", names, nodes, np.zeros(len(psd)))
            ss = compile_fn(nl)
            z0 = np.array([p[3] for p in ports])
            y_term = Y + np.diag(1.0 / z0)[None]  # short-circuit currents from terminated-port voltages
            for k, name in enumerate(names):
                vn = port_voltages(ss, ports, f, response, drive=name)[:, :, 0]  # [f, port]
                i_n = np.einsum("fds,fs->fd", y_term, vn)
                cy += psd[k] * i_n[:, :, None] * i_n[:, None, :].conj()  # (3)
    out = {"cy": cy}
    if n == 2:
        out.update(_two_port_noise(cy / (4.0 * K_B * temperature_k), Y, 1.0 / ports[0][3]))
    return out


def _two_port_noise(C: np.ndarray, Y: np.ndarray, y0: float) -> dict:
    """(4) per frequency, C = Cy / (4 k_B T)."""
    with np.errstate(all="ignore"):
        c22 = np.where(np.abs(C[:, 1, 1]) < 1e-30, 1e-30, C[:, 1, 1])
        rn = C[:, 1, 1].real / np.abs(Y[:, 1, 0]) ** 2
        rn = np.where(np.abs(rn) < 1e-30, 1e-30, rn)
        ycor = Y[:, 0, 0] - C[:, 0, 1] / c22 * Y[:, 1, 0]
        gu = C[:, 0, 0].real - rn * np.abs(Y[:, 0, 0] - ycor) ** 2
        yopt = np.sqrt(ycor.real ** 2 + gu / rn) - 1j * ycor.imag
        sopt = (y0 - yopt) / (y0 + yopt)
        fmin = 1.0 + 2.0 * rn * (ycor.real + yopt.real)
        nf = fmin + rn / y0 * np.abs(y0 - yopt) ** 2
        return {"nf_db": 10.0 * np.log10(nf), "sopt": sopt, "nfmin_db": 10.0 * np.log10(fmin), "rn_ohm": rn}
