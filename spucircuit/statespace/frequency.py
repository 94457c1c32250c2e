"""Small-signal frequency response and noise spectra of a compiled StateSpace (``.ac``, ``.noise``).

For the linear SDE  dx = (F x + B u) dt + dW,  cov(dW) = Q dt,  with node voltages v = Y x + Z u
(:meth:`StateSpace.node_voltage_map`), a sinusoidal input u = Re(a e^{jwt}) (a: each source's AC
magnitude and phase, as a complex amplitude) gives the node phasors

    V(jw) = [Y (jwI - F)^-1 B + Z] a                                   (the transfer function)

and the white diffusion gives the one-sided output noise PSD of v_out = c x (c = Y[out] - Y[ref]):

    S_out(f) = 2 c (jwI - F)^-1 Q (jwI - F)^-H c^H      (V^2/Hz, w = 2 pi f)

(the two-sided PSD of the white driving noise is Q; one-sided doubles it). Check: an RC node has
Q = 2 k_B T / (R C^2), F = -1/(RC), so S_out = 4 k_B T R / (1 + (w R C)^2), ngspice's resistor noise
4 k_B T / R through |Z|^2, and its integral over f in [0, inf) is k_B T / C.

The equivalent input noise is S_out / |G(jw)|^2 with G the transfer from the ``.noise`` input source
at unit amplitude (every other source off, whatever its AC value: ngspice's MODEACNOISE) to
v(out) - v(ref), as ngspice's ``inoise_spectrum`` (its gain floor 1e-20 included).

Each frequency costs one solve with (jwI - F): dense LAPACK for small n, a sparse LU otherwise;
never an inverse. ``c`` enters through the adjoint solve (jwI - F)^H y = c^H, so S_out = 2 y^H Q y.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit.circuit.noise import noise_sources
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.sparameters import port_list, port_noise, s_parameters

SWEEPS = ("dec", "oct", "lin")
NGSPICE_RELTOL = 1e-3  # ngspice's default reltol, which sets its sweep's end tolerance
MIN_GAIN_SQ = 1e-20  # ngspice's N_MINGAIN: floor of |gain|^2 in the equivalent input noise
_DENSE_MAX_N = 200  # dense LAPACK solves up to this many states, a sparse LU beyond
MAX_POINTS = 10_000_000


def frequency_grid(sweep: str, points: int, fstart_hz: float, fstop_hz: float) -> np.ndarray:
    """The frequencies (Hz) of ``.ac``/``.noise`` ``DEC|OCT|LIN points fstart fstop``, as ngspice steps them.

    DEC / OCT: fstart times 10^(k/points) (2^(k/points)) while below fstop (1 + reltol); LIN: ``points``
    equally spaced points from fstart to fstop (one point, fstart, when points is 1 or 2, as ngspice)."""
    sweep = str(sweep).lower()
    if sweep not in SWEEPS:
        raise NetlistError(f"frequency sweep must be one of {SWEEPS}, got {sweep!r}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 1 <= points <= MAX_POINTS:
        raise NetlistError(f"number of frequency points must be an integer in [1, {MAX_POINTS}], got {points!r}")
    fstart_hz, fstop_hz = float(fstart_hz), float(fstop_hz)
    if not (np.isfinite(fstart_hz) and np.isfinite(fstop_hz) and fstop_hz >= fstart_hz):
        raise NetlistError(f"frequency sweep needs finite fstart <= fstop, got {fstart_hz!r}, {fstop_hz!r}")
    if sweep == "lin":
        if fstart_hz < 0:
            raise NetlistError(f"a linear sweep needs fstart >= 0 Hz, got {fstart_hz!r}")
        # ngspice steps by (fstop - fstart) / (points - 1) only when points - 1 > 1, else by 0, which ends the
        # sweep after its first point (acan.c, span.c: "a linear step with only one point"): LIN 2 is fstart alone
        return np.linspace(fstart_hz, fstop_hz, points) if points > 2 else np.array([fstart_hz])
    if fstart_hz <= 0:
        raise NetlistError(f"a {sweep} sweep needs fstart > 0 Hz, got {fstart_hz!r}")
    base = 10.0 if sweep == "dec" else 2.0
    # ngspice multiplies by delta = base^(1/points) while f <= fstop + delta fstop reltol
    span = np.log(fstop_hz * (1.0 + np.exp(np.log(base) / points) * NGSPICE_RELTOL) / fstart_hz) / np.log(base)
    count = int(np.floor(span * points + 1e-9)) + 1
    if count > MAX_POINTS:
        raise NetlistError(f"the sweep has {count} points, more than {MAX_POINTS}")
    delta = np.exp(np.log(base) / points)
    return fstart_hz * delta ** np.arange(count)


def ac_amplitudes(ss: StateSpace, specs: dict) -> np.ndarray:
    """Complex AC amplitudes a aligned with ``ss.input_names`` from ``{source name: (magnitude, phase_deg)}``
    (sources not named have a = 0). Names are matched case-insensitively."""
    index = {nm.lower(): i for i, nm in enumerate(ss.input_names)}
    a = np.zeros(len(ss.input_names), dtype=complex)
    for name, spec in specs.items():
        i = index.get(str(name).lower())
        if i is None:
            raise NetlistError(f"AC source {name!r} is not an input of the circuit; inputs are {ss.input_names}")
        mag, phase_deg = spec
        a[i] = float(mag) * np.exp(1j * np.deg2rad(float(phase_deg)))
    return a


def _solver(ss: StateSpace):
    """solve(w, rhs, adjoint) -> (jwI - F)^-1 rhs, or (jwI - F)^-H rhs when adjoint."""
    n = ss.n
    if n <= _DENSE_MAX_N:
        F = ss.drift.to_dense()
        eye = np.eye(n)

        def solve(w, rhs, adjoint=False):
            A = 1j * w * eye - F
            try:
                return np.linalg.solve(A.conj().T if adjoint else A, rhs)
            except np.linalg.LinAlgError:  # exactly singular: reported by _check_solution
                return np.full(np.shape(rhs), np.nan, dtype=complex)
    else:
        Fs = sp.csc_matrix(ss.drift.csr if hasattr(ss.drift, "csr") else ss.drift.to_dense())
        eye = sp.identity(n, format="csc")

        def solve(w, rhs, adjoint=False):
            A = (1j * w * eye - Fs).tocsc()
            try:
                return spla.splu((A.conj().T if adjoint else A).tocsc()).solve(np.asarray(rhs, dtype=complex))
            except RuntimeError:  # exactly singular: reported by _check_solution
                return np.full(np.shape(rhs), np.nan, dtype=complex)
    return solve


def _check_solution(x, w, what: str):
    if not np.all(np.isfinite(x)):
        raise NetlistError(f"{what}: (jwI - F) is singular at f = {w / (2 * np.pi):.6g} Hz "
                           "(a pole on the imaginary axis: an undamped or unstable circuit)")


def ac_response(ss: StateSpace, nodes, amplitudes, freqs_hz) -> np.ndarray:
    """Node voltage phasors V (complex, V) of shape (len(freqs_hz), len(nodes)) for the complex input
    amplitudes ``amplitudes`` (see :func:`ac_amplitudes`): V = [Y (jwI - F)^-1 B + Z] a."""
    Y, Z = ss.node_voltage_map(list(nodes))
    Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z)
    a = np.asarray(amplitudes, dtype=complex)
    if a.shape != (len(ss.input_names),):
        raise NetlistError(f"need one AC amplitude per input ({len(ss.input_names)}), got shape {a.shape}")
    B = ss.input_matrix.toarray() if sp.issparse(ss.input_matrix) else np.asarray(ss.input_matrix)
    ba = B @ a if B.shape[1] else np.zeros(ss.n, dtype=complex)
    direct = Z @ a if Z.shape[1] else np.zeros(len(nodes), dtype=complex)
    f = np.asarray(freqs_hz, dtype=float)
    out = np.empty((len(f), len(nodes)), dtype=complex)
    solve = _solver(ss) if ss.n else None
    for k, fk in enumerate(f):
        w = 2 * np.pi * fk
        if ss.n:
            with np.errstate(all="ignore"):
                x = solve(w, ba)
            _check_solution(x, w, "AC analysis")
            out[k] = Y @ x + direct
        else:
            out[k] = direct
    return out


def _output_row(ss: StateSpace, out: str, ref: str | None) -> np.ndarray:
    nodes = [out] + ([ref] if ref is not None else [])
    Y, _ = ss.node_voltage_map(nodes)
    Y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    return Y[0] - Y[1] if ref is not None else Y[0]


def direct_noise_psd(ss: StateSpace, out: str, ref: str | None = None) -> float:
    """The white part (V^2/Hz, one-sided) of v(out) - v(ref) that reaches it from noise sources without
    passing a state (a node tied to a capacitor or inductor only through resistors: an RL mid-node,
    a resistive divider). The state model keeps no such part, so :func:`output_noise_psd` refuses an
    output where it is not zero. Uses the MNA compile's LU (compiled here from ``ss.netlist`` when ``ss`` came
    from the closed-form virtual-ground compile); 0.0 for a state space without a netlist."""
    if ss.netlist is None:
        return 0.0
    if ss.mna_factor is None:
        from spucircuit.statespace.mna import compile_netlist

        ss = compile_netlist(ss.netlist, ss.temperature_k, noise=True, fast=False)
    nl = ss.netlist
    dim = ss.mna_rhs[0].shape[0]
    e = np.zeros(dim)
    for node, sign in ((out, 1.0), (ref, -1.0)):
        if node is not None:
            i = nl.node_index(node)
            if i > 0:
                e[i - 1] += sign
    r = ss.mna_factor.solve(e, trans="T")[: nl.n_nodes]  # d v / d j over node current injections
    total = 0.0
    for nodes, S in noise_sources(nl, ss.temperature_k, True):
        p, q = nodes[:, 0].astype(np.int64), nodes[:, 1].astype(np.int64)
        gp = np.where(p > 0, r[np.maximum(p - 1, 0)], 0.0)
        gq = np.where(q > 0, r[np.maximum(q - 1, 0)], 0.0)
        total += float(np.sum(np.asarray(S) * (gp - gq) ** 2))  # one-sided PSD S through gain (gp - gq)
    return total


def output_noise_psd(ss: StateSpace, out: str, ref: str | None, freqs_hz, *, check_direct: bool = True) -> np.ndarray:
    """One-sided PSD (V^2/Hz) of v(out) - v(ref) at each frequency: 2 c (jwI-F)^-1 Q (jwI-F)^-H c^H.

    ``check_direct`` refuses an output with a white part the state model does not carry
    (:func:`direct_noise_psd` above 1e-9 of the state-borne PSD at the lowest frequency)."""
    c = _output_row(ss, out, ref).astype(complex)
    f = np.asarray(freqs_hz, dtype=float)
    Q = ss.diffusion
    G = ss.diffusion_factor
    psd = np.empty(len(f))
    solve = _solver(ss) if ss.n else None
    for k, fk in enumerate(f):
        w = 2 * np.pi * fk
        if not ss.n:
            psd[k] = 0.0
            continue
        with np.errstate(all="ignore"):
            y = solve(w, c.conj(), adjoint=True)  # y = (jwI - F)^-H c^H
        _check_solution(y, w, "noise analysis")
        if G is not None:
            g = G.T @ y
            psd[k] = 2.0 * float(np.real(np.vdot(g, g)))
        else:
            psd[k] = 2.0 * float(np.real(np.vdot(y, Q @ y)))
    if check_direct and len(f):
        white = direct_noise_psd(ss, out, ref)
        if white > 1e-9 * max(float(np.max(psd)), 0.0) and white > 0:
            where = f"v({out})" + (f" - v({ref})" if ref is not None else "")
            raise NetlistError(
                f"noise output {where} has a white noise part ({white:.3g} V^2/Hz) from resistors that reach it "
                "without passing a capacitor or inductor; the twin's noise lives on its states only, so it cannot "
                "give this spectrum (choose an output node with a capacitor to a state-held node)")
    return psd


def input_noise_psd(onoise_psd, gain) -> np.ndarray:
    """Equivalent input noise PSD: onoise / |gain|^2, with ngspice's floor |gain|^2 >= 1e-20."""
    g2 = np.maximum(np.abs(np.asarray(gain)) ** 2, MIN_GAIN_SQ)
    return np.asarray(onoise_psd, dtype=float) / g2


NGSPICE_TNOM_K = 300.15  # ngspice's default circuit temperature, 27 C


def small_signal_analyses(netlist, temperature_k: float | None = None) -> dict:
    """Run the ``.ac``, ``.noise``, ``.sp``, ``.dc``, ``.tf`` and ``.sens`` analyses a SPICE netlist's cards
    ask for (``netlist.meta['spice_file']`` from :func:`spucircuit.io.spice.read_spice`); {} when it has none.

    Returns arrays keyed as ``spu simulate`` writes them: ``ac_f`` (Hz), ``ac_v`` (complex, frequencies x
    nodes, V per the sources' AC amplitudes), ``ac_nodes``; ``noise_f`` (Hz), ``noise_onoise_psd`` (V^2/Hz,
    one-sided, of v(out) - v(ref)), ``noise_inoise_psd`` (input units^2/Hz: V^2/Hz for a V source, A^2/Hz for
    an I source), ``noise_gain`` (complex, the transfer from the input source at unit amplitude to the output,
    as ngspice: the other sources off); ``sp_f`` (Hz), ``sp_s``, ``sp_y`` (S), ``sp_z`` (Ohm) (complex,
    frequencies x port x port, ports in port-number order), ``sp_ports`` (their sources), ``sp_z0_ohm``; with
    ``.sp ... 1`` (donoise) also ``sp_cy`` (A^2/Hz, the ports' noise current correlation) and for two ports
    ``sp_nf_db``, ``sp_sopt``, ``sp_nfmin_db``, ``sp_rn_ohm`` (:mod:`spucircuit.statespace.sparameters`);
    ``sens_names``, ``sens_values`` and, for an AC sweep, ``sens_f`` (:mod:`spucircuit.statespace.sensitivity`);
    ``dc_sweep`` [, ``dc_sweep2``], ``dc_v``, ``dc_nodes`` (:mod:`spucircuit.statespace.dc_sweep`); ``tf_gain``,
    ``tf_input_impedance_ohm``, ``tf_output_impedance_ohm`` (:mod:`spucircuit.statespace.transfer`). The noise
    temperature is ``temperature_k``, else the netlist's ``.temp`` (deg C), else ngspice's 27 C.
    What an analysis cannot do raises :class:`SpiceError` naming the file and the card's line (errors of the
    circuit itself are the compiler's, as for a transient)."""
    from spucircuit.statespace.mna import compile_netlist

    info = netlist.meta.get("spice_file", {}) if isinstance(netlist.meta, dict) else {}
    acd, nsd, spd = info.get("ac"), info.get("noise_analysis"), info.get("sp")
    out: dict = {}
    if acd or spd:
        ss = compile_netlist(ac_netlist(netlist), noise=False)
    if acd:
        out.update(_card_errors(_ac_analysis, info, acd, netlist, ss))
    if spd:
        spd = dict(spd, temperature_k=_noise_temperature(info, temperature_k))
        out.update(_card_errors(_sp_analysis, info, spd, netlist, ss))
    if nsd:
        temperature_k = _noise_temperature(info, temperature_k)
        ss = compile_netlist(netlist, temperature_k=temperature_k, noise=True)
        out.update(_card_errors(_noise_analysis, info, nsd, netlist, ss))
    if info.get("dc"):
        from spucircuit.statespace.dc_sweep import dc_sweep

        out.update(_card_errors(lambda card, specs, nl: dc_sweep(nl, card), info, info["dc"], netlist))
    if info.get("tf"):
        from spucircuit.statespace.transfer import transfer_function

        out.update(_card_errors(lambda card, specs, nl: transfer_function(nl, card), info, info["tf"], netlist))
    if info.get("sens"):
        from spucircuit.statespace.sensitivity import sensitivity_analysis

        out.update(_card_errors(lambda card, specs, nl: sensitivity_analysis(card, specs, nl, ac_netlist, _ac_output),
                                info, info["sens"], netlist))
    return out


def _noise_temperature(info: dict, temperature_k):
    """``temperature_k``, else the netlist's ``.temp`` (deg C), else ngspice's 27 C."""
    if temperature_k is not None:
        return float(temperature_k)
    return float(info["temp_c"]) + 273.15 if "temp_c" in info else NGSPICE_TNOM_K


def ac_netlist(netlist):
    """``netlist`` with each resistor's ``ac=`` value (``meta['ac']['resistors']``) in place of its
    value: ngspice's .ac uses the AC resistance; the DC operating point and the transient do not."""
    ac = netlist.meta.get("ac", {}) if isinstance(netlist.meta.get("ac"), dict) else {}
    res = ac.get("resistors") or {}
    if not res:
        return netlist
    nl = netlist.copy()
    for name, ohm in res.items():
        nl.set_value(name, float(ohm))
    return nl


def _ac_output(netlist, nodes, specs, freqs_hz) -> np.ndarray:
    """Phasors (frequencies x nodes) of ``nodes`` for the AC values ``specs``: compile, then :func:`ac_response`."""
    from spucircuit.statespace.mna import compile_netlist

    ss = compile_netlist(netlist, noise=False)
    return ac_response(ss, nodes, ac_amplitudes(ss, specs), freqs_hz)


def _card_errors(fn, info, card, *args):
    """``fn(card, *args)``, its NetlistError re-raised as a SpiceError at the card's file and line."""
    try:
        return fn(card, info.get("ac_sources", {}), *args)
    except SpiceError:
        raise
    except NetlistError as exc:
        raise SpiceError(str(exc), info.get("filename"), card.get("line")) from None


def _ac_analysis(acd, specs, netlist, ss):
    nodes = list(netlist.node_names[1:])
    f = frequency_grid(acd["sweep"], acd["points"], acd["fstart_hz"], acd["fstop_hz"])
    return dict(ac_f=f, ac_v=ac_response(ss, nodes, ac_amplitudes(ss, specs), f), ac_nodes=np.array(nodes, dtype=str))


def _sp_analysis(spd, specs, netlist, ss):
    """``.sp``: S, Y, Z of the RF ports (:mod:`spucircuit.statespace.sparameters`); the AC values of the
    sources play no part (ngspice's MODESP: only the driven port excites the circuit)."""
    ports = port_list(netlist)
    f = frequency_grid(spd["sweep"], spd["points"], spd["fstart_hz"], spd["fstop_hz"])
    m = s_parameters(ss, ports, f, ac_response)
    out = dict(sp_f=f, sp_s=m["s"], sp_y=m["y"], sp_z=m["z"], sp_ports=np.array([p[0] for p in ports], dtype=str),
               sp_z0_ohm=np.array([p[3] for p in ports]))
    if spd.get("donoise"):
        from spucircuit.statespace.mna import compile_netlist

        temperature_k = spd["temperature_k"]
        nz = port_noise(ac_netlist(netlist), ports, f, m["y"], temperature_k,
                        lambda nl: compile_netlist(nl, noise=False), ac_response)
        out.update({"sp_" + k: v for k, v in nz.items()}, sp_temperature_k=np.float64(temperature_k))
    return out


def _noise_analysis(nsd, specs, netlist, ss):
    src = nsd["source"]
    if src not in {nm.lower() for nm in ss.input_names}:
        raise NetlistError(f".noise: input source {src!r} is not an independent source of the circuit")
    if src not in {nm.lower() for nm in specs}:
        raise NetlistError(f".noise: input source {src!r} has no AC value (give it 'AC 1')")
    known = {nm.lower() for nm in netlist.node_names}
    for node in (nsd["output"], nsd["ref"]):
        if node is not None and node not in known:
            raise NetlistError(f".noise: the circuit has no node {node!r}")
    f = frequency_grid(nsd["sweep"], nsd["points"], nsd["fstart_hz"], nsd["fstop_hz"])
    ref = nsd["ref"]
    outn = nsd["output"]
    onoise = output_noise_psd(ss, outn, ref, f)
    nodes = [outn] + ([ref] if ref else [])
    unit = {nm: (1.0, 0.0) for nm in ss.input_names if nm.lower() == src}  # ngspice: the input alone, at 1
    v = ac_response(ss, nodes, ac_amplitudes(ss, unit), f)
    gain = v[:, 0] - (v[:, 1] if ref else 0.0)
    return dict(noise_f=f, noise_onoise_psd=onoise, noise_inoise_psd=input_noise_psd(onoise, gain),
                noise_gain=gain, noise_temperature_k=np.float64(ss.temperature_k))
